"""XEP-0160 offline messages: storage with a XEP-0203 <delay/> (from = the server's domain,
XEP-0082 UTC stamp), what is and is not stored, the per-account quota, and durability across
a server restart."""
import time

import pytest

from conftest import Server
from im_helpers_message import (MSG, NS_DELAY, XEP0082_UTC, assert_error, login,
                                no_msg, offline_count, offline_fetch, offline_purge, recv_msg,
                                send_msg, server_delay, sync, wait_offline_count)
from rawxmpp import NS_DISCO_INFO, q, tostr


def fresh(server, user):
    c = login(server, user)
    offline_purge(c)
    return c


def test_xep0160_4_msgoffline_feature(server):
    c = login(server, 'alice')
    r = c.iq("<query xmlns='%s'/>" % NS_DISCO_INFO, to='localhost')
    features = {f.get('var') for f in r.iter(q(NS_DISCO_INFO, 'feature'))}
    assert 'msgoffline' in features, tostr(r)
    c.close()


def test_xep0160_3_stored_message_gets_server_delay(server):
    alice = login(server, 'alice')
    bob = fresh(server, 'bob')
    before = time.time()
    mid = send_msg(alice, 'bob@localhost', 'while you were out', type='chat')
    no_msg(alice, id=mid)
    assert wait_offline_count(bob, 1) == 1
    [m] = offline_fetch(bob)
    assert m.get('id') == mid and m.get('from') == alice.jid and m.get('to') == 'bob@localhost'
    assert m.findtext('{jabber:client}body') == 'while you were out'
    d = server_delay(m)
    assert d is not None, tostr(m)
    stamp = d.get('stamp')
    assert XEP0082_UTC.match(stamp), stamp
    t = time.mktime(time.strptime(stamp[:19], '%Y-%m-%dT%H:%M:%S')) - time.timezone
    assert before - 5 <= t <= time.time() + 5, stamp
    offline_purge(bob)
    alice.close()
    bob.close()


def test_xep0160_3_sender_delay_kept_server_delay_added(server):
    alice = login(server, 'alice')
    bob = fresh(server, 'bob')
    mid = send_msg(alice, 'bob@localhost', 'old news', payload="<delay xmlns='urn:xmpp:delay' "
                   "from='elsewhere.example' stamp='2002-09-10T23:08:25Z'/>")
    assert wait_offline_count(bob, 1) == 1
    [m] = offline_fetch(bob)
    delays = m.findall(q(NS_DELAY, 'delay'))
    assert [d.get('from') for d in delays] == ['elsewhere.example', 'localhost'], tostr(m)
    assert delays[0].get('stamp') == '2002-09-10T23:08:25Z'
    offline_purge(bob)
    alice.close()
    bob.close()


def test_xep0160_3_chat_state_only_not_stored(server):
    alice = login(server, 'alice')
    bob = fresh(server, 'bob')
    mid = send_msg(alice, 'bob@localhost', type='chat',
                   payload="<composing xmlns='http://jabber.org/protocol/chatstates'/>")
    no_msg(alice, id=mid)  # no error either
    # A later real message is stored: the chat state before it was not.
    mid2 = send_msg(alice, 'bob@localhost', 'real', type='chat')
    assert wait_offline_count(bob, 1) == 1
    [m] = offline_fetch(bob)
    assert m.get('id') == mid2
    offline_purge(bob)
    alice.close()
    bob.close()


def test_xep0334_storage_hints(server):
    alice = login(server, 'alice')
    bob = fresh(server, 'bob')
    # <no-store/>: a message with a body is not stored (and not bounced either).
    mid = send_msg(alice, 'bob@localhost', 'ephemeral', type='chat',
                   payload="<no-store xmlns='urn:xmpp:hints'/>")
    no_msg(alice, id=mid)
    # <store/>: even a chat-state-only message is kept.
    mid2 = send_msg(alice, 'bob@localhost', type='chat',
                    payload="<gone xmlns='http://jabber.org/protocol/chatstates'/><store xmlns='urn:xmpp:hints'/>")
    assert wait_offline_count(bob, 1) == 1
    [m] = offline_fetch(bob)
    assert m.get('id') == mid2
    offline_purge(bob)
    alice.close()
    bob.close()


def test_xep0160_3_order_preserved(server):
    alice = login(server, 'alice')
    bob = fresh(server, 'bob')
    ids = [send_msg(alice, 'bob@localhost', 'n%d' % i) for i in range(20)]
    assert wait_offline_count(bob, 20) == 20
    assert [m.get('id') for m in offline_fetch(bob)] == ids
    offline_purge(bob)
    alice.close()
    bob.close()


def test_xep0160_2_quota_full_service_unavailable(server_factory):
    # [limits] max_offline_messages (default 1000), small here to keep the test quick.
    quota = 50
    srv = server_factory.start('quota', overrides={'limits': {'max_offline_messages': quota}})
    alice = login(srv, 'alice')
    ids = [send_msg(alice, 'bob@localhost', 'q%d' % i, id='q%d' % i) for i in range(quota)]
    sync(alice)
    bob = login(srv, 'bob')
    assert wait_offline_count(bob, quota, timeout=20) == quota
    over = send_msg(alice, 'bob@localhost', 'one too many', type='chat')
    e = recv_msg(alice, id=over)
    assert_error(e, 'service-unavailable', 'cancel')
    assert offline_count(bob) == quota
    # No earlier message was bounced.
    bounced = [x for x in alice.others if x.tag == MSG and x.get('type') == 'error']
    assert not bounced, tostr(bounced[0])
    # Errors to a full queue are not answered either.
    err = send_msg(alice, 'bob@localhost', type='error')
    no_msg(alice, id=err)
    # After making room, storing works again.
    offline_purge(bob)
    mid = send_msg(alice, 'bob@localhost', 'room again')
    no_msg(alice, id=mid)
    assert wait_offline_count(bob, 1) == 1
    assert ids


def test_xep0160_offline_messages_survive_restart(server_factory):
    srv = server_factory.start('restart')
    alice = login(srv, 'alice')
    ids = [send_msg(alice, 'carol@localhost', 'durable %d' % i, type='chat') for i in range(3)]
    sync(alice)
    carol = login(srv, 'carol')
    assert wait_offline_count(carol, 3) == 3
    alice.close()
    carol.close()
    assert srv.stop() in (0, None, -15)
    srv.start()
    carol = login(srv, 'carol')
    msgs = offline_fetch(carol)
    assert [m.get('id') for m in msgs] == ids
    assert all(server_delay(m) is not None for m in msgs)
    carol.close()
