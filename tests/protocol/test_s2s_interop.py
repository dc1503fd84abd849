"""Interop of Starling's federation with real servers (issue 4 item 5): Prosody 0.12 and
ejabberd 23.01 from Debian, started by the harness (federation_helpers.py) on loopback with
their own domains; discovery through the harness's DNS server (SRV, RFC 6120 §3.2). In both
directions (the Starling user starts, or the other server's user starts) accounts subscribe to
each other (RFC 6121 §3), see each other's presence and exchange messages. Once with
certificates of a CA every server trusts (SASL EXTERNAL, XEP-0178; Starling then also
requires valid certificates, so dialback cannot be what made it work) and once with
certificates nobody trusts (Server Dialback, XEP-0220)."""
import re
import time

import pytest

import slixmpp  # noqa: F401 (python3-slixmpp, installed by scripts/install-deps.sh)
import federation_helpers as fh  # noqa: E402

STARLING = 'starling.example.net'
PROSODY = 'prosody.example.net'
EJABBERD = 'ejabberd.example.net'
PASSWORD = 'fed-secret'


@pytest.fixture(scope='module', params=['certs', 'dialback'])
def fed(request, server_factory):
    reason = fh.available()
    if reason:
        pytest.fail(reason, pytrace=False)
    f = fh.Federation(valid_certs=(request.param == 'certs'))
    f.mode = request.param
    try:
        f.prosody = f.start_prosody(PROSODY)
        for u in ('pat', 'pia'):
            f.prosody.adduser(u, PASSWORD)
        f.ejabberd = f.start_ejabberd(EJABBERD)
        for u in ('ed', 'eve'):
            f.ejabberd.adduser(u, PASSWORD)
        s2s = {'dns_servers': f.dns_servers(), 'ca_file': f.pki.ca_file,
               'connect_timeout': 10, 'handshake_timeout': 30}
        if f.mode == 'certs':
            s2s['require_valid_certificates'] = True
        f.starling = f.start_starling(server_factory, STARLING, s2s=s2s, s2s_listener={'type': 's2s'},
                                      name='interop-' + f.mode, users=('alice', 'bob', 'carol', 'dave'))
    except BaseException:
        print(f.logs())
        f.stop_all()
        raise
    yield f
    problems = f.stop_all()
    assert not problems, '\n'.join(problems)


def befriend(fed, starling_user, peer, peer_user, starling_first):
    ca = fed.pki.ca_file if fed.valid_certs else None
    s = fed.starling

    async def scenario():
        local = await fh.online(fh.make_client('%s@%s/h' % (starling_user, STARLING), s.password,
                                               s.c2s_port, ca))
        remote = await fh.online(fh.make_client('%s@%s/h' % (peer_user, peer.domain), PASSWORD,
                                                peer.c2s_port, ca))
        try:
            a, b = (local, remote) if starling_first else (remote, local)
            at_a, at_b = await fh.befriend_and_chat(a, b, timeout=40)
            assert at_a['from'].bare == b.boundjid.bare
            assert at_b['from'].bare == a.boundjid.bare
            # RFC 6121 §3: a mutual subscription on both servers.
            assert local.client_roster['%s@%s' % (peer_user, peer.domain)]['subscription'] == 'both'
            assert remote.client_roster['%s@%s' % (starling_user, STARLING)]['subscription'] == 'both'
        finally:
            await fh.offline(local)
            await fh.offline(remote)

    try:
        fh.run_async(scenario, timeout=120)
    except BaseException:
        print(fed.logs())
        print(s.log_tail(150))
        raise


def check_authentication(fed, peer_domain):
    log = fed.starling.log_text()
    if fed.mode == 'certs':
        assert re.search(r'%s authenticated by certificate \(SASL EXTERNAL\) for %s'
                         % (re.escape(peer_domain), re.escape(STARLING)), log), 'incoming not by certificate'
        assert re.search(r's2s out %s: authenticated for %s \(SASL EXTERNAL, TLS\)'
                         % (re.escape(peer_domain), re.escape(STARLING)), log), 'outgoing not by certificate'
    else:
        assert re.search(r'%s authenticated by dialback for %s'
                         % (re.escape(peer_domain), re.escape(STARLING)), log), 'incoming not by dialback'
        assert re.search(r's2s out %s: authenticated for %s \(dialback, TLS\)'
                         % (re.escape(peer_domain), re.escape(STARLING)), log), 'outgoing not by dialback'
    # Starling found the peer through DNS SRV (RFC 6120 §3.2.1), not an override.
    assert fed.dns.queries.get(('_xmpp-server._tcp.' + peer_domain, 33), 0) >= 1


def test_prosody_starling_user_first(fed):
    befriend(fed, 'alice', fed.prosody, 'pat', starling_first=True)
    check_authentication(fed, PROSODY)


def test_prosody_prosody_user_first(fed):
    befriend(fed, 'bob', fed.prosody, 'pia', starling_first=False)
    check_authentication(fed, PROSODY)


def test_ejabberd_starling_user_first(fed):
    befriend(fed, 'carol', fed.ejabberd, 'ed', starling_first=True)
    check_authentication(fed, EJABBERD)


def test_ejabberd_ejabberd_user_first(fed):
    befriend(fed, 'dave', fed.ejabberd, 'eve', starling_first=False)
    check_authentication(fed, EJABBERD)
