"""Helpers for the federation tests (RFC 6120 server-to-server, XEP-0220 dialback, XEP-0178
SASL EXTERNAL): pairs of starlingd instances with their own domains on loopback, joined by
[s2s.routes] overrides; certificates made for them; raw server-to-server peers (as the
initiating server, and as the authoritative server a Starling dials back to) for bad input."""
import os
import socket
import subprocess
import time

import rawxmpp
from conftest import free_port
from rawxmpp import NS_CLIENT, NS_STANZAS, q, stanza_error, tostr

NS_SERVER = 'jabber:server'
NS_DB = 'jabber:server:dialback'
NS_DB_FEATURE = 'urn:xmpp:features:dialback'
MSG = q(NS_CLIENT, 'message')
PRES = q(NS_CLIENT, 'presence')

_n = [0]


def uniq(prefix='s2s'):
    _n[0] += 1
    return '%s-%d-%d' % (prefix, os.getpid(), _n[0])


def s2s_listener(port):
    return {'type': 's2s', 'address': '127.0.0.1', 'port': port}


def start_federated(factory, domains, s2s=None, per_domain=None, tls=None, name_prefix='fed',
                    extra_hosts=None):
    """Starts one starlingd per domain, each with an s2s listener and [s2s.routes] to all the
    others. `s2s`: extra [s2s] settings for all; `per_domain`: {domain: {[s2s] settings}};
    `tls`: {domain: {[tls] settings}}; `extra_hosts`: {domain: [more local domains of that
    server]}. Returns {domain: Server}."""
    ports = {d: free_port() for d in domains}
    extra_hosts = extra_hosts or {}
    served_by = {d: d for d in domains}
    for d, hosts in extra_hosts.items():
        for h in hosts:
            served_by[h] = d
    servers = {}
    for d in domains:
        routes = {h: '127.0.0.1:%d' % ports[owner] for h, owner in served_by.items() if owner != d}
        s2s_cfg = {'connect_timeout': 5, 'handshake_timeout': 10}
        s2s_cfg.update(s2s or {})
        s2s_cfg.update((per_domain or {}).get(d, {}))
        s2s_cfg['routes'] = dict(routes, **s2s_cfg.get('routes', {}))
        overrides = {'host': [{'name': d}], 's2s': s2s_cfg}
        if tls and tls.get(d):
            overrides['tls'] = tls[d]
        srv = factory.start('%s-%s' % (name_prefix, d), overrides=overrides,
                            extra_listeners=[s2s_listener(ports[d])],
                            extra_hosts=[{'name': h} for h in extra_hosts.get(d, [])])
        srv.s2s_port = ports[d]
        servers[d] = srv
    return servers


def login(srv, user='alice', resource=None, presence=False):
    c = srv.client(name='%s@%s/%s' % (user, srv.domain, resource))
    c.login(user, srv.password, resource=resource or uniq('r'), to=srv.domain)
    if presence:
        c.send('<presence/>')
        # Our own available presence comes back (RFC 6121 §4.2.2).
        c.recv_stanza(lambda e: e.tag == PRES and e.get('from') == c.jid and e.get('type') is None)
    return c


def recv_message(c, frm=None, body=None, timeout=15):
    def match(e):
        if e.tag != MSG:
            return False
        if frm is not None and not (e.get('from') or '').startswith(frm):
            return False
        if body is not None and e.findtext(q(NS_CLIENT, 'body')) != body:
            return False
        return True
    return c.recv_stanza(match, timeout=timeout)


def recv_error(c, id, timeout=15):
    """The error reply (any stanza kind) with this id; returns (condition, stanza)."""
    e = c.recv_stanza(lambda x: x.get('id') == id and x.get('type') == 'error', timeout=timeout)
    return stanza_error(e)[1] if stanza_error(e) else None, e


def send_message(c, to, body, id=None, type='chat'):
    id = id or uniq('msg')
    c.send("<message to='%s' type='%s' id='%s'><body>%s</body></message>"
           % (to, type, id, rawxmpp.xml_escape(body)))
    return id


def make_certificate(directory, domain):
    """A self-signed certificate for `domain` (subjectAltName DNS), written as PEM files;
    returns (cert_path, key_path)."""
    cert = os.path.join(directory, '%s.crt' % domain)
    key = os.path.join(directory, '%s.key' % domain)
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
                    '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=%s' % domain,
                    '-addext', 'subjectAltName=DNS:%s' % domain],
                   check=True, capture_output=True, timeout=60)
    return cert, key


# ---- raw server-to-server peers


class RawServer(rawxmpp.Client):
    """A raw server-to-server stream (we play the other server)."""

    def s2s_header(self, to, frm=None, id=None, version='1.0'):
        attrs = ["xmlns='jabber:server'", "xmlns:stream='http://etherx.jabber.org/streams'",
                 "xmlns:db='jabber:server:dialback'"]
        if to is not None:
            attrs.append("to='%s'" % to)
        if frm is not None:
            attrs.append("from='%s'" % frm)
        if id is not None:
            attrs.append("id='%s'" % id)
        if version is not None:
            attrs.append("version='%s'" % version)
        return "<?xml version='1.0'?><stream:stream %s>" % ' '.join(attrs)

    def open_s2s(self, to, frm, features=True):
        return self.open(raw=self.s2s_header(to, frm), features=features)

    def recv_db(self, name, timeout=None):
        return self.recv_stanza(lambda e: e.tag == q(NS_DB, name), timeout=timeout)


def connect_raw(srv, name='raw-peer'):
    return RawServer(srv.s2s_port, name=name)


class AuthoritativeListener:
    """A listening socket that a Starling dials (through its [s2s.routes]) to verify dialback
    keys for a domain we play, or that stays silent to test timeouts."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = []

    def accept(self, timeout=15):
        self.sock.settimeout(timeout)
        s, _ = self.sock.accept()
        self.accepted.append(s)
        return RawServer(0, sock=s, name='authoritative')

    def close(self):
        for s in self.accepted:
            try:
                s.close()
            except OSError:
                pass
        self.sock.close()


def answer_verify(auth, domain, valid=True, timeout=15):
    """On an accepted stream from Starling (which opened it to `domain`), play the
    Authoritative Server: header, dialback feature, then answer its <db:verify/>. Returns the
    verify request."""
    attrs = auth.wait_header(timeout)
    assert attrs.get('to') == domain, attrs
    auth.send(auth.s2s_header(to=attrs.get('from'), frm=domain, id=uniq('sid')))
    auth.send("<stream:features><dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback>"
              "</stream:features>")
    v = auth.recv_db('verify', timeout=timeout)
    auth.send("<db:verify from='%s' to='%s' id='%s' type='%s'/>"
              % (v.get('to'), v.get('from'), v.get('id'), 'valid' if valid else 'invalid'))
    return v
