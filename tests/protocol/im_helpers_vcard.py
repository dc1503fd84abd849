"""Helpers for the vcard-temp, avatar, private storage, last activity and caps tests."""
import base64
import hashlib
import time

import pytest

from rawxmpp import NS_CLIENT, Timeout, q, stanza_error, tostr

NS_VCARD = 'vcard-temp'
NS_VCARD_UPDATE = 'vcard-temp:x:update'
NS_PRIVATE = 'jabber:iq:private'
NS_LAST = 'jabber:iq:last'
NS_CAPS = 'http://jabber.org/protocol/caps'
NS_ROSTER = 'jabber:iq:roster'
NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info'

# A tiny PNG-like blob; what matters is that the server hashes the decoded bytes.
PHOTO_BYTES = b'\x89PNG\r\n\x1a\n' + bytes(range(256)) * 3
PHOTO_B64 = base64.b64encode(PHOTO_BYTES).decode()
PHOTO_SHA1 = hashlib.sha1(PHOTO_BYTES).hexdigest()


def wrapped_b64(data, width=76):
    s = base64.b64encode(data).decode()
    return '\n'.join(s[i:i + width] for i in range(0, len(s), width))


def condition(r):
    e = stanza_error(r)
    return e[1] if e else None


def assert_result(r):
    assert r.get('type') == 'result', tostr(r)
    return r


def assert_error(r, cond):
    assert r.get('type') == 'error', tostr(r)
    assert condition(r) == cond, tostr(r)
    return r


def vcard_set(c, inner, to=None):
    return c.iq("<vCard xmlns='vcard-temp'>%s</vCard>" % inner, type='set', to=to)


def vcard_get(c, to=None):
    return c.iq("<vCard xmlns='vcard-temp'/>", to=to)


def vcard_of(r):
    return r.find(q(NS_VCARD, 'vCard'))


def ping(c, server):
    assert_result(c.iq("<ping xmlns='urn:xmpp:ping'/>", to=server.domain))


def no_stanza(c, pred, wait=1.0):
    """True if no stanza matching pred arrives within `wait` seconds."""
    try:
        e = c.recv_stanza(pred, timeout=wait)
    except Timeout:
        return True
    c.others.append(e)
    return False


def is_presence_from(jid):
    return lambda e: e.tag == q(NS_CLIENT, 'presence') and e.get('from', '').startswith(jid)


def roster_sub(c, contact):
    """The subscription of `contact` in c's roster, or None (also if there is no roster module)."""
    r = c.iq("<query xmlns='%s'/>" % NS_ROSTER)
    if r.get('type') != 'result':
        return None
    for item in r.iter(q(NS_ROSTER, 'item')):
        if item.get('jid') == contact:
            return item.get('subscription')
    return None


def make_subscribed(server, owner_c, owner, contact_c, contact):
    """RFC 6121 §3.1: `contact` subscribes to `owner`'s presence and `owner` approves, so that
    owner's roster holds contact with subscription 'from' (or 'both')."""
    # RFC 6121 §3.1.3: the request goes to the owner's available resources.
    owner_c.send('<presence/>')
    ping(owner_c, server)
    contact_c.send("<presence to='%s@%s' type='subscribe'/>" % (owner, server.domain))
    owner_c.recv_stanza(lambda e: e.tag == q(NS_CLIENT, 'presence') and e.get('type') == 'subscribe',
                        timeout=5)
    owner_c.send("<presence to='%s@%s' type='subscribed'/>" % (contact, server.domain))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        sub = roster_sub(owner_c, '%s@%s' % (contact, server.domain))
        if sub in ('from', 'both'):
            return
        time.sleep(0.1)
    pytest.fail('the approval of %s@%s never reached the roster of %s' % (contact, server.domain, owner))


def caps_presence(node, ver, hash='sha-1', extra=''):
    return ("<presence><c xmlns='%s' hash='%s' node='%s' ver='%s'/>%s</presence>"
            % (NS_CAPS, hash, node, ver, extra))


def is_disco_query(e):
    return (e.tag == q(NS_CLIENT, 'iq') and e.get('type') == 'get'
            and e.find(q(NS_DISCO_INFO, 'query')) is not None)


def answer_disco(c, iq, body):
    node = iq.find(q(NS_DISCO_INFO, 'query')).get('node')
    c.send("<iq type='result' id='%s' to='%s'><query xmlns='%s' node='%s'>%s</query></iq>"
           % (iq.get('id'), iq.get('from'), NS_DISCO_INFO, node, body))


# XEP-0115 §5.2: the simple example, with its verification string.
EXODUS_NODE = 'http://code.google.com/p/exodus'
EXODUS_VER = 'QgayPKawpkPSDYmwT/WM94uAlu0='
EXODUS_INFO = ("<identity category='client' name='Exodus 0.9.1' type='pc'/>"
               "<feature var='http://jabber.org/protocol/caps'/>"
               "<feature var='http://jabber.org/protocol/disco#info'/>"
               "<feature var='http://jabber.org/protocol/disco#items'/>"
               "<feature var='http://jabber.org/protocol/muc'/>")


def caps_ver(identities, features):
    """XEP-0115 §5.1 for identities (category, type, lang, name) and features, no forms."""
    s = ''.join('%s/%s/%s/%s<' % i for i in sorted(identities))
    s += ''.join('%s<' % f for f in sorted(features))
    return base64.b64encode(hashlib.sha1(s.encode()).digest()).decode()


def disco_body(identities, features):
    out = ''
    for cat, typ, lang, name in identities:
        out += "<identity category='%s' type='%s'%s name='%s'/>" % (
            cat, typ, " xml:lang='%s'" % lang if lang else '', name)
    out += ''.join("<feature var='%s'/>" % f for f in features)
    return out
