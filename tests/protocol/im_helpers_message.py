"""Helpers for the message routing / offline storage tests (RFC 6121 §8.5, XEP-0160,
XEP-0013, XEP-0203): waiting for messages, comparing payloads as XML trees, XEP-0013 queries,
and a restartable server for durability tests."""
import os
import re
import time


from rawxmpp import NS_CLIENT, NS_DISCO_INFO, NS_DISCO_ITEMS, q, stanza_error, tostr

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
NS_DELAY = 'urn:xmpp:delay'
NS_OFFLINE = 'http://jabber.org/protocol/offline'
NS_DATA = 'jabber:x:data'
MSG = q(NS_CLIENT, 'message')
# XEP-0082 §3.2 DateTime in UTC.
XEP0082_UTC = re.compile(r'^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$')

_counter = [0]


def uniq(prefix='m'):
    _counter[0] += 1
    return '%s-%d-%d' % (prefix, os.getpid(), _counter[0])


def login(server, user, resource=None):
    return server.login(user, resource=resource or uniq(user))


def send_msg(c, to, body=None, type=None, id=None, payload=''):
    id = id or uniq('msg')
    attrs = " to='%s' id='%s'" % (to, id) if to is not None else " id='%s'" % id
    if type is not None:
        attrs += " type='%s'" % type
    b = '<body>%s</body>' % body if body is not None else ''
    c.send('<message%s>%s%s</message>' % (attrs, b, payload))
    return id


def recv_msg(c, id=None, body=None, timeout=5):
    """The next <message/> (with this id / body if given)."""
    def pred(e):
        if e.tag != MSG:
            return False
        if id is not None and e.get('id') != id:
            return False
        if body is not None and e.findtext(q(NS_CLIENT, 'body')) != body:
            return False
        return True
    return c.recv_stanza(pred, timeout=timeout)


def no_msg(c, id=None, wait=0.6):
    """Asserts that no <message/> (with this id) arrives within `wait` seconds; a ping round
    trip first makes sure the server has processed what was sent before."""
    sync(c)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            e = recv_msg(c, id=id, timeout=max(0.05, deadline - time.monotonic()))
        except AssertionError:
            return
        raise AssertionError('unexpected message: %s' % tostr(e))


def sync(c):
    r = c.iq("<ping xmlns='urn:xmpp:ping'/>", to='localhost')
    assert r.get('type') == 'result', tostr(r)


def assert_error(elem, cond, type_=None):
    err = stanza_error(elem)
    assert elem.get('type') == 'error' and err is not None, tostr(elem)
    assert err[1] == cond, 'expected <%s/>, got %s' % (cond, tostr(elem))
    if type_:
        assert err[0] == type_, tostr(elem)


# ---- XML tree comparison

def canon(e):
    """A comparable form of an element tree: tag, attributes, text, children, tails."""
    return (e.tag, tuple(sorted(e.attrib.items())), e.text or '',
            tuple((canon(c), c.tail or '') for c in e))


def payload(msg, drop_server_delay_from=None):
    """The children of a message minus what the server adds on offline delivery: its own
    XEP-0203 <delay from=domain/> and the XEP-0013 <offline/> tag; and, on any delivery, the
    recipient's archive id (XEP-0313 §3.3: <stanza-id by='recipient bare JID'/>)."""
    out = []
    archive = (msg.get('to') or '').split('/')[0]
    for c in msg:
        if c.tag == '{urn:xmpp:sid:0}stanza-id' and c.get('by') == archive:
            continue
        if c.tag == q(NS_DELAY, 'delay') and drop_server_delay_from is not None \
                and c.get('from') == drop_server_delay_from:
            continue
        if c.tag == q(NS_OFFLINE, 'offline'):
            continue
        out.append(canon(c))
    return out


def server_delay(msg, domain='localhost'):
    for d in msg.findall(q(NS_DELAY, 'delay')):
        if d.get('from') == domain:
            return d
    return None


# ---- XEP-0013

def offline_count(c):
    r = c.iq("<query xmlns='%s' node='%s'/>" % (NS_DISCO_INFO, NS_OFFLINE))
    assert r.get('type') == 'result', tostr(r)
    for f in r.iter(q(NS_DATA, 'field')):
        if f.get('var') == 'number_of_messages':
            return int(f.findtext(q(NS_DATA, 'value')))
    raise AssertionError('no number_of_messages: %s' % tostr(r))


def offline_headers(c):
    r = c.iq("<query xmlns='%s' node='%s'/>" % (NS_DISCO_ITEMS, NS_OFFLINE))
    assert r.get('type') == 'result', tostr(r)
    return [(i.get('jid'), i.get('node'), i.get('name')) for i in r.iter(q(NS_DISCO_ITEMS, 'item'))]


def offline_fetch(c, timeout=5):
    """XEP-0013 §2.6: all messages (sent before the result), in order."""
    r = c.iq("<offline xmlns='%s'><fetch/></offline>" % NS_OFFLINE, timeout=timeout)
    assert r.get('type') == 'result', tostr(r)
    msgs = [e for e in c.others if e.tag == MSG and e.find(q(NS_OFFLINE, 'offline')) is not None]
    for m in msgs:
        c.others.remove(m)
    return msgs


def offline_purge(c):
    r = c.iq("<offline xmlns='%s'><purge/></offline>" % NS_OFFLINE, type='set')
    assert r.get('type') == 'result', tostr(r)


def offline_node_of(msg):
    item = msg.find('%s/%s' % (q(NS_OFFLINE, 'offline'), q(NS_OFFLINE, 'item')))
    return None if item is None else item.get('node')


def wait_offline_count(c, n, timeout=5):
    """Storage is asynchronous: waits until the queue holds n messages."""
    deadline = time.monotonic() + timeout
    while True:
        got = offline_count(c)
        if got == n or time.monotonic() > deadline:
            return got
        time.sleep(0.05)
