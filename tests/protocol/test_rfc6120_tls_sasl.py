"""RFC 6120 §5 (STARTTLS), §6 (SASL), RFC 5802/7677 (SCRAM), RFC 5929/9266 (channel
binding), XEP-0440 (channel-binding types), XEP-0474 (SCRAM downgrade protection)."""
import base64
import hashlib

import pytest
from OpenSSL import SSL

import rawxmpp
from rawxmpp import (NS_BIND, NS_FEATURE_IQAUTH, NS_FEATURE_REGISTER, NS_SASL, NS_SASL_CB,
                     NS_SESSION, NS_STREAM, NS_TLS, ScramClient, b64, q, sasl_condition,
                     ssdp_hash, tostr, unb64)

ALL_MECHS = {'SCRAM-SHA-512-PLUS', 'SCRAM-SHA-512', 'SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256',
             'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-1', 'PLAIN'}


# ---- self-checks of the test client against published vectors

def test_client_scram_rfc7677_vector():
    """RFC 7677 §3 example (SCRAM-SHA-256, user 'user', password 'pencil')."""
    sc = ScramClient('SHA-256', 'user', 'pencil', nonce='rOprNGfwEbeRWgbNEkqO')
    assert sc.first() == b'n,,n=user,r=rOprNGfwEbeRWgbNEkqO'
    final = sc.final(b'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,'
                     b's=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096')
    assert final == (b'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,'
                     b'p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=')
    assert sc.verify_final(b'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=')


def test_client_ssdp_xep0474_example():
    """XEP-0474 §4.3 example hash."""
    h = ssdp_hash('SHA-1', ['SCRAM-SHA-1', 'SCRAM-SHA-1-PLUS'],
                  ['tls-exporter', 'tls-server-end-point'])
    assert h == 'G6k/rBLDqgOhRRaCuuatSDFkJ08='


# ---- §5: STARTTLS

def test_rfc6120_5_3_1_starttls_mandatory_feature(server):
    c = server.client()
    c.open()
    tls = c.feature(NS_TLS, 'starttls')
    assert tls is not None, tostr(c.features)
    assert tls.find(q(NS_TLS, 'required')) is not None, \
        'require_c2s_encryption: <starttls/> must contain <required/>: %s' % tostr(c.features)
    # No SASL before TLS when encryption is required (no mechanism could be used).
    mechs = c.feature(NS_SASL, 'mechanisms')
    assert mechs is None or len(mechs) == 0, tostr(c.features)


def test_rfc6120_5_4_3_3_starttls_then_restart(server):
    c = server.client()
    c.open()
    c.starttls()
    attrs = c.open()
    assert attrs.get('from') == 'localhost'
    assert c.feature(NS_TLS, 'starttls') is None, 'STARTTLS offered again after TLS'
    assert set(c.mechanisms) == ALL_MECHS, c.mechanisms


def test_rfc6120_6_4_1_sasl_before_tls_encryption_required(server):
    """§6.5.4: SASL attempted before TLS when TLS is required -> <encryption-required/>;
    the stream stays open and TLS + login still work."""
    c = server.client()
    c.open()
    msg = b'\0alice\0' + server.password.encode()
    c.send("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>" % (NS_SASL, b64(msg)))
    e = c.recv()
    assert e.tag == q(NS_SASL, 'failure'), tostr(e)
    assert sasl_condition(e) == 'encryption-required', tostr(e)
    c.starttls()
    c.open()
    c.authenticate('alice', server.password, 'SCRAM-SHA-256')
    c.open()
    assert c.bind('after-enc-req') == 'alice@localhost/after-enc-req'


def test_rfc6120_6_3_3_mechanisms_after_tls(server):
    c = server.client()
    c.connect_tls()
    assert set(c.mechanisms) == ALL_MECHS, c.mechanisms
    assert len(c.mechanisms) == len(ALL_MECHS), 'duplicate mechanisms: %s' % c.mechanisms


def test_rfc6120_6_3_3_mechanisms_direct_tls(server):
    c = server.client(direct_tls=True)
    c.open()
    assert c.feature(NS_TLS, 'starttls') is None, tostr(c.features)
    assert set(c.mechanisms) == ALL_MECHS, c.mechanisms


def test_xep0440_channel_binding_types_tls13(server):
    c = server.client(tls_min=SSL.TLS1_3_VERSION)
    c.connect_tls()
    assert c.t.tls_version() == 'TLSv1.3'
    assert c.cb_types is not None, 'no <sasl-channel-binding/> feature: %s' % tostr(c.features)
    assert set(c.cb_types) == {'tls-server-end-point', 'tls-exporter'}, c.cb_types


def test_xep0440_channel_binding_types_tls12(server):
    """RFC 9266 §3: tls-exporter is defined for TLS 1.3; on TLS 1.2 only
    tls-server-end-point is offered."""
    c = server.client(tls_max=SSL.TLS1_2_VERSION)
    c.connect_tls()
    assert c.t.tls_version() == 'TLSv1.2'
    assert c.cb_types is not None, tostr(c.features)
    assert 'tls-server-end-point' in c.cb_types, c.cb_types
    assert 'tls-exporter' not in c.cb_types, c.cb_types


def test_xep0077_xep0078_stream_features_after_tls(server):
    c = server.client()
    c.connect_tls()
    assert c.feature(NS_FEATURE_REGISTER, 'register') is not None, tostr(c.features)
    assert c.feature(NS_FEATURE_IQAUTH, 'auth') is not None, tostr(c.features)


# ---- §6: SASL success paths

SCRAM_CASES = [(h, cb) for h in ('SHA-1', 'SHA-256', 'SHA-512')
               for cb in (None, 'tls-server-end-point', 'tls-exporter')]


@pytest.mark.parametrize('hash_name,cb_type', SCRAM_CASES,
                         ids=['%s-%s' % (h, cb or 'nocb') for h, cb in SCRAM_CASES])
def test_rfc5802_scram_login(server, hash_name, cb_type):
    c = server.client(tls_min=SSL.TLS1_3_VERSION)
    c.connect_tls()
    r = c.auth_scram('bob', server.password, hash_name, cb_type=cb_type)
    assert r.ok, 'SCRAM-%s%s failed: %s' % (hash_name, '-PLUS' if cb_type else '', tostr(r.elem))
    assert r.verified, 'server signature v= does not verify: %r' % r.server_final
    # RFC 5802 §5.1: i >= 4096 (RFC 7677 §4), salt present, nonce extends ours
    assert int(r.server_first_attrs['i']) >= 4096
    assert base64.b64decode(r.server_first_attrs['s'])
    # §6.4.6: restart, then bind is offered
    c.open()
    assert c.feature(NS_BIND, 'bind') is not None, tostr(c.features)
    jid = c.bind('scram-%s-%s' % (hash_name, cb_type))
    assert jid.startswith('bob@localhost/')


def test_rfc5802_scram_plus_over_tls12_server_end_point(server):
    c = server.client(tls_max=SSL.TLS1_2_VERSION)
    c.connect_tls()
    r = c.auth_scram('bob', server.password, 'SHA-256', cb_type='tls-server-end-point')
    assert r.ok and r.verified, tostr(r.elem)


@pytest.mark.parametrize('hash_name', ['SHA-1', 'SHA-256', 'SHA-512'])
def test_xep0474_ssdp_hash(server, hash_name):
    """The server-first-message carries h = H(advertised mechanisms and cb types)."""
    c = server.client(tls_min=SSL.TLS1_3_VERSION)
    c.connect_tls()
    r = c.auth_scram('bob', server.password, hash_name)
    assert r.ok, tostr(r.elem)
    attrs = r.server_first_attrs
    assert 'h' in attrs, 'no XEP-0474 h= attribute in %r' % r.server_first
    expected = ssdp_hash(hash_name, c.mechanisms, c.cb_types)
    assert attrs['h'] == expected, (attrs['h'], expected, c.mechanisms, c.cb_types)


def test_rfc4616_plain_login(server):
    c = server.client()
    c.connect_tls()
    r = c.auth_plain('carol', server.password)
    assert r.ok, tostr(r.elem)
    c.open()
    assert c.bind('plain') == 'carol@localhost/plain'


def test_rfc6120_6_4_6_post_sasl_features(server):
    c = server.client()
    c.connect_tls()
    c.authenticate('alice', server.password)
    c.open()
    assert c.feature(NS_BIND, 'bind') is not None, tostr(c.features)
    sess = c.feature(NS_SESSION, 'session')
    assert sess is not None, tostr(c.features)
    assert sess.find(q(NS_SESSION, 'optional')) is not None, tostr(c.features)
    assert c.feature(NS_SASL, 'mechanisms') is None, 'SASL offered again after success'
    assert c.feature(NS_TLS, 'starttls') is None


# ---- §6.5: SASL failures

def _fresh(server):
    c = server.client()
    c.connect_tls()
    return c


def test_rfc6120_6_5_7_invalid_mechanism(server):
    c = _fresh(server)
    c.send("<auth xmlns='%s' mechanism='X-NONSENSE'>=</auth>" % NS_SASL)
    e = c.recv()
    assert e.tag == q(NS_SASL, 'failure') and sasl_condition(e) == 'invalid-mechanism', tostr(e)


@pytest.mark.parametrize('mech', ['PLAIN', 'SCRAM-SHA-1', 'SCRAM-SHA-256', 'SCRAM-SHA-512'])
def test_rfc6120_6_5_10_not_authorized_bad_password(server, mech):
    c = _fresh(server)
    if mech == 'PLAIN':
        r = c.auth_plain('alice', 'wrong-password')
    else:
        r = c.auth_scram('alice', 'wrong-password', mech[len('SCRAM-'):])
    assert not r.ok and r.condition == 'not-authorized', tostr(r.elem)


@pytest.mark.parametrize('mech', ['PLAIN', 'SCRAM-SHA-256'])
def test_rfc6120_6_5_10_not_authorized_unknown_user(server, mech):
    c = _fresh(server)
    if mech == 'PLAIN':
        r = c.auth_plain('nosuchuser', 'whatever')
    else:
        r = c.auth_scram('nosuchuser', 'whatever', 'SHA-256')
    assert not r.ok and r.condition == 'not-authorized', tostr(r.elem)


def test_rfc6120_6_4_5_retry_after_failure_same_stream(server):
    """§6.4.5: after a failure the client may retry on the same stream."""
    c = _fresh(server)
    r = c.auth_scram('alice', 'wrong-password', 'SHA-256')
    assert r.condition == 'not-authorized', tostr(r.elem)
    r = c.auth_scram('alice', server.password, 'SHA-256')
    assert r.ok and r.verified, tostr(r.elem)
    c.open()
    assert c.bind('retry') == 'alice@localhost/retry'


def test_rfc6120_6_5_1_aborted(server):
    c = _fresh(server)
    sc = ScramClient('SHA-256', 'alice', server.password)
    c.send("<auth xmlns='%s' mechanism='SCRAM-SHA-256'>%s</auth>" % (NS_SASL, b64(sc.first())))
    e = c.recv()
    assert e.tag == q(NS_SASL, 'challenge'), tostr(e)
    c.send("<abort xmlns='%s'/>" % NS_SASL)
    e = c.recv()
    assert e.tag == q(NS_SASL, 'failure') and sasl_condition(e) == 'aborted', tostr(e)


def test_rfc6120_6_5_5_incorrect_encoding(server):
    c = _fresh(server)
    c.send("<auth xmlns='%s' mechanism='PLAIN'>!!!not*base64!!!</auth>" % NS_SASL)
    e = c.recv()
    assert e.tag == q(NS_SASL, 'failure') and sasl_condition(e) == 'incorrect-encoding', tostr(e)


def test_rfc6120_6_5_5_incorrect_encoding_in_response(server):
    c = _fresh(server)
    sc = ScramClient('SHA-256', 'alice', server.password)
    c.send("<auth xmlns='%s' mechanism='SCRAM-SHA-256'>%s</auth>" % (NS_SASL, b64(sc.first())))
    assert c.recv().tag == q(NS_SASL, 'challenge')
    c.send("<response xmlns='%s'>@@@@</response>" % NS_SASL)
    e = c.recv()
    assert e.tag == q(NS_SASL, 'failure') and sasl_condition(e) == 'incorrect-encoding', tostr(e)


@pytest.mark.parametrize('garbage', [b'garbage', b'x,,n=alice,r=abc', b'n,,r=abc',
                                     b'n,,n=alice'])
def test_rfc6120_6_5_8_malformed_request_scram_first(server, garbage):
    c = _fresh(server)
    c.send("<auth xmlns='%s' mechanism='SCRAM-SHA-256'>%s</auth>" % (NS_SASL, b64(garbage)))
    e = c.recv()
    assert e.tag == q(NS_SASL, 'failure') and sasl_condition(e) == 'malformed-request', tostr(e)


def test_rfc6120_6_5_8_malformed_request_scram_final(server):
    c = _fresh(server)
    sc = ScramClient('SHA-256', 'alice', server.password)
    c.send("<auth xmlns='%s' mechanism='SCRAM-SHA-256'>%s</auth>" % (NS_SASL, b64(sc.first())))
    assert c.recv().tag == q(NS_SASL, 'challenge')
    c.send("<response xmlns='%s'>%s</response>" % (NS_SASL, b64(b'this is no scram')))
    e = c.recv()
    assert e.tag == q(NS_SASL, 'failure') and sasl_condition(e) == 'malformed-request', tostr(e)


def test_rfc4616_plain_malformed(server):
    c = _fresh(server)
    c.send("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>" % (NS_SASL, b64(b'no-nul-bytes')))
    e = c.recv()
    assert e.tag == q(NS_SASL, 'failure') and sasl_condition(e) == 'malformed-request', tostr(e)


def test_rfc5802_6_y_flag_rejected_when_plus_offered(server):
    """RFC 5802 §6: gs2 flag 'y' (client supports CB, thinks the server does not) while the
    server advertised -PLUS means a downgrade: the server MUST fail the authentication."""
    c = _fresh(server)
    assert 'SCRAM-SHA-256-PLUS' in c.mechanisms
    r = c.auth_scram('alice', server.password, 'SHA-256', gs2_header='y,,')
    assert not r.ok, 'server accepted gs2 flag y although it offers -PLUS'
    assert r.condition == 'not-authorized', tostr(r.elem)


def test_rfc5802_channel_binding_mismatch(server):
    c = _fresh(server)
    r = c.auth_scram('alice', server.password, 'SHA-256', cb_type='tls-server-end-point',
                     tamper_cb=True)
    assert not r.ok and r.condition == 'not-authorized', tostr(r.elem)


def test_rfc5802_plus_mechanism_without_binding_rejected(server):
    """Selecting SCRAM-*-PLUS but sending gs2 flag 'n' is inconsistent."""
    c = _fresh(server)
    r = c.auth_scram('alice', server.password, 'SHA-256', gs2_header='n,,',
                     mechanism='SCRAM-SHA-256-PLUS')
    assert not r.ok, 'server accepted -PLUS without channel binding'


def test_rfc5802_bad_proof(server):
    c = _fresh(server)
    r = c.auth_scram('alice', server.password, 'SHA-256', tamper_proof=True)
    assert not r.ok and r.condition == 'not-authorized', tostr(r.elem)


# ---- §6.5.11: throttling (separate servers with small limits)

def _fail_login(srv, user):
    c = srv.client()
    c.connect_tls()
    r = c.auth_scram(user, 'definitely-wrong', 'SHA-256')
    c.close()
    return r


def test_rfc6120_6_5_11_temporary_auth_failure_per_ip(server_factory):
    srv = server_factory.start('throttle-ip', {'auth': {'max_failures_per_ip': 3,
                                                        'max_failures_per_account': 100}})
    users = ['alice', 'bob', 'carol']
    for u in users:
        r = _fail_login(srv, u)
        assert r.condition == 'not-authorized', tostr(r.elem)
    # The limit is reached: further attempts from this IP, even with the right password
    # for another account, are refused for now.
    c = srv.client()
    c.connect_tls()
    r = c.auth_scram('dave', srv.password, 'SHA-256')
    assert not r.ok and r.condition == 'temporary-auth-failure', tostr(r.elem)


def test_rfc6120_6_5_11_temporary_auth_failure_per_account(server_factory):
    srv = server_factory.start('throttle-account', {'auth': {'max_failures_per_ip': 100,
                                                             'max_failures_per_account': 3}})
    for _ in range(3):
        r = _fail_login(srv, 'erin')
        assert r.condition == 'not-authorized', tostr(r.elem)
    c = srv.client()
    c.connect_tls()
    r = c.auth_scram('erin', srv.password, 'SHA-256')
    assert not r.ok and r.condition == 'temporary-auth-failure', tostr(r.elem)
    # Other accounts are not affected.
    c2 = srv.login('alice', resource='unaffected')
    assert c2.jid == 'alice@localhost/unaffected'


# ---- PLAIN only over TLS, SCRAM allowed without TLS when encryption is optional

def test_rfc6120_13_9_4_plain_never_without_tls(server_factory):
    srv = server_factory.start('optional-tls', {'tls': {'require_c2s_encryption': False}})
    c = srv.client()
    c.open()
    tls = c.feature(NS_TLS, 'starttls')
    assert tls is not None and tls.find(q(NS_TLS, 'required')) is None, tostr(c.features)
    assert 'PLAIN' not in c.mechanisms, 'PLAIN offered without TLS: %s' % c.mechanisms
    assert not [m for m in c.mechanisms if m.endswith('-PLUS')], \
        '-PLUS offered without TLS: %s' % c.mechanisms
    assert 'SCRAM-SHA-256' in c.mechanisms, c.mechanisms
    msg = b'\0alice\0' + srv.password.encode()
    c.send("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>" % (NS_SASL, b64(msg)))
    e = c.recv()
    assert e.tag == q(NS_SASL, 'failure'), tostr(e)
    assert sasl_condition(e) == 'encryption-required', tostr(e)
    r = c.auth_scram('alice', srv.password, 'SHA-256')
    assert r.ok and r.verified, tostr(r.elem)
    c.open()
    assert c.bind('cleartext') == 'alice@localhost/cleartext'


# ---- §6.3.8 / §6.5.6: authorization identity

def test_rfc6120_6_3_8_authzid_own_bare_jid_accepted(server):
    c = _fresh(server)
    r = c.auth_scram('alice', server.password, 'SHA-256', gs2_header='n,a=alice@localhost,')
    assert r.ok and r.verified, tostr(r.elem)
    c.open()
    assert c.bind('authzid') == 'alice@localhost/authzid'


@pytest.mark.parametrize('mech', ['PLAIN', 'SCRAM-SHA-256'])
def test_rfc6120_6_5_6_invalid_authzid(server, mech):
    c = _fresh(server)
    if mech == 'PLAIN':
        r = c.auth_plain('alice', server.password, authzid='bob@localhost')
    else:
        r = c.auth_scram('alice', server.password, 'SHA-256', gs2_header='n,a=bob@localhost,')
    assert not r.ok, 'alice authenticated as bob: %s' % tostr(r.elem)
    assert r.condition == 'invalid-authzid', tostr(r.elem)
