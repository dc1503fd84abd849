"""XEP-0280 Message Carbons with three resources of one account: <sent/> and <received/>
copies, <private/> and XEP-0334 <no-copy/>, a resource without carbons, disabling, messages
to the bare JID not copied twice, ineligible types, the MAM archive id in the copies."""
import pytest

from mam_helpers import (MSG, NS_CARBONS, NS_FWD, NS_SID, fresh_user, no_msg, recv_msg, send, stanza_ids,
                         sync, uniq)
from rawxmpp import NS_CLIENT, NS_DISCO_INFO, q, tostr


def login(server, user, resource):
    return server.login(user, resource=resource)


def enable(c, on=True):
    r = c.iq("<%s xmlns='%s'/>" % ('enable' if on else 'disable', NS_CARBONS), type='set')
    assert r.get('type') == 'result', tostr(r)


def body_is(text):
    return lambda e: e.findtext(q(NS_CLIENT, 'body')) == text


def carbon(kind, body):
    """Predicate: a <sent/>/<received/> copy of the message with this body."""
    def pred(e):
        w = e.find(q(NS_CARBONS, kind))
        if w is None:
            return False
        inner = w.find('%s/%s' % (q(NS_FWD, 'forwarded'), MSG))
        return inner is not None and inner.findtext(q(NS_CLIENT, 'body')) == body
    return pred


def inner(e, kind):
    return e.find('%s/%s/%s' % (q(NS_CARBONS, kind), q(NS_FWD, 'forwarded'), MSG))


def any_carbon(e):
    return e.find(q(NS_CARBONS, 'sent')) is not None or e.find(q(NS_CARBONS, 'received')) is not None


@pytest.fixture
def trio(server):
    """alice-like account with resources r1, r2 (carbons on) and r3 (off), and a peer."""
    a, b = fresh_user(server, 'cc'), fresh_user(server, 'cc')
    r1, r2, r3 = (login(server, a, r) for r in ('r1', 'r2', 'r3'))
    peer = login(server, b, 'p')
    peer.send('<presence/>')  # messages to its bare JID reach it (RFC 6121 §8.5.2.1)
    sync(peer)
    enable(r1)
    enable(r2)
    yield a, b, r1, r2, r3, peer
    for c in (r1, r2, r3, peer):
        c.close()


def test_xep0280_4_feature(server):
    c = server.login('alice', resource='disco')
    r = c.iq("<query xmlns='%s'/>" % NS_DISCO_INFO, to='localhost')
    assert NS_CARBONS in {f.get('var') for f in r.iter(q(NS_DISCO_INFO, 'feature'))}, tostr(r)
    c.close()


def test_xep0280_7_received_copies(trio):
    a, b, r1, r2, r3, peer = trio
    body = uniq('in')
    send(peer, '%s@localhost/r1' % a, body)
    m = recv_msg(r1, body_is(body))
    assert not any_carbon(m)
    c = recv_msg(r2, carbon('received', body))
    # §7: from the bare JID, to the receiving resource, same type.
    assert (c.get('from'), c.get('to'), c.get('type')) == ('%s@localhost' % a, r2.jid, 'chat'), tostr(c)
    orig = inner(c, 'received')
    assert orig.get('from') == peer.jid and orig.get('to') == '%s@localhost/r1' % a
    # The copy carries the archive id the original got (XEP-0313 §3.3).
    assert stanza_ids(orig, by='%s@localhost' % a) == stanza_ids(m, by='%s@localhost' % a) != []
    no_msg(r3, carbon('received', body))
    no_msg(r1, carbon('received', body))


def test_xep0280_8_sent_copies(trio):
    a, b, r1, r2, r3, peer = trio
    body = uniq('out')
    send(r1, '%s@localhost' % b, body)
    m = recv_msg(peer, body_is(body))
    c = recv_msg(r2, carbon('sent', body))
    assert (c.get('from'), c.get('to')) == ('%s@localhost' % a, r2.jid), tostr(c)
    orig = inner(c, 'sent')
    assert orig.get('from') == r1.jid and orig.get('to') == '%s@localhost' % b
    # The sender's archive id goes to the copies, never to the peer (XEP-0313 §3.3).
    assert len(stanza_ids(orig, by='%s@localhost' % a)) == 1, tostr(orig)
    assert stanza_ids(m, by='%s@localhost' % a) == [], tostr(m)
    no_msg(r1, carbon('sent', body))
    no_msg(r3, carbon('sent', body))
    # §8: also when the sending client itself has not enabled carbons.
    body2 = uniq('out3')
    send(r3, '%s@localhost' % b, body2)
    recv_msg(r1, carbon('sent', body2))
    recv_msg(r2, carbon('sent', body2))


def test_xep0280_private_and_no_copy(trio):
    a, b, r1, r2, r3, peer = trio
    priv = uniq('priv')
    send(r1, '%s@localhost' % b, priv,
         payload="<private xmlns='%s'/><no-copy xmlns='urn:xmpp:hints'/>" % NS_CARBONS)
    m = recv_msg(peer, body_is(priv))
    assert m.find(q(NS_CARBONS, 'private')) is not None  # kept (§8 interop note)
    send(peer, '%s@localhost/r1' % a, priv + 'in', payload="<private xmlns='%s'/>" % NS_CARBONS)
    recv_msg(r1, body_is(priv + 'in'))
    nocopy = uniq('nocopy')
    send(peer, '%s@localhost/r1' % a, nocopy, payload="<no-copy xmlns='urn:xmpp:hints'/>")
    recv_msg(r1, body_is(nocopy))
    no_msg(r2, any_carbon)


def test_xep0280_ineligible_types(trio):
    a, b, r1, r2, r3, peer = trio
    send(peer, '%s@localhost/r1' % a, 'hl', type='headline')
    recv_msg(r1, body_is('hl'))
    send(peer, '%s@localhost/r1' % a, type='normal')  # normal without body
    send(r1, '%s@localhost' % b, 'gc', type='groupchat')
    # A normal message with a body, and a receipt, are copied.
    send(peer, '%s@localhost/r1' % a, 'norm', type='normal')
    recv_msg(r2, carbon('received', 'norm'))
    no_msg(r2, any_carbon)


def test_xep0280_9_1_disable_and_repeat(trio):
    a, b, r1, r2, r3, peer = trio
    enable(r2)  # §9.1: again is no error
    enable(r2, False)
    enable(r2, False)
    body = uniq('off')
    send(peer, '%s@localhost/r1' % a, body)
    recv_msg(r1, body_is(body))
    no_msg(r2, any_carbon)
    r = r2.iq("<enable xmlns='%s'/>" % NS_CARBONS, type='get')
    assert r.get('type') == 'error', tostr(r)
    enable(r2)
    body = uniq('on')
    send(peer, '%s@localhost/r1' % a, body)
    recv_msg(r2, carbon('received', body))


def test_xep0280_7_bare_jid_not_copied_twice(trio):
    a, b, r1, r2, r3, peer = trio
    # r1 and r2 available with the same priority: both get the original, nobody a copy.
    for c in (r1, r2):
        c.send("<presence><priority>5</priority></presence>")
    r3.send("<presence><priority>1</priority></presence>")
    for c in (r1, r2, r3):
        sync(c)
    body = uniq('bare')
    send(peer, '%s@localhost' % a, body)
    for c in (r1, r2):
        m = recv_msg(c, body_is(body))
        assert not any_carbon(m), tostr(m)
    no_msg(r1, any_carbon)
    no_msg(r2, any_carbon)
    no_msg(r3, lambda e: True if body_is(body)(e) or carbon('received', body)(e) else False)


def test_xep0280_copies_of_messages_stored_offline_go_to_enabled_resources(trio):
    a, b, r1, r2, r3, peer = trio
    # Nobody available (no presence sent): the message is stored offline, and the enabled
    # resources still see it as a copy.
    body = uniq('offl')
    send(peer, '%s@localhost' % a, body)
    recv_msg(r1, carbon('received', body))
    recv_msg(r2, carbon('received', body))
    no_msg(r3, any_carbon)


def test_xep0280_slixmpp_carbons(server):
    import slixmpp  # noqa: F401 (python3-slixmpp, installed by scripts/install-deps.sh)
    import asyncio
    from test_slixmpp_interop import StarlingClient, run, session, close

    a, b = fresh_user(server, 'slc'), fresh_user(server, 'slc')
    other = login(server, a, 'raw')
    peer = login(server, b, 'p')
    body = uniq('sli')

    async def go(loop):
        x = StarlingClient('%s@localhost/slx' % a, server.password, server.c2s_port)
        x.register_plugin('xep_0280')
        got = loop.create_future()
        x.add_event_handler('carbon_received',
                            lambda m: got.done() or got.set_result(m['carbon_received']['body']))
        assert await session(x, loop, False) == 'ok'
        try:
            await x['xep_0280'].enable()
            send(peer, '%s@localhost/raw' % a, body)
            return await asyncio.wait_for(got, 10)
        finally:
            await close(x)

    assert run(go) == body
    other.close()
    peer.close()
