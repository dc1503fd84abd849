"""RFC 7590 / RFC 6120 §5: per-host certificates chosen by SNI, and certificates reloaded on
SIGHUP without dropping established sessions."""
import os
import signal
import subprocess
import time

from OpenSSL import crypto

import rawxmpp
from rawxmpp import NS_TLS, q, tostr


def tls_cert(server, server_name, direct_tls=True):
    """DER certificate the server presents for `server_name` (SNI)."""
    if direct_tls:
        c = rawxmpp.Client(server.tls_port)
        c.t.start_tls(c._deadline(), server_name=server_name)
    else:
        c = rawxmpp.Client(server.c2s_port)
        c.open(to=server_name)
        c.send("<starttls xmlns='%s'/>" % NS_TLS)
        e = c.recv()
        assert e.tag == q(NS_TLS, 'proceed'), tostr(e)
        c.t.start_tls(c._deadline(), server_name=server_name)
    der = c.t.peer_cert_der()
    c.close()
    return der


def common_name(der):
    return crypto.load_certificate(crypto.FILETYPE_ASN1, der).get_subject().CN


def new_self_signed(cert, key, cn):
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
                    '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=' + cn,
                    '-addext', 'subjectAltName=DNS:' + cn], check=True, capture_output=True, timeout=60)


def test_rfc6120_5_sni_selects_the_host_certificate(server_factory):
    s = server_factory.start('sni', extra_hosts=[{
        'name': 'example.test', 'registration': False,
        'certificate': 'certs/example.test.crt', 'key': 'certs/example.test.key'}])
    assert os.path.exists(os.path.join(s.data_dir, 'certs', 'example.test.crt'))
    default = tls_cert(s, 'localhost')
    other = tls_cert(s, 'example.test')
    assert default != other
    assert common_name(other) == 'example.test'
    assert common_name(tls_cert(s, 'example.test', direct_tls=False)) == 'example.test'
    # A name without its own certificate gets the default one.
    assert tls_cert(s, 'unknown.test') == default


def test_rfc7590_sighup_reloads_certificates_keeping_sessions(server_factory):
    s = server_factory.start('reload')
    before = tls_cert(s, 'localhost')
    session = s.login('alice', resource='stays')

    cert = os.path.join(s.data_dir, 'certs', 'localhost.crt')
    key = os.path.join(s.data_dir, 'certs', 'localhost.key')
    new_self_signed(cert + '.new', key + '.new', 'localhost')
    os.replace(key + '.new', key)
    os.replace(cert + '.new', cert)
    with open(cert, 'rb') as f:
        expected = crypto.dump_certificate(crypto.FILETYPE_ASN1, crypto.load_certificate(crypto.FILETYPE_PEM, f.read()))
    assert expected != before

    s.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    after = before
    while after == before and time.monotonic() < deadline:
        time.sleep(0.1)
        after = tls_cert(s, 'localhost')
    assert after == expected, 'new certificate not served after SIGHUP'

    # The session established before the reload is untouched.
    r = session.iq("<ping xmlns='urn:xmpp:ping'/>", to='localhost')
    assert r.get('type') == 'result', tostr(r)

    # A broken certificate is refused on reload; the server keeps serving the last good one.
    with open(cert, 'w') as f:
        f.write('not a certificate\n')
    s.proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert s.alive()
    assert tls_cert(s, 'localhost') == expected
    s.assert_accepts_login('bob')
