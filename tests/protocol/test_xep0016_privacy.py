"""XEP-0016: Privacy Lists — retrieving, editing, removing lists, active and default lists,
pushes, errors, and enforcement by item type and stanza kind in both directions."""
import pytest

from rawxmpp import NS_CLIENT, q, tostr
from im_helpers_privacy import (
    NS_PRIVACY, bare, err_cond, expect_error, expect_none, expect_push, full, get_list,
    get_names, has_blocked_child, is_message_with, item_xml, ok, remove_list, reset,
    send_message, set_active, set_default, set_list, sync)


@pytest.fixture(autouse=True)
def clean(server):
    reset(server, 'alice', 'bob', 'carol')
    yield


def deny_carol(kinds=()):
    return item_xml('deny', 1, 'jid', bare('carol'), kinds)


# §2.3: no lists
def test_no_lists(server):
    c = server.login('alice', resource='r')
    assert get_names(c) == (None, None, [])


# §2.6/§2.7: create a list, read it back (sorted by order), names, push to every resource
def test_create_get_and_push(server):
    a1 = server.login('alice', resource='one')
    a2 = server.login('alice', resource='two')
    ok(set_list(a1, 'public',
                item_xml('allow', 10, 'subscription', 'both'),
                item_xml('deny', 2, 'jid', 'Tybalt@Example.com', ('message', 'presence-in')),
                item_xml('deny', 15)))
    for c in (a1, a2):
        payload = expect_push(c, NS_PRIVACY, 'query')
        lists = payload.findall(q(NS_PRIVACY, 'list'))
        assert [l.get('name') for l in lists] == ['public']
        assert len(lists[0]) == 0  # only the name is pushed
    r = ok(get_list(a2, 'public'))
    items = r.find(q(NS_PRIVACY, 'query')).find(q(NS_PRIVACY, 'list')).findall(q(NS_PRIVACY, 'item'))
    assert [i.get('order') for i in items] == ['2', '10', '15']
    assert items[0].get('value') == 'tybalt@example.com'
    assert items[0].get('type') == 'jid' and items[0].get('action') == 'deny'
    assert sorted(c.tag for c in items[0]) == [q(NS_PRIVACY, 'message'), q(NS_PRIVACY, 'presence-in')]
    assert items[2].get('type') is None
    assert get_names(a1) == (None, None, ['public'])


# §2.3: unknown list, more than one list
def test_get_errors(server):
    c = server.login('alice', resource='r')
    assert err_cond(get_list(c, 'nope')) == 'item-not-found'
    ok(set_list(c, 'a', item_xml('deny', 1)))
    ok(set_list(c, 'b', item_xml('deny', 1)))
    r = c.iq("<query xmlns='%s'><list name='a'/><list name='b'/></query>" % NS_PRIVACY)
    assert err_cond(r) == 'bad-request'


# §2.1: invalid items are bad requests
@pytest.mark.parametrize('items', [
    [item_xml('maybe', 1)],
    ["<item action='deny'/>"],
    ["<item order='1'/>"],
    [item_xml('deny', -3)],
    [item_xml('deny', 1), item_xml('allow', 1)],
    [item_xml('deny', 1, 'subscription', 'pending')],
    [item_xml('deny', 1, 'colour', 'red')],
    [item_xml('deny', 1, 'jid', 'a@b@c')],
], ids=['action', 'no-order', 'no-action', 'negative-order', 'duplicate-order', 'subscription',
        'type', 'jid'])
def test_invalid_list_is_bad_request(server, items):
    c = server.login('alice', resource='r')
    assert err_cond(set_list(c, 'bad', *items)) == 'bad-request'
    assert get_names(c)[2] == []


# §2.1: only one child in a set
def test_set_with_two_children_is_bad_request(server):
    c = server.login('alice', resource='r')
    ok(set_list(c, 'a', item_xml('deny', 1)))
    r = c.iq("<query xmlns='%s'><active name='a'/><default name='a'/></query>" % NS_PRIVACY, type='set')
    assert err_cond(r) == 'bad-request'


# §2.1: a group that is not in the roster
def test_unknown_group_item_not_found(server):
    c = server.login('alice', resource='r')
    assert err_cond(set_list(c, 'g', item_xml('deny', 1, 'group', 'NoSuchGroup'))) == 'item-not-found'


# §2.4/§2.5: unknown names
def test_active_and_default_unknown_list(server):
    c = server.login('alice', resource='r')
    assert err_cond(set_active(c, 'ghost')) == 'item-not-found'
    assert err_cond(set_default(c, 'ghost')) == 'item-not-found'


# §2.4: the active list applies to its session only
def test_active_list_per_session(server):
    a1 = server.login('alice', resource='one')
    a2 = server.login('alice', resource='two')
    carol = server.login('carol', resource='r')
    ok(set_list(a1, 'quiet', deny_carol(['message'])))
    ok(set_active(a1, 'quiet'))
    assert get_names(a1)[0] == 'quiet'
    assert get_names(a2)[0] is None
    mid = send_message(carol, full('alice', 'one'), 'to-one')
    e = expect_error(carol, 'message', mid)
    assert err_cond(e) == 'service-unavailable'
    expect_none(a1, is_message_with('to-one'))
    send_message(carol, full('alice', 'two'), 'to-two')
    a2.recv_stanza(is_message_with('to-two'))
    # Declining the active list.
    ok(set_active(a1))
    send_message(carol, full('alice', 'one'), 'to-one-again')
    a1.recv_stanza(is_message_with('to-one-again'))


# §2.5: the default list applies to sessions without an active list, and across logins
def test_default_list_applies_and_persists(server):
    alice = server.login('alice', resource='r')
    carol = server.login('carol', resource='r')
    ok(set_list(alice, 'dflt', deny_carol()))
    ok(set_default(alice, 'dflt'))
    mid = send_message(carol, full('alice', 'r'), 'default-blocked')
    assert err_cond(expect_error(carol, 'message', mid)) == 'service-unavailable'
    alice.end_stream()
    alice.close()
    alice = server.login('alice', resource='again')
    assert get_names(alice) == (None, 'dflt', ['dflt'])
    mid = send_message(carol, full('alice', 'again'), 'default-blocked-2')
    assert err_cond(expect_error(carol, 'message', mid)) == 'service-unavailable'
    # An active list replaces the default (no layering).
    ok(set_list(alice, 'open', item_xml('allow', 1)))
    ok(set_active(alice, 'open'))
    send_message(carol, full('alice', 'again'), 'active-open')
    alice.recv_stanza(is_message_with('active-open'))


# §2.5: conflict when another resource uses the default list
def test_default_change_conflict(server):
    a1 = server.login('alice', resource='one')
    a2 = server.login('alice', resource='two')
    ok(set_list(a1, 'l1', item_xml('allow', 1)))
    ok(set_list(a1, 'l2', item_xml('allow', 1)))
    ok(set_default(a1, 'l1'))
    assert err_cond(set_default(a1, 'l2')) == 'conflict'
    assert err_cond(set_default(a1)) == 'conflict'
    # Once the other resource has its own active list, the default is free to change.
    ok(set_active(a2, 'l2'))
    ok(set_default(a1, 'l2'))
    assert get_names(a1)[1] == 'l2'


# §2.8: removing lists
def test_remove_list(server):
    a1 = server.login('alice', resource='one')
    a2 = server.login('alice', resource='two')
    ok(set_list(a1, 'mine', item_xml('deny', 1)))
    ok(set_active(a2, 'mine'))
    assert err_cond(remove_list(a1, 'mine')) == 'conflict'
    assert err_cond(remove_list(a1, 'ghost')) == 'item-not-found'
    ok(set_active(a2))
    while a1.others:
        a1.others.pop()
    ok(remove_list(a1, 'mine'))
    payload = expect_push(a2, NS_PRIVACY, 'query')
    assert payload.find(q(NS_PRIVACY, 'list')).get('name') == 'mine'
    assert get_names(a1)[2] == []


# §2.2 rule 8: an edited active list applies at once
def test_edit_active_list(server):
    alice = server.login('alice', resource='r')
    carol = server.login('carol', resource='r')
    ok(set_list(alice, 'l', item_xml('allow', 1)))
    ok(set_active(alice, 'l'))
    send_message(carol, full('alice', 'r'), 'before-edit')
    alice.recv_stanza(is_message_with('before-edit'))
    ok(set_list(alice, 'l', deny_carol(['message'])))
    mid = send_message(carol, full('alice', 'r'), 'after-edit')
    assert err_cond(expect_error(carol, 'message', mid)) == 'service-unavailable'


# §2.10: <iq/> blocks IQ only; §2.7: <message/> blocks messages only
def test_kinds(server):
    alice = server.login('alice', resource='r')
    carol = server.login('carol', resource='r')
    ok(set_list(alice, 'iq-only', deny_carol(['iq'])))
    ok(set_active(alice, 'iq-only'))
    r = carol.iq("<query xmlns='jabber:iq:version'/>", to=full('alice', 'r'))
    assert err_cond(r) == 'service-unavailable'
    send_message(carol, full('alice', 'r'), 'iq-only-lets-messages')
    alice.recv_stanza(is_message_with('iq-only-lets-messages'))

    ok(set_list(alice, 'msg-only', deny_carol(['message'])))
    ok(set_active(alice, 'msg-only'))
    carol.send("<iq type='get' id='v2' to='%s'><query xmlns='jabber:iq:version'/></iq>"
               % full('alice', 'r'))
    got = alice.recv_stanza(lambda e: e.get('id') == 'v2')
    assert got.get('type') == 'get'
    # <message/> does not stop the user's own outgoing messages.
    send_message(alice, full('carol', 'r'), 'outgoing-fine')
    carol.recv_stanza(is_message_with('outgoing-fine'))


# §2.8: presence-in drops inbound presence notifications silently
def test_presence_in(server):
    alice = server.login('alice', resource='r')
    carol = server.login('carol', resource='r')
    ok(set_list(alice, 'pin', deny_carol(['presence-in'])))
    ok(set_active(alice, 'pin'))
    carol.send("<presence to='%s' id='pin1'/>" % full('alice', 'r'))
    sync(carol)
    expect_none(alice, lambda e: e.get('id') == 'pin1')
    expect_none(carol, lambda e: e.get('id') == 'pin1', timeout=0.3)


# §2.9: presence-out stops the user's presence notifications to the contact
def test_presence_out(server):
    alice = server.login('alice', resource='r')
    carol = server.login('carol', resource='r')
    ok(set_list(alice, 'pout', deny_carol(['presence-out'])))
    ok(set_active(alice, 'pout'))
    alice.send("<presence to='%s' id='pout1'/>" % full('carol', 'r'))
    e = expect_error(alice, 'presence', 'pout1')
    assert err_cond(e) == 'not-acceptable'
    expect_none(carol, lambda x: x.get('id') == 'pout1')
    # Messages are not affected by presence-out.
    send_message(alice, full('carol', 'r'), 'pout-message')
    carol.recv_stanza(is_message_with('pout-message'))


# §2.12/§2.13: an item without children blocks everything both ways; outbound: not-acceptable
def test_block_all_both_directions(server):
    alice = server.login('alice', resource='r')
    carol = server.login('carol', resource='r')
    ok(set_list(alice, 'all', deny_carol()))
    ok(set_active(alice, 'all'))
    sid = send_message(alice, full('carol', 'r'), 'out-denied')
    e = expect_error(alice, 'message', sid)
    assert err_cond(e) == 'not-acceptable'
    assert not has_blocked_child(e)
    r = alice.iq("<ping xmlns='urn:xmpp:ping'/>", to=full('carol', 'r'))
    assert err_cond(r) == 'not-acceptable'
    mid = send_message(carol, full('alice', 'r'), 'in-denied')
    assert err_cond(expect_error(carol, 'message', mid)) == 'service-unavailable'
    expect_none(carol, is_message_with('out-denied'))


# §2.1: subscription 'none' covers contacts not in the roster
def test_subscription_none(server):
    alice = server.login('alice', resource='r')
    carol = server.login('carol', resource='r')
    ok(set_list(alice, 'strangers', item_xml('deny', 1, 'subscription', 'none', ['message'])))
    ok(set_active(alice, 'strangers'))
    mid = send_message(carol, full('alice', 'r'), 'stranger')
    assert err_cond(expect_error(carol, 'message', mid)) == 'service-unavailable'


# §2.12: a global deny never blocks the user's own resources or server
def test_global_deny_spares_self_and_server(server):
    a1 = server.login('alice', resource='one')
    a2 = server.login('alice', resource='two')
    ok(set_list(a1, 'none', item_xml('deny', 1)))
    ok(set_default(a1, 'none'))
    send_message(a2, full('alice', 'one'), 'self-ok')
    a1.recv_stanza(is_message_with('self-ok'))
    ok(a1.iq("<ping xmlns='urn:xmpp:ping'/>", to='localhost'))
    bob = server.login('bob', resource='r')
    mid = send_message(bob, full('alice', 'one'), 'bob-denied')
    assert err_cond(expect_error(bob, 'message', mid)) == 'service-unavailable'


# Limits: too many items
def test_too_many_items(server):
    c = server.login('alice', resource='r')
    items = [item_xml('deny', i) for i in range(300)]
    assert err_cond(set_list(c, 'huge', *items)) == 'resource-constraint'


# §2.1 / §2.2 rule 9: group items follow the roster
def test_group_item(server):
    from im_helpers_privacy import roster_set, roster_remove
    alice = server.login('alice', resource='r')
    carol = server.login('carol', resource='r')
    bob = server.login('bob', resource='r')
    roster_set(alice, bare('carol'), ['Enemies'])
    roster_set(alice, bare('bob'), ['Friends'])
    try:
        ok(set_list(alice, 'groups', item_xml('deny', 1, 'group', 'Enemies', ['message'])))
        ok(set_active(alice, 'groups'))
        mid = send_message(carol, full('alice', 'r'), 'enemy')
        assert err_cond(expect_error(carol, 'message', mid)) == 'service-unavailable'
        send_message(bob, full('alice', 'r'), 'friend')
        alice.recv_stanza(is_message_with('friend'))
        # Moving carol to another group lifts the rule at once.
        roster_set(alice, bare('carol'), ['Friends'])
        send_message(carol, full('alice', 'r'), 'former-enemy')
        alice.recv_stanza(is_message_with('former-enemy'))
    finally:
        ok(set_active(alice))
        ok(roster_remove(alice, bare('carol')))
        ok(roster_remove(alice, bare('bob')))


# §2.8 / §2.9 with real subscriptions: presence broadcasts honour presence-in and presence-out
def test_presence_broadcasts(server):
    from im_helpers_privacy import is_presence, roster_remove, subscribe_mutually
    reset(server, 'dave', 'erin')
    dave = server.login('dave', resource='r')
    erin = server.login('erin', resource='r')
    try:
        subscribe_mutually(dave, 'dave', erin, 'erin')
        ok(set_list(dave, 'both-ok', item_xml('allow', 1, 'subscription', 'both'), item_xml('deny', 2)))
        ok(set_active(dave, 'both-ok'))
        send_message(erin, full('dave', 'r'), 'subscribed-both')
        dave.recv_stanza(is_message_with('subscribed-both'))
        ok(set_list(dave, 'quiet', item_xml('deny', 1, 'jid', bare('erin'), ['presence-out', 'presence-in'])))
        ok(set_active(dave, 'quiet'))
        dave.send("<presence><status>hidden</status></presence>")
        erin.send("<presence><status>erin-here</status></presence>")
        sync(dave)
        sync(erin)
        expect_none(erin, lambda e: e.tag == q(NS_CLIENT, 'presence') and e.findtext(q(NS_CLIENT, 'status')) == 'hidden')
        expect_none(dave, lambda e: e.tag == q(NS_CLIENT, 'presence') and e.findtext(q(NS_CLIENT, 'status')) == 'erin-here')
        ok(set_active(dave))
        dave.send("<presence><status>visible</status></presence>")
        erin.recv_stanza(lambda e: e.tag == q(NS_CLIENT, 'presence') and e.findtext(q(NS_CLIENT, 'status')) == 'visible')
    finally:
        roster_remove(dave, bare('erin'))
        roster_remove(erin, bare('dave'))
