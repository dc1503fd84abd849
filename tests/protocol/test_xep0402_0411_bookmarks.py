"""PEP Native Bookmarks (XEP-0402: one item per room, 'max' items, whitelist) kept in step with
XEP-0048 bookmarks in private XML storage (XEP-0049) and in the XEP-0048 PEP node (XEP-0411),
in both directions."""
import pytest

from im_helpers_roster import fresh_user
from im_helpers_vcard import NS_PRIVATE
from pep_helpers import (event_items, get_items, items_of, notify_login, publish, published_id, pubsub_error,
                         pubsub_iq, wait_event, wait_until)
from rawxmpp import NS_DISCO_INFO, q, tostr

NS_B2 = 'urn:xmpp:bookmarks:1'
NS_B1 = 'storage:bookmarks'
B2_OPTIONS = {'pubsub#persist_items': 'true', 'pubsub#max_items': 'max',
              'pubsub#send_last_published_item': 'never', 'pubsub#access_model': 'whitelist'}


@pytest.fixture(scope='module')
def srv(server_factory):
    return server_factory.start('bookmarks')


def bare(srv, user):
    return '%s@%s' % (user, srv.domain)


def private_bookmarks(c):
    """{room jid: (name, autojoin, nick)} from private XML storage."""
    r = c.iq("<query xmlns='%s'><storage xmlns='%s'/></query>" % (NS_PRIVATE, NS_B1))
    assert r.get('type') == 'result', tostr(r)
    out = {}
    for conf in r.iter(q(NS_B1, 'conference')):
        out[conf.get('jid')] = (conf.get('name'), conf.get('autojoin') in ('true', '1'), conf.findtext(q(NS_B1, 'nick')))
    return out


def pep_bookmarks(c, owner):
    """{room jid: (name, autojoin, nick)} from XEP-0402 items."""
    r = get_items(c, owner, NS_B2)
    if r.get('type') != 'result':
        return {}
    out = {}
    for iid, conf in items_of(r):
        out[iid] = (conf.get('name'), conf.get('autojoin') in ('true', '1'), conf.findtext(q(NS_B2, 'nick')))
    return out


def b2(name, autojoin, nick):
    return "<conference xmlns='%s' name='%s' autojoin='%s'><nick>%s</nick></conference>" % (
        NS_B2, name, 'true' if autojoin else 'false', nick)


def test_xep0402_to_private_xml_and_back(srv):
    user = fresh_user(srv, 'bm')
    c = srv.login(user, resource='modern')
    own = notify_login(srv, user, 'other', [NS_B2])
    published_id(publish(c, NS_B2, b2('Coven', True, 'witch'), item_id='coven@chat.example', options=B2_OPTIONS))
    published_id(publish(c, NS_B2, b2('Tea', False, 'guest'), item_id='tea@chat.example', options=B2_OPTIONS))
    # XEP-0402 §3.2: notifications to the account's other interested resources.
    assert [i for _, i, _ in event_items(wait_event(own, node=NS_B2))] == ['coven@chat.example']
    # Several items kept ('max'), each a room.
    assert pep_bookmarks(c, bare(srv, user)) == {'coven@chat.example': ('Coven', True, 'witch'),
                                                 'tea@chat.example': ('Tea', False, 'guest')}
    # XEP-0402 §4 compat: the private XML copy for XEP-0048 clients.
    want = {'coven@chat.example': ('Coven', True, 'witch'), 'tea@chat.example': ('Tea', False, 'guest')}
    assert wait_until(lambda: private_bookmarks(c) == want), private_bookmarks(c)
    # A retraction removes the room there too.
    r = pubsub_iq(c, "<retract node='%s' notify='true'><item id='tea@chat.example'/></retract>" % NS_B2)
    assert r.get('type') == 'result', tostr(r)
    assert wait_until(lambda: list(private_bookmarks(c)) == ['coven@chat.example']), private_bookmarks(c)
    # XEP-0411: the XEP-0048 PEP node carries the same storage. It is written after the
    # private XML copy, so it may trail it for a moment.
    def pep_rooms():
        (iid, storage), = items_of(get_items(c, bare(srv, user), NS_B1))
        return [x.get('jid') for x in storage.iter(q(NS_B1, 'conference'))]
    assert wait_until(lambda: pep_rooms() == ['coven@chat.example']), pep_rooms()


def test_xep0049_private_bookmarks_to_xep0402(srv):
    user = fresh_user(srv, 'old')
    legacy = srv.login(user, resource='legacy')
    modern = notify_login(srv, user, 'modern', [NS_B2])
    r = legacy.iq("<query xmlns='%s'><storage xmlns='%s'>"
                  "<conference jid='a@chat.example' name='A' autojoin='true'><nick>n1</nick></conference>"
                  "<conference jid='b@chat.example' name='B'><nick>n2</nick></conference>"
                  "<url name='site' url='https://example.org/'/>"
                  "</storage></query>" % (NS_PRIVATE, NS_B1), type='set')
    assert r.get('type') == 'result', tostr(r)
    want = {'a@chat.example': ('A', True, 'n1'), 'b@chat.example': ('B', False, 'n2')}
    assert wait_until(lambda: pep_bookmarks(modern, bare(srv, user)) == want), pep_bookmarks(modern, bare(srv, user))
    seen = set()
    while seen != {'a@chat.example', 'b@chat.example'}:
        seen.update(i for _, i, _ in event_items(wait_event(modern, node=NS_B2)))
    # Removing a room in private XML retracts its item (with a notification).
    r = legacy.iq("<query xmlns='%s'><storage xmlns='%s'>"
                  "<conference jid='a@chat.example' name='A' autojoin='true'><nick>n1</nick></conference>"
                  "<url name='site' url='https://example.org/'/>"
                  "</storage></query>" % (NS_PRIVATE, NS_B1), type='set')
    assert r.get('type') == 'result', tostr(r)
    assert wait_until(lambda: list(pep_bookmarks(modern, bare(srv, user))) == ['a@chat.example'])
    m = wait_event(modern, node=NS_B2)
    assert ('retract', 'b@chat.example', None) in event_items(m), tostr(m)
    # A XEP-0402 change keeps the private <url/> bookmark.
    published_id(publish(modern, NS_B2, b2('C', False, 'n3'), item_id='c@chat.example', options=B2_OPTIONS))
    assert wait_until(lambda: set(private_bookmarks(legacy)) == {'a@chat.example', 'c@chat.example'})
    r = legacy.iq("<query xmlns='%s'><storage xmlns='%s'/></query>" % (NS_PRIVATE, NS_B1))
    assert r.find('.//' + q(NS_B1, 'url')) is not None, tostr(r)


def test_xep0411_pep_storage_node_to_private_and_0402(srv):
    user = fresh_user(srv, 'pep48')
    c = srv.login(user, resource='r')
    published_id(publish(c, NS_B1, "<storage xmlns='%s'><conference jid='x@chat.example' name='X' autojoin='1'>"
                                   "<nick>me</nick></conference></storage>" % NS_B1, item_id='current',
                         options={'pubsub#persist_items': 'true', 'pubsub#access_model': 'whitelist'}))
    assert wait_until(lambda: private_bookmarks(c) == {'x@chat.example': ('X', True, 'me')}), private_bookmarks(c)
    assert wait_until(lambda: pep_bookmarks(c, bare(srv, user)) == {'x@chat.example': ('X', True, 'me')})


def test_xep0402_bookmarks_are_private_and_features(srv):
    user, other = fresh_user(srv, 'priv'), fresh_user(srv, 'peek')
    c = srv.login(user, resource='r')
    published_id(publish(c, NS_B2, b2('S', False, 'n'), item_id='s@chat.example', options=B2_OPTIONS))
    o = srv.login(other, resource='r')
    assert pubsub_error(get_items(o, bare(srv, user), NS_B2)) == ('not-allowed', 'closed-node')
    r = c.iq("<query xmlns='%s'/>" % NS_DISCO_INFO, to=bare(srv, user))
    feats = {f.get('var') for f in r.iter(q(NS_DISCO_INFO, 'feature'))}
    assert {'urn:xmpp:bookmarks:1#compat', 'urn:xmpp:bookmarks-conversion:0'} <= feats
