"""Helpers for the XEP-0198 / XEP-0352 / XEP-0357 tests: a raw client that keeps the stream
management counters (counts the stanzas it receives, answers the server's <r/> if asked to),
dropping a TCP connection without closing the stream, resuming on a new connection."""
import socket
import time

import rawxmpp
from rawxmpp import q, NS_CLIENT, NS_STANZAS, tostr
from im_helpers_roster import fresh_user, bare, close_all, subscribe_both, NS_ROSTER

NS_SM = 'urn:xmpp:sm:3'
NS_CSI = 'urn:xmpp:csi:0'
NS_PUSH = 'urn:xmpp:push:0'
NS_DATA = 'jabber:x:data'
NS_PUBSUB = 'http://jabber.org/protocol/pubsub'
NS_CHATSTATES = 'http://jabber.org/protocol/chatstates'
STANZAS = (q(NS_CLIENT, 'message'), q(NS_CLIENT, 'presence'), q(NS_CLIENT, 'iq'))


def is_stanza(e):
    return e.tag in STANZAS


class Sm:
    """Stream management bookkeeping on top of a rawxmpp.Client: `h` counts the stanzas
    received since <enable/> (or carried over from a resumed stream), modulo 2^32."""

    def __init__(self, client, h=0, auto_ack=True):
        self.c = client
        self.h = h
        self.auto_ack = auto_ack
        self.acks = []  # 'h' of the <a/> elements the server sent
        self.requests = 0  # <r/> from the server
        self.received = []  # every stanza, in order

    def _take(self, e):
        """Books one element; returns it if it is a stanza, else None."""
        if e.tag == q(NS_SM, 'r'):
            self.requests += 1
            if self.auto_ack:
                self.ack()
            return None
        if e.tag == q(NS_SM, 'a'):
            self.acks.append(int(e.get('h')))
            return None
        if is_stanza(e):
            self.h = (self.h + 1) % 2**32
            self.received.append(e)
            return e
        return e

    def ack(self):
        self.c.send("<a xmlns='%s' h='%d'/>" % (NS_SM, self.h))

    def recv(self, pred=lambda e: True, timeout=5):
        """The next element matching pred (SM elements are booked, not returned unless asked
        for by pred on the raw element)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise rawxmpp.Timeout('nothing matching within %.1fs' % timeout)
            e = self.c.recv(timeout=left)
            if pred(e) and not is_stanza(e):
                self._take(e)
                return e
            got = self._take(e)
            if got is not None and pred(got):
                return got

    def recv_nonza(self, name, timeout=5):
        return self.recv(lambda e: e.tag == q(NS_SM, name), timeout)

    def drain(self, wait=0.5):
        """Everything that arrives within `wait` seconds."""
        out = []
        try:
            while True:
                out.append(self.recv(lambda e: True, timeout=wait))
        except (rawxmpp.Timeout, rawxmpp.Closed):
            pass
        return [e for e in out if is_stanza(e)]

    def server_h(self, timeout=5):
        """Sends <r/> and returns the server's 'h'."""
        self.c.send("<r xmlns='%s'/>" % NS_SM)
        return int(self.recv_nonza('a', timeout).get('h'))

    def iq(self, payload, type='get', to=None, timeout=5):
        id = rawxmpp.new_id('smiq')
        to_attr = " to='%s'" % to if to else ''
        self.c.send("<iq type='%s' id='%s'%s>%s</iq>" % (type, id, to_attr, payload))
        return self.recv(lambda e: e.tag == q(NS_CLIENT, 'iq') and e.get('id') == id
                         and e.get('type') in ('result', 'error'), timeout)


def enable(c, resume=True, max=None):
    attrs = " resume='true'" if resume else ''
    if max is not None:
        attrs += " max='%d'" % max
    c.send("<enable xmlns='%s'%s/>" % (NS_SM, attrs))
    e = c.recv()
    return e


def sm_login(server, user, resource, resume=True, max=None, presence=True, roster=True):
    """Logs in, optionally fetches the roster and sends presence, then enables stream
    management. Returns (Sm, <enabled/>)."""
    c = server.login(user, resource=resource)
    if roster:
        r = c.iq("<query xmlns='%s'/>" % NS_ROSTER)
        assert r.get('type') == 'result', tostr(r)
    e = enable(c, resume, max)
    assert e.tag == q(NS_SM, 'enabled'), tostr(e)
    sm = Sm(c)
    if presence:
        c.send('<presence/>')
    return sm, e


def drop(c):
    """The TCP connection goes away without </stream:stream> (a phone losing its network)."""
    try:
        c.t.sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    c.close()


def authenticated(server, user):
    """A new connection, authenticated as `user`, stream restarted, not bound."""
    c = server.client(name='%s/resume' % user)
    c.connect_tls()
    c.authenticate(user, server.password)
    c.open()
    return c


def resume(server, user, previd, h):
    """Returns (client, answer) for <resume/> on a new authenticated connection."""
    c = authenticated(server, user)
    assert c.feature(NS_SM, 'sm') is not None, tostr(c.features)
    c.send("<resume xmlns='%s' previd='%s' h='%d'/>" % (NS_SM, previd, h))
    return c, c.recv(allow_stream_error=True)


def failed_condition(e):
    for child in e:
        if child.tag.startswith('{%s}' % NS_STANZAS):
            return child.tag.split('}')[1]
    return None


def subscribed_both(server, prefix_a='sa', prefix_b='sb'):
    """Two fresh accounts with a mutual presence subscription."""
    an, bn = fresh_user(server, prefix_a), fresh_user(server, prefix_b)
    A, B = bare(server, an), bare(server, bn)
    a = server.login(an, resource='setup')
    b = server.login(bn, resource='setup')
    for c in (a, b):
        c.iq("<query xmlns='%s'/>" % NS_ROSTER)
    subscribe_both(a, A, b, B)
    close_all(a, b)
    return an, bn, A, B


def message(c, to, body, id, type='chat', payload=''):
    b = '<body>%s</body>' % body if body is not None else ''
    c.send("<message to='%s' id='%s' type='%s'>%s%s</message>" % (to, id, type, b, payload))


def messages_with_ids(stanzas):
    return [e.get('id') for e in stanzas if e.tag == q(NS_CLIENT, 'message')]


def form_fields(x):
    out = {}
    for f in x.findall(q(NS_DATA, 'field')):
        out[f.get('var')] = [v.text or '' for v in f.findall(q(NS_DATA, 'value'))]
    return out
