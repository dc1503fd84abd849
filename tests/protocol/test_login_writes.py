"""How the server's side of a login is packed (issue 6): what belongs together goes out in one
write. After TLS, each write of the server is one TLS record, and OpenSSL's SSL_read returns
the data of one record at a time, so record boundaries are visible to the client: a stream
header and the stream features that follow it (RFC 6120 §4.3.2) must come in the same record,
at each of the three stream (re)starts of a login (RFC 6120 §4.2, §5.3.7, §6.4.6). Any order or
content change would also show here."""
import rawxmpp
from rawxmpp import NS_STREAM, q


def first_record(c):
    """The plaintext of the next TLS record from the server (one SSL_read = one record)."""
    data = c.t.recv(c._deadline())
    assert data, 'connection closed'
    c.transcript.append(('S', data.decode('utf-8', 'replace')))
    return data.decode()


def assert_header_and_features_in_one_record(c, text):
    assert text.startswith("<?xml version='1.0'?><stream:stream "), text
    assert text.endswith('</stream:features>'), text
    # Still parsed as a whole by the normal client path.
    c.reset_parser()
    c.pending = []
    c._feed(text.encode())
    assert c.stream_attrs is not None
    c.features = c.pending.pop(0)
    assert c.features.tag == q(NS_STREAM, 'features')
    c._scan_features()


def test_header_and_features_share_one_record_at_every_restart(server):
    c = server.client(name='writes')
    c.open()
    c.starttls()
    # Stream restart after STARTTLS (RFC 6120 §5.3.7): the first record is header + features.
    c.send(c.header())
    assert_header_and_features_in_one_record(c, first_record(c))
    assert 'SCRAM-SHA-1' in c.mechanisms
    r = c.auth_scram('alice', server.password, 'SHA-1')
    assert r.ok and r.verified
    # Restart after SASL success (RFC 6120 §6.4.6): the same, now with <bind/>.
    c.send(c.header())
    text = first_record(c)
    assert_header_and_features_in_one_record(c, text)
    assert c.feature('urn:ietf:params:xml:ns:xmpp-bind', 'bind') is not None
    c.jid = c.bind('writes')
    r = c.iq("<ping xmlns='urn:xmpp:ping'/>", to=server.domain)
    assert r.get('type') == 'result'
    assert c.end_stream()
    c.close()


def test_header_and_features_share_one_record_with_direct_tls(server):
    # XEP-0368: the first stream is already inside TLS.
    c = server.client(direct_tls=True, name='writes-direct')
    c.send(c.header())
    assert_header_and_features_in_one_record(c, first_record(c))
    assert c.mechanisms
    c.close()
