"""Federation authenticated by certificates (XEP-0178 SASL EXTERNAL over TLS, RFC 6125 name
checks): x.test and y.test present certificates for their domains that each trusts through
[s2s] ca_file, and require valid certificates, so dialback is refused in both directions. A
third server with an untrusted self-signed certificate is turned away."""
import os
import re
import shutil
import tempfile
import time

import pytest

from rawxmpp import tostr
from s2s_helpers import login, make_certificate, recv_error, recv_message, send_message, start_federated


@pytest.fixture(scope='module')
def certs():
    d = tempfile.mkdtemp(prefix='starling-s2s-certs-')
    pairs = {dom: make_certificate(d, dom) for dom in ('x.test', 'y.test')}
    ca = os.path.join(d, 'peers.pem')
    with open(ca, 'w') as out:
        for cert, _ in pairs.values():
            with open(cert) as f:
                out.write(f.read())
    yield pairs, ca
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope='module')
def pair(server_factory, certs):
    pairs, ca = certs
    tls = {dom: {'certificate': c, 'key': k} for dom, (c, k) in pairs.items()}
    servers = start_federated(server_factory, ['x.test', 'y.test', 'z.test'], name_prefix='cert',
                              per_domain={'x.test': {'ca_file': ca, 'require_valid_certificates': True},
                                          'y.test': {'ca_file': ca, 'require_valid_certificates': True}},
                              tls=tls)
    return servers['x.test'], servers['y.test'], servers['z.test']


def wait_log(srv, pattern, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if re.search(pattern, srv.log_text()):
            return True
        time.sleep(0.05)
    return False


def test_xep0178_sasl_external_both_ways(pair):
    x, y, _ = pair
    alice = login(x, 'alice', presence=True)
    bob = login(y, 'bob', presence=True)
    send_message(alice, bob.jid, 'signed and sealed')
    m = recv_message(bob, body='signed and sealed')
    assert m.get('from') == alice.jid
    send_message(bob, alice.jid, 'delivered')
    recv_message(alice, body='delivered')
    assert wait_log(y, r'x\.test authenticated by certificate \(SASL EXTERNAL\) for y\.test')
    assert wait_log(x, r's2s out y\.test: authenticated for x\.test \(SASL EXTERNAL, TLS\)')
    assert 'authenticated by dialback' not in x.log_text() + y.log_text()
    # XEP-0288: x.test enabled bidi on its stream, so y.test answered over it instead of
    # opening a connection of its own (no dialback verification needed one either).
    assert wait_log(y, r'bidirectional for y\.test -> x\.test')
    assert 's2s out x.test: new stream' not in y.log_text()


def test_require_valid_certificates_turns_away_untrusted_peer(pair):
    x, _, z = pair
    carol = login(z, 'carol')
    # z.test's certificate is self-signed and not in x.test's ca_file: no SASL EXTERNAL, and
    # x.test refuses dialback (XEP-0220 §2.5 <not-authorized/>), so the message comes back,
    # with remote-server-timeout as XEP-0220 §2.5 asks for dialback errors.
    id = send_message(carol, 'alice@x.test', 'let me in')
    cond, e = recv_error(carol, id, timeout=20)
    assert cond == 'remote-server-timeout', tostr(e)
    # x.test, which only talks to valid certificates, refuses to send to z.test too.
    alice = login(x, 'alice')
    id = send_message(alice, 'carol@z.test', 'no thanks')
    cond, e = recv_error(alice, id, timeout=20)
    assert cond == 'remote-server-not-found', tostr(e)
    assert wait_log(x, r'peer certificate not valid')
