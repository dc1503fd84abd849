"""TLS 1.3 on client streams continues after the handshake on Starling's own record layer
(src/net/tls_record, RFC 8446 §5) instead of OpenSSL's: every c2s test already runs through it.
These tests aim at what is specific to the handover: each cipher suite it takes, with STARTTLS
and with direct TLS (XEP-0368), stanzas spanning several records in both directions, channel
binding (RFC 9266 tls-exporter, RFC 5929 tls-server-end-point) computed after OpenSSL is gone,
and the close_notify alert at the end (RFC 8446 §6.1)."""
import pytest

import rawxmpp
from OpenSSL import SSL

SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256']
MSG = '{jabber:client}message'


def closed_with_close_notify(c):
    """After end_stream(): the server's TLS close_notify arrived (not a bare TCP close)."""
    return (not c.t.reset) and bool(c.t.tls.get_shutdown() & SSL.RECEIVED_SHUTDOWN)


@pytest.mark.parametrize('direct', [False, True], ids=['starttls', 'direct'])
@pytest.mark.parametrize('suite', SUITES)
def test_each_suite_carries_large_stanzas_both_ways_and_closes_with_close_notify(server, suite, direct):
    c = server.client(direct_tls=direct, tls13_ciphersuites=suite, name='tls13-%s' % suite)
    c.login('alice', server.password, mech='SCRAM-SHA-256-PLUS', cb_type='tls-exporter',
            resource='tls13-%s-%s' % (suite, direct))
    assert c.t.tls_version() == 'TLSv1.3'
    assert c.t.tls.get_cipher_name() == suite
    # 40,000 bytes: three records of at most 2^14 bytes each way (RFC 8446 §5.1), sent by the
    # client in 16 KiB pieces and echoed back by the server to the sender's own full JID.
    body = ''.join(chr(ord('a') + i % 26) for i in range(40000))
    c.send("<message to='%s' type='chat' id='big'><body>%s</body></message>" % (c.jid, body))
    m = c.recv_stanza(lambda e: e.tag == MSG and e.get('id') == 'big')
    assert m.findtext('{jabber:client}body') == body
    # Many small stanzas, each its own record, still in order.
    for i in range(50):
        c.send("<message to='%s' type='chat' id='s%d'><body>%d</body></message>" % (c.jid, i, i))
    for i in range(50):
        m = c.recv_stanza(lambda e: e.tag == MSG and e.get('id') == 's%d' % i)
        assert m.findtext('{jabber:client}body') == str(i)
    assert c.end_stream()
    assert closed_with_close_notify(c), c.dump()
    c.close()


@pytest.mark.parametrize('cb_type', ['tls-exporter', 'tls-server-end-point'])
def test_channel_binding_after_the_handover(server, cb_type):
    # The server derives tls-exporter from the exporter master secret (RFC 8446 §7.5) and keeps
    # its certificate for tls-server-end-point; the client computes both with OpenSSL. A
    # mismatch fails SCRAM-PLUS (the server's signature would not verify, or it answers
    # not-authorized).
    for mech in ('SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256-PLUS', 'SCRAM-SHA-512-PLUS'):
        c = server.client(name='cb-%s-%s' % (cb_type, mech))
        c.login('bob', server.password, mech=mech, cb_type=cb_type, resource='cb-%s' % mech)
        r = c.iq("<ping xmlns='urn:xmpp:ping'/>", to=server.domain)
        assert r.get('type') == 'result'
        c.end_stream()
        c.close()


def test_tls_1_2_client_stays_on_openssl(server):
    # TLS 1.2 is not handed over; the stream works as before (and tls-exporter is not offered,
    # RFC 9266 §3).
    c = server.client(tls_max=SSL.TLS1_2_VERSION, name='tls12')
    c.login('carol', server.password, mech='SCRAM-SHA-256-PLUS', cb_type='tls-server-end-point',
            resource='tls12')
    assert c.t.tls_version() == 'TLSv1.2'
    body = 'y' * 30000
    c.send("<message to='%s' type='chat' id='big12'><body>%s</body></message>" % (c.jid, body))
    m = c.recv_stanza(lambda e: e.tag == MSG and e.get('id') == 'big12')
    assert m.findtext('{jabber:client}body') == body
    assert c.end_stream()
    assert closed_with_close_notify(c)
    c.close()


@pytest.mark.parametrize('offered,expected', [
    # OpenSSL's own client order starts with the SHA-384 suite: the server's order decides.
    ('TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256', 'TLS_AES_128_GCM_SHA256'),
    # A client that puts ChaCha20-Poly1305 first (no AES instructions) keeps it.
    ('TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256', 'TLS_CHACHA20_POLY1305_SHA256'),
    # A client with the SHA-384 suite only still gets it.
    ('TLS_AES_256_GCM_SHA384', 'TLS_AES_256_GCM_SHA384'),
], ids=['openssl-order', 'chacha-first', 'aes256-only'])
def test_server_suite_preference(server, offered, expected):
    # The server prefers TLS_AES_128_GCM_SHA256 (RFC 8446 §9.1's mandatory suite; its SHA-256
    # key schedule is the cheaper one, issue 6) unless the client lists ChaCha20-Poly1305 first.
    c = server.client(tls13_ciphersuites=offered, name='suite-pref')
    c.login('alice', server.password, resource='suite-pref-%s' % expected)
    assert c.t.tls_version() == 'TLSv1.3'
    assert c.t.tls.get_cipher_name() == expected
    r = c.iq("<ping xmlns='urn:xmpp:ping'/>", to=server.domain)
    assert r.get('type') == 'result'
    c.close()
