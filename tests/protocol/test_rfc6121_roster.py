"""RFC 6121 §2: roster get/set/remove, pushes, validation, versioning, limits."""
import pytest

import rawxmpp
from rawxmpp import q, NS_CLIENT
from im_helpers_roster import (NS_ROSTER, fresh_user, bare, online, error_condition, roster_items,
                               roster_get, roster_set, wait_push, is_push, no_stanza, close_all)


def test_rfc6121_2_1_stream_features_rosterver_and_preapproval(server):
    c = server.login('alice', resource='features')
    assert c.feature('urn:xmpp:features:rosterver', 'ver') is not None  # §2.6.1
    assert c.feature('urn:xmpp:features:pre-approval', 'sub') is not None  # §3.4
    close_all(c)


def test_rfc6121_2_2_empty_roster_get(server):
    u = fresh_user(server)
    c = online(server, u, roster=False, presence=False)
    r = roster_get(c)
    query = r.find(q(NS_ROSTER, 'query'))
    assert query is not None and len(list(query)) == 0
    assert query.get('ver') is not None  # §2.6.3
    close_all(c)


def test_rfc6121_2_3_set_name_groups_and_push_to_interested_resources(server):
    u, other = fresh_user(server), fresh_user(server)
    c1 = online(server, u, 'r1')
    c2 = online(server, u, 'r2')
    c3 = online(server, u, 'r3', roster=False)  # never requested the roster: not interested
    r = roster_set(c1, bare(server, other), name='Nurse', groups=['Servants', 'Friends'])
    assert r.get('type') == 'result', rawxmpp.tostr(r)
    for c in (c1, c2):
        p = wait_push(c, bare(server, other))
        assert p.get('from') in (None, bare(server, u)), rawxmpp.tostr(p)  # §2.1.6
        it = roster_items(p)[bare(server, other)]
        assert it == {'subscription': 'none', 'ask': None, 'name': 'Nurse', 'approved': None,
                      'groups': ['Friends', 'Servants']}
        assert p.find(q(NS_ROSTER, 'query')).get('ver')  # §2.6: pushes carry the version
    no_stanza(c3, is_push())
    items = roster_items(roster_get(c3))
    assert items[bare(server, other)]['name'] == 'Nurse'
    # §2.4: update: name changed, groups replaced
    r = roster_set(c1, bare(server, other), name='Nurse2', groups=['Other'])
    assert r.get('type') == 'result'
    it = roster_items(wait_push(c2, bare(server, other)))[bare(server, other)]
    assert it['name'] == 'Nurse2' and it['groups'] == ['Other']
    close_all(c1, c2, c3)


def test_rfc6121_2_5_remove_and_item_not_found(server):
    u, other = fresh_user(server), fresh_user(server)
    c = online(server, u)
    assert roster_set(c, bare(server, other)).get('type') == 'result'
    wait_push(c, bare(server, other))
    r = roster_set(c, bare(server, other), extra=" subscription='remove'")
    assert r.get('type') == 'result', rawxmpp.tostr(r)
    p = wait_push(c, bare(server, other))
    assert roster_items(p)[bare(server, other)]['subscription'] == 'remove'
    assert bare(server, other) not in roster_items(roster_get(c))
    r = roster_set(c, bare(server, other), extra=" subscription='remove'")
    assert r.get('type') == 'error' and error_condition(r) == 'item-not-found'  # §2.5.3
    close_all(c)


@pytest.mark.parametrize('payload,condition', [
    # §2.3.3: more than one item
    ("<item jid='a@localhost'/><item jid='b@localhost'/>", 'bad-request'),
    # no item at all
    ("", 'bad-request'),
    # §2.3.3: duplicate group
    ("<item jid='a@localhost'><group>G</group><group>G</group></item>", 'bad-request'),
    # §2.3.3: empty group name
    ("<item jid='a@localhost'><group></group></item>", 'not-acceptable'),
    # §2.3.3: name too long
    ("<item jid='a@localhost' name='%s'/>" % ('x' * 1024), 'not-acceptable'),
    # group name too long
    ("<item jid='a@localhost'><group>%s</group></item>" % ('g' * 1024), 'not-acceptable'),
    # too many groups
    ("<item jid='a@localhost'>%s</item>" % ''.join('<group>g%d</group>' % i for i in range(65)),
     'not-acceptable'),
    # §2.1.2.5: invalid subscription value
    ("<item jid='a@localhost' subscription='bogus'/>", 'bad-request'),
    # missing jid
    ("<item name='x'/>", 'bad-request'),
    # malformed jid
    ("<item jid='@@bad'/>", 'jid-malformed'),
])
def test_rfc6121_2_3_3_roster_set_errors(server, payload, condition):
    c = server.login('alice', resource='errs')
    r = c.iq("<query xmlns='%s'>%s</query>" % (NS_ROSTER, payload), type='set')
    assert r.get('type') == 'error', rawxmpp.tostr(r)
    assert error_condition(r) == condition, rawxmpp.tostr(r)
    close_all(c)


def test_rfc6121_2_1_2_5_subscription_in_set_is_ignored(server):
    """A client cannot grant itself a subscription through a roster set."""
    u, other = fresh_user(server), fresh_user(server)
    c = online(server, u, presence=False)
    r = roster_set(c, bare(server, other), extra=" subscription='both' ask='subscribe' approved='true'")
    assert r.get('type') == 'result'
    it = roster_items(roster_get(c))[bare(server, other)]
    assert it['subscription'] == 'none' and it['ask'] is None and it['approved'] is None
    close_all(c)


def test_rfc6121_2_own_jid_item_allowed(server):
    u = fresh_user(server)
    c = online(server, u, presence=False)
    r = roster_set(c, bare(server, u), name='me')
    assert r.get('type') == 'result', rawxmpp.tostr(r)
    assert bare(server, u) in roster_items(roster_get(c))
    close_all(c)


def test_rfc6121_2_1_6_forged_push_from_other_entity_rejected(server):
    u, attacker = fresh_user(server), fresh_user(server)
    victim = online(server, u, 'v')
    evil = online(server, attacker, 'e', roster=False, presence=False)
    r = evil.iq("<query xmlns='%s'><item jid='mallory@localhost'/></query>" % NS_ROSTER, type='set',
                to=victim.jid)
    assert r.get('type') == 'error' and error_condition(r) == 'service-unavailable', rawxmpp.tostr(r)
    no_stanza(victim, is_push())
    # Another account's roster is not reachable either.
    r = evil.iq("<query xmlns='%s'/>" % NS_ROSTER, to=bare(server, u))
    assert r.get('type') == 'error', rawxmpp.tostr(r)
    r = evil.iq("<query xmlns='%s'><item jid='x@localhost'/></query>" % NS_ROSTER, type='set',
                to=bare(server, u))
    assert r.get('type') == 'error', rawxmpp.tostr(r)
    assert 'x@localhost' not in roster_items(roster_get(victim))
    close_all(victim, evil)


def test_rfc6121_2_6_roster_versioning(server):
    u, o1, o2 = fresh_user(server), fresh_user(server), fresh_user(server)
    c = online(server, u, presence=False)
    assert roster_set(c, bare(server, o1)).get('type') == 'result'
    v1 = roster_get(c).find(q(NS_ROSTER, 'query')).get('ver')
    assert v1
    # §2.6.3: unchanged: an empty result (no <query/>)
    r = roster_get(c, ver=v1)
    assert r.find(q(NS_ROSTER, 'query')) is None, rawxmpp.tostr(r)
    # A change: a new version, pushed with the item
    assert roster_set(c, bare(server, o2)).get('type') == 'result'
    p = wait_push(c, bare(server, o2))
    v2 = p.find(q(NS_ROSTER, 'query')).get('ver')
    assert v2 and v2 != v1
    # An empty ver asks for the whole roster
    r = roster_get(c, ver='')
    assert r.find(q(NS_ROSTER, 'query')).get('ver') == v2
    assert set(roster_items(r)) == {bare(server, o1), bare(server, o2)}
    # A version the server never issued (or not a version at all): the whole roster
    for bogus in (str(int(v2) + 1000), 'not-a-version'):
        r = roster_get(c, ver=bogus)
        assert set(roster_items(r)) == {bare(server, o1), bare(server, o2)}, bogus
    # A second resource with the current version gets an empty result too
    c2 = online(server, u, 'r2', roster=False, presence=False)
    assert roster_get(c2, ver=v2).find(q(NS_ROSTER, 'query')) is None
    close_all(c, c2)


def test_rfc6121_2_6_3_stale_version_gets_only_the_changes_as_pushes(server):
    u, o1, o2, o3 = (fresh_user(server) for _ in range(4))
    c = online(server, u, presence=False)
    for o in (o1, o2):
        assert roster_set(c, bare(server, o), name='n-' + o).get('type') == 'result'
        wait_push(c, bare(server, o))
    v_old = roster_get(c).find(q(NS_ROSTER, 'query')).get('ver')
    # Changes made by another resource while this client held v_old: an update, an
    # addition and a removal.
    other = online(server, u, 'other', presence=False)
    assert roster_set(other, bare(server, o1), name='renamed', groups=['G']).get('type') == 'result'
    assert roster_set(other, bare(server, o3)).get('type') == 'result'
    assert roster_set(other, bare(server, o2), extra=" subscription='remove'").get('type') == 'result'
    v_now = roster_get(other).find(q(NS_ROSTER, 'query')).get('ver')
    close_all(c, other)

    fresh = online(server, u, 'back', roster=False, presence=False)
    r = roster_get(fresh, ver=v_old)
    assert r.find(q(NS_ROSTER, 'query')) is None, rawxmpp.tostr(r)  # empty result first
    pushes = [wait_push(fresh) for _ in range(3)]
    seen = {}
    versions = []
    for p in pushes:
        versions.append(int(p.find(q(NS_ROSTER, 'query')).get('ver')))
        seen.update(roster_items(p))
    assert versions == sorted(versions) and versions[-1] == int(v_now)  # oldest change first
    assert seen[bare(server, o1)]['name'] == 'renamed' and seen[bare(server, o1)]['groups'] == ['G']
    assert seen[bare(server, o3)]['subscription'] == 'none'
    assert seen[bare(server, o2)]['subscription'] == 'remove'
    # Nothing else: o1's and o3's pushes and the removal were all
    no_stanza(fresh, is_push())
    # Applying the pushes gives the same roster as a full fetch
    full = roster_items(roster_get(fresh))
    assert set(full) == {bare(server, o1), bare(server, o3)}
    close_all(fresh)


def test_rfc6121_2_6_3_delta_survives_restart(server_factory):
    s = server_factory.start('roster-delta-restart')
    u, o1, o2 = fresh_user(s), fresh_user(s), fresh_user(s)
    c = online(s, u, presence=False)
    assert roster_set(c, bare(s, o1)).get('type') == 'result'
    v_old = roster_get(c).find(q(NS_ROSTER, 'query')).get('ver')
    assert roster_set(c, bare(s, o2)).get('type') == 'result'
    close_all(c)
    s.stop()
    s.start()
    c = online(s, u, roster=False, presence=False)
    r = roster_get(c, ver=v_old)
    assert r.find(q(NS_ROSTER, 'query')) is None, rawxmpp.tostr(r)
    p = wait_push(c)
    assert set(roster_items(p)) == {bare(s, o2)}
    no_stanza(c, is_push())
    close_all(c)


def test_rfc6121_2_roster_survives_restart(server_factory):
    s = server_factory.start('roster-restart')
    c = online(s, 'alice', presence=False)
    assert roster_set(c, 'bob@localhost', name='Bob', groups=['G']).get('type') == 'result'
    close_all(c)
    s.stop()
    s.start()
    c = online(s, 'alice', presence=False)
    it = roster_items(roster_get(c))['bob@localhost']
    assert it['name'] == 'Bob' and it['groups'] == ['G']
    close_all(c)


def test_rfc6121_2_roster_size_limit(server_factory):
    # [limits] max_roster_items (default 1000), small here to keep the test quick.
    n = 200
    server = server_factory.start('roster-limit', overrides={'limits': {'max_roster_items': n}})
    u = fresh_user(server)
    c = online(server, u, roster=False, presence=False)
    ids = []
    batch = []
    for i in range(n):
        iid = 'set%d' % i
        ids.append(iid)
        batch.append("<iq type='set' id='%s'><query xmlns='%s'><item jid='c%d@example.net'/></query></iq>"
                     % (iid, NS_ROSTER, i))
        if len(batch) == 100:
            c.send(''.join(batch))
            batch = []
            for j in ids[-100:]:
                r = c.wait_iq(j, timeout=30)
                assert r.get('type') == 'result', rawxmpp.tostr(r)
    r = roster_set(c, 'one-too-many@example.net')
    assert r.get('type') == 'error', rawxmpp.tostr(r)
    assert error_condition(r) == 'not-allowed'
    # Updating an existing item is still possible
    assert roster_set(c, 'c1@example.net', name='x').get('type') == 'result'
    close_all(c)


def test_rfc6121_2_account_removal_drops_roster(server):
    u = fresh_user(server)
    c = online(server, u, presence=False)
    assert roster_set(c, 'gone@localhost').get('type') == 'result'
    r = c.iq("<query xmlns='jabber:iq:register'><remove/></query>", type='set')
    assert r.get('type') == 'result', rawxmpp.tostr(r)
    close_all(c)
    server.adduser(u)
    c = online(server, u, presence=False)
    assert roster_items(roster_get(c)) == {}
    close_all(c)
