"""XEP-0078: Non-SASL Authentication (jabber:iq:auth), password method over TLS only."""
from rawxmpp import (NS_CLIENT, NS_FEATURE_IQAUTH, NS_IQ_AUTH, NS_STREAM, q, stanza_error,
                     stream_error_condition, tostr)


def auth_get(c, user='alice'):
    return c.iq("<query xmlns='%s'><username>%s</username></query>" % (NS_IQ_AUTH, user))


def auth_set(c, user, password, resource):
    return c.iq("<query xmlns='%s'><username>%s</username><password>%s</password>"
                "<resource>%s</resource></query>" % (NS_IQ_AUTH, user, password, resource),
                type='set')


def test_xep0078_2_1_get_fields(server):
    c = server.client()
    c.connect_tls()
    r = auth_get(c)
    assert r.get('type') == 'result', tostr(r)
    query = r.find(q(NS_IQ_AUTH, 'query'))
    assert query is not None, tostr(r)
    for f in ('username', 'password', 'resource'):
        assert query.find(q(NS_IQ_AUTH, f)) is not None, '%s missing: %s' % (f, tostr(r))
    assert query.find(q(NS_IQ_AUTH, 'digest')) is None, 'digest offered: %s' % tostr(r)


def test_xep0078_2_2_password_auth_binds_session(server):
    c = server.client()
    c.connect_tls()
    r = auth_set(c, 'bob', server.password, 'legacy')
    assert r.get('type') == 'result', tostr(r)
    # The session is bound to bob@localhost/legacy: messages to it arrive with that 'to'.
    c.send("<message to='bob@localhost/legacy' id='l1'><body>self</body></message>")
    m = c.recv_stanza(lambda e: e.tag == q(NS_CLIENT, 'message'))
    assert m.get('from') == 'bob@localhost/legacy', tostr(m)
    assert m.get('to') == 'bob@localhost/legacy', tostr(m)
    p = c.iq("<ping xmlns='urn:xmpp:ping'/>", to='localhost')
    assert p.get('type') == 'result', tostr(p)


def test_xep0078_2_2_direct_tls(server):
    c = server.client(direct_tls=True)
    c.open()
    r = auth_set(c, 'bob', server.password, 'legacy-direct')
    assert r.get('type') == 'result', tostr(r)


def test_xep0078_3_wrong_password_not_authorized(server):
    c = server.client()
    c.connect_tls()
    r = auth_set(c, 'alice', 'wrong', 'x')
    err = stanza_error(r)
    assert r.get('type') == 'error' and err, tostr(r)
    assert (err[0], err[1], err[2]) == ('auth', 'not-authorized', '401'), tostr(r)
    # Still unauthenticated but the stream is usable: a correct attempt works.
    r = auth_set(c, 'alice', server.password, 'x')
    assert r.get('type') == 'result', tostr(r)


def test_xep0078_3_missing_resource_not_acceptable(server):
    c = server.client()
    c.connect_tls()
    r = c.iq("<query xmlns='%s'><username>alice</username><password>%s</password></query>"
             % (NS_IQ_AUTH, server.password), type='set')
    err = stanza_error(r)
    assert r.get('type') == 'error' and err, tostr(r)
    assert (err[0], err[1], err[2]) == ('modify', 'not-acceptable', '406'), tostr(r)


def test_xep0078_8_no_plaintext_password_without_tls(server):
    """XEP-0078 §8 / RFC 6120 §13.8: the password method needs an encrypted stream; with
    require_c2s_encryption the server refuses it before STARTTLS."""
    c = server.client()
    c.open()
    c.send("<iq type='set' id='pt1'><query xmlns='%s'><username>alice</username>"
           "<password>%s</password><resource>plain</resource></query></iq>"
           % (NS_IQ_AUTH, server.password))
    e = c.recv(allow_stream_error=True)
    if e.tag == q(NS_STREAM, 'error'):
        cond = stream_error_condition(e)
        assert cond in ('policy-violation', 'not-authorized'), tostr(e)
        return
    assert e.tag == q(NS_CLIENT, 'iq') and e.get('id') == 'pt1', tostr(e)
    assert e.get('type') == 'error', 'plaintext password accepted without TLS: %s' % tostr(e)
    err = stanza_error(e)
    assert err[1] in ('not-allowed', 'policy-violation', 'not-authorized', 'forbidden',
                      'not-acceptable'), tostr(e)
    # and nothing was authenticated: a stanza now is still refused
    c.send_tolerant("<message to='bob@localhost'><body>x</body></message>")
    assert c.expect_stream_error() in ('not-authorized', 'policy-violation')


def test_xep0078_disabled(server_factory):
    srv = server_factory.start('nolegacy', {'auth': {'legacy_auth': False}})
    c = srv.client()
    c.connect_tls()
    assert c.feature(NS_FEATURE_IQAUTH, 'auth') is None, tostr(c.features)
    c.send("<iq type='set' id='dis1'><query xmlns='%s'><username>alice</username>"
           "<password>%s</password><resource>x</resource></query></iq>"
           % (NS_IQ_AUTH, srv.password))
    e = c.recv(allow_stream_error=True)
    # Without XEP-0078 the IQ is just a stanza before authentication (RFC 6120 §4.9.3.12
    # <not-authorized/> stream error), or it is refused as an unhandled namespace.
    if e.tag == q(NS_STREAM, 'error'):
        assert stream_error_condition(e) == 'not-authorized', tostr(e)
    else:
        assert e.get('type') == 'error', 'legacy auth accepted although disabled: %s' % tostr(e)
        assert stanza_error(e)[1] == 'service-unavailable', tostr(e)
