"""XEP-0163 Personal Eventing Protocol on the XEP-0060 engine: publish/retract with
notifications filtered by verified XEP-0115 +notify interest (§4.3), presence-subscription
gating, the last published item when interest appears (§4.3.4), access models, max_items
(including 'max'), publish-options preconditions (XEP-0060 §7.1.5), node configuration,
purge/delete, disco (§5), the pubsub errors of XEP-0060 §6–§8, persistence across a restart
and removal with the account."""
import os
import sqlite3

import pytest

from im_helpers_roster import fresh_user
from pep_helpers import (NS_DATA, NS_DELAY, NS_PUBSUB, NS_PUBSUB_EVENT, NS_PUBSUB_OWNER, configure,
                         event_items, get_items, is_event, items_of, make_subscribed, no_stanza,
                         notify_login, ping, publish, published_id, pubsub_error, pubsub_iq,
                         set_affiliation, wait_event)
from rawxmpp import NS_DISCO_INFO, NS_DISCO_ITEMS, q, tostr

TUNE = 'http://jabber.org/protocol/tune'
MOOD = 'http://jabber.org/protocol/mood'


def tune(artist):
    return "<tune xmlns='%s'><artist>%s</artist></tune>" % (TUNE, artist)


@pytest.fixture(scope='module')
def srv(server_factory):
    return server_factory.start('pep')


def bare(srv, user):
    return '%s@%s' % (user, srv.domain)


@pytest.fixture
def trio(srv):
    """A fresh owner, a contact subscribed to the owner's presence, and a stranger."""
    owner, contact, stranger = fresh_user(srv, 'own'), fresh_user(srv, 'sub'), fresh_user(srv, 'str')
    oc = srv.login(owner, resource='desk')
    cc = srv.login(contact, resource='setup')
    make_subscribed(srv, oc, owner, cc, contact)
    return owner, contact, stranger, oc, cc


def test_xep0163_publish_notifies_interested_subscribers_only(srv, trio):
    owner, contact, stranger, oc, _ = trio
    fan = notify_login(srv, contact, 'phone', [TUNE])
    indifferent = notify_login(srv, contact, 'pager', [MOOD])
    outsider = notify_login(srv, stranger, 'phone', [TUNE])
    own = notify_login(srv, owner, 'laptop', [TUNE])
    assert published_id(publish(oc, TUNE, tune('Yes'), item_id='t1')) == 't1'
    # §4.3.1: the subscribed contact's interested resource, from the owner's bare JID.
    m = wait_event(fan, frm=bare(srv, owner), node=TUNE)
    assert m.get('type') == 'headline', tostr(m)
    (kind, iid, payload), = event_items(m)
    assert (kind, iid) == ('item', 't1')
    assert payload.find(q(TUNE, 'artist')).text == 'Yes'
    # §4.3.1 rule 2: the owner's own interested resources.
    wait_event(own, frm=bare(srv, owner), node=TUNE)
    # No presence subscription, or no interest: nothing.
    assert no_stanza(outsider, is_event(), wait=1.0)
    assert no_stanza(indifferent, is_event(), wait=0.2)
    assert no_stanza(oc, is_event(), wait=0.2)  # the publishing resource announced no caps


def test_xep0060_retract_notifies(srv, trio):
    owner, contact, _, oc, _ = trio
    fan = notify_login(srv, contact, 'phone', [TUNE])
    published_id(publish(oc, TUNE, tune('A'), item_id='a',
                         options={'pubsub#max_items': '2'}))
    wait_event(fan, node=TUNE)
    r = pubsub_iq(oc, "<retract node='%s' notify='true'><item id='a'/></retract>" % TUNE)
    assert r.get('type') == 'result', tostr(r)
    m = wait_event(fan, node=TUNE)
    assert event_items(m) == [('retract', 'a', None)]
    # XEP-0060 §7.2.3.5: no such item.
    assert pubsub_error(pubsub_iq(oc, "<retract node='%s'><item id='a'/></retract>" % TUNE)) == ('item-not-found', None)
    # §7.2.3.3 / §7.2.3.4: node and item are required.
    assert pubsub_error(pubsub_iq(oc, "<retract><item id='a'/></retract>")) == ('bad-request', 'nodeid-required')
    assert pubsub_error(pubsub_iq(oc, "<retract node='%s'/>" % TUNE)) == ('bad-request', 'item-required')
    # Contacts may not retract the owner's items (§7.2.3.1).
    published_id(publish(oc, TUNE, tune('B'), item_id='b'))
    r = pubsub_iq(fan, "<retract node='%s'><item id='b'/></retract>" % TUNE, to=bare(srv, owner))
    assert pubsub_error(r) == ('forbidden', None)


def test_xep0163_last_item_when_interest_appears(srv, trio):
    owner, contact, _, oc, _ = trio
    published_id(publish(oc, TUNE, tune('Old'), item_id='old'))
    published_id(publish(oc, TUNE, tune('Last'), item_id='last'))
    # §4.3.4: a newly available resource with +notify gets the last item, with its date.
    fan = notify_login(srv, contact, 'later', [TUNE])
    m = wait_event(fan, frm=bare(srv, owner), node=TUNE)
    assert [(k, i) for k, i, _ in event_items(m)] == [('item', 'last')]
    assert m.find(q(NS_DELAY, 'delay')) is not None, tostr(m)
    # Only once per interest: a presence update with the same caps sends nothing again.
    fan.send(fan.pep_presence)
    assert no_stanza(fan, is_event(), wait=1.0)
    # The owner's own new resource too.
    own = notify_login(srv, owner, 'tablet', [TUNE])
    wait_event(own, frm=bare(srv, owner), node=TUNE)


def test_xep0163_unsubscribed_contact_gets_no_last_item(srv, trio):
    owner, _, stranger, oc, _ = trio
    published_id(publish(oc, TUNE, tune('Private'), item_id='p'))
    outsider = notify_login(srv, stranger, 'phone', [TUNE])
    assert no_stanza(outsider, is_event(), wait=1.0)


def test_xep0060_access_models(srv, trio):
    owner, contact, stranger, oc, cc = trio
    o = bare(srv, owner)
    sc = srv.login(stranger, resource='x')
    # presence (the PEP default): contacts with a subscription only (XEP-0060 §6.5.9.5).
    published_id(publish(oc, 'urn:example:pres', "<p xmlns='urn:example'/>", item_id='1'))
    assert len(items_of(get_items(cc, o, 'urn:example:pres'))) == 1
    assert pubsub_error(get_items(sc, o, 'urn:example:pres')) == ('not-authorized', 'presence-subscription-required')
    # open: everybody.
    published_id(publish(oc, 'urn:example:open', "<p xmlns='urn:example'/>", item_id='1',
                         options={'pubsub#access_model': 'open'}))
    assert len(items_of(get_items(sc, o, 'urn:example:open'))) == 1
    # whitelist: affiliated entities only (§6.5.9.4), then a member, then an outcast.
    published_id(publish(oc, 'urn:example:wl', "<p xmlns='urn:example'/>", item_id='1',
                         options={'pubsub#access_model': 'whitelist'}))
    assert pubsub_error(get_items(cc, o, 'urn:example:wl')) == ('not-allowed', 'closed-node')
    assert set_affiliation(oc, 'urn:example:wl', bare(srv, contact), 'member').get('type') == 'result'
    assert len(items_of(get_items(cc, o, 'urn:example:wl'))) == 1
    r = pubsub_iq(oc, "<affiliations node='urn:example:wl'/>", type='get', owner=True)
    affs = {a.get('jid'): a.get('affiliation') for a in r.iter(q(NS_PUBSUB_OWNER, 'affiliation'))}
    assert affs == {o: 'owner', bare(srv, contact): 'member'}, tostr(r)
    assert set_affiliation(oc, 'urn:example:wl', bare(srv, contact), 'outcast').get('type') == 'result'
    assert pubsub_error(get_items(cc, o, 'urn:example:wl')) == ('forbidden', None)
    # roster: by group.
    published_id(publish(oc, 'urn:example:roster', "<p xmlns='urn:example'/>", item_id='1',
                         options={'pubsub#access_model': 'roster', 'pubsub#roster_groups_allowed': 'Friends'}))
    assert pubsub_error(get_items(cc, o, 'urn:example:roster')) == ('not-authorized', 'not-in-roster-group')
    r = oc.iq("<query xmlns='jabber:iq:roster'><item jid='%s'><group>Friends</group></item></query>"
              % bare(srv, contact), type='set')
    assert r.get('type') == 'result', tostr(r)
    assert len(items_of(get_items(cc, o, 'urn:example:roster'))) == 1


def test_xep0163_notifications_follow_access_model(srv, trio):
    owner, contact, _, oc, _ = trio
    fan = notify_login(srv, contact, 'phone', ['urn:example:secret'])
    published_id(publish(oc, 'urn:example:secret', "<s xmlns='urn:example'/>", item_id='1',
                         options={'pubsub#access_model': 'whitelist'}))
    assert no_stanza(fan, is_event(), wait=1.0)
    assert set_affiliation(oc, 'urn:example:secret', bare(srv, contact), 'member').get('type') == 'result'
    published_id(publish(oc, 'urn:example:secret', "<s xmlns='urn:example'/>", item_id='2'))
    assert [i for _, i, _ in event_items(wait_event(fan, node='urn:example:secret'))] == ['2']


def test_xep0060_max_items_and_max(srv, trio):
    owner, _, _, oc, _ = trio
    o = bare(srv, owner)
    for i in range(5):
        published_id(publish(oc, 'urn:example:three', "<n xmlns='urn:example'>%d</n>" % i, item_id=str(i),
                             options={'pubsub#max_items': '3'}))
    assert [i for i, _ in items_of(get_items(oc, o, 'urn:example:three'))] == ['2', '3', '4']
    assert [i for i, _ in items_of(get_items(oc, o, 'urn:example:three', extra=" max_items='1'"))] == ['4']
    assert [i for i, _ in items_of(get_items(oc, o, 'urn:example:three', inner="<item id='3'/>"))] == ['3']
    # The default PEP node is a singleton.
    for i in range(3):
        published_id(publish(oc, 'urn:example:one', "<n xmlns='urn:example'/>", item_id=str(i)))
    assert [i for i, _ in items_of(get_items(oc, o, 'urn:example:one'))] == ['2']
    # 'max': as many as the server allows (XEP-0060 config-node-max).
    for i in range(12):
        published_id(publish(oc, 'urn:example:max', "<n xmlns='urn:example'/>", item_id=str(i),
                             options={'pubsub#max_items': 'max'}))
    assert len(items_of(get_items(oc, o, 'urn:example:max'))) == 12
    r = pubsub_iq(oc, "<configure node='urn:example:max'/>", type='get', owner=True)
    assert r.get('type') == 'result', tostr(r)
    fields = {f.get('var'): f.findtext(q(NS_DATA, 'value')) for f in r.iter(q(NS_DATA, 'field'))}
    assert fields['pubsub#max_items'] == 'max'
    assert fields['pubsub#access_model'] == 'presence'
    assert fields['pubsub#send_last_published_item'] == 'on_sub_and_presence'
    # Lowering max_items drops the oldest.
    assert configure(oc, 'urn:example:max', {'pubsub#max_items': '2'}).get('type') == 'result'
    assert [i for i, _ in items_of(get_items(oc, o, 'urn:example:max'))] == ['10', '11']
    # Beyond the server's limit: not acceptable (§8.2.5.2).
    assert pubsub_error(configure(oc, 'urn:example:max', {'pubsub#max_items': '100000'})) == ('not-acceptable', None)


def test_xep0060_publish_options_precondition_not_met(srv, trio):
    owner, _, _, oc, _ = trio
    published_id(publish(oc, 'urn:example:pre', "<n xmlns='urn:example'/>", item_id='1',
                         options={'pubsub#access_model': 'whitelist', 'pubsub#persist_items': 'true'}))
    # Same preconditions: fine.
    published_id(publish(oc, 'urn:example:pre', "<n xmlns='urn:example'/>", item_id='2',
                         options={'pubsub#access_model': 'whitelist'}))
    # §7.1.5: the node says otherwise: conflict + precondition-not-met, nothing published.
    r = publish(oc, 'urn:example:pre', "<n xmlns='urn:example'/>", item_id='3', options={'pubsub#access_model': 'open'})
    assert pubsub_error(r) == ('conflict', 'precondition-not-met')
    r = publish(oc, 'urn:example:pre', "<n xmlns='urn:example'/>", item_id='3', options={'pubsub#unknown_field': '1'})
    assert pubsub_error(r) == ('conflict', 'precondition-not-met')
    assert [i for i, _ in items_of(get_items(oc, bare(srv, owner), 'urn:example:pre'))] == ['2']


def test_xep0060_errors(srv, trio):
    owner, contact, stranger, oc, cc = trio
    o = bare(srv, owner)
    published_id(publish(oc, 'urn:example:err', "<n xmlns='urn:example'/>", item_id='1'))
    # Contacts cannot publish to or create nodes of someone else's PEP service.
    assert pubsub_error(publish(cc, 'urn:example:err', "<n xmlns='urn:example'/>", to=o)) == ('forbidden', None)
    assert pubsub_error(publish(cc, 'urn:example:new', "<n xmlns='urn:example'/>", to=o)) == ('forbidden', None)
    assert pubsub_error(get_items(cc, o, 'urn:example:nosuch')) == ('item-not-found', None)
    assert pubsub_error(get_items(cc, o, 'urn:example:err', inner="<item id='zzz'/>")) == ('item-not-found', None)
    # §7.1.3.6 / §7.1.3.5: an item and exactly one payload.
    assert pubsub_error(pubsub_iq(oc, "<publish node='urn:example:err'/>")) == ('bad-request', 'item-required')
    assert pubsub_error(publish(oc, 'urn:example:err', "<a xmlns='urn:x'/><b xmlns='urn:x'/>")) == ('bad-request', 'invalid-payload')
    # §6.1.3.1: subscribing someone else.
    r = pubsub_iq(cc, "<subscribe node='urn:example:err' jid='%s'/>" % bare(srv, stranger), to=o)
    assert pubsub_error(r) == ('bad-request', 'invalid-jid')
    # §8.2.3.2 / §8.4.3.1: owner operations by a non-owner.
    assert pubsub_error(pubsub_iq(cc, "<configure node='urn:example:err'/>", type='get', owner=True, to=o)) == ('forbidden', None)
    assert pubsub_error(pubsub_iq(cc, "<delete node='urn:example:err'/>", owner=True, to=o)) == ('forbidden', None)
    # §6.3: subscription options are not supported.
    r = pubsub_iq(cc, "<options node='urn:example:err' jid='%s'/>" % bare(srv, contact), type='get', to=o)
    assert pubsub_error(r) == ('feature-not-implemented', 'unsupported')
    # §8.1.3.3: the node exists.
    assert pubsub_error(pubsub_iq(oc, "<create node='urn:example:err'/>")) == ('conflict', None)
    # A PEP service of an account that does not exist.
    r = get_items(cc, 'nobody-here@%s' % srv.domain, 'urn:example:err')
    assert r.get('type') == 'error' and pubsub_error(r)[0] == 'service-unavailable', tostr(r)
    ping(oc, srv)


def test_xep0060_subscribe_open_node_gets_last_item_and_notifications(srv, trio):
    owner, _, stranger, oc, _ = trio
    o = bare(srv, owner)
    published_id(publish(oc, 'urn:example:news', "<n xmlns='urn:example'>1</n>", item_id='1',
                         options={'pubsub#access_model': 'open'}))
    sc = srv.login(stranger, resource='reader')
    r = pubsub_iq(sc, "<subscribe node='urn:example:news' jid='%s'/>" % sc.jid, to=o)
    assert r.get('type') == 'result', tostr(r)
    sub = r.find('%s/%s' % (q(NS_PUBSUB, 'pubsub'), q(NS_PUBSUB, 'subscription')))
    assert sub.get('subscription') == 'subscribed' and sub.get('jid') == sc.jid
    # XEP-0060 §6.1.7: the last item to the new subscriber.
    assert [i for _, i, _ in event_items(wait_event(sc, frm=o, node='urn:example:news'))] == ['1']
    published_id(publish(oc, 'urn:example:news', "<n xmlns='urn:example'>2</n>", item_id='2'))
    assert [i for _, i, _ in event_items(wait_event(sc, frm=o, node='urn:example:news'))] == ['2']
    r = pubsub_iq(sc, "<subscriptions/>", type='get', to=o)
    assert [s.get('node') for s in r.iter(q(NS_PUBSUB, 'subscription'))] == ['urn:example:news'], tostr(r)
    r = pubsub_iq(sc, "<unsubscribe node='urn:example:news' jid='%s'/>" % sc.jid, to=o)
    assert r.get('type') == 'result', tostr(r)
    r = pubsub_iq(sc, "<unsubscribe node='urn:example:news' jid='%s'/>" % sc.jid, to=o)
    assert pubsub_error(r) == ('unexpected-request', 'not-subscribed')
    published_id(publish(oc, 'urn:example:news', "<n xmlns='urn:example'>3</n>", item_id='3'))
    assert no_stanza(sc, is_event(), wait=1.0)


def test_xep0060_purge_and_delete_notify(srv, trio):
    owner, contact, _, oc, _ = trio
    fan = notify_login(srv, contact, 'phone', ['urn:example:pd'])
    published_id(publish(oc, 'urn:example:pd', "<n xmlns='urn:example'/>", item_id='1'))
    wait_event(fan, node='urn:example:pd')
    assert configure(oc, 'urn:example:pd', {'pubsub#notify_delete': '1'}).get('type') == 'result'
    r = pubsub_iq(oc, "<purge node='urn:example:pd'/>", owner=True)
    assert r.get('type') == 'result', tostr(r)
    m = wait_event(fan, node='urn:example:pd')
    assert m.find('%s/%s' % (q(NS_PUBSUB_EVENT, 'event'), q(NS_PUBSUB_EVENT, 'purge'))) is not None, tostr(m)
    assert items_of(get_items(oc, bare(srv, owner), 'urn:example:pd')) == []
    r = pubsub_iq(oc, "<delete node='urn:example:pd'/>", owner=True)
    assert r.get('type') == 'result', tostr(r)
    m = wait_event(fan, node='urn:example:pd')
    assert m.find('%s/%s' % (q(NS_PUBSUB_EVENT, 'event'), q(NS_PUBSUB_EVENT, 'delete'))) is not None, tostr(m)
    assert pubsub_error(get_items(oc, bare(srv, owner), 'urn:example:pd')) == ('item-not-found', None)


def test_xep0163_s5_disco(srv, trio):
    owner, contact, stranger, oc, cc = trio
    o = bare(srv, owner)
    r = oc.iq("<query xmlns='%s'/>" % NS_DISCO_INFO, to=o)
    ids = [(i.get('category'), i.get('type')) for i in r.iter(q(NS_DISCO_INFO, 'identity'))]
    assert ('pubsub', 'pep') in ids and ('account', 'registered') in ids, tostr(r)
    feats = {f.get('var') for f in r.iter(q(NS_DISCO_INFO, 'feature'))}
    for f in ('publish', 'publish-options', 'auto-create', 'auto-subscribe', 'filtered-notifications',
              'access-presence', 'access-open', 'access-whitelist', 'config-node-max', 'last-published',
              'persistent-items', 'retrieve-items', 'retract-items', 'purge-nodes', 'delete-nodes'):
        assert '%s#%s' % (NS_PUBSUB, f) in feats, f
    published_id(publish(oc, 'urn:example:visible', "<n xmlns='urn:example'/>", item_id='1'))
    published_id(publish(oc, 'urn:example:hidden', "<n xmlns='urn:example'/>", item_id='1',
                         options={'pubsub#access_model': 'whitelist'}))
    published_id(publish(oc, 'urn:example:public', "<n xmlns='urn:example'/>", item_id='1',
                         options={'pubsub#access_model': 'open'}))

    def nodes(c):
        r = c.iq("<query xmlns='%s'/>" % NS_DISCO_ITEMS, to=o)
        assert r.get('type') == 'result', tostr(r)
        return {i.get('node') for i in r.iter(q(NS_DISCO_ITEMS, 'item'))}
    assert nodes(oc) == {'urn:example:visible', 'urn:example:hidden', 'urn:example:public'}
    # §5: only what the asker may read.
    assert nodes(cc) == {'urn:example:visible', 'urn:example:public'}
    assert nodes(srv.login(stranger, resource='d')) == {'urn:example:public'}


def test_xep0060_persistent_items_survive_restart_and_go_with_account(server_factory):
    s = server_factory.start('pep-restart', users=('alice', 'bob'))
    a = s.login('alice', resource='r')
    published_id(publish(a, 'urn:example:keep', "<n xmlns='urn:example'>kept</n>", item_id='k',
                         options={'pubsub#access_model': 'open', 'pubsub#max_items': '10'}))
    published_id(publish(a, 'urn:example:keep', "<n xmlns='urn:example'>kept2</n>", item_id='k2'))
    a.close()
    s.stop()
    s.start()
    b = s.login('bob', resource='r')
    got = items_of(get_items(b, 'alice@localhost', 'urn:example:keep'))
    assert [(i, p.text) for i, p in got] == [('k', 'kept'), ('k2', 'kept2')]
    # The configuration survived as well.
    r = publish(s.login('alice', resource='again'), 'urn:example:keep', "<n xmlns='urn:example'/>",
                options={'pubsub#access_model': 'presence'})
    assert pubsub_error(r) == ('conflict', 'precondition-not-met')
    s.ctl('deluser', 'alice@localhost')
    db = os.path.join(s.data_dir, 'starling.db')
    with sqlite3.connect(db, timeout=5) as conn:
        assert conn.execute("SELECT count(*) FROM pubsub_node WHERE service = 'alice@localhost'").fetchone()[0] == 0
        assert conn.execute('SELECT count(*) FROM pubsub_item').fetchone()[0] == 0
