"""Helpers for the RFC 6121 roster/subscription/presence tests (raw XML over rawxmpp)."""
import itertools
import time

import rawxmpp
from rawxmpp import q, NS_CLIENT

NS_ROSTER = 'jabber:iq:roster'
NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'

_counter = itertools.count()


def fresh_user(server, prefix='u'):
    """A new account, so that tests do not share roster state."""
    name = '%s%d%d' % (prefix, int(time.time() * 1000) % 100000, next(_counter))
    server.adduser(name)
    return name


def bare(server, user):
    return '%s@%s' % (user, server.domain)


def online(server, user, resource='r1', roster=True, presence=True, priority=None):
    """Logs in; optionally requests the roster (becoming an interested resource) and sends
    initial presence."""
    c = server.login(user, resource=resource)
    if roster:
        r = c.iq("<query xmlns='%s'/>" % NS_ROSTER)
        assert r.get('type') == 'result', rawxmpp.tostr(r)
    if presence:
        body = '<priority>%d</priority>' % priority if priority is not None else ''
        c.send('<presence>%s</presence>' % body)
    return c


def error_condition(elem):
    err = elem.find(q(NS_CLIENT, 'error'))
    if err is None:
        return None
    for child in err:
        if child.tag.startswith('{%s}' % NS_STANZAS) and not child.tag.endswith('}text'):
            return child.tag.split('}')[1]
    return None


def roster_items(iq):
    """{jid: {'subscription', 'ask', 'name', 'approved', 'groups'}} of a roster result or push."""
    out = {}
    query = iq.find(q(NS_ROSTER, 'query'))
    if query is None:
        return out
    for item in query.findall(q(NS_ROSTER, 'item')):
        out[item.get('jid')] = {
            'subscription': item.get('subscription'),
            'ask': item.get('ask'),
            'name': item.get('name'),
            'approved': item.get('approved'),
            'groups': sorted(g.text or '' for g in item.findall(q(NS_ROSTER, 'group'))),
        }
    return out


def roster_get(c, ver=None):
    attr = " ver='%s'" % ver if ver is not None else ''
    r = c.iq("<query xmlns='%s'%s/>" % (NS_ROSTER, attr))
    assert r.get('type') == 'result', rawxmpp.tostr(r)
    return r


def roster_set(c, jid, name=None, groups=(), extra=''):
    attrs = " jid='%s'" % jid
    if name is not None:
        attrs += " name='%s'" % name
    body = ''.join('<group>%s</group>' % g for g in groups)
    return c.iq("<query xmlns='%s'><item%s%s>%s</item></query>" % (NS_ROSTER, attrs, extra, body),
                type='set')


def is_push(jid=None):
    def pred(e):
        if e.tag != q(NS_CLIENT, 'iq') or e.get('type') != 'set':
            return False
        items = roster_items(e)
        return bool(items) and (jid is None or jid in items)
    return pred


def wait_push(c, jid=None, timeout=5):
    e = c.recv_stanza(is_push(jid), timeout=timeout)
    # RFC 6121 §2.1.6: acknowledge the push.
    c.send("<iq type='result' id='%s'/>" % e.get('id'))
    return e


def is_presence(frm=None, type=None, bare_from=False):
    def pred(e):
        if e.tag != q(NS_CLIENT, 'presence'):
            return False
        if type is not None and (e.get('type') or 'available') != type:
            return False
        f = e.get('from') or ''
        if bare_from:
            f = f.split('/')[0]
        return frm is None or f == frm
    return pred


def wait_presence(c, frm=None, type=None, bare_from=False, timeout=5):
    return c.recv_stanza(is_presence(frm, type, bare_from), timeout=timeout)


def no_stanza(c, pred, timeout=0.6):
    """Asserts that nothing matching `pred` arrives within `timeout`."""
    try:
        e = c.recv_stanza(pred, timeout=timeout)
    except rawxmpp.Timeout:
        return
    except rawxmpp.Closed:
        return
    raise AssertionError('unexpected stanza: %s' % rawxmpp.tostr(e))


def item_state(c, jid):
    items = roster_items(roster_get(c))
    return items.get(jid)


def wait_item(c, jid, subscription, ask=None, timeout=5):
    """Polls the roster until the item for `jid` has the given subscription/ask."""
    deadline = time.monotonic() + timeout
    while True:
        it = item_state(c, jid)
        got = (it['subscription'], it['ask']) if it else None
        if got == (subscription, ask):
            return it
        if time.monotonic() > deadline:
            raise AssertionError('roster item %s: %r, expected %r' % (jid, got, (subscription, ask)))
        time.sleep(0.05)


def subscribe_both(a, A, b, B):
    """RFC 6121 §3.1: a (bare JID A) and b (B), both online and interested, subscribe to each
    other; every step is checked in the rosters, ending as 'both' on both sides."""
    a.send("<presence to='%s' type='subscribe'/>" % B)
    wait_item(a, B, 'none', 'subscribe')
    b.send("<presence to='%s' type='subscribed'/>" % A)
    wait_item(a, B, 'to')
    b.send("<presence to='%s' type='subscribe'/>" % A)
    wait_item(b, A, 'from', 'subscribe')
    a.send("<presence to='%s' type='subscribed'/>" % B)
    wait_item(a, B, 'both')
    wait_item(b, A, 'both')


def close_all(*clients):
    for c in clients:
        try:
            c.close()
        except Exception:
            pass
