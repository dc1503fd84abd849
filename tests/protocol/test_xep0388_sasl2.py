"""XEP-0388 SASL2 (with the RFC 6120 §6.5 failure conditions, XEP-0440 and XEP-0474 over the
SASL2 mechanism list) and XEP-0386 Bind 2, as raw XML."""
import pytest
from OpenSSL import SSL

from rawxmpp import (NS_BIND, NS_CLIENT, NS_SASL, NS_SASL_CB, NS_STREAM, ScramClient, q,
                     ssdp_hash, tostr)
from sasl2_helpers import (NS_BIND2, NS_SASL2, authenticate_xml, bind2_inline_features, bind2_xml,
                           connect, new_agent_id, sasl2_condition, sasl2_feature,
                           sasl2_mechanisms, sasl2_plain, sasl2_scram, user_agent_xml)

SCRAM_CASES = [(h, cb) for h in ('SHA-1', 'SHA-256', 'SHA-512')
               for cb in (None, 'tls-server-end-point', 'tls-exporter')]


def ping(c):
    r = c.iq("<ping xmlns='urn:xmpp:ping'/>", to='localhost')
    assert r.get('type') == 'result', tostr(r)


# ---- §2.1 the stream feature

def test_xep0388_2_1_feature_after_tls_same_mechanisms_as_sasl(server):
    c = connect(server, tls_min=SSL.TLS1_3_VERSION)
    auth = sasl2_feature(c)
    assert auth is not None, tostr(c.features)
    assert sasl2_mechanisms(c) == c.mechanisms, (sasl2_mechanisms(c), c.mechanisms)
    assert 'SCRAM-SHA-256-PLUS' in sasl2_mechanisms(c) and 'PLAIN' in sasl2_mechanisms(c)
    # XEP-0440 advertisement stays next to it; XEP-0386 §3.1 Bind 2 inside <inline/>.
    assert c.cb_types and 'tls-exporter' in c.cb_types, tostr(c.features)
    assert bind2_inline_features(c) is not None, tostr(c.features)


def test_xep0388_4_not_offered_before_tls(server_factory):
    srv = server_factory.start('sasl2-optional-tls', {'tls': {'require_c2s_encryption': False}})
    c = srv.client()
    c.open()
    assert sasl2_feature(c) is None, 'SASL2 offered on a plain stream: %s' % tostr(c.features)
    # PLAIN (or anything) over SASL2 without TLS is refused.
    c.send(authenticate_xml('PLAIN', b'\0alice\0' + srv.password.encode()))
    e = c.recv()
    assert e.tag == q(NS_SASL2, 'failure'), tostr(e)
    assert sasl2_condition(e) == 'encryption-required', tostr(e)
    c.starttls()
    c.open()
    assert 'PLAIN' in sasl2_mechanisms(c)
    r = sasl2_plain(c, 'alice', srv.password)
    assert r.ok and r.authzid == 'alice@localhost', tostr(r.elem)


# ---- §2.3-2.6 the exchange, every mechanism

@pytest.mark.parametrize('hash_name,cb_type', SCRAM_CASES,
                         ids=['%s-%s' % (h, cb or 'nocb') for h, cb in SCRAM_CASES])
def test_xep0388_scram_success(server, hash_name, cb_type):
    c = connect(server, tls_min=SSL.TLS1_3_VERSION)
    r = sasl2_scram(c, 'bob', server.password, hash_name, cb_type=cb_type,
                    extra=user_agent_xml(new_agent_id()))
    assert r.ok, tostr(r.elem)
    # §2.6.1: additional-data is the server-final-message, authzid the bare JID.
    assert r.verified, 'v= in <additional-data/> does not verify: %r' % r.additional_data
    assert r.authzid == 'bob@localhost', tostr(r.elem)
    # No stream restart: the new features came right after <success/>, with legacy bind.
    assert c.feature(NS_BIND, 'bind') is not None, tostr(c.features)
    assert sasl2_feature(c) is None and c.feature(NS_SASL, 'mechanisms') is None, tostr(c.features)
    assert c.bind('sasl2-%s-%s' % (hash_name, cb_type)).startswith('bob@localhost/')
    ping(c)


def test_xep0388_plus_over_tls12_server_end_point(server):
    c = connect(server, tls_max=SSL.TLS1_2_VERSION)
    assert 'tls-exporter' not in (c.cb_types or [])
    r = sasl2_scram(c, 'bob', server.password, 'SHA-256', cb_type='tls-server-end-point')
    assert r.ok and r.verified, tostr(r.elem)


def test_xep0388_plain_success(server):
    c = connect(server)
    r = sasl2_plain(c, 'carol', server.password, extra=user_agent_xml(new_agent_id()))
    assert r.ok and r.authzid == 'carol@localhost', tostr(r.elem)
    assert r.additional_data is None, 'PLAIN has no additional data: %s' % tostr(r.elem)
    assert c.bind('plain2') == 'carol@localhost/plain2'


def test_xep0388_no_initial_response_gets_empty_challenge(server):
    c = connect(server)
    sc = ScramClient('SHA-256', 'alice', server.password)
    c.send(authenticate_xml('SCRAM-SHA-256', None))
    e = c.recv()
    assert e.tag == q(NS_SASL2, 'challenge') and not (e.text or '').strip(), tostr(e)
    import base64
    c.send("<response xmlns='%s'>%s</response>" % (NS_SASL2, base64.b64encode(sc.first()).decode()))
    e = c.recv()
    assert e.tag == q(NS_SASL2, 'challenge') and e.text, tostr(e)


@pytest.mark.parametrize('mech', ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS'])
def test_xep0388_2_6_2_failure_bad_password_then_retry(server, mech):
    c = connect(server, tls_min=SSL.TLS1_3_VERSION)
    if mech == 'PLAIN':
        r = sasl2_plain(c, 'dave', 'wrong-password')
    else:
        r = sasl2_scram(c, 'dave', 'wrong-password', 'SHA-256',
                        cb_type='tls-exporter' if mech.endswith('PLUS') else None)
    assert not r.ok and r.elem.tag == q(NS_SASL2, 'failure'), tostr(r.elem)
    # The RFC 6120 condition, in the SASL namespace inside the SASL2 failure.
    assert r.condition == 'not-authorized', tostr(r.elem)
    # State unchanged: the same stream can authenticate.
    r = sasl2_scram(c, 'dave', server.password)
    assert r.ok and r.verified, tostr(r.elem)


def test_xep0388_unknown_user_not_authorized(server):
    c = connect(server)
    r = sasl2_scram(c, 'nobody-here', 'x')
    assert not r.ok and r.condition == 'not-authorized', tostr(r.elem)


def test_xep0388_2_3_unannounced_mechanism_fails(server):
    c = connect(server)
    c.send(authenticate_xml('X-NONSENSE', b'x'))
    e = c.recv()
    assert e.tag == q(NS_SASL2, 'failure') and sasl2_condition(e) == 'invalid-mechanism', tostr(e)


def test_xep0388_plus_without_binding_is_refused(server):
    c = connect(server, tls_min=SSL.TLS1_3_VERSION)
    # 'y' although -PLUS was offered: RFC 5802 §6 downgrade.
    r = sasl2_scram(c, 'alice', server.password, 'SHA-256', gs2_header='y,,')
    assert not r.ok and r.condition == 'not-authorized', tostr(r.elem)


def test_xep0388_incorrect_encoding(server):
    c = connect(server)
    c.send("<authenticate xmlns='%s' mechanism='PLAIN'><initial-response>!!notbase64</initial-response>"
           "</authenticate>" % NS_SASL2)
    e = c.recv()
    assert sasl2_condition(e) == 'incorrect-encoding', tostr(e)


def test_xep0388_abort(server):
    c = connect(server)
    c.send(authenticate_xml('SCRAM-SHA-256', None))
    assert c.recv().tag == q(NS_SASL2, 'challenge')
    c.send("<abort xmlns='%s'/>" % NS_SASL2)
    e = c.recv()
    assert e.tag == q(NS_SASL2, 'failure') and sasl2_condition(e) == 'aborted', tostr(e)


def test_xep0388_response_without_exchange(server):
    c = connect(server)
    c.send("<response xmlns='%s'>eA==</response>" % NS_SASL2)
    e = c.recv()
    assert sasl2_condition(e) == 'malformed-request', tostr(e)


def test_xep0388_user_agent_id_must_be_uuid(server):
    c = connect(server)
    r = sasl2_plain(c, 'alice', server.password, extra=user_agent_xml('not-a-uuid'))
    assert not r.ok and r.condition == 'malformed-request', tostr(r.elem)
    r = sasl2_plain(c, 'alice', server.password, extra=user_agent_xml(new_agent_id()))
    assert r.ok, tostr(r.elem)


def test_xep0388_5_authenticate_after_success_is_stream_error(server):
    c = connect(server)
    assert sasl2_plain(c, 'alice', server.password).ok
    c.send(authenticate_xml('PLAIN', b'\0alice\0' + server.password.encode()))
    assert c.expect_stream_error() == 'unsupported-stanza-type'
    server.assert_accepts_login()


def test_xep0388_2_4_stanza_during_exchange_ends_stream(server):
    c = connect(server)
    c.send(authenticate_xml('SCRAM-SHA-256', None))
    assert c.recv().tag == q(NS_SASL2, 'challenge')
    c.send("<message to='bob@localhost'><body>x</body></message>")
    assert c.expect_stream_error() == 'not-authorized'


def test_rfc6120_6_4_5_retries_capped_on_sasl2(server):
    c = connect(server)
    for _ in range(4):
        r = sasl2_plain(c, 'erin', 'wrong')
        assert r.condition == 'not-authorized'
    c.send(authenticate_xml('PLAIN', b'\0erin\0wrong'))
    e = c.recv()
    assert sasl2_condition(e) == 'not-authorized', tostr(e)
    assert c.expect_stream_error() == 'policy-violation'


# ---- XEP-0474 over SASL2

@pytest.mark.parametrize('hash_name', ['SHA-1', 'SHA-256', 'SHA-512'])
def test_xep0474_ssdp_over_sasl2_mechanism_list(server, hash_name):
    c = connect(server, tls_min=SSL.TLS1_3_VERSION)
    mechs, cb_types = sasl2_mechanisms(c), c.cb_types
    assert cb_types, tostr(c.features)
    r = sasl2_scram(c, 'bob', server.password, hash_name)
    assert r.ok, tostr(r.elem)
    h = r.server_first_attrs.get('h')
    assert h == ssdp_hash(hash_name, mechs, cb_types), (h, mechs, cb_types)
    # A client that saw a list stripped by a man in the middle detects it: the hash over
    # what it saw does not match (XEP-0474 §4.2).
    stripped = [m for m in mechs if not m.endswith('-PLUS')]
    assert h != ssdp_hash(hash_name, stripped, None)
    assert h != ssdp_hash(hash_name, mechs, ['tls-server-end-point'])


# ---- XEP-0386 Bind 2

def test_xep0386_bind_with_tag(server):
    c = connect(server)
    r = sasl2_scram(c, 'alice', server.password,
                    extra=user_agent_xml(new_agent_id()) + bind2_xml('StarlingTest'))
    assert r.ok and r.verified, tostr(r.elem)
    # §3.3: [client tag]/[server generated], the full JID in authorization-identifier.
    assert r.authzid.startswith('alice@localhost/StarlingTest/'), r.authzid
    assert len(r.authzid) > len('alice@localhost/StarlingTest/')
    assert r.child(NS_BIND2, 'bound') is not None, tostr(r.elem)
    # Bound already: no legacy bind offered, stanzas work at once.
    assert c.feature(NS_BIND, 'bind') is None, tostr(c.features)
    ping(c)
    # Routable: a message to the full JID arrives.
    other = server.login('bob', resource='sender')
    other.send("<message to='%s' type='chat' id='m1'><body>hi</body></message>" % r.authzid)
    m = c.recv_stanza(lambda e: e.tag == q(NS_CLIENT, 'message'))
    assert m.findtext(q(NS_CLIENT, 'body')) == 'hi'
    # Legacy bind on a bound stream is refused.
    e = c.iq("<bind xmlns='%s'/>" % NS_BIND, type='set')
    assert e.get('type') == 'error', tostr(e)


def test_xep0386_bind_without_tag_and_unknown_inline_feature(server):
    c = connect(server)
    r = sasl2_plain(c, 'alice', server.password,
                    extra=bind2_xml(None, "<enable xmlns='urn:example:not-supported'/>"))
    assert r.ok, tostr(r.elem)
    assert r.authzid.startswith('alice@localhost/') and len(r.authzid) > len('alice@localhost/')
    bound = r.child(NS_BIND2, 'bound')
    assert bound is not None and len(list(bound)) == 0, tostr(r.elem)
    ping(c)


def test_xep0386_invalid_tag_is_left_out(server):
    c = connect(server)
    r = sasl2_plain(c, 'alice', server.password, extra=bind2_xml('x' * 200))
    assert r.ok, tostr(r.elem)
    assert 'x' * 200 not in r.authzid
    ping(c)


def test_xep0386_same_user_agent_replaces_older_session(server):
    agent = new_agent_id()
    first = connect(server)
    assert sasl2_plain(first, 'erin', server.password,
                       extra=user_agent_xml(agent) + bind2_xml('Phone')).ok
    other_client = connect(server)
    assert sasl2_plain(other_client, 'erin', server.password,
                       extra=user_agent_xml(new_agent_id()) + bind2_xml('Laptop')).ok
    second = connect(server)
    r = sasl2_plain(second, 'erin', server.password, extra=user_agent_xml(agent) + bind2_xml('Phone'))
    assert r.ok, tostr(r.elem)
    # §3.2: the earlier session of the same client installation ends ...
    assert first.expect_stream_error() == 'conflict'
    # ... another installation's session does not.
    ping(other_client)
    ping(second)


def test_xep0386_not_processed_on_failure(server):
    c = connect(server)
    r = sasl2_plain(c, 'alice', 'wrong', extra=bind2_xml('Nope'))
    assert not r.ok and r.child(NS_BIND2, 'bound') is None
    r = sasl2_plain(c, 'alice', server.password)
    assert r.ok and r.authzid == 'alice@localhost', tostr(r.elem)
    assert c.bind('after') == 'alice@localhost/after'
