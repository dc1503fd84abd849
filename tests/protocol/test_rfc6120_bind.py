"""RFC 6120 §7: resource binding; RFC 3921 §3 / RFC 6121 session establishment (optional)."""
import re

import pytest

from rawxmpp import NS_BIND, NS_CLIENT, NS_SESSION, NS_STANZAS, q, stanza_error, tostr


def _authenticated(server, user='alice'):
    c = server.client()
    c.connect_tls()
    c.authenticate(user, server.password)
    c.open()
    return c


def test_rfc6120_7_6_bind_client_submitted_resource(server):
    c = _authenticated(server)
    assert c.bind('balcony') == 'alice@localhost/balcony'


def test_rfc6120_7_6_bind_server_generated_resource(server):
    c = _authenticated(server)
    jid = c.bind(None)
    m = re.fullmatch(r'alice@localhost/(.+)', jid)
    assert m and m.group(1), jid
    c2 = _authenticated(server)
    jid2 = c2.bind(None)
    assert jid2 != jid, 'server-generated resources must be unique'


def test_rfc6120_7_7_2_2_resource_conflict_replace(server):
    """resource_conflict = 'replace': the old session gets <conflict/> and the new one binds."""
    old = server.login('bob', resource='phone')
    new = _authenticated(server, 'bob')
    assert new.bind('phone') == 'bob@localhost/phone'
    cond = old.expect_stream_error()
    assert cond == 'conflict', tostr(old.last_stream_error)
    # The new session is the one that receives traffic for the full JID.
    new.send("<message to='bob@localhost/phone' id='c1'><body>to new</body></message>")
    m = new.recv_stanza(lambda e: e.tag == q(NS_CLIENT, 'message'))
    assert m.get('id') == 'c1'


@pytest.mark.parametrize('resource', ['nel\u0085char', 'r' * 1024],
                         ids=['control-char', 'too-long'])
def test_rfc6120_7_7_2_1_bind_bad_request_for_invalid_resource(server, resource):
    """§7.7.2.1: a resource that cannot be processed (RFC 7622: OpaqueString, at most 1023
    octets) is refused with <bad-request/>; the stream stays up and a valid bind works."""
    c = _authenticated(server)
    r = c.iq("<bind xmlns='%s'><resource>%s</resource></bind>" % (NS_BIND, resource),
             type='set')
    assert r.get('type') == 'error', tostr(r)
    assert stanza_error(r)[1] == 'bad-request', tostr(r)
    assert c.bind('ok') == 'alice@localhost/ok'


def test_rfc3921_3_session_establishment(server):
    c = _authenticated(server)
    c.bind('sess')
    r = c.iq("<session xmlns='%s'/>" % NS_SESSION, type='set')
    assert r.get('type') == 'result', tostr(r)


def test_rfc6120_7_bound_jid_is_usable(server):
    a = server.login('alice', resource='a1')
    b = server.login('bob', resource='b1')
    a.send("<message to='bob@localhost/b1' type='chat' id='hello1'><body>hi bob</body></message>")
    m = b.recv_stanza(lambda e: e.tag == q(NS_CLIENT, 'message'))
    assert m.get('from') == 'alice@localhost/a1', tostr(m)
    assert m.findtext(q(NS_CLIENT, 'body')) == 'hi bob'


def test_rfc6120_7_7_2_2_resource_conflict_reject(server_factory):
    srv = server_factory.start('conflict-reject', {'auth': {'resource_conflict': 'reject'}})
    old = srv.login('bob', resource='desk')
    new = _authenticated(srv, 'bob')
    r = new.iq("<bind xmlns='%s'><resource>desk</resource></bind>" % NS_BIND, type='set')
    assert r.get('type') == 'error', tostr(r)
    assert stanza_error(r)[:2] == ('cancel', 'conflict'), tostr(r)
    # The existing session is untouched.
    p = old.iq("<ping xmlns='urn:xmpp:ping'/>", to='localhost')
    assert p.get('type') == 'result', tostr(p)


def test_rfc6120_7_7_2_2_resource_conflict_random(server_factory):
    srv = server_factory.start('conflict-random', {'auth': {'resource_conflict': 'random'}})
    old = srv.login('bob', resource='desk')
    new = _authenticated(srv, 'bob')
    jid = new.bind('desk')
    assert jid.startswith('bob@localhost/') and jid != 'bob@localhost/desk', jid
    p = old.iq("<ping xmlns='urn:xmpp:ping'/>", to='localhost')
    assert p.get('type') == 'result', tostr(p)
