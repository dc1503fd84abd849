"""Helpers for the PubSub/PEP tests (XEP-0060, XEP-0163 and the payloads on top): raw XML
clients that announce +notify interest through verified XEP-0115 caps."""
import itertools
import time

from im_helpers_vcard import (answer_disco, caps_presence, caps_ver, disco_body, is_disco_query,
                              make_subscribed, no_stanza, ping)
from rawxmpp import NS_CLIENT, q, stanza_error, tostr

NS_PUBSUB = 'http://jabber.org/protocol/pubsub'
NS_PUBSUB_OWNER = 'http://jabber.org/protocol/pubsub#owner'
NS_PUBSUB_EVENT = 'http://jabber.org/protocol/pubsub#event'
NS_PUBSUB_ERRORS = 'http://jabber.org/protocol/pubsub#errors'
NS_DATA = 'jabber:x:data'
NS_DELAY = 'urn:xmpp:delay'

_ids = itertools.count()
READY_PREFIX = 'urn:example:pep-test:ready:'

__all__ = ['make_subscribed', 'no_stanza', 'ping']


def notify_login(server, user, resource, nodes, presence_extra=''):
    """Logs in and sends available presence with caps whose features include NODE+notify for
    each node; answers the server's disco#info query (a unique client name makes the
    verification string new, so the query always comes). Returns once the server acts on the
    interest: the client first publishes to a node of its own that only it is interested in,
    and waits for that node's last item, which PEP sends when the caps become known
    (XEP-0163 §4.3.4) — so no test races the background caps verification."""
    c = server.login(user, resource=resource)
    n = next(_ids)
    ready = READY_PREFIX + str(n)
    r = publish(c, ready, "<ready xmlns='urn:example:pep-test'/>", item_id='r')
    assert r.get('type') == 'result', tostr(r)
    ident = [('client', 'pc', '', 'pep-test-%s-%s-%d' % (user, resource, n))]
    feats = ['http://jabber.org/protocol/caps', 'http://jabber.org/protocol/disco#info']
    feats += ['%s+notify' % x for x in list(nodes) + [ready]]
    node = 'urn:example:pep-test'
    c.pep_presence = caps_presence(node, caps_ver(ident, feats), extra=presence_extra)
    c.send(c.pep_presence)
    iq = c.recv_stanza(is_disco_query, timeout=5)
    answer_disco(c, iq, disco_body(ident, feats))
    wait_event(c, node=ready)
    return c


def pubsub_iq(c, body, type='set', to=None, owner=False):
    ns = NS_PUBSUB_OWNER if owner else NS_PUBSUB
    return c.iq("<pubsub xmlns='%s'>%s</pubsub>" % (ns, body), type=type, to=to)


def options_form(fields, form_type='http://jabber.org/protocol/pubsub#publish-options'):
    out = ("<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>%s</value></field>"
           % form_type)
    for k, v in fields.items():
        vals = v if isinstance(v, (list, tuple)) else [v]
        out += "<field var='%s'>%s</field>" % (k, ''.join('<value>%s</value>' % x for x in vals))
    return out + '</x>'


def publish(c, node, payload, item_id=None, options=None, to=None):
    item = "<item id='%s'>" % item_id if item_id is not None else '<item>'
    body = "<publish node='%s'>%s%s</item></publish>" % (node, item, payload)
    if options:
        body += '<publish-options>%s</publish-options>' % options_form(options)
    return pubsub_iq(c, body, to=to)


def published_id(r):
    assert r.get('type') == 'result', tostr(r)
    return r.find('%s/%s/%s' % (q(NS_PUBSUB, 'pubsub'), q(NS_PUBSUB, 'publish'), q(NS_PUBSUB, 'item'))).get('id')


def get_items(c, to, node, extra='', inner=''):
    if inner:
        return pubsub_iq(c, "<items node='%s'%s>%s</items>" % (node, extra, inner), type='get', to=to)
    return pubsub_iq(c, "<items node='%s'%s/>" % (node, extra), type='get', to=to)


def items_of(r):
    """[(id, payload element)] of an items result."""
    assert r.get('type') == 'result', tostr(r)
    its = r.find('%s/%s' % (q(NS_PUBSUB, 'pubsub'), q(NS_PUBSUB, 'items')))
    return [(i.get('id'), next(iter(i), None)) for i in its.findall(q(NS_PUBSUB, 'item'))]


def pubsub_error(r):
    """(condition, pubsub#errors condition or None) of an error reply."""
    assert r.get('type') == 'error', tostr(r)
    err = stanza_error(r)
    app = None
    e = r.find(q(NS_CLIENT, 'error'))
    for child in e:
        if child.tag.startswith('{%s}' % NS_PUBSUB_ERRORS):
            app = child.tag.split('}')[1]
    return err[1], app


def is_event(frm=None, node=None):
    def pred(e):
        if e.tag != q(NS_CLIENT, 'message'):
            return False
        ev = e.find(q(NS_PUBSUB_EVENT, 'event'))
        if ev is None:
            return False
        if frm is not None and e.get('from') != frm:
            return False
        if node is not None:
            return any(x.get('node') == node for x in ev)
        # notify_login()'s own readiness node may be notified twice (publish and last item).
        return not any((x.get('node') or '').startswith(READY_PREFIX) for x in ev)
    return pred


def wait_event(c, frm=None, node=None, timeout=5):
    return c.recv_stanza(is_event(frm, node), timeout=timeout)


def event_items(msg):
    """[(kind, id, payload)] of an event: kind 'item' or 'retract'."""
    ev = msg.find(q(NS_PUBSUB_EVENT, 'event'))
    out = []
    for its in ev.findall(q(NS_PUBSUB_EVENT, 'items')):
        for x in its:
            kind = x.tag.split('}')[1]
            out.append((kind, x.get('id'), next(iter(x), None)))
    return out


def configure(c, node, fields, to=None):
    return pubsub_iq(c, "<configure node='%s'>%s</configure>"
                     % (node, options_form(fields, 'http://jabber.org/protocol/pubsub#node_config')),
                     owner=True, to=to)


def set_affiliation(c, node, jid, aff):
    return pubsub_iq(c, "<affiliations node='%s'><affiliation jid='%s' affiliation='%s'/></affiliations>"
                     % (node, jid, aff), owner=True)


def wait_until(pred, timeout=5.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()
