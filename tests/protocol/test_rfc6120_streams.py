"""RFC 6120 §4: XML streams — headers, stream errors, limits, closing handshake."""
import time

import pytest

from rawxmpp import (NS_CLIENT, NS_IQ_AUTH, NS_STREAM, NS_STREAMS, XmppTestError, q, tostr)

HDR_NS = "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"


def header(to='localhost', version='1.0', ns=HDR_NS, decl="<?xml version='1.0'?>", extra=''):
    v = " version='%s'" % version if version is not None else ''
    return "%s<stream:stream %s to='%s'%s%s>" % (decl, ns, to, v, extra)


def assert_error_after_header(c, expected):
    """RFC 6120 §4.9.1.2: the receiving entity sends its stream header first (if not yet
    sent), then <stream:error/>, </stream:stream>, and closes the TCP connection."""
    cond = c.expect_stream_error()
    assert c.stream_attrs is not None, 'no stream header before the stream error'
    assert c.stream_tag == q(NS_STREAM, 'stream'), c.stream_tag
    assert cond == expected, 'expected <%s/>, got <%s/>: %s' % (
        expected, cond, tostr(c.last_stream_error))
    assert c.eof


def raw_open_error(server, data, expected):
    c = server.client()
    c.reset_parser()
    c.send_tolerant(data)
    assert_error_after_header(c, expected)


# ---- §4.7: stream attributes

def test_rfc6120_4_7_stream_header_attributes(server):
    c = server.client()
    attrs = c.open()
    assert c.stream_tag == q(NS_STREAM, 'stream')
    # §4.7.1 from = the domain; §4.7.3 id = unique; §4.7.5 version 1.0
    assert attrs.get('from') == 'localhost', attrs
    assert attrs.get('id'), attrs
    assert attrs.get('version') == '1.0', attrs
    c2 = server.client()
    attrs2 = c2.open()
    assert attrs2.get('id') != attrs.get('id'), 'stream ids must be unique (§4.7.3)'
    # §4.8.2: content namespace jabber:client, features in the streams namespace
    assert c.features.tag == q(NS_STREAM, 'features')


# ---- §4.9.3: stream error conditions

def test_rfc6120_4_9_3_6_host_unknown(server):
    raw_open_error(server, header(to='unknown.example'), 'host-unknown')
    server.assert_accepts_login()


def test_rfc6120_4_9_3_10_invalid_namespace_stream(server):
    ns = "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/wrong'"
    raw_open_error(server, header(ns=ns), 'invalid-namespace')
    server.assert_accepts_login()


def test_rfc6120_4_9_3_10_invalid_namespace_root_name(server):
    data = ("<?xml version='1.0'?><stream:strom xmlns='jabber:client' "
            "xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>")
    raw_open_error(server, data, 'invalid-namespace')
    server.assert_accepts_login()


def test_rfc6120_4_9_3_10_invalid_namespace_content(server):
    ns = "xmlns='jabber:nonsense' xmlns:stream='http://etherx.jabber.org/streams'"
    raw_open_error(server, header(ns=ns), 'invalid-namespace')
    server.assert_accepts_login()


def test_rfc6120_4_9_3_25_unsupported_version(server):
    raw_open_error(server, header(version='2.0'), 'unsupported-version')
    server.assert_accepts_login()


def test_rfc6120_4_9_3_22_unsupported_encoding(server):
    raw_open_error(server, header(decl="<?xml version='1.0' encoding='ISO-8859-1'?>"),
                   'unsupported-encoding')
    server.assert_accepts_login()


def test_rfc6120_4_9_3_13_not_well_formed_after_header(server):
    c = server.client()
    c.open()
    c.send_tolerant("<iq type='get' id='nwf'><query xmlns='jabber:iq:version'></iq>")
    assert_error_after_header(c, 'not-well-formed')
    server.assert_accepts_login()


def test_rfc6120_4_9_3_13_not_well_formed_in_header(server):
    raw_open_error(server, "<?xml version='1.0'?><stream:stream %s to='localhost' <<>>" % HDR_NS,
                   'not-well-formed')
    server.assert_accepts_login()


RESTRICTED = {
    # RFC 6120 §11.1: comments, processing instructions, internal or external DTD subsets and
    # entity references other than the predefined ones are forbidden.
    'doctype': "<?xml version='1.0'?><!DOCTYPE stream:stream>" + header(decl=''),
    'entity': ("<?xml version='1.0'?><!DOCTYPE stream:stream [<!ENTITY boom 'x'>]>"
               + header(decl='')),
    'comment': header() + "<!-- a comment -->",
    'processing_instruction': header() + "<?xml-stylesheet href='x'?>",
}


@pytest.mark.parametrize('kind', sorted(RESTRICTED))
def test_rfc6120_11_1_restricted_xml(server, kind):
    c = server.client()
    c.reset_parser()
    c.send_tolerant(RESTRICTED[kind])
    assert_error_after_header(c, 'restricted-xml')
    server.assert_accepts_login()


def test_rfc6120_11_1_restricted_xml_comment_inside_stanza(server):
    c = server.login('alice', resource='comment')
    c.send_tolerant("<message to='%s'><body>x<!-- hidden --></body></message>" % c.jid)
    assert_error_after_header(c, 'restricted-xml')
    server.assert_accepts_login()


def test_rfc6120_4_9_3_18_policy_violation_stanza_size(server):
    """RFC 6120 §13.12 (4): the server limits stanza size; max_stanza_size = 65536 here."""
    c = server.login('alice', resource='big')
    body = 'A' * 1024
    c.send("<message to='%s'><body>" % c.jid)
    # Send ~100 KiB in pieces, reading in between so that the error is not lost to a TCP
    # reset when the server closes with our data still unread.
    for _ in range(100):
        if c.eof or c.stream_closed or c.pending:
            break
        if not c.send_tolerant(body):
            break
        try:
            c._read_more(time.monotonic() + 0.005)
        except XmppTestError:
            pass
    assert_error_after_header(c, 'policy-violation')
    server.assert_accepts_login()


def test_rfc6120_13_12_stanza_below_size_limit_accepted(server):
    c = server.login('alice', resource='notbig')
    body = 'B' * 30000
    c.send("<message to='%s' id='m1'><body>%s</body></message>" % (c.jid, body))
    m = c.recv_stanza(lambda e: e.tag == q(NS_CLIENT, 'message'))
    assert m.findtext(q(NS_CLIENT, 'body')) == body


def test_rfc6120_4_9_3_18_policy_violation_depth(server):
    c = server.login('alice', resource='deep')
    depth = 40  # max_depth = 32
    payload = "<x xmlns='urn:example:deep'>" + '<x>' * depth + '</x>' * depth + '</x>'
    c.send_tolerant("<message to='%s'>%s</message>" % (c.jid, payload))
    assert_error_after_header(c, 'policy-violation')
    server.assert_accepts_login()


def test_rfc6120_13_12_depth_below_limit_accepted(server):
    c = server.login('alice', resource='shallow')
    depth = 20
    payload = "<x xmlns='urn:example:deep'>" + '<x>' * depth + '</x>' * depth + '</x>'
    c.send("<message to='%s' id='d1'>%s</message>" % (c.jid, payload))
    m = c.recv_stanza(lambda e: e.tag == q(NS_CLIENT, 'message'))
    assert m.get('id') == 'd1'
    x = m.find('{urn:example:deep}x')
    assert x is not None, tostr(m)
    n = 0
    while len(x):
        x = x[0]
        n += 1
    assert n == depth


def test_rfc6120_4_9_3_1_bad_format_text_between_stanzas(server):
    c = server.login('alice', resource='text')
    c.send_tolerant('this is not whitespace')
    assert_error_after_header(c, 'bad-format')
    server.assert_accepts_login()


def test_rfc6120_4_9_3_12_not_authorized_stanza_before_auth(server):
    c = server.client()
    c.connect_tls()
    c.send_tolerant("<message to='bob@localhost'><body>hi</body></message>")
    assert_error_after_header(c, 'not-authorized')
    server.assert_accepts_login()


def test_rfc6120_4_9_3_12_not_authorized_iq_before_auth(server):
    c = server.client()
    c.connect_tls()
    c.send_tolerant("<iq type='get' id='v1' to='localhost'>"
                    "<query xmlns='jabber:iq:version'/></iq>")
    assert_error_after_header(c, 'not-authorized')
    server.assert_accepts_login()


# ---- §4.7.5: streams without a version (pre-RFC 3920 clients)

def test_rfc6120_4_7_5_no_version_no_features(server):
    """A header without 'version' means 0.9: the server's header carries no version and it
    sends no <stream:features/>; the client may then use XEP-0078 (over direct TLS here)."""
    c = server.client(direct_tls=True)
    attrs = c.open(version=None, features=False)
    assert 'version' not in attrs, 'server must not send version to a 0.9 client: %s' % attrs
    assert attrs.get('id'), attrs
    c.send("<iq type='get' id='legacy1'><query xmlns='jabber:iq:auth'>"
           "<username>alice</username></query></iq>")
    first = c.recv()
    assert first.tag != q(NS_STREAM, 'features'), 'features sent to a version-less stream'
    assert first.tag == q(NS_CLIENT, 'iq') and first.get('id') == 'legacy1', tostr(first)
    assert first.get('type') == 'result', tostr(first)
    c.send("<iq type='set' id='legacy2'><query xmlns='jabber:iq:auth'>"
           "<username>alice</username><password>%s</password><resource>legacy</resource>"
           "</query></iq>" % server.password)
    r = c.wait_iq('legacy2')
    assert r.get('type') == 'result', tostr(r)
    p = c.iq("<ping xmlns='urn:xmpp:ping'/>", to='localhost')
    assert p.get('type') == 'result', tostr(p)


# ---- §4.6.1: whitespace keepalives

def test_rfc6120_4_6_1_whitespace_keepalives_anywhere(server):
    c = server.client()
    ws = ' \n\t \r\n '
    # Also directly before restarted stream headers: a keepalive timer can fire at any time.
    c.open()
    c.send(ws)
    c.starttls()
    c.send(ws)
    c.open()
    c.send(ws)
    c.authenticate('bob', server.password)
    c.send(ws)
    c.open()
    c.send(ws)
    jid = c.bind('ws')
    assert jid == 'bob@localhost/ws'
    for i in range(3):
        c.send(ws)
        r = c.iq("<ping xmlns='urn:xmpp:ping'/>", to='localhost')
        assert r.get('type') == 'result', tostr(r)
    c.send(ws)
    assert c.end_stream()


# ---- §4.4: closing handshake

def test_rfc6120_4_4_closing_handshake(server):
    c = server.login('carol', resource='close')
    t0 = time.monotonic()
    got_close = c.end_stream(timeout=10)
    assert got_close, 'server did not answer </stream:stream> with </stream:stream>'
    assert c.eof, 'server did not close the TCP connection'
    assert time.monotonic() - t0 < 5


def test_rfc6120_4_4_closing_handshake_before_auth(server):
    c = server.client()
    c.open()
    assert c.end_stream(timeout=10)
    assert c.eof


# ---- XEP-0368 direct TLS port: clients that never complete a handshake

def test_xep0368_direct_tls_abrupt_close(server):
    """Connections to the direct-TLS port that close before or during the TLS handshake, or
    that speak plain XMPP there, must only end those connections (ARCHITECTURE: untrusted
    input never crashes the server)."""
    import socket
    for i in range(10):
        s = socket.create_connection(('127.0.0.1', server.tls_port), timeout=5)
        s.close()
    for i in range(5):
        s = socket.create_connection(('127.0.0.1', server.tls_port), timeout=5)
        s.sendall(header().encode())
        s.settimeout(5)
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass
        s.close()
    for i in range(5):
        s = socket.create_connection(('127.0.0.1', server.tls_port), timeout=5)
        # A truncated TLS ClientHello record header.
        s.sendall(b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03')
        s.close()
    time.sleep(0.3)
    assert server.alive(), server.log_tail()
    server.assert_accepts_login()
    c = server.login('bob', resource='after-abrupt', direct_tls=True)
    assert c.jid == 'bob@localhost/after-abrupt'


def test_rfc6120_starttls_port_abrupt_close(server):
    import socket
    for i in range(10):
        s = socket.create_connection(('127.0.0.1', server.c2s_port), timeout=5)
        if i % 2:
            s.sendall(header().encode())
        s.close()
    c = server.client()
    c.open()
    c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    c.recv()
    c.close()  # gone before the TLS handshake
    time.sleep(0.3)
    assert server.alive(), server.log_tail()
    server.assert_accepts_login()


def test_rfc6120_4_9_3_24_unsupported_stanza_type(server):
    c = server.login('erin', resource='unsupported')
    c.send_tolerant("<presents xmlns='jabber:client'/>")
    cond = c.expect_stream_error()
    assert cond == 'unsupported-stanza-type', tostr(c.last_stream_error)
    server.assert_accepts_login()
