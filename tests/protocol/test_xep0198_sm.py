"""XEP-0198 Stream Management: enabling, acks and counters, resumption after a dropped TCP
connection (nothing lost, nothing twice), failed resumptions, expiry into offline storage with
the unavailable presence only then, the limit on unacknowledged stanzas."""
import time

import pytest

import rawxmpp
from rawxmpp import q, NS_CLIENT, NS_STREAMS, tostr
from im_helpers_roster import fresh_user, bare, online, wait_presence, is_presence, no_stanza, close_all
from sm_helpers import (NS_SM, Sm, enable, sm_login, drop, authenticated, resume, failed_condition,
                        subscribed_both, message, messages_with_ids)

MSG = q(NS_CLIENT, 'message')


def is_msg(id=None):
    return lambda e: e.tag == MSG and (id is None or e.get('id') == id)


def test_xep0198_feature_and_enable(server):
    c = authenticated(server, 'alice')
    # §3: offered once authenticated; <enable/> before binding is refused.
    assert c.feature(NS_SM, 'sm') is not None, tostr(c.features)
    e = enable(c)
    assert e.tag == q(NS_SM, 'failed') and failed_condition(e) == 'unexpected-request', tostr(e)
    c.bind('sm-enable')
    e = enable(c, max=60)
    assert e.tag == q(NS_SM, 'enabled'), tostr(e)
    assert e.get('resume') in ('true', '1') and e.get('id')
    assert int(e.get('max')) == 60  # the client's wish, below the server's maximum
    # §3: only once.
    e = enable(c)
    assert e.tag == q(NS_SM, 'failed') and failed_condition(e) == 'unexpected-request', tostr(e)
    c.close()


def test_xep0198_enable_without_resume_and_max_capped(server_factory):
    s = server_factory.start('sm-cap', overrides={'stream_management': {'resume_timeout': 30,
                                                                        'max_resume_timeout': 100}})
    c = s.login('alice', resource='cap')
    e = enable(c, max=100000)
    assert e.tag == q(NS_SM, 'enabled') and int(e.get('max')) == 100, tostr(e)
    c.close()
    c = s.login('bob', resource='noresume')
    e = enable(c, resume=False)
    assert e.tag == q(NS_SM, 'enabled') and e.get('id') is None and e.get('resume') is None, tostr(e)
    c.close()


def test_xep0198_disabled_in_config(server_factory):
    s = server_factory.start('sm-off', overrides={'stream_management': {'enabled': False}})
    c = s.client()
    c.connect_tls()
    c.authenticate('alice', s.password)
    c.open()
    assert c.feature(NS_SM, 'sm') is None
    c.bind('x')
    e = enable(c)
    assert e.tag == q(NS_SM, 'failed'), tostr(e)
    c.close()


def test_xep0198_ack_counters(server):
    sm, _ = sm_login(server, 'alice', 'acks', presence=False, roster=False)
    c = sm.c
    # Three stanzas from the client: h=3 (§4).
    for _ in range(3):
        r = sm.iq("<ping xmlns='urn:xmpp:ping'/>", to=server.domain)
        assert r.get('type') == 'result'
    assert sm.server_h() == 3
    # The server counts what it sent and asks for acks.
    sm.drain(0.3)
    assert sm.h == 3 and sm.requests >= 1
    # An ack for more than was sent ends the stream (§7: handled-count-too-high).
    c.send("<a xmlns='%s' h='%d'/>" % (NS_SM, sm.h + 5))
    assert c.expect_stream_error() == 'undefined-condition'
    e = c.last_stream_error
    hc = e.find(q(NS_SM, 'handled-count-too-high'))
    assert hc is not None and hc.get('h') == str(sm.h + 5) and hc.get('send-count') == '3', tostr(e)
    c.close()


def test_xep0198_ack_before_enable_and_bad_h(server):
    c = server.login('alice', resource='noenable')
    c.send("<r xmlns='%s'/>" % NS_SM)
    assert c.expect_stream_error() == 'unsupported-stanza-type'

    c.close()
    sm, _ = sm_login(server, 'alice', 'badh', presence=False, roster=False)
    sm.c.send("<a xmlns='%s' h='x'/>" % NS_SM)
    assert sm.c.expect_stream_error() == 'bad-format'

    sm.c.close()


def test_xep0198_drop_resume_every_message_exactly_once(server):
    an, bn, A, B = subscribed_both(server)
    watcher = online(server, bn, 'watch')
    sm, enabled = sm_login(server, an, 'phone')
    wait_presence(watcher, A + '/phone')
    previd = enabled.get('id')
    sent = []

    def send_from_bob(n):
        id = 'm%d' % n
        message(watcher, A + '/phone', 'hello %d' % n, id)
        sent.append(id)

    for n in range(1, 6):
        send_from_bob(n)
    # Alice reads the first three, acknowledges two of them, and her network goes.
    got = []
    while len(got) < 3:
        got.append(sm.recv(is_msg()))
    handled_before = sm.h
    # Alice also sent two messages; the server acknowledges them on resumption.
    message(sm.c, B, 'from alice 1', 'a1')
    message(sm.c, B, 'from alice 2', 'a2')
    for id in ('a1', 'a2'):
        watcher.recv_stanza(is_msg(id))
    drop(sm.c)
    # Meanwhile Bob keeps writing; Alice still counts as online: no unavailable presence.
    for n in range(6, 9):
        send_from_bob(n)
    no_stanza(watcher, is_presence(A + '/phone', 'unavailable'), timeout=0.8)
    # Alice's new connection resumes with the count she handled (the fourth and fifth
    # messages may have arrived in her socket buffer, but she never processed them).
    c2, r = resume(server, an, previd, handled_before)
    assert r.tag == q(NS_SM, 'resumed'), tostr(r)
    assert r.get('previd') == previd and r.get('h') == '3'
    sm2 = Sm(c2, h=handled_before)
    while len(got) < 8:
        got.append(sm2.recv(is_msg(), timeout=5))
    # The session is the same resource, bound as before: new messages arrive on it.
    send_from_bob(9)
    got.append(sm2.recv(is_msg('m9')))
    ids = messages_with_ids(got)
    assert ids == sent, (ids, sent)
    # Nothing twice after that.
    assert not [e for e in sm2.drain(0.5) if e.tag == MSG]
    # No unavailable presence during all this.
    no_stanza(watcher, is_presence(A + '/phone', 'unavailable'), timeout=0.3)
    # Counters carry on: the server acknowledges our stanzas from the old count.
    r = sm2.iq("<ping xmlns='urn:xmpp:ping'/>", to=server.domain)
    assert r.get('type') == 'result'
    assert sm2.server_h() == 4
    c2.end_stream()
    wait_presence(watcher, A + '/phone', 'unavailable')
    close_all(watcher, c2)


def test_xep0198_resume_while_old_connection_still_open(server):
    sm, enabled = sm_login(server, 'carol', 'twice', presence=False, roster=False)
    c2, r = resume(server, 'carol', enabled.get('id'), 0)
    assert r.tag == q(NS_SM, 'resumed'), tostr(r)
    # §5: the old stream gets <conflict/>.
    assert sm.c.expect_stream_error() == 'conflict'

    # The resumed stream works.
    sm2 = Sm(c2)
    assert sm2.iq("<ping xmlns='urn:xmpp:ping'/>", to=server.domain).get('type') == 'result'
    close_all(sm.c, c2)


def test_xep0198_resume_unknown_previd_then_bind(server):
    c = authenticated(server, 'alice')
    c.send("<resume xmlns='%s' previd='no-such-session' h='0'/>" % NS_SM)
    r = c.recv()
    assert r.tag == q(NS_SM, 'failed') and failed_condition(r) == 'item-not-found', tostr(r)
    assert r.get('h') is None
    # §5: the client may bind a resource on the same stream.
    assert c.bind('after-failed')
    c.close()


def test_xep0198_resume_is_per_account(server):
    sm, enabled = sm_login(server, 'dave', 'mine', presence=False, roster=False)
    drop(sm.c)
    c, r = resume(server, 'erin', enabled.get('id'), 0)
    assert r.tag == q(NS_SM, 'failed') and failed_condition(r) == 'item-not-found', tostr(r)
    c.close()
    # Bad requests: no previd / h.
    c = authenticated(server, 'dave')
    c.send("<resume xmlns='%s' h='0'/>" % NS_SM)
    r = c.recv()
    assert r.tag == q(NS_SM, 'failed') and failed_condition(r) == 'bad-request', tostr(r)
    # And the owner can still resume.
    c.send("<resume xmlns='%s' previd='%s' h='0'/>" % (NS_SM, enabled.get('id')))
    r = c.recv()
    assert r.tag == q(NS_SM, 'resumed'), tostr(r)
    c.end_stream()
    c.close()


def test_xep0198_resume_with_h_too_high(server):
    sm, enabled = sm_login(server, 'erin', 'hhigh', presence=False, roster=False)
    drop(sm.c)
    c, r = resume(server, 'erin', enabled.get('id'), 7)
    # §7: more than was sent: handled-count-too-high.
    assert r.tag == q(rawxmpp.NS_STREAM, 'error'), tostr(r)
    assert r.find(q(NS_SM, 'handled-count-too-high')) is not None, tostr(r)
    c.close()


def test_xep0198_expiry_offline_storage_and_unavailable(server_factory):
    s = server_factory.start('sm-expiry', overrides={'stream_management': {'resume_timeout': 1}})
    an, bn, A, B = subscribed_both(s)
    watcher = online(s, bn, 'watch')
    sm, enabled = sm_login(s, an, 'gone')
    sm.auto_ack = False
    wait_presence(watcher, A + '/gone')
    message(watcher, A + '/gone', 'before the drop', 'e1')
    sm.recv(is_msg('e1'))  # received but never acknowledged
    drop(sm.c)
    message(watcher, A, 'during the outage', 'e2')
    # Only when the session expires do the contacts see it go (not at the drop).
    t0 = time.monotonic()
    wait_presence(watcher, A + '/gone', 'unavailable', timeout=10)
    assert time.monotonic() - t0 >= 0.5
    # §5: too late: item-not-found, with the count of stanzas the server had handled.
    c, r = resume(s, an, enabled.get('id'), 0)
    assert r.tag == q(NS_SM, 'failed') and failed_condition(r) == 'item-not-found', tostr(r)
    assert r.get('h') == '1'  # the initial presence
    c.close()
    # §4: the unacknowledged message and the one sent during the outage are in offline storage.
    c = online(s, an, 'back')
    got = [c.recv_stanza(is_msg('e1')), c.recv_stanza(is_msg('e2'))]
    assert [g.findtext(q(NS_CLIENT, 'body')) for g in got] == ['before the drop', 'during the outage']
    close_all(c, watcher)


def test_xep0198_expiry_unacked_iq_gets_error(server_factory):
    s = server_factory.start('sm-iq', overrides={'stream_management': {'resume_timeout': 1}})
    sm, _ = sm_login(s, 'alice', 'iqgone', presence=False, roster=False)
    sm.auto_ack = False
    asker = s.login('alice', resource='asker')
    asker.send("<iq type='get' id='q1' to='alice@%s/iqgone'><query xmlns='jabber:iq:version'/></iq>"
               % s.domain)
    sm.recv(lambda e: e.tag == q(NS_CLIENT, 'iq') and e.get('id') == 'q1')
    drop(sm.c)
    # §4: an IQ request the client never acknowledged is answered with an error at expiry.
    r = asker.wait_iq('q1', timeout=10)
    assert r.get('type') == 'error', tostr(r)
    asker.close()


def test_xep0198_max_unacked(server_factory):
    s = server_factory.start('sm-max', overrides={'stream_management': {'max_unacked': 10}})
    sm, _ = sm_login(s, 'alice', 'slow', presence=False, roster=False)
    sm.auto_ack = False
    bob = s.login('bob', resource='fast')
    for n in range(12):
        message(bob, 'alice@%s/slow' % s.domain, 'flood %d' % n, 'f%d' % n)
    # The client never acknowledges: the stream ends with <policy-violation/>.
    deadline = time.monotonic() + 10
    err = None
    while time.monotonic() < deadline:
        e = sm.c.recv(timeout=10, allow_stream_error=True)
        if e.tag == q(rawxmpp.NS_STREAM, 'error'):
            err = e
            break
    assert err is not None and err.find(q(NS_STREAMS, 'policy-violation')) is not None, tostr(err)
    sm.c.close()
    # Nothing lost: the unacknowledged messages went to offline storage.
    c = online(s, 'alice', 'later', roster=False)
    ids = set()
    deadline = time.monotonic() + 10
    while len(ids) < 12 and time.monotonic() < deadline:
        e = c.recv_stanza(is_msg(), timeout=10)
        ids.add(e.get('id'))
    assert ids == {'f%d' % n for n in range(12)}
    close_all(c, bob)


def test_xep0198_without_sm_dropped_connection_is_unavailable_at_once(server):
    an, bn, A, B = subscribed_both(server)
    watcher = online(server, bn, 'watch')
    u = online(server, an, 'plain')
    wait_presence(watcher, A + '/plain')
    drop(u)
    wait_presence(watcher, A + '/plain', 'unavailable', timeout=5)
    watcher.close()
