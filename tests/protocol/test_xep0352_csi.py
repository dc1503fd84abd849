"""XEP-0352 Client State Indication: an inactive client gets presence updates and chat states
held back (newest presence per sender), flushed in order before anything urgent or on
<active/>; the queue is bounded."""
from rawxmpp import q, NS_CLIENT, tostr
from im_helpers_roster import online, wait_presence, no_stanza, close_all
from sm_helpers import NS_CSI, NS_CHATSTATES, authenticated, subscribed_both, message

PRESENCE = q(NS_CLIENT, 'presence')
MSG = q(NS_CLIENT, 'message')
CHAT_STATE = "<composing xmlns='%s'/>" % NS_CHATSTATES


def settle(c, domain):
    """A round trip, so that everything sent before has been processed; drops stray stanzas."""
    r = c.iq("<ping xmlns='urn:xmpp:ping'/>", to=domain)
    assert r.get('type') == 'result'
    c.others.clear()


def test_xep0352_feature(server):
    c = authenticated(server, 'alice')
    assert c.feature(NS_CSI, 'csi') is not None, tostr(c.features)
    c.close()


def test_xep0352_holds_presence_and_chat_states(server):
    an, bn, A, B = subscribed_both(server, 'ca', 'cb')
    a = online(server, an, 'phone')
    wait_presence(a, A + '/phone')
    b = online(server, bn, 'pc')
    wait_presence(a, B + '/pc')
    a.send("<inactive xmlns='%s'/>" % NS_CSI)
    settle(a, server.domain)
    b.send("<presence><show>away</show></presence>")
    b.send("<presence><show>dnd</show></presence>")
    message(b, A + '/phone', None, 'cs1', payload=CHAT_STATE)
    settle(b, server.domain)
    # Held back while inactive.
    no_stanza(a, lambda e: e.tag in (PRESENCE, MSG), timeout=0.8)
    # A message with a body is urgent: what was held goes first, in order, presence merged.
    message(b, A + '/phone', 'wake up', 'body1')
    # (The presence broadcast and the chat state reach the session in either order: presence
    # goes through the roster first.)
    got = [a.recv(), a.recv(), a.recv()]
    assert got[2].tag == MSG and got[2].get('id') == 'body1', [tostr(e) for e in got]
    held = sorted(got[:2], key=lambda e: e.tag)
    assert [e.tag for e in held] == [MSG, PRESENCE], [tostr(e) for e in got]
    assert held[0].get('id') == 'cs1'
    assert held[1].get('from') == B + '/pc' and held[1].findtext(q(NS_CLIENT, 'show')) == 'dnd'
    no_stanza(a, lambda e: e.tag == PRESENCE, timeout=0.3)  # 'away' was superseded
    # Still inactive: held again, and <active/> flushes.
    b.send("<presence><show>xa</show></presence>")
    settle(b, server.domain)
    no_stanza(a, lambda e: e.tag == PRESENCE, timeout=0.5)
    a.send("<active xmlns='%s'/>" % NS_CSI)
    p = a.recv()
    assert p.tag == PRESENCE and p.findtext(q(NS_CLIENT, 'show')) == 'xa', tostr(p)
    # Active: presence flows at once.
    b.send("<presence><show>chat</show></presence>")
    p = wait_presence(a, B + '/pc', timeout=5)
    assert p.findtext(q(NS_CLIENT, 'show')) == 'chat'
    close_all(a, b)


def test_xep0352_queue_is_bounded(server_factory):
    s = server_factory.start('csi-bound', overrides={'stream_management': {'csi_max_queue': 2}})
    a = s.login('alice', resource='phone')
    b = s.login('bob', resource='pc')
    a.send("<inactive xmlns='%s'/>" % NS_CSI)
    settle(a, s.domain)
    for n in range(2):
        message(b, 'alice@%s/phone' % s.domain, None, 'cs%d' % n, payload=CHAT_STATE)
    settle(b, s.domain)
    no_stanza(a, lambda e: e.tag == MSG, timeout=0.5)
    # The third does not fit: everything goes out, in order.
    message(b, 'alice@%s/phone' % s.domain, None, 'cs2', payload=CHAT_STATE)
    ids = [a.recv_stanza(lambda e: e.tag == MSG, timeout=5).get('id') for _ in range(3)]
    assert ids == ['cs0', 'cs1', 'cs2']
    close_all(a, b)


def test_xep0352_unknown_element_is_a_stream_error(server):
    c = server.login('carol', resource='csi-bad')
    c.send("<sleepy xmlns='%s'/>" % NS_CSI)
    assert c.expect_stream_error() == 'unsupported-stanza-type'
    c.close()
