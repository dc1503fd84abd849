"""RFC 6121 §8.5 (and §5.2.2, RFC 6120 §8.3): how the server delivers <message/> stanzas to
local accounts, by message type, by full or bare JID, with or without available resources,
and to accounts that do not exist."""
import pytest

from im_helpers_message import (assert_error, login, no_msg,
                                offline_count, offline_fetch, offline_purge, recv_msg,
                                send_msg, server_delay, sync, uniq, wait_offline_count)
from rawxmpp import tostr


@pytest.fixture(scope='module')
def alice(server):
    c = login(server, 'alice', 'routing')
    yield c
    c.close()


def fresh_queue(server, user):
    """A session of `user` that has no offline messages left (XEP-0013 purge)."""
    c = login(server, user)
    offline_purge(c)
    return c


def test_rfc6121_8_5_3_1_full_jid_connected_resource_gets_message(server, alice):
    # A bound resource gets messages to its full JID even before sending presence.
    bob = login(server, 'bob', 'full1')
    for t in (None, 'chat', 'normal', 'headline', 'groupchat'):
        mid = send_msg(alice, bob.jid, 'to-full', type=t)
        m = recv_msg(bob, id=mid)
        assert m.get('from') == alice.jid, tostr(m)
        assert m.get('to') == bob.jid, tostr(m)
        assert m.findtext('{jabber:client}body') == 'to-full'
    bob.close()


def test_rfc6121_8_5_3_1_error_message_to_full_jid_is_delivered(server, alice):
    bob = login(server, 'bob', 'fullerr')
    mid = send_msg(alice, bob.jid, type='error',
                   payload="<error type='cancel'><item-not-found "
                           "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>")
    m = recv_msg(bob, id=mid)
    assert m.get('type') == 'error'
    bob.close()


def test_rfc6121_8_5_3_2_1_offline_resource_chat_treated_as_bare_stored(server, alice):
    erin = fresh_queue(server, 'erin')
    erin_jid = erin.jid
    other = login(server, 'erin', 'other')  # bound, no presence: not available
    mid = send_msg(alice, 'erin@localhost/nosuchresource', 'as-bare', type='chat')
    no_msg(alice, id=mid)  # no error: stored (§8.5.2.2.1, XEP-0160)
    no_msg(other, id=mid)  # not to a resource that is not available
    assert wait_offline_count(erin, 1) == 1
    msgs = offline_fetch(erin)
    assert [m.get('id') for m in msgs] == [mid]
    assert msgs[0].get('from') == alice.jid
    offline_purge(erin)
    erin.close()
    other.close()
    assert erin_jid


def test_rfc6121_8_5_3_2_1_offline_resource_groupchat_service_unavailable(server, alice):
    mid = send_msg(alice, 'bob@localhost/nosuchresource', 'gc', type='groupchat')
    e = recv_msg(alice, id=mid)
    assert_error(e, 'service-unavailable', 'cancel')
    assert e.get('from') == 'bob@localhost/nosuchresource'


def test_rfc6121_8_5_3_2_1_offline_resource_error_silently_dropped(server, alice):
    mid = send_msg(alice, 'bob@localhost/nosuchresource', type='error',
                   payload="<error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>")
    no_msg(alice, id=mid)


def test_rfc6121_8_5_2_groupchat_to_bare_jid_service_unavailable(server, alice):
    mid = send_msg(alice, 'bob@localhost', 'gc', type='groupchat')
    assert_error(recv_msg(alice, id=mid), 'service-unavailable')


def test_rfc6121_8_5_2_2_1_headline_without_available_resource_dropped_not_stored(server, alice):
    dave = fresh_queue(server, 'dave')
    mid = send_msg(alice, 'dave@localhost', 'news', type='headline')
    no_msg(alice, id=mid)
    no_msg(dave, id=mid)
    sync(alice)
    assert wait_offline_count(dave, 0, timeout=0.5) == 0
    dave.close()


def test_rfc6121_8_5_2_2_1_error_to_bare_jid_never_answered_nor_stored(server, alice):
    dave = fresh_queue(server, 'dave')
    mid = send_msg(alice, 'dave@localhost', 'err', type='error',
                   payload="<error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>")
    no_msg(alice, id=mid)
    assert wait_offline_count(dave, 0, timeout=0.5) == 0
    dave.close()


@pytest.mark.parametrize('type_', [None, 'normal', 'chat', 'headline', 'groupchat', 'bogus'])
def test_rfc6121_8_5_1_no_such_account_service_unavailable(server, alice, type_):
    for to in ('nobody@localhost', 'nobody@localhost/res'):
        mid = send_msg(alice, to, 'hello?', type=type_)
        e = recv_msg(alice, id=mid)
        assert_error(e, 'service-unavailable', 'cancel')
        assert e.get('from') == to, tostr(e)


def test_rfc6121_8_5_1_no_such_account_error_message_not_answered(server, alice):
    for to in ('nobody@localhost', 'nobody@localhost/res'):
        mid = send_msg(alice, to, type='error',
                       payload="<error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>")
        no_msg(alice, id=mid)


def test_rfc6121_5_2_2_unknown_type_treated_as_normal(server, alice):
    # Stored like a normal message (a headline or groupchat would not be).
    carol = fresh_queue(server, 'carol')
    mid = send_msg(alice, 'carol@localhost', 'odd type', type='x-unknown')
    no_msg(alice, id=mid)
    assert wait_offline_count(carol, 1) == 1
    msgs = offline_fetch(carol)
    assert msgs[0].get('id') == mid
    assert msgs[0].get('type') == 'x-unknown'  # delivered as sent
    offline_purge(carol)
    carol.close()


def test_rfc6120_8_3_3_8_invalid_to_jid_malformed(server, alice):
    for bad in ('@localhost', 'a@b@localhost', 'bob@localhost/', 'bob@' + 'x' * 1100):
        mid = send_msg(alice, bad, 'bad')
        e = recv_msg(alice, id=mid)
        assert_error(e, 'jid-malformed', 'modify')
    # An error with a malformed 'to' is not answered.
    mid = send_msg(alice, '@localhost', type='error')
    no_msg(alice, id=mid)


def test_rfc6120_10_3_1_message_without_to_goes_to_own_bare_jid(server):
    c = fresh_queue(server, 'carol')
    mid = send_msg(c, None, 'note to self', type='chat')
    # Carol has no available resource (no presence sent): stored for herself.
    no_msg(c, id=mid)
    assert wait_offline_count(c, 1) == 1
    offline_purge(c)
    c.close()


# ---- §8.5.2.1: available resources (needs the presence module)

def available(server, user, priority=0, resource=None):
    c = login(server, user, resource)
    c.send('<presence><priority>%d</priority></presence>' % priority)
    sync(c)
    return c


def test_rfc6121_8_5_2_1_1_chat_and_normal_to_highest_priority(server, alice):
    hi1 = available(server, 'bob', 5)
    hi2 = available(server, 'bob', 5)
    lo = available(server, 'bob', 1)
    for t in ('chat', None):
        mid = send_msg(alice, 'bob@localhost', 'prio', type=t)
        recv_msg(hi1, id=mid)
        recv_msg(hi2, id=mid)
        no_msg(lo, id=mid)
    for c in (hi1, hi2, lo):
        c.close()


def test_rfc6121_8_5_2_1_1_headline_to_all_non_negative(server, alice):
    a = available(server, 'bob', 5)
    b = available(server, 'bob', 0)
    neg = available(server, 'bob', -1)
    mid = send_msg(alice, 'bob@localhost', 'news', type='headline')
    recv_msg(a, id=mid)
    recv_msg(b, id=mid)
    no_msg(neg, id=mid)
    for c in (a, b, neg):
        c.close()


def test_rfc6121_8_5_2_2_1_only_negative_priority_stores_offline(server, alice):
    neg = available(server, 'dave', -1)
    offline_purge(neg)
    mid = send_msg(alice, 'dave@localhost', 'for later', type='chat')
    no_msg(neg, id=mid)
    assert wait_offline_count(neg, 1) == 1
    offline_purge(neg)
    neg.close()


def test_rfc6121_8_5_3_2_1_offline_full_jid_goes_to_available_resource(server, alice):
    b = available(server, 'bob', 3)
    mid = send_msg(alice, 'bob@localhost/gone', 'redirect', type='chat')
    recv_msg(b, id=mid)
    b.close()


def test_xep0160_initial_presence_delivers_with_delay(server, alice):
    c = fresh_queue(server, 'carol')
    c.close()
    ids = [send_msg(alice, 'carol@localhost', 'offline %d' % i, type='chat') for i in range(3)]
    sync(alice)
    c = login(server, 'carol')
    c.send('<presence/>')
    got = [recv_msg(c, id=i) for i in ids]  # in order of sending
    for m in got:
        d = server_delay(m)
        assert d is not None, tostr(m)
        assert d.get('from') == 'localhost'
    no_msg(c, wait=0.3)
    assert offline_count(c) == 0
    c.close()
