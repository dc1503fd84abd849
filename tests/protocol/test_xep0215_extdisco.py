"""XEP-0215 External Service Discovery from [[external_service]]: listing, type filter,
credentials (fixed and TURN REST temporary ones), disco feature, errors."""
import base64
import calendar
import hashlib
import hmac
import time

import pytest

from rawxmpp import NS_CLIENT, NS_DISCO_INFO, NS_STANZAS, q, stanza_error, tostr

NS = 'urn:xmpp:extdisco:2'
SECRET = 'coturn-shared-secret'

SERVICES = [
    {'type': 'stun', 'host': 'stun.example.org', 'port': 3478, 'transport': 'udp'},
    {'type': 'turn', 'host': 'turn.example.org', 'port': 3478, 'transport': 'udp',
     'secret': SECRET, 'credential_lifetime': 600, 'name': 'Relay'},
    {'type': 'turn', 'host': 'turn.example.org', 'port': 5349, 'transport': 'tcp',
     'username': 'fixed-user', 'password': 'fixed-pass'},
]


@pytest.fixture(scope='module')
def extdisco_server(server_factory):
    return server_factory.start('extdisco', {'external_service': SERVICES})


def services(c, type=None):
    attr = " type='%s'" % type if type else ''
    r = c.iq("<services xmlns='%s'%s/>" % (NS, attr), to='localhost')
    assert r.get('type') == 'result', tostr(r)
    return r.find(q(NS, 'services')).findall(q(NS, 'service'))


def check_turn_rest(svc, user):
    username, password = svc.get('username'), svc.get('password')
    expiry, name = username.split(':', 1)
    assert name == user, username
    now = time.time()
    assert now + 500 < int(expiry) <= now + 700, (expiry, now)
    expected = base64.b64encode(hmac.new(SECRET.encode(), username.encode(), hashlib.sha1).digest()).decode()
    assert password == expected, (password, expected)
    stamp = calendar.timegm(time.strptime(svc.get('expires'), '%Y-%m-%dT%H:%M:%SZ'))
    assert stamp == int(expiry)


def test_xep0215_disco_feature(extdisco_server):
    c = extdisco_server.login('alice', resource='disco')
    r = c.iq("<query xmlns='%s'/>" % NS_DISCO_INFO, to='localhost')
    assert NS in [f.get('var') for f in r.iter(q(NS_DISCO_INFO, 'feature'))], tostr(r)


def test_xep0215_no_feature_without_services(server):
    c = server.login('alice', resource='nodisco')
    r = c.iq("<query xmlns='%s'/>" % NS_DISCO_INFO, to='localhost')
    assert NS not in [f.get('var') for f in r.iter(q(NS_DISCO_INFO, 'feature'))], tostr(r)
    r = c.iq("<services xmlns='%s'/>" % NS, to='localhost')
    assert stanza_error(r)[1] == 'service-unavailable', tostr(r)


def test_xep0215_3_1_all_services(extdisco_server):
    c = extdisco_server.login('alice', resource='all')
    svcs = services(c)
    assert [(s.get('type'), s.get('host'), s.get('port'), s.get('transport')) for s in svcs] == [
        ('stun', 'stun.example.org', '3478', 'udp'),
        ('turn', 'turn.example.org', '3478', 'udp'),
        ('turn', 'turn.example.org', '5349', 'tcp')]
    stun, rest, fixed = svcs
    assert stun.get('username') is None and stun.get('restricted') is None
    assert rest.get('restricted') == '1' and rest.get('name') == 'Relay'
    check_turn_rest(rest, 'alice@localhost')
    assert fixed.get('username') == 'fixed-user' and fixed.get('password') == 'fixed-pass'
    assert fixed.get('expires') is None


def test_xep0215_3_2_services_of_one_type(extdisco_server):
    c = extdisco_server.login('bob', resource='type')
    svcs = services(c, 'turn')
    assert [s.get('type') for s in svcs] == ['turn', 'turn']
    assert services(c, 'ftp') == []


def test_xep0215_3_3_credentials(extdisco_server):
    c = extdisco_server.login('bob', resource='creds')
    r = c.iq("<credentials xmlns='%s'><service host='turn.example.org' type='turn' port='3478'/>"
             "</credentials>" % NS, to='localhost')
    assert r.get('type') == 'result', tostr(r)
    svcs = r.find(q(NS, 'credentials')).findall(q(NS, 'service'))
    assert len(svcs) == 1, tostr(r)
    check_turn_rest(svcs[0], 'bob@localhost')
    # Without a port: every matching service (§3.3).
    r = c.iq("<credentials xmlns='%s'><service host='turn.example.org' type='turn'/></credentials>"
             % NS, to='localhost')
    assert len(r.find(q(NS, 'credentials')).findall(q(NS, 'service'))) == 2, tostr(r)


def test_xep0215_3_3_credentials_errors(extdisco_server):
    c = extdisco_server.login('carol', resource='errs')
    # A service without credentials, and an unknown one: item-not-found.
    for svc in ("<service host='stun.example.org' type='stun'/>",
                "<service host='nowhere.example' type='turn'/>"):
        r = c.iq("<credentials xmlns='%s'>%s</credentials>" % (NS, svc), to='localhost')
        assert stanza_error(r)[1] == 'item-not-found', tostr(r)
    r = c.iq("<credentials xmlns='%s'><service type='turn'/></credentials>" % NS, to='localhost')
    assert stanza_error(r)[1] == 'bad-request', tostr(r)
    r = c.iq("<services xmlns='%s'/>" % NS, type='set', to='localhost')
    assert stanza_error(r)[1] == 'bad-request', tostr(r)


def test_xep0215_bad_config_is_refused(server_factory):
    from conftest import Server
    s = Server('extdisco-bad', {'external_service': [{'type': 'turn', 'host': 'h', 'username': 'u'}]},
               users=())
    p = s.ctl('check', check=False)
    assert p.returncode != 0
    assert 'only one of username and password' in (p.stdout + p.stderr), p.stdout + p.stderr
