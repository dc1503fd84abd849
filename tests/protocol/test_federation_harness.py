"""Proves the federation interop harness (federation_helpers.py) independently of Starling's
s2s code: a Prosody user and an ejabberd user become contacts and chat across s2s, with
certificate authentication (SASL EXTERNAL, XEP-0178) and with Server Dialback only
(XEP-0220), discovery through the harness's DNS server (SRV, RFC 6120 §3.2). Also checks
start_starling() and the client helper against Starling itself (c2s only)."""
import os
import time
import ssl
import socket

import pytest

import slixmpp  # noqa: F401 (python3-slixmpp, installed by scripts/install-deps.sh)
import federation_helpers as fh  # noqa: E402

PROSODY_DOMAIN = 'prosody.example.net'
EJABBERD_DOMAIN = 'ejabberd.example.net'
PASSWORD = 'fed-secret'


@pytest.fixture(scope='module', params=['certs', 'dialback'])
def fed(request):
    reason = fh.available()
    if reason:
        pytest.fail(reason, pytrace=False)
    f = fh.Federation(valid_certs=(request.param == 'certs'))
    f.mode = request.param
    try:
        f.prosody = f.start_prosody(PROSODY_DOMAIN)
        f.prosody.adduser('pat', PASSWORD)
        f.ejabberd = f.start_ejabberd(EJABBERD_DOMAIN)
        f.ejabberd.adduser('ed', PASSWORD)
    except BaseException:
        print(f.logs())
        f.stop_all()
        raise
    yield f
    problems = f.stop_all()
    assert not problems, '\n'.join(problems)


def _log(path):
    with open(path, 'rb') as fp:
        return fp.read().decode('utf-8', 'replace')


def test_prosody_and_ejabberd_users_federate(fed):
    ca = fed.pki.ca_file if fed.valid_certs else None

    async def scenario():
        pat = await fh.online(fh.make_client('pat@%s/h' % PROSODY_DOMAIN, PASSWORD,
                                             fed.prosody.c2s_port, ca))
        ed = await fh.online(fh.make_client('ed@%s/h' % EJABBERD_DOMAIN, PASSWORD,
                                            fed.ejabberd.c2s_port, ca))
        try:
            at_pat, at_ed = await fh.befriend_and_chat(pat, ed, timeout=40)
            assert at_pat['from'].bare == 'ed@%s' % EJABBERD_DOMAIN
            assert at_ed['from'].bare == 'pat@%s' % PROSODY_DOMAIN
            # Both rosters now hold a mutual subscription (RFC 6121 §3).
            assert pat.client_roster['ed@%s' % EJABBERD_DOMAIN]['subscription'] == 'both'
            assert ed.client_roster['pat@%s' % PROSODY_DOMAIN]['subscription'] == 'both'
        finally:
            await fh.offline(pat)
            await fh.offline(ed)

    try:
        fh.run_async(scenario, timeout=120)
    except BaseException:
        print(fed.logs())
        raise
    # Both servers found each other through the harness's DNS (SRV, RFC 6120 §3.2.1).
    assert fed.dns.queries.get(('_xmpp-server._tcp.' + PROSODY_DOMAIN, 33), 0) >= 1
    assert fed.dns.queries.get(('_xmpp-server._tcp.' + EJABBERD_DOMAIN, 33), 0) >= 1
    # The authentication method is the one the mode asks for.
    # ejabberd writes its log asynchronously: wait (bounded) until the line of the expected
    # inbound authentication is there before reading the rest.
    wanted = 'Accepted inbound s2s %s authentication %s' % (
        'EXTERNAL' if fed.mode == 'certs' else 'dialback', PROSODY_DOMAIN)
    for _ in range(100):
        ej_log = _log(os.path.join(fed.ejabberd.logs, 'ejabberd.log'))
        if wanted in ej_log:
            break
        time.sleep(0.1)
    if fed.mode == 'certs':
        assert 'Accepted inbound s2s EXTERNAL authentication %s' % PROSODY_DOMAIN in ej_log
        assert 'Accepted outbound s2s EXTERNAL authentication' in ej_log
    else:
        assert 'Accepted inbound s2s dialback authentication %s' % PROSODY_DOMAIN in ej_log
        assert 'Accepted outbound s2s dialback authentication' in ej_log
        assert 'EXTERNAL authentication %s' % PROSODY_DOMAIN not in \
            ej_log.replace('Failed inbound s2s EXTERNAL', '')


def test_certificates_verify_against_the_test_ca(fed):
    """The peer servers present certificates of the per-run PKI; only the trusted mode's
    verify against the CA (what Starling's cert_verify will see)."""
    ctx = ssl.create_default_context(cafile=fed.pki.ca_file)
    raw = socket.create_connection(('127.0.0.1', fed.prosody.c2s_port), timeout=10)
    try:
        raw.sendall(("<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' "
                     "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
                     "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
                     % PROSODY_DOMAIN).encode())
        buf = b''
        while b'<proceed' not in buf:
            chunk = raw.recv(4096)
            assert chunk, buf
            buf += chunk
        if fed.valid_certs:
            with ctx.wrap_socket(raw, server_hostname=PROSODY_DOMAIN) as tls:
                assert tls.getpeercert()['subject']
        else:
            with pytest.raises(ssl.SSLCertVerificationError):
                ctx.wrap_socket(raw, server_hostname=PROSODY_DOMAIN)
    finally:
        raw.close()


# Only in the trusted-certificates mode: one Starling start is enough, and there the client
# can verify the certificate (no skipped instance for the dialback mode).
@pytest.mark.parametrize('fed', ['certs'], indirect=True)
def test_starling_with_test_domain_and_certificate(fed, server_factory):
    """start_starling(): Starling serves the given domain with a certificate of the test PKI;
    a slixmpp client (helper) logs in and verifies it."""
    assert fed.mode == 'certs'
    domain = 'starling.example.net'
    s = fed.start_starling(server_factory, domain, users=('sam',))
    assert s.domain == domain

    async def scenario():
        c = await fh.online(fh.make_client('sam@%s/h' % domain, s.password, s.c2s_port,
                                           fed.pki.ca_file))
        try:
            rtt = await c['xep_0199'].ping(domain, timeout=10)
            assert rtt is not None
        finally:
            await fh.offline(c)

    fh.run_async(scenario, timeout=60)
