"""RFC 6120 §8: stanza semantics, addressing and errors; XEP-0086 legacy error codes."""
import pytest

from rawxmpp import NS_CLIENT, NS_STANZAS, q, stanza_error, tostr

PING = "<ping xmlns='urn:xmpp:ping'/>"


@pytest.fixture(scope='module')
def alice(server):
    c = server.login('alice', resource='stanzas')
    yield c
    c.close()


def ping_ok(c):
    r = c.iq(PING, to='localhost')
    assert r.get('type') == 'result', tostr(r)


def next_iq(c, pred=lambda e: True, timeout=None):
    return c.recv_stanza(lambda e: e.tag == q(NS_CLIENT, 'iq') and pred(e), timeout=timeout)


def assert_error(elem, type_, cond, code=None):
    err = stanza_error(elem)
    assert elem.get('type') == 'error' and err is not None, tostr(elem)
    assert err[1] == cond, 'expected <%s/>, got %s' % (cond, tostr(elem))
    assert err[0] == type_, 'expected error type %s, got %s' % (type_, tostr(elem))
    if code is not None:
        assert err[2] == code, 'expected legacy code %s (XEP-0086), got %s' % (code, tostr(elem))


def test_rfc6120_8_2_3_iq_without_id_bad_request(server):
    c = server.login('bob', resource='noid')
    c.send("<iq type='get' to='localhost'>%s</iq>" % PING)
    r = next_iq(c)
    assert r.get('id') in (None, ''), tostr(r)
    assert_error(r, 'modify', 'bad-request', '400')
    ping_ok(c)


def test_rfc6120_8_2_3_iq_bad_type_bad_request(alice):
    alice.send("<iq type='fetch' id='bt1' to='localhost'>%s</iq>" % PING)
    r = next_iq(alice, lambda e: e.get('id') == 'bt1')
    assert_error(r, 'modify', 'bad-request', '400')
    ping_ok(alice)


def test_rfc6120_8_2_3_iq_get_without_child_bad_request(alice):
    alice.send("<iq type='get' id='nc1' to='localhost'/>")
    r = next_iq(alice, lambda e: e.get('id') == 'nc1')
    assert_error(r, 'modify', 'bad-request', '400')


def test_rfc6120_8_2_3_iq_get_two_children_bad_request(alice):
    alice.send("<iq type='get' id='tc1' to='localhost'>%s<query xmlns='jabber:iq:version'/>"
               "</iq>" % PING)
    r = next_iq(alice, lambda e: e.get('id') == 'tc1')
    assert_error(r, 'modify', 'bad-request', '400')


def test_rfc6120_8_3_3_19_unknown_namespace_service_unavailable(alice):
    r = alice.iq("<query xmlns='urn:example:unknown-namespace'/>", to='localhost')
    assert_error(r, 'cancel', 'service-unavailable', '503')
    # §8.3.1: the error is addressed back: from the server, id kept.
    assert r.get('from') in ('localhost', None), tostr(r)


def test_rfc6120_8_3_3_19_unknown_namespace_set(alice):
    r = alice.iq("<query xmlns='urn:example:unknown-namespace'/>", type='set', to='localhost')
    assert_error(r, 'cancel', 'service-unavailable', '503')


def test_rfc6120_8_3_3_19_unknown_namespace_no_to(alice):
    """An IQ without 'to' is handled by the server on behalf of the account (§10.3.3)."""
    r = alice.iq("<query xmlns='urn:example:unknown-namespace'/>")
    assert_error(r, 'cancel', 'service-unavailable', '503')


def test_rfc6120_8_3_1_error_stanza_never_answered(alice):
    """§8.3.1: an entity that receives an error stanza MUST NOT respond with an error."""
    alice.send("<iq type='error' id='e1' to='localhost'><error type='cancel'>"
               "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
    alice.send("<message type='error' id='e2' to='localhost'><error type='cancel'>"
               "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"
               "</message>")
    alice.send("<iq type='result' id='e3' to='localhost'/>")
    r = alice.iq(PING, to='localhost', id='after-errors')
    assert r.get('type') == 'result', tostr(r)
    stray = [tostr(e) for e in alice.others if e.get('id') in ('e1', 'e2', 'e3')]
    assert not stray, 'server answered an error/result stanza: %s' % stray


def test_rfc6120_8_1_2_1_spoofed_from_invalid_from(server):
    c = server.login('carol', resource='spoof')
    c.send_tolerant("<message from='alice@localhost/stanzas' to='bob@localhost'>"
                    "<body>spoofed</body></message>")
    cond = c.expect_stream_error()
    assert cond == 'invalid-from', tostr(c.last_stream_error)
    server.assert_accepts_login()


def test_rfc6120_8_1_2_1_own_from_accepted(server):
    c = server.login('carol', resource='ownfrom')
    r = c.iq(PING, to='localhost', extra=" from='carol@localhost/ownfrom'")
    assert r.get('type') == 'result', tostr(r)


@pytest.mark.parametrize('bad_to', ['@localhost', 'user@', 'a@b@localhost', 'bad user@localhost'])
def test_rfc6120_8_3_3_8_jid_malformed(alice, bad_to):
    r = alice.iq(PING, to=bad_to)
    assert_error(r, 'modify', 'jid-malformed', '400')


def test_rfc6120_8_1_2_1_server_stamps_from(server):
    a = server.login('dave', resource='stamp-a')
    b = server.login('erin', resource='stamp-b')
    a.send("<message to='erin@localhost/stamp-b' id='st1'><body>x</body></message>")
    m = b.recv_stanza(lambda e: e.tag == q(NS_CLIENT, 'message'))
    assert m.get('from') == 'dave@localhost/stamp-a', tostr(m)
    assert m.get('to') == 'erin@localhost/stamp-b', tostr(m)
    # IQ results from the server carry from = the server (or the account's bare JID).
    r = a.iq(PING, to='localhost')
    assert r.get('from') == 'localhost', tostr(r)


def test_rfc6120_10_5_3_2_iq_to_unavailable_full_jid(alice):
    """§10.5.3.2 / RFC 6121 §8.5.3.2.1: IQ to a full JID with no session -> service-unavailable."""
    r = alice.iq(PING, to='bob@localhost/no-such-resource')
    assert_error(r, 'cancel', 'service-unavailable', '503')
