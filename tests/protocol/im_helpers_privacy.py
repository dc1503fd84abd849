"""Helpers for the XEP-0016 (privacy lists) and XEP-0191 (blocking command) protocol tests."""
import time

import rawxmpp
from rawxmpp import NS_CLIENT, q, stanza_error, tostr

NS_PRIVACY = 'jabber:iq:privacy'
NS_BLOCKING = 'urn:xmpp:blocking'
NS_BLOCKING_ERRORS = 'urn:xmpp:blocking:errors'
DOMAIN = 'localhost'


def bare(user):
    return '%s@%s' % (user, DOMAIN)


def full(user, resource):
    return '%s@%s/%s' % (user, DOMAIN, resource)


def ok(r):
    assert r.get('type') == 'result', tostr(r)
    return r


def err_cond(r):
    assert r.get('type') == 'error', tostr(r)
    e = stanza_error(r)
    return e[1] if e else None


# ---- XEP-0191

def get_blocklist(c):
    r = ok(c.iq("<blocklist xmlns='%s'/>" % NS_BLOCKING))
    bl = r.find(q(NS_BLOCKING, 'blocklist'))
    assert bl is not None, tostr(r)
    return sorted(i.get('jid') for i in bl.findall(q(NS_BLOCKING, 'item')))


def block(c, *jids):
    items = ''.join("<item jid='%s'/>" % j for j in jids)
    return c.iq("<block xmlns='%s'>%s</block>" % (NS_BLOCKING, items), type='set')


def unblock(c, *jids):
    items = ''.join("<item jid='%s'/>" % j for j in jids)
    return c.iq("<unblock xmlns='%s'>%s</unblock>" % (NS_BLOCKING, items), type='set')


def is_push(ns, name):
    def pred(e):
        return (e.tag == q(NS_CLIENT, 'iq') and e.get('type') == 'set'
                and e.find(q(ns, name)) is not None)
    return pred


def expect_push(c, ns, name, timeout=5):
    """Waits for a push IQ, answers it (RFC 6120 §8.2.3) and returns its payload."""
    e = c.recv_stanza(is_push(ns, name), timeout=timeout)
    c.send("<iq type='result' id='%s'/>" % e.get('id'))
    return e.find(q(ns, name))


# ---- XEP-0016

def item_xml(action, order, type=None, value=None, kinds=()):
    attrs = "action='%s' order='%s'" % (action, order)
    if type:
        attrs = "type='%s' value='%s' " % (type, value) + attrs
    children = ''.join('<%s/>' % k for k in kinds)
    return '<item %s>%s</item>' % (attrs, children) if children else '<item %s/>' % attrs


def set_list(c, name, *items):
    return c.iq("<query xmlns='%s'><list name='%s'>%s</list></query>"
                % (NS_PRIVACY, name, ''.join(items)), type='set')


def remove_list(c, name):
    return c.iq("<query xmlns='%s'><list name='%s'/></query>" % (NS_PRIVACY, name), type='set')


def set_active(c, name=None):
    attr = " name='%s'" % name if name else ''
    return c.iq("<query xmlns='%s'><active%s/></query>" % (NS_PRIVACY, attr), type='set')


def set_default(c, name=None):
    attr = " name='%s'" % name if name else ''
    return c.iq("<query xmlns='%s'><default%s/></query>" % (NS_PRIVACY, attr), type='set')


def get_names(c):
    """(active, default, [names])"""
    r = ok(c.iq("<query xmlns='%s'/>" % NS_PRIVACY))
    qe = r.find(q(NS_PRIVACY, 'query'))
    act = qe.find(q(NS_PRIVACY, 'active'))
    dft = qe.find(q(NS_PRIVACY, 'default'))
    return (act.get('name') if act is not None else None,
            dft.get('name') if dft is not None else None,
            sorted(l.get('name') for l in qe.findall(q(NS_PRIVACY, 'list'))))


def get_list(c, name):
    return c.iq("<query xmlns='%s'><list name='%s'/></query>" % (NS_PRIVACY, name))


def reset(server, *users):
    """Clears blocklists and privacy lists of `users` (tests share one server)."""
    for u in users:
        c = server.login(u, resource='reset')
        drain_ok(unblock(c))
        # Sessions of the previous test may still be closing (conflict meanwhile).
        for attempt in range(50):
            r = set_default(c)
            if r.get('type') == 'result':
                break
            time.sleep(0.1)
        drain_ok(r)
        for name in get_names(c)[2]:
            for attempt in range(50):
                r = remove_list(c, name)
                if r.get('type') == 'result':
                    break
                time.sleep(0.1)
            drain_ok(r)
        c.end_stream()
        c.close()


def drain_ok(r):
    ok(r)


# ---- stanzas

def send_message(c, to, body, id=None, type='chat'):
    id = id or rawxmpp.new_id('m')
    c.send("<message to='%s' id='%s' type='%s'><body>%s</body></message>" % (to, id, type, body))
    return id


def is_message_with(body):
    def pred(e):
        return e.tag == q(NS_CLIENT, 'message') and e.findtext(q(NS_CLIENT, 'body')) == body \
            and e.get('type') != 'error'
    return pred


def is_error_for(tag, id):
    def pred(e):
        return e.tag == q(NS_CLIENT, tag) and e.get('id') == id and e.get('type') == 'error'
    return pred


def expect_error(c, tag, id, timeout=5):
    return c.recv_stanza(is_error_for(tag, id), timeout=timeout)


def expect_none(c, pred, timeout=0.8):
    """Asserts that no stanza matching `pred` arrives within `timeout` seconds."""
    for e in c.others:
        assert not pred(e), 'unexpected stanza: %s' % tostr(e)
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        try:
            e = c.recv(timeout=left)
        except rawxmpp.Timeout:
            return
        assert not pred(e), 'unexpected stanza: %s' % tostr(e)
        c.others.append(e)


def has_blocked_child(e):
    err = e.find(q(NS_CLIENT, 'error'))
    return err is not None and err.find(q(NS_BLOCKING_ERRORS, 'blocked')) is not None


def sync(c):
    """A round trip to the server: everything the server sent before is now readable."""
    ok(c.iq("<ping xmlns='urn:xmpp:ping'/>", to=DOMAIN))


# ---- roster and presence (RFC 6121)

NS_ROSTER = 'jabber:iq:roster'


def roster_set(c, contact, groups=()):
    g = ''.join('<group>%s</group>' % x for x in groups)
    return ok(c.iq("<query xmlns='%s'><item jid='%s'>%s</item></query>" % (NS_ROSTER, contact, g),
                   type='set'))


def roster_remove(c, contact):
    return c.iq("<query xmlns='%s'><item jid='%s' subscription='remove'/></query>"
                % (NS_ROSTER, contact), type='set')


def is_presence(frm=None, type=None):
    def pred(e):
        if e.tag != q(NS_CLIENT, 'presence'):
            return False
        if frm is not None and not (e.get('from') or '').startswith(frm):
            return False
        return (e.get('type') or None) == type
    return pred


def subscribe_mutually(c1, u1, c2, u2):
    """Mutual presence subscription (RFC 6121 §3.1) between two online users (both become
    available first: requests are delivered to available resources, RFC 6121 §3.1.3)."""
    c1.send('<presence/>')
    c2.send('<presence/>')
    sync(c1)
    sync(c2)
    for (a, ua, b, ub) in ((c1, u1, c2, u2), (c2, u2, c1, u1)):
        a.send("<presence to='%s' type='subscribe'/>" % bare(ub))
        b.recv_stanza(is_presence(bare(ua), 'subscribe'))
        b.send("<presence to='%s' type='subscribed'/>" % bare(ua))
        a.recv_stanza(is_presence(bare(ub), 'subscribed'))
    sync(c1)
    sync(c2)
