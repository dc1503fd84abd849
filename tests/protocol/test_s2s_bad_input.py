"""Bad input from peer servers and unreachable peers (RFC 6120 §4.9.3 stream errors between
servers, XEP-0220 dialback failures, RFC 6120 §8.3.3.16/17 bounces). Raw sockets play the other
server: as the Initiating Server that connects to Starling, and as the Authoritative Server that
Starling dials back to. The server under test allows s2s without TLS, so that the raw peers
need no TLS stack; the rules tested do not depend on it."""
import socket
import time

import pytest

from conftest import free_port
from rawxmpp import NS_PING, tostr
from s2s_helpers import (NS_DB, NS_DB_FEATURE, NS_SERVER, AuthoritativeListener, MSG, answer_verify,
                         connect_raw, login, recv_error, recv_message, send_message, s2s_listener, uniq)
from rawxmpp import q


RAW_DOMAINS = 12
_next_raw = [0]


def raw_domain():
    _next_raw[0] += 1
    assert _next_raw[0] < RAW_DOMAINS
    return 'raw%d.test' % _next_raw[0]


@pytest.fixture(scope='module')
def peers():
    auth = AuthoritativeListener()     # plays raw.test when the server dials back
    silent = AuthoritativeListener()   # accepts and never says anything
    yield auth, silent
    auth.close()
    silent.close()


@pytest.fixture(scope='module')
def srv(server_factory, peers):
    auth, silent = peers
    closed_port = free_port()  # nothing listens there
    port = free_port()
    s = server_factory.start('s2s-bad', overrides={
        'host': [{'name': 'c.test'}],
        's2s': {'require_encryption': False, 'connect_timeout': 2, 'handshake_timeout': 2,
                # One raw domain per test: each dial-back is a new outgoing stream.
                'routes': dict({'raw%d.test' % i: '127.0.0.1:%d' % auth.port for i in range(RAW_DOMAINS)},
                               **{'silent.test': '127.0.0.1:%d' % silent.port,
                                  'refused.test': '127.0.0.1:%d' % closed_port})},
    }, extra_listeners=[s2s_listener(port)])
    s.s2s_port = port
    return s


def authenticated_peer(srv, peers, domain=None):
    """A raw stream from raw.test to c.test, authenticated by dialback: we send a key, the
    server dials back to our listener and we confirm the key."""
    auth, _ = peers
    domain = domain or raw_domain()
    p = connect_raw(srv)
    p.domain = domain
    attrs = p.open_s2s(to='c.test', frm=domain)
    assert attrs.get('id')
    assert p.feature(NS_DB_FEATURE, 'dialback') is not None, tostr(p.features)
    p.send("<db:result from='%s' to='c.test'>%s</db:result>" % (domain, 'k' * 64))
    back = auth.accept()
    v = answer_verify(back, domain, valid=True)
    # XEP-0220 §2.3.1: the verification names the stream and carries our key unchanged.
    assert v.get('id') == attrs.get('id')
    assert (v.text or '').strip() == 'k' * 64
    assert v.get('from') == 'c.test' and v.get('to') == domain
    r = p.recv_db('result')
    assert r.get('type') == 'valid', tostr(r)
    return p, back


def test_rfc6120_4_9_3_6_host_unknown_in_header(srv):
    p = connect_raw(srv)
    p.send(p.s2s_header(to='nope.test', frm='raw.test'))
    assert p.expect_stream_error() == 'host-unknown'


def test_rfc6120_4_9_3_10_wrong_namespace(srv):
    p = connect_raw(srv)
    p.send("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
           "xmlns:stream='http://etherx.jabber.org/streams' to='c.test' version='1.0'>")
    assert p.expect_stream_error() == 'invalid-namespace'


def test_rfc6120_4_9_3_12_stanza_before_authentication(srv):
    p = connect_raw(srv)
    p.open_s2s(to='c.test', frm='raw.test')
    p.send("<message from='x@raw.test' to='alice@c.test'><body>early</body></message>")
    assert p.expect_stream_error() == 'not-authorized'


def test_xep0220_authenticated_peer_delivers(srv, peers):
    alice = login(srv, 'alice', presence=True)
    p, back = authenticated_peer(srv, peers)
    romeo = 'romeo@%s/x' % p.domain
    p.send("<message from='%s' to='alice@c.test' type='chat' id='m1'>"
           "<body>over dialback</body></message>" % romeo)
    m = recv_message(alice, body='over dialback')
    assert m.get('from') == romeo
    # Replies go over the server's own outgoing stream to that domain (the one we accepted
    # for the verification), once its own dialback request there is confirmed.
    send_message(alice, romeo, 'answer')
    mine = back.recv_db('result')
    assert mine.get('from') == 'c.test' and mine.get('to') == p.domain and (mine.text or '').strip()
    back.send("<db:result from='%s' to='c.test' type='valid'/>" % p.domain)
    m = back.recv_stanza(lambda e: e.tag == q(NS_SERVER, 'message'), timeout=10)
    assert m.get('to') == romeo and m.get('from') == alice.jid
    assert m.findtext(q(NS_SERVER, 'body')) == 'answer'


def test_rfc6120_4_9_3_9_invalid_from(srv, peers):
    p, _ = authenticated_peer(srv, peers)
    p.send("<message from='mallory@evil.test' to='alice@c.test'><body>spoof</body></message>")
    assert p.expect_stream_error() == 'invalid-from'


def test_rfc6120_4_9_3_7_improper_addressing(srv, peers):
    p, _ = authenticated_peer(srv, peers)
    p.send("<message to='alice@c.test'><body>no from</body></message>")
    assert p.expect_stream_error() == 'improper-addressing'


def test_rfc6120_4_9_3_6_host_unknown_stanza(srv, peers):
    p, _ = authenticated_peer(srv, peers)
    p.send("<message from='romeo@%s' to='alice@elsewhere.test'><body>relay?</body></message>" % p.domain)
    assert p.expect_stream_error() == 'host-unknown'


def test_xep0220_bad_dialback_key_fails(srv, peers):
    auth, _ = peers
    domain = raw_domain()
    p = connect_raw(srv)
    p.open_s2s(to='c.test', frm=domain)
    p.send("<db:result from='%s' to='c.test'>0000bad</db:result>" % domain)
    back = auth.accept()
    answer_verify(back, domain, valid=False)
    r = p.recv_db('result')
    assert r.get('type') == 'invalid', tostr(r)
    # XEP-0220 §2.4: no other domain on this stream: it is closed.
    assert p.expect_stream_error() == 'not-authorized'


def test_xep0220_authoritative_rejects_forged_key(srv):
    # We ask the server (as Authoritative Server for c.test) to confirm a key for a stream
    # it never opened: invalid. (XEP-0185: keys are HMACs over its secret and stream ids.)
    p = connect_raw(srv)
    p.open_s2s(to='c.test', frm='raw.test')
    p.send("<db:verify from='raw.test' to='c.test' id='made-up'>%s</db:verify>" % ('a' * 64))
    v = p.recv_db('verify')
    assert v.get('type') == 'invalid', tostr(v)
    assert v.get('from') == 'c.test' and v.get('to') == 'raw.test' and v.get('id') == 'made-up'


def test_xep0220_dialback_for_unknown_target_domain(srv):
    p = connect_raw(srv)
    p.open_s2s(to='c.test', frm='raw.test')
    p.send("<db:result from='raw.test' to='other.test'>abc</db:result>")
    r = p.recv_db('result')
    # XEP-0220 §2.5: item-not-found for a domain not hosted here.
    assert r.get('type') == 'error', tostr(r)
    assert r.find('{jabber:server}error/{urn:ietf:params:xml:ns:xmpp-stanzas}item-not-found') is not None, tostr(r)


def test_rfc6120_8_3_3_16_connection_refused(srv):
    alice = login(srv, 'alice')
    id = send_message(alice, 'x@refused.test', 'nobody home')
    cond, e = recv_error(alice, id, timeout=10)
    assert cond == 'remote-server-not-found', tostr(e)


def test_rfc6120_8_3_3_17_silent_peer_times_out_without_blocking_others(srv, peers):
    _, silent = peers
    alice = login(srv, 'alice')
    t0 = time.monotonic()
    slow_id = send_message(alice, 'x@silent.test', 'are you there')
    silent.accept()  # TCP accepted; the peer never speaks
    # Meanwhile another domain fails (or works) at its own pace.
    fast_id = send_message(alice, 'x@refused.test', 'meanwhile')
    cond, _ = recv_error(alice, fast_id, timeout=10)
    assert cond == 'remote-server-not-found'
    assert time.monotonic() - t0 < 2, 'another domain was held up by the silent one'
    # The silent one bounces once its deadline (connect_timeout + handshake_timeout) passes.
    cond, e = recv_error(alice, slow_id, timeout=15)
    assert cond == 'remote-server-timeout', tostr(e)
    # IQs get the same treatment, and the server is fine.
    r = alice.iq("<ping xmlns='%s'/>" % NS_PING, to='c.test')
    assert r.get('type') == 'result'
