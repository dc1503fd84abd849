"""XEP-0191: Blocking Command — blocklist get/block/unblock, pushes, errors, enforcement in both
directions for each stanza type, persistence across logins."""
import pytest

from rawxmpp import NS_CLIENT, NS_DISCO_INFO, q, tostr
from im_helpers_privacy import (
    NS_BLOCKING, NS_PRIVACY, bare, block, err_cond, expect_error, expect_none, expect_push,
    full, get_blocklist, has_blocked_child, is_message_with, is_push, ok, reset, send_message,
    sync, unblock)


@pytest.fixture(autouse=True)
def clean(server):
    reset(server, 'alice', 'bob', 'carol')
    yield


# §2: discovery
def test_disco_features(server):
    c = server.login('alice', resource='disco')
    r = ok(c.iq("<query xmlns='%s'/>" % NS_DISCO_INFO, to='localhost'))
    features = {f.get('var') for f in r.iter(q(NS_DISCO_INFO, 'feature'))}
    assert NS_BLOCKING in features
    assert NS_PRIVACY in features


# §3.2: empty blocklist
def test_empty_blocklist(server):
    c = server.login('alice', resource='r')
    assert get_blocklist(c) == []


# §3.3: block, then the blocklist holds the items; pushes go to resources that asked
def test_block_and_push_to_interested_resources(server):
    a1 = server.login('alice', resource='one')
    a2 = server.login('alice', resource='two')
    a3 = server.login('alice', resource='three')  # never asks for the blocklist
    get_blocklist(a1)
    get_blocklist(a2)
    ok(block(a1, bare('carol'), 'Dave@LocalHost'))
    assert get_blocklist(a1) == [bare('carol'), bare('dave')]
    for c in (a1, a2):
        payload = expect_push(c, NS_BLOCKING, 'block')
        assert sorted(i.get('jid') for i in payload) == [bare('carol'), bare('dave')]
    sync(a3)
    expect_none(a3, is_push(NS_BLOCKING, 'block'), timeout=0.5)


# §3.3: a block without items is a bad request
def test_block_without_items_is_bad_request(server):
    c = server.login('alice', resource='r')
    r = block(c)
    assert err_cond(r) == 'bad-request'
    assert get_blocklist(c) == []


def test_block_malformed_jid(server):
    c = server.login('alice', resource='r')
    r = block(c, 'a@b@c')
    assert err_cond(r) == 'jid-malformed'


def test_blocklist_to_other_account_is_not_allowed(server):
    c = server.login('alice', resource='r')
    r = c.iq("<blocklist xmlns='%s'/>" % NS_BLOCKING, to=bare('bob'))
    assert r.get('type') == 'error'


# §3.3: inbound message from a blocked JID: service-unavailable, not delivered
def test_inbound_message_from_blocked(server):
    alice = server.login('alice', resource='r')
    carol = server.login('carol', resource='r')
    ok(block(alice, bare('carol')))
    mid = send_message(carol, full('alice', 'r'), 'hello-blocked')
    e = expect_error(carol, 'message', mid)
    assert err_cond(e) == 'service-unavailable'
    assert e.get('from') == full('alice', 'r')
    expect_none(alice, is_message_with('hello-blocked'))


# §3.3: inbound IQ get/set from a blocked JID: service-unavailable; result: dropped
def test_inbound_iq_from_blocked(server):
    alice = server.login('alice', resource='r')
    carol = server.login('carol', resource='r')
    ok(block(alice, bare('carol')))
    r = carol.iq("<query xmlns='jabber:iq:version'/>", to=full('alice', 'r'))
    assert err_cond(r) == 'service-unavailable'
    carol.send("<iq type='result' id='stray1' to='%s'/>" % full('alice', 'r'))
    sync(carol)
    expect_none(alice, lambda e: e.get('id') == 'stray1')
    expect_none(carol, lambda e: e.get('id') == 'stray1' and e.get('type') == 'error', timeout=0.3)


# §3.3: inbound presence from a blocked JID: dropped without error
def test_inbound_presence_from_blocked(server):
    alice = server.login('alice', resource='r')
    carol = server.login('carol', resource='r')
    ok(block(alice, bare('carol')))
    carol.send("<presence to='%s' id='pres1'/>" % full('alice', 'r'))
    sync(carol)
    expect_none(alice, lambda e: e.tag == q(NS_CLIENT, 'presence') and e.get('id') == 'pres1')
    expect_none(carol, lambda e: e.get('id') == 'pres1', timeout=0.3)


# §3.3: outbound stanzas to a blocked JID: not-acceptable with <blocked/>
@pytest.mark.parametrize('kind', ['message', 'iq', 'presence'])
def test_outbound_to_blocked(server, kind):
    alice = server.login('alice', resource='r')
    carol = server.login('carol', resource='r')
    ok(block(alice, bare('carol')))
    if kind == 'message':
        sid = send_message(alice, full('carol', 'r'), 'to-blocked')
        e = expect_error(alice, 'message', sid)
    elif kind == 'iq':
        e = alice.iq("<ping xmlns='urn:xmpp:ping'/>", to=full('carol', 'r'))
    else:
        alice.send("<presence to='%s' id='outp'/>" % full('carol', 'r'))
        e = expect_error(alice, 'presence', 'outp')
    assert err_cond(e) == 'not-acceptable', tostr(e)
    assert has_blocked_child(e), tostr(e)
    expect_none(carol, lambda x: x.get('from', '').startswith(bare('alice')) and x.get('type') != 'unavailable')


# §3.4: unblock one JID; stanzas flow again; pushes
def test_unblock_one(server):
    alice = server.login('alice', resource='r')
    carol = server.login('carol', resource='r')
    get_blocklist(alice)
    ok(block(alice, bare('carol'), bare('dave')))
    expect_push(alice, NS_BLOCKING, 'block')
    ok(unblock(alice, bare('carol')))
    payload = expect_push(alice, NS_BLOCKING, 'unblock')
    assert [i.get('jid') for i in payload] == [bare('carol')]
    assert get_blocklist(alice) == [bare('dave')]
    send_message(carol, full('alice', 'r'), 'after-unblock')
    alice.recv_stanza(is_message_with('after-unblock'))


# §3.5: unblock everything
def test_unblock_all(server):
    alice = server.login('alice', resource='r')
    other = server.login('alice', resource='other')
    get_blocklist(other)
    ok(block(alice, bare('carol'), bare('bob')))
    expect_push(other, NS_BLOCKING, 'block')
    ok(unblock(alice))
    payload = expect_push(other, NS_BLOCKING, 'unblock')
    assert len(payload) == 0
    assert get_blocklist(alice) == []


# §7: JID matching — a full JID blocks that resource only
def test_full_jid_block(server):
    alice = server.login('alice', resource='r')
    c1 = server.login('carol', resource='one')
    c2 = server.login('carol', resource='two')
    ok(block(alice, full('carol', 'one')))
    mid = send_message(c1, full('alice', 'r'), 'from-one')
    assert err_cond(expect_error(c1, 'message', mid)) == 'service-unavailable'
    send_message(c2, full('alice', 'r'), 'from-two')
    alice.recv_stanza(is_message_with('from-two'))


# §7: a domain blocks every user of that domain
def test_domain_block(server):
    alice = server.login('alice', resource='r')
    bob = server.login('bob', resource='r')
    ok(block(alice, 'localhost'))
    mid = send_message(bob, full('alice', 'r'), 'from-domain')
    assert err_cond(expect_error(bob, 'message', mid)) == 'service-unavailable'
    # The user's own server and own resources stay reachable.
    ok(alice.iq("<ping xmlns='urn:xmpp:ping'/>", to='localhost'))
    other = server.login('alice', resource='other')
    send_message(other, full('alice', 'r'), 'self-talk')
    alice.recv_stanza(is_message_with('self-talk'))


# §6 note: one's own resources are never blocked
def test_own_jid_not_blocked(server):
    a1 = server.login('alice', resource='one')
    a2 = server.login('alice', resource='two')
    ok(block(a1, bare('alice')))
    send_message(a2, full('alice', 'one'), 'own-resource')
    a1.recv_stanza(is_message_with('own-resource'))


# §3.3: "the block ... applies across sessions"
def test_blocklist_persists_across_logins(server):
    alice = server.login('alice', resource='r')
    ok(block(alice, bare('carol')))
    alice.end_stream()
    alice.close()
    # Enforced right after the next login, before any blocklist request.
    alice = server.login('alice', resource='again')
    carol = server.login('carol', resource='r')
    mid = send_message(carol, full('alice', 'again'), 'after-relogin')
    assert err_cond(expect_error(carol, 'message', mid)) == 'service-unavailable'
    sid = send_message(alice, full('carol', 'r'), 'out-after-relogin')
    e = expect_error(alice, 'message', sid)
    assert has_blocked_child(e)
    assert get_blocklist(alice) == [bare('carol')]


# XEP-0191 §6: the blocklist comes before any privacy list that would allow
def test_blocklist_before_privacy_list(server):
    alice = server.login('alice', resource='r')
    carol = server.login('carol', resource='r')
    r = alice.iq("<query xmlns='%s'><list name='open'><item type='jid' value='%s' action='allow' "
                 "order='1'/></list></query>" % (NS_PRIVACY, bare('carol')), type='set')
    ok(r)
    ok(alice.iq("<query xmlns='%s'><active name='open'/></query>" % NS_PRIVACY, type='set'))
    ok(block(alice, bare('carol')))
    mid = send_message(carol, full('alice', 'r'), 'still-blocked')
    assert err_cond(expect_error(carol, 'message', mid)) == 'service-unavailable'


# The blocklist and privacy lists live in the database: they survive a restart and go with
# the account.
def test_survives_restart_and_removed_with_account(server_factory):
    s = server_factory.start('privacy-restart', users=('alice', 'carol'))
    a = s.login('alice', resource='one')
    ok(block(a, bare('carol')))
    ok(a.iq("<query xmlns='%s'><list name='keep'><item action='deny' order='1'/></list></query>"
            % NS_PRIVACY, type='set'))
    ok(a.iq("<query xmlns='%s'><default name='keep'/></query>" % NS_PRIVACY, type='set'))
    a.end_stream()
    a.close()
    s.stop()
    s.start()
    a = s.login('alice', resource='two')
    assert get_blocklist(a) == [bare('carol')]
    r = ok(a.iq("<query xmlns='%s'/>" % NS_PRIVACY))
    assert r.find(q(NS_PRIVACY, 'query')).find(q(NS_PRIVACY, 'default')).get('name') == 'keep'
    a.end_stream()
    a.close()
    s.stop()
    s.ctl('deluser', 'alice@localhost')
    s.adduser('alice')
    s.start()
    a = s.login('alice', resource='three')
    assert get_blocklist(a) == []
    r = ok(a.iq("<query xmlns='%s'/>" % NS_PRIVACY))
    assert len(r.find(q(NS_PRIVACY, 'query'))) == 0, tostr(r)


# XEP-0077 §3.3: cancelling the account in band forgets its blocklist at once
def test_inband_cancel_forgets_blocklist(server_factory):
    s = server_factory.start('privacy-cancel', users=('alice', 'carol'))
    a = s.login('alice', resource='one')
    ok(block(a, bare('carol')))
    a.send("<iq type='set' id='cancel1'><query xmlns='jabber:iq:register'><remove/></query></iq>")
    try:
        a.wait_iq('cancel1')
    except Exception:
        pass
    a.close()
    s.adduser('alice')
    a = s.login('alice', resource='two')
    assert get_blocklist(a) == []
    carol = s.login('carol', resource='r')
    send_message(carol, full('alice', 'two'), 'fresh-account')
    a.recv_stanza(is_message_with('fresh-account'))


# §3.3: blocking a subscribed contact sends it unavailable presence; later broadcasts skip it
def test_block_subscribed_contact_presence(server):
    from im_helpers_privacy import is_presence, roster_remove, subscribe_mutually
    reset(server, 'dave', 'erin')
    dave = server.login('dave', resource='r')
    erin = server.login('erin', resource='r')
    try:
        subscribe_mutually(dave, 'dave', erin, 'erin')
        dave.send("<presence/>")
        erin.send("<presence/>")
        erin.recv_stanza(is_presence(full('dave', 'r'), None))
        ok(block(dave, bare('erin')))
        erin.recv_stanza(is_presence(full('dave', 'r'), 'unavailable'))
        dave.send("<presence><status>after-block</status></presence>")
        erin.send("<presence><status>erin-after-block</status></presence>")
        sync(dave)
        sync(erin)
        expect_none(erin, lambda e: e.findtext(q(NS_CLIENT, 'status')) == 'after-block')
        expect_none(dave, lambda e: e.findtext(q(NS_CLIENT, 'status')) == 'erin-after-block')
        # §3.4: on unblock, the contact gets the user's current presence again.
        erin.others.clear()  # presence received before the block
        ok(unblock(dave, bare('erin')))
        p = erin.recv_stanza(is_presence(full('dave', 'r'), None))
        assert p.findtext(q(NS_CLIENT, 'status')) == 'after-block', tostr(p)
    finally:
        unblock(dave)
        roster_remove(dave, bare('erin'))
        roster_remove(erin, bare('dave'))


# Deciding may wait for storage right after login; stanzas must keep their order (RFC 6120 §10.1)
def test_order_kept_right_after_login(server):
    alice = server.login('alice', resource='r')
    ok(block(alice, bare('dave')))
    alice.end_stream()
    alice.close()
    carol = server.login('carol', resource='r')
    alice = server.login('alice', resource='fresh')
    for i in range(10):
        send_message(alice, full('carol', 'r'), 'ordered-%d' % i, id='ord%d' % i)
    got = [carol.recv_stanza(lambda e: e.tag == q(NS_CLIENT, 'message')).get('id') for _ in range(10)]
    assert got == ['ord%d' % i for i in range(10)]


# The default list applies when the user has no session (XEP-0016 §2.2 rule 2)
def test_offline_user_blocklist(server):
    alice = server.login('alice', resource='r')
    ok(block(alice, bare('carol')))
    alice.end_stream()
    alice.close()
    carol = server.login('carol', resource='r')
    mid = send_message(carol, bare('alice'), 'to-offline-blocker')
    assert err_cond(expect_error(carol, 'message', mid)) == 'service-unavailable'
