"""Raw XMPP client for black-box protocol tests.

Speaks the wire protocol directly over a socket so that tests can send malformed or unusual
input and see exactly what the server answers. TLS is done with pyOpenSSL (non-blocking, driven
by select) because the standard ssl module cannot export keying material, which the
'tls-exporter' channel binding (RFC 9266) needs.

Every read and write has a deadline; nothing here can block forever.
"""
import base64
import errno
import hashlib
import hmac
import itertools
import os
import select
import socket
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Callable, Optional

from OpenSSL import SSL, crypto

NS_STREAM = 'http://etherx.jabber.org/streams'
NS_CLIENT = 'jabber:client'
NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls'
NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl'
NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind'
NS_SESSION = 'urn:ietf:params:xml:ns:xmpp-session'
NS_STREAMS = 'urn:ietf:params:xml:ns:xmpp-streams'
NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'
NS_SASL_CB = 'urn:xmpp:sasl-cb:0'
NS_FEATURE_REGISTER = 'http://jabber.org/features/iq-register'
NS_FEATURE_IQAUTH = 'http://jabber.org/features/iq-auth'
NS_IQ_AUTH = 'jabber:iq:auth'
NS_IQ_REGISTER = 'jabber:iq:register'
NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info'
NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items'
NS_PING = 'urn:xmpp:ping'
NS_VERSION = 'jabber:iq:version'
NS_TIME = 'urn:xmpp:time'

DEFAULT_TIMEOUT = 10.0


def q(ns, name):
    """Clark-notation tag: q(NS_CLIENT, 'iq') -> '{jabber:client}iq'."""
    return '{%s}%s' % (ns, name)


def local(tag):
    return tag.rsplit('}', 1)[-1]


def ns_of(tag):
    return tag[1:].split('}', 1)[0] if tag.startswith('{') else ''


def tostr(elem):
    return ET.tostring(elem, encoding='unicode') if elem is not None else '<none>'


def xml_escape(s):
    return (s.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')
            .replace("'", '&apos;').replace('"', '&quot;'))


class XmppTestError(AssertionError):
    pass


class Timeout(XmppTestError):
    pass


class Closed(XmppTestError):
    """The TCP connection was closed (EOF/reset) or the server closed the XML stream."""


class UnexpectedStreamError(XmppTestError):
    def __init__(self, condition, elem):
        super().__init__('unexpected stream error <%s/>: %s' % (condition, tostr(elem)))
        self.condition = condition
        self.elem = elem


# Clients created during the current test, so that conftest can show their transcripts when
# a test fails.
ACTIVE = []
_active_lock = threading.Lock()
_ids = itertools.count(1)


def new_id(prefix='id'):
    return '%s%d' % (prefix, next(_ids))


def stream_error_condition(elem):
    for child in elem:
        if ns_of(child.tag) == NS_STREAMS and local(child.tag) != 'text':
            return local(child.tag)
    return None


def stanza_error(elem):
    """(type, condition, code) of a stanza's <error/> child, or None."""
    err = elem.find(q(NS_CLIENT, 'error'))
    if err is None:
        return None
    cond = None
    for child in err:
        if ns_of(child.tag) == NS_STANZAS and local(child.tag) != 'text':
            cond = local(child.tag)
            break
    return err.get('type'), cond, err.get('code')


def sasl_condition(elem):
    for child in elem:
        if ns_of(child.tag) == NS_SASL and local(child.tag) != 'text':
            return local(child.tag)
    return None


# --------------------------------------------------------------------------------------------
# Transport: plain TCP or TLS (pyOpenSSL), non-blocking with deadlines.

def _wait(sock, readable, deadline):
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise Timeout('timed out waiting for the socket to become %s'
                      % ('readable' if readable else 'writable'))
    r, w, _ = select.select([sock] if readable else [], [] if readable else [sock], [], remaining)
    if not r and not w:
        raise Timeout('timed out waiting for the socket to become %s'
                      % ('readable' if readable else 'writable'))


class Transport:
    def __init__(self, sock):
        self.sock = sock
        self.sock.setblocking(False)
        self.tls = None  # SSL.Connection once TLS is up
        self.reset = False
        self.ciphersuites = None  # TLS 1.3 suites to offer (OpenSSL syntax); None: the default

    def start_tls(self, deadline, min_version=None, max_version=None, server_name='localhost'):
        ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
        ctx.set_verify(SSL.VERIFY_NONE, lambda *a: True)
        if min_version:
            ctx.set_min_proto_version(min_version)
        if max_version:
            ctx.set_max_proto_version(max_version)
        # SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
        ctx.set_mode(1 | 2)
        if self.ciphersuites:
            from OpenSSL._util import lib as _lib
            if _lib.SSL_CTX_set_ciphersuites(ctx._context, self.ciphersuites.encode()) != 1:
                raise ValueError('unknown TLS 1.3 cipher suites %r' % self.ciphersuites)
        conn = SSL.Connection(ctx, self.sock)
        if server_name:
            conn.set_tlsext_host_name(server_name.encode())
        conn.set_connect_state()
        while True:
            try:
                conn.do_handshake()
                break
            except SSL.WantReadError:
                _wait(self.sock, True, deadline)
            except SSL.WantWriteError:
                _wait(self.sock, False, deadline)
        self.tls = conn

    def send(self, data, deadline):
        view = memoryview(data)
        while len(view):
            try:
                if self.tls is not None:
                    n = self.tls.send(bytes(view[:16384]))
                else:
                    n = self.sock.send(view)
                view = view[n:]
            except (BlockingIOError, SSL.WantWriteError):
                _wait(self.sock, False, deadline)
            except SSL.WantReadError:
                _wait(self.sock, True, deadline)

    def recv(self, deadline):
        """Returns data, or b'' on EOF / connection reset."""
        while True:
            try:
                if self.tls is not None:
                    return self.tls.recv(65536)
                return self.sock.recv(65536)
            except (BlockingIOError, SSL.WantReadError):
                _wait(self.sock, True, deadline)
            except SSL.WantWriteError:
                _wait(self.sock, False, deadline)
            except SSL.ZeroReturnError:
                return b''
            except SSL.SysCallError as e:
                self.reset = True
                return b''
            except SSL.Error:
                self.reset = True
                return b''
            except ConnectionResetError:
                self.reset = True
                return b''

    def close(self):
        try:
            if self.tls is not None:
                try:
                    self.tls.shutdown()
                except SSL.Error:
                    pass
            self.sock.close()
        except OSError:
            pass

    # Channel-binding data (RFC 5929 / RFC 9266).
    def peer_cert_der(self):
        cert = self.tls.get_peer_certificate()
        return crypto.dump_certificate(crypto.FILETYPE_ASN1, cert)

    def tls_server_end_point(self):
        # RFC 5929 §4.1: hash of the server certificate with the hash of its signature
        # algorithm; MD5 and SHA-1 are replaced by SHA-256.
        cert = self.tls.get_peer_certificate()
        alg = cert.get_signature_algorithm().decode().lower()
        h = hashlib.sha256
        if 'sha384' in alg:
            h = hashlib.sha384
        elif 'sha512' in alg:
            h = hashlib.sha512
        return h(self.peer_cert_der()).digest()

    def tls_exporter(self):
        # RFC 9266 §2: label "EXPORTER-Channel-Binding", no context, 32 bytes.
        return self.tls.export_keying_material(b'EXPORTER-Channel-Binding', 32)

    def tls_version(self):
        return self.tls.get_protocol_version_name() if self.tls is not None else None


# --------------------------------------------------------------------------------------------
# SCRAM client (RFC 5802 / RFC 7677), with channel binding and the XEP-0474 'h' attribute.

HASHES = {'SHA-1': hashlib.sha1, 'SHA-256': hashlib.sha256, 'SHA-512': hashlib.sha512}
_salted_cache = {}
_salted_lock = threading.Lock()


def scram_parse(msg):
    out = {}
    for part in msg.split(','):
        if '=' not in part:
            raise ValueError('bad SCRAM attribute %r in %r' % (part, msg))
        k, v = part.split('=', 1)
        out[k] = v
    return out


def ssdp_hash(hash_name, mechanisms, cb_types):
    """XEP-0474 §4.1: H(sorted mechs joined by 0x1E [+ 0x1F + sorted cb types joined by 0x1E])."""
    s = '\x1e'.join(sorted(mechanisms, key=lambda m: m.encode()))
    if cb_types is not None:
        s += '\x1f' + '\x1e'.join(sorted(cb_types, key=lambda t: t.encode()))
    return base64.b64encode(HASHES[hash_name](s.encode()).digest()).decode()


def saslname(s):
    return s.replace('=', '=3D').replace(',', '=2C')


class ScramClient:
    def __init__(self, hash_name, username, password, gs2_header='n,,', cb_data=b'', nonce=None):
        self.hash_name = hash_name
        self.h = HASHES[hash_name]
        self.username = username
        self.password = password
        self.gs2_header = gs2_header
        self.cb_data = cb_data
        self.cnonce = nonce or base64.b64encode(os.urandom(18)).decode()
        self.server_first = None
        self.server_first_attrs = None
        self.server_signature = None

    def first(self):
        self.first_bare = 'n=%s,r=%s' % (saslname(self.username), self.cnonce)
        return (self.gs2_header + self.first_bare).encode()

    def final(self, server_first: bytes, tamper_proof=False, tamper_cb=False):
        self.server_first = server_first.decode()
        attrs = scram_parse(self.server_first)
        self.server_first_attrs = attrs
        nonce = attrs['r']
        if not nonce.startswith(self.cnonce) or len(nonce) <= len(self.cnonce):
            raise XmppTestError('server nonce %r does not extend client nonce %r'
                                % (nonce, self.cnonce))
        salt = base64.b64decode(attrs['s'])
        iterations = int(attrs['i'])
        key = (self.hash_name, self.password, salt, iterations)
        with _salted_lock:
            salted = _salted_cache.get(key)
        if salted is None:
            salted = hashlib.pbkdf2_hmac(self.h().name, self.password.encode(), salt, iterations)
            with _salted_lock:
                _salted_cache[key] = salted
        client_key = hmac.new(salted, b'Client Key', self.h).digest()
        stored_key = self.h(client_key).digest()
        cb = self.cb_data
        if tamper_cb:
            cb = bytes(b ^ 0xFF for b in cb) if cb else b'\x00' * 32
        cbind = base64.b64encode(self.gs2_header.encode() + cb).decode()
        without_proof = 'c=%s,r=%s' % (cbind, nonce)
        auth_message = ('%s,%s,%s' % (self.first_bare, self.server_first, without_proof)).encode()
        signature = hmac.new(stored_key, auth_message, self.h).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        if tamper_proof:
            proof = bytes([proof[0] ^ 1]) + proof[1:]
        server_key = hmac.new(salted, b'Server Key', self.h).digest()
        self.server_signature = hmac.new(server_key, auth_message, self.h).digest()
        return ('%s,p=%s' % (without_proof, base64.b64encode(proof).decode())).encode()

    def verify_final(self, server_final: bytes):
        attrs = scram_parse(server_final.decode())
        if 'v' not in attrs:
            return False
        return hmac.compare_digest(base64.b64decode(attrs['v']), self.server_signature)


@dataclass
class SaslResult:
    ok: bool
    condition: Optional[str] = None
    elem: Optional[ET.Element] = None
    server_first: Optional[str] = None
    server_first_attrs: Optional[dict] = None
    server_final: Optional[bytes] = None
    verified: bool = False
    stage: str = ''


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode() if data else '='


def unb64(text: Optional[str]) -> bytes:
    text = (text or '').strip()
    if text in ('', '='):
        return b''
    return base64.b64decode(text, validate=True)


# --------------------------------------------------------------------------------------------
# The client.

class Client:
    def __init__(self, port, host='127.0.0.1', timeout=DEFAULT_TIMEOUT, direct_tls=False,
                 tls_min=None, tls_max=None, name=None, sock=None, tls13_ciphersuites=None):
        self.port = port
        self.host = host
        self.timeout = timeout
        self.tls_min = tls_min
        self.tls_max = tls_max
        self.name = name or 'client'
        self.transcript = []  # (direction, text)
        self.t = None
        self.parser = None
        self.depth = 0
        self.root = None
        self.stream_attrs = None
        self.pending = []
        self.others = []  # stanzas skipped while waiting for something else
        self.stream_closed = False  # server sent </stream:stream>
        self.eof = False
        self.features = None
        self.jid = None
        self.mechanisms = []
        self.cb_types = None
        with _active_lock:
            ACTIVE.append(self)
        # `sock`: an already connected socket (e.g. accepted from a server we test, acting
        # as a peer server in federation tests).
        if sock is None:
            sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.t = Transport(sock)
        self.t.ciphersuites = tls13_ciphersuites
        if direct_tls:
            self.t.start_tls(self._deadline(), tls_min, tls_max)
            self.transcript.append(('--', 'direct TLS established (%s)' % self.t.tls_version()))

    # ---- low level

    def _deadline(self, timeout=None):
        return time.monotonic() + (self.timeout if timeout is None else timeout)

    def send(self, data, timeout=None):
        if isinstance(data, str):
            data = data.encode()
        self.transcript.append(('C', data.decode('utf-8', 'replace')[:4000]))
        self.t.send(data, self._deadline(timeout))

    def send_tolerant(self, data, timeout=None):
        """Send; a connection the server already closed is not an error (the test then reads
        what the server said)."""
        try:
            self.send(data, timeout)
            return True
        except (BrokenPipeError, ConnectionResetError, OSError, SSL.Error):
            self.transcript.append(('--', 'send failed: connection closed by server'))
            return False

    def reset_parser(self):
        self.parser = ET.XMLPullParser(events=('start', 'end'))
        self.depth = 0
        self.root = None
        self.stream_attrs = None
        self.stream_closed = False

    def _feed(self, data):
        self.transcript.append(('S', data.decode('utf-8', 'replace')[:4000]))
        self.parser.feed(data)
        for event, elem in self.parser.read_events():
            if event == 'start':
                if self.depth == 0:
                    self.root = elem
                    self.stream_attrs = dict(elem.attrib)
                    self.stream_tag = elem.tag
                self.depth += 1
            else:
                self.depth -= 1
                if self.depth == 0:
                    self.stream_closed = True
                elif self.depth == 1:
                    self.pending.append(elem)
                    self.root.remove(elem)

    def _read_more(self, deadline):
        if self.eof:
            raise Closed('connection already closed by the server')
        data = self.t.recv(deadline)
        if not data:
            self.eof = True
            self.transcript.append(('--', 'EOF%s' % (' (reset)' if self.t.reset else '')))
            return False
        if self.parser is None:
            self.reset_parser()
        self._feed(data)
        return True

    def recv(self, timeout=None, allow_stream_error=False):
        """Next top-level element of the server's stream."""
        deadline = self._deadline(timeout)
        while not self.pending:
            if self.stream_closed:
                raise Closed('server closed the stream (</stream:stream>)')
            if not self._read_more(deadline):
                raise Closed('server closed the TCP connection')
        elem = self.pending.pop(0)
        if elem.tag == q(NS_STREAM, 'error') and not allow_stream_error:
            raise UnexpectedStreamError(stream_error_condition(elem), elem)
        return elem

    def wait_header(self, timeout=None):
        deadline = self._deadline(timeout)
        while self.stream_attrs is None:
            if not self._read_more(deadline):
                raise Closed('connection closed before the server sent a stream header')
        return self.stream_attrs

    def wait_eof(self, timeout=None):
        """Reads (and parses) until the server closes the TCP connection."""
        deadline = self._deadline(timeout)
        while not self.eof:
            try:
                self._read_more(deadline)
            except ET.ParseError:
                # Data after the end of the root element; only the close matters here.
                self.parser = None
        return True

    def close(self):
        if self.t is not None:
            self.t.close()

    # ---- stream level

    def header(self, to='localhost', version='1.0', lang='en', extra=''):
        attrs = ["xmlns='jabber:client'", "xmlns:stream='http://etherx.jabber.org/streams'"]
        if to is not None:
            attrs.append("to='%s'" % to)
        if version is not None:
            attrs.append("version='%s'" % version)
        if lang is not None:
            attrs.append("xml:lang='%s'" % lang)
        if extra:
            attrs.append(extra)
        return "<?xml version='1.0'?><stream:stream %s>" % ' '.join(attrs)

    def open(self, to='localhost', version='1.0', raw=None, features=True, timeout=None):
        """Sends a stream header, waits for the server's one and (by default) its features."""
        self.reset_parser()
        self.pending = []
        self.send(raw if raw is not None else self.header(to=to, version=version))
        attrs = self.wait_header(timeout)
        if features:
            self.features = self.recv(timeout)
            if self.features.tag != q(NS_STREAM, 'features'):
                raise XmppTestError('expected <stream:features/>, got %s' % tostr(self.features))
            self._scan_features()
        return attrs

    def _scan_features(self):
        mechs = self.features.find(q(NS_SASL, 'mechanisms'))
        self.mechanisms = [m.text or '' for m in mechs.findall(q(NS_SASL, 'mechanism'))] \
            if mechs is not None else []
        cb = self.features.find(q(NS_SASL_CB, 'sasl-channel-binding'))
        self.cb_types = [c.get('type') for c in cb.findall(q(NS_SASL_CB, 'channel-binding'))] \
            if cb is not None else None

    def feature(self, ns, name):
        return self.features.find(q(ns, name)) if self.features is not None else None

    def expect_stream_error(self, timeout=None):
        """Expects <stream:error/>, then </stream:stream>, then the TCP close.
        Returns the condition name."""
        deadline = self._deadline(timeout)
        elem = None
        while elem is None:
            try:
                e = self.recv(timeout=max(0.01, deadline - time.monotonic()),
                              allow_stream_error=True)
            except Closed:
                raise XmppTestError('connection closed without a <stream:error/>')
            if e.tag == q(NS_STREAM, 'error'):
                elem = e
        self.last_stream_error = elem
        cond = stream_error_condition(elem)
        # RFC 6120 §4.9.1.1: the error is followed by the closing stream tag and the close
        # of the TCP connection.
        while not self.stream_closed:
            if self.eof or not self._read_more(deadline):
                raise XmppTestError('TCP closed without </stream:stream> after <stream:error/>')
        # §4.4: answer with our closing tag so that the server need not wait for its
        # close timeout.
        if not self.eof:
            self.send_tolerant('</stream:stream>')
        self.wait_eof(max(0.01, deadline - time.monotonic()))
        return cond

    def starttls(self, min_version=None, max_version=None):
        self.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        e = self.recv()
        if e.tag != q(NS_TLS, 'proceed'):
            raise XmppTestError('expected <proceed/>, got %s' % tostr(e))
        self.t.start_tls(self._deadline(), min_version or self.tls_min, max_version or self.tls_max)
        self.transcript.append(('--', 'TLS established (%s)' % self.t.tls_version()))
        self.parser = None

    def connect_tls(self, to='localhost'):
        """Stream open + STARTTLS + restart. Returns with post-TLS features read."""
        self.open(to=to)
        self.starttls()
        return self.open(to=to)

    # ---- SASL

    def auth_plain(self, user, password, authzid=''):
        msg = ('%s\0%s\0%s' % (authzid, user, password)).encode()
        self.send("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>" % (NS_SASL, b64(msg)))
        e = self.recv()
        if e.tag == q(NS_SASL, 'success'):
            return SaslResult(True, elem=e, stage='final')
        return SaslResult(False, condition=sasl_condition(e), elem=e, stage='initial')

    def cb_data(self, cb_type):
        if cb_type == 'tls-server-end-point':
            return self.t.tls_server_end_point()
        if cb_type == 'tls-exporter':
            return self.t.tls_exporter()
        raise ValueError(cb_type)

    def auth_scram(self, user, password, hash_name='SHA-256', cb_type=None, gs2_header=None,
                   tamper_proof=False, tamper_cb=False, mechanism=None):
        plus = cb_type is not None
        mech = mechanism or ('SCRAM-%s%s' % (hash_name, '-PLUS' if plus else ''))
        if gs2_header is None:
            gs2_header = 'p=%s,,' % cb_type if plus else 'n,,'
        cb = self.cb_data(cb_type) if plus else b''
        sc = ScramClient(hash_name, user, password, gs2_header=gs2_header, cb_data=cb)
        self.scram = sc
        self.send("<auth xmlns='%s' mechanism='%s'>%s</auth>" % (NS_SASL, mech, b64(sc.first())))
        e = self.recv()
        if e.tag != q(NS_SASL, 'challenge'):
            return SaslResult(False, condition=sasl_condition(e), elem=e, stage='first')
        server_first = unb64(e.text)
        final = sc.final(server_first, tamper_proof=tamper_proof, tamper_cb=tamper_cb)
        self.send("<response xmlns='%s'>%s</response>" % (NS_SASL, b64(final)))
        e = self.recv()
        res = SaslResult(False, elem=e, server_first=sc.server_first,
                         server_first_attrs=sc.server_first_attrs, stage='final')
        if e.tag == q(NS_SASL, 'success'):
            res.ok = True
            res.server_final = unb64(e.text)
            res.verified = sc.verify_final(res.server_final)
        else:
            res.condition = sasl_condition(e)
        return res

    def authenticate(self, user, password, mech='SCRAM-SHA-256', cb_type=None):
        if mech == 'PLAIN':
            r = self.auth_plain(user, password)
        else:
            hash_name = mech[len('SCRAM-'):]
            if hash_name.endswith('-PLUS'):
                hash_name = hash_name[:-5]
            r = self.auth_scram(user, password, hash_name, cb_type=cb_type)
        if not r.ok:
            raise XmppTestError('SASL %s failed for %s: %s (%s)'
                                % (mech, user, r.condition, tostr(r.elem)))
        if mech != 'PLAIN' and not r.verified:
            raise XmppTestError('server signature (v=) did not verify')
        return r

    # ---- session

    def iq(self, payload, type='get', to=None, id=None, timeout=None, extra=''):
        """Sends an IQ and returns the response with the same id (other stanzas received in
        between are kept in self.pending_other)."""
        id = id or new_id('iq')
        to_attr = " to='%s'" % to if to else ''
        self.send("<iq type='%s' id='%s'%s%s>%s</iq>" % (type, id, to_attr, extra, payload))
        return self.wait_iq(id, timeout)

    def wait_iq(self, id, timeout=None):
        deadline = self._deadline(timeout)
        while True:
            e = self.recv(timeout=max(0.01, deadline - time.monotonic()))
            if e.tag == q(NS_CLIENT, 'iq') and e.get('id') == id \
                    and e.get('type') in ('result', 'error'):
                return e
            self.others.append(e)

    def recv_stanza(self, pred: Callable[[ET.Element], bool] = lambda e: True, timeout=None):
        for i, e in enumerate(self.others):
            if pred(e):
                return self.others.pop(i)
        deadline = self._deadline(timeout)
        while True:
            e = self.recv(timeout=max(0.01, deadline - time.monotonic()))
            if pred(e):
                return e
            self.others.append(e)

    def bind(self, resource=None):
        payload = "<bind xmlns='%s'>%s</bind>" % (
            NS_BIND, '<resource>%s</resource>' % xml_escape(resource) if resource else '')
        r = self.iq(payload, type='set')
        if r.get('type') != 'result':
            raise XmppTestError('bind failed: %s' % tostr(r))
        jid = r.find('%s/%s' % (q(NS_BIND, 'bind'), q(NS_BIND, 'jid')))
        if jid is None:
            raise XmppTestError('bind result without <jid/>: %s' % tostr(r))
        self.jid = jid.text
        return self.jid

    def login(self, user, password, mech='SCRAM-SHA-256', resource=None, cb_type=None,
              to='localhost', session=False):
        """TLS (STARTTLS unless the connection is already TLS), SASL, bind."""
        if self.t.tls is None:
            self.connect_tls(to=to)
        else:
            self.open(to=to)
        self.authenticate(user, password, mech, cb_type)
        self.open(to=to)
        if self.feature(NS_BIND, 'bind') is None:
            raise XmppTestError('no <bind/> feature after SASL: %s' % tostr(self.features))
        jid = self.bind(resource)
        if session:
            r = self.iq("<session xmlns='%s'/>" % NS_SESSION, type='set')
            if r.get('type') != 'result':
                raise XmppTestError('session failed: %s' % tostr(r))
        return jid

    def end_stream(self, timeout=None):
        """Sends </stream:stream>, expects </stream:stream> back and the TCP close."""
        self.send('</stream:stream>')
        deadline = self._deadline(timeout)
        while not self.stream_closed and not self.eof:
            self._read_more(deadline)
        got_close_tag = self.stream_closed
        self.wait_eof(max(0.01, deadline - time.monotonic()))
        return got_close_tag

    def dump(self):
        lines = ['--- transcript of %s (port %s) ---' % (self.name, self.port)]
        for d, text in self.transcript:
            lines.append('%s: %s' % (d, text))
        return '\n'.join(lines)

