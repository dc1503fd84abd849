"""XEP-0013 Flexible Offline Message Retrieval: discovery, message count, headers, view and
remove by node, fetch, purge, access control, and no flood after XEP-0013 use."""
import pytest

from im_helpers_message import (MSG, NS_OFFLINE, NS_DATA, assert_error, login, no_msg, offline_count, offline_fetch,
                                offline_headers, offline_node_of, offline_purge, recv_msg,
                                send_msg, server_delay, sync, wait_offline_count)
from rawxmpp import NS_DISCO_INFO, NS_DISCO_ITEMS, q, tostr


@pytest.fixture
def queued(server):
    """Bob's queue holding three messages from alice; yields (alice, bob, ids)."""
    alice = login(server, 'alice')
    bob = login(server, 'bob')
    offline_purge(bob)
    ids = [send_msg(alice, 'bob@localhost', 'flex %d' % i, type='chat') for i in range(3)]
    assert wait_offline_count(bob, 3) == 3
    yield alice, bob, ids
    offline_purge(bob)
    alice.close()
    bob.close()


def test_xep0013_2_1_feature_on_account_and_server(server):
    c = login(server, 'bob')
    for to in (None, 'bob@localhost', 'localhost'):
        r = c.iq("<query xmlns='%s'/>" % NS_DISCO_INFO, to=to)
        assert NS_OFFLINE in {f.get('var') for f in r.iter(q(NS_DISCO_INFO, 'feature'))}, tostr(r)
    c.close()


def test_xep0013_2_2_node_info_count(queued):
    alice, bob, ids = queued
    r = bob.iq("<query xmlns='%s' node='%s'/>" % (NS_DISCO_INFO, NS_OFFLINE))
    assert r.get('type') == 'result', tostr(r)
    query = r.find(q(NS_DISCO_INFO, 'query'))
    assert query.get('node') == NS_OFFLINE
    ident = query.find(q(NS_DISCO_INFO, 'identity'))
    assert (ident.get('category'), ident.get('type')) == ('automation', 'message-list')
    assert NS_OFFLINE in {f.get('var') for f in query.iter(q(NS_DISCO_INFO, 'feature'))}
    fields = {f.get('var'): f.findtext(q(NS_DATA, 'value')) for f in query.iter(q(NS_DATA, 'field'))}
    assert fields['FORM_TYPE'] == NS_OFFLINE
    assert fields['number_of_messages'] == '3'


def test_xep0013_2_3_headers(queued):
    alice, bob, ids = queued
    headers = offline_headers(bob)
    assert len(headers) == 3
    assert all(h[0] == 'bob@localhost' for h in headers)
    assert all(h[2] == alice.jid for h in headers)  # name = sender's full JID
    nodes = [h[1] for h in headers]
    assert len(set(nodes)) == 3 and nodes == sorted(nodes)  # dictionary order = arrival order


def test_xep0013_2_4_view_by_node_does_not_remove(queued):
    alice, bob, ids = queued
    nodes = [h[1] for h in offline_headers(bob)]
    r = bob.iq("<offline xmlns='%s'><item action='view' node='%s'/><item action='view' node='%s'/>"
               "</offline>" % (NS_OFFLINE, nodes[2], nodes[0]))
    assert r.get('type') == 'result', tostr(r)
    got = [e for e in bob.others if e.tag == MSG]
    assert [m.get('id') for m in got] == [ids[2], ids[0]]
    assert [offline_node_of(m) for m in got] == [nodes[2], nodes[0]]
    assert all(server_delay(m) is not None for m in got)
    bob.others.clear()
    assert offline_count(bob) == 3


def test_xep0013_2_5_remove_by_node(queued):
    alice, bob, ids = queued
    nodes = [h[1] for h in offline_headers(bob)]
    r = bob.iq("<offline xmlns='%s'><item action='remove' node='%s'/><item action='remove' node='%s'/>"
               "</offline>" % (NS_OFFLINE, nodes[0], nodes[1]), type='set')
    assert r.get('type') == 'result', tostr(r)
    assert [h[1] for h in offline_headers(bob)] == [nodes[2]]
    # Removed nodes no longer exist.
    r = bob.iq("<offline xmlns='%s'><item action='view' node='%s'/></offline>" % (NS_OFFLINE, nodes[0]))
    assert_error(r, 'item-not-found')
    r = bob.iq("<offline xmlns='%s'><item action='remove' node='%s'/></offline>" % (NS_OFFLINE, nodes[0]),
               type='set')
    assert_error(r, 'item-not-found')


@pytest.mark.parametrize('node', ['nonsense', '2002-09-10T23:08:25.000Z-000000000001', ''])
def test_xep0013_2_4_unknown_node_item_not_found(queued, node):
    alice, bob, ids = queued
    r = bob.iq("<offline xmlns='%s'><item action='view' node='%s'/></offline>" % (NS_OFFLINE, node))
    assert_error(r, 'item-not-found')
    assert not [e for e in bob.others if e.tag == MSG]


def test_xep0013_2_6_fetch_and_2_7_purge(queued):
    alice, bob, ids = queued
    msgs = offline_fetch(bob)
    assert [m.get('id') for m in msgs] == ids
    assert offline_count(bob) == 3  # fetch does not remove (§2.5)
    offline_purge(bob)
    assert offline_count(bob) == 0
    assert offline_headers(bob) == []
    assert offline_fetch(bob) == []


def test_xep0013_other_users_queue_forbidden(queued):
    alice, bob, ids = queued
    r = alice.iq("<query xmlns='%s' node='%s'/>" % (NS_DISCO_ITEMS, NS_OFFLINE), to='bob@localhost')
    assert_error(r, 'forbidden')
    r = alice.iq("<query xmlns='%s' node='%s'/>" % (NS_DISCO_INFO, NS_OFFLINE), to='bob@localhost')
    assert_error(r, 'forbidden')
    r = alice.iq("<offline xmlns='%s'><fetch/></offline>" % NS_OFFLINE, to='bob@localhost')
    assert_error(r, 'forbidden')
    r = alice.iq("<offline xmlns='%s'><purge/></offline>" % NS_OFFLINE, to='bob@localhost', type='set')
    assert_error(r, 'forbidden')
    assert not [e for e in alice.others if e.tag == MSG]
    assert offline_count(bob) == 3


def test_xep0013_bad_requests(queued):
    alice, bob, ids = queued
    r = bob.iq("<offline xmlns='%s'><purge/></offline>" % NS_OFFLINE, type='get')
    assert_error(r, 'bad-request')
    nodes = [h[1] for h in offline_headers(bob)]
    r = bob.iq("<offline xmlns='%s'><item action='remove' node='%s'/></offline>" % (NS_OFFLINE, nodes[0]),
               type='get')
    assert_error(r, 'bad-request')
    assert offline_count(bob) == 3


def test_xep0013_unknown_disco_node_item_not_found(server):
    c = login(server, 'bob')
    r = c.iq("<query xmlns='%s' node='urn:example:nope'/>" % NS_DISCO_INFO)
    assert_error(r, 'item-not-found')
    c.close()


def test_xep0013_3_no_flood_after_flexible_retrieval(queued, server):
    alice, bob, ids = queued
    fresh = login(server, 'bob')
    offline_headers(fresh)  # XEP-0013 used before initial presence
    fresh.send('<presence/>')
    no_msg(fresh, wait=0.8)
    assert offline_count(fresh) == 3
    # In-session messages still arrive as usual.
    mid = send_msg(alice, fresh.jid, 'live', type='chat')
    recv_msg(fresh, id=mid)
    fresh.close()
