"""XEP-0223 private data over PEP (whitelist + persistent, through slixmpp's plugin and raw XML)
and XEP-0384 OMEMO device lists and bundles (both namespaces), published with open access and
fetched by another account."""
import asyncio
import base64
import hashlib

import pytest

from im_helpers_roster import fresh_user
from pep_helpers import (NS_DATA, get_items, items_of, make_subscribed, notify_login, publish,
                         published_id, pubsub_error, pubsub_iq, wait_event)
from rawxmpp import q, tostr

import slixmpp  # python3-slixmpp, installed by scripts/install-deps.sh
from slix_helpers import configure_client, loopback_client_class  # noqa: E402

OLD_DEVICES = 'eu.siacs.conversations.axolotl.devicelist'
OLD_BUNDLES = 'eu.siacs.conversations.axolotl.bundles:%d'
OLD_NS = 'eu.siacs.conversations.axolotl'
NEW_DEVICES = 'urn:xmpp:omemo:2:devices'
NEW_BUNDLES = 'urn:xmpp:omemo:2:bundles'
NEW_NS = 'urn:xmpp:omemo:2'


@pytest.fixture(scope='module')
def srv(server_factory):
    return server_factory.start('pep-payloads')


def bare(srv, user):
    return '%s@%s' % (user, srv.domain)


def test_xep0223_private_storage_raw(srv):
    user, other = fresh_user(srv, 'p'), fresh_user(srv, 'o')
    c = srv.login(user, resource='r')
    opts = {'pubsub#persist_items': 'true', 'pubsub#access_model': 'whitelist'}
    published_id(publish(c, 'urn:example:secret-notes', "<notes xmlns='urn:example:secret-notes'>hush</notes>",
                         item_id='current', options=opts))
    (iid, notes), = items_of(get_items(c, bare(srv, user), 'urn:example:secret-notes'))
    assert (iid, notes.text) == ('current', 'hush')
    o = srv.login(other, resource='r')
    assert pubsub_error(get_items(o, bare(srv, user), 'urn:example:secret-notes')) == ('not-allowed', 'closed-node')
    # XEP-0223 §4: a node that is not private fails the precondition.
    published_id(publish(c, 'urn:example:public-notes', "<notes xmlns='urn:example:public-notes'/>",
                         options={'pubsub#access_model': 'open'}))
    r = publish(c, 'urn:example:public-notes', "<notes xmlns='urn:example:public-notes'/>", options=opts)
    assert pubsub_error(r) == ('conflict', 'precondition-not-met')
    # The node configuration says what XEP-0223 asked for.
    r = pubsub_iq(c, "<configure node='urn:example:secret-notes'/>", type='get', owner=True)
    fields = {f.get('var'): f.findtext(q(NS_DATA, 'value')) for f in r.iter(q(NS_DATA, 'field'))}
    assert fields['pubsub#access_model'] == 'whitelist' and fields['pubsub#persist_items'] in ('1', 'true')


class PepClient(loopback_client_class(slixmpp.ClientXMPP)):
    def __init__(self, jid, password, port):
        super().__init__(jid, password)
        configure_client(self, port, plugins=('xep_0004', 'xep_0030', 'xep_0060', 'xep_0163',
                                              'xep_0223', 'xep_0084'))


def test_xep0223_and_xep0084_with_slixmpp(srv):
    """slixmpp's own XEP-0223 and XEP-0084 plugins against the PEP service."""
    user = fresh_user(srv, 'sl')

    async def scenario():
        xmpp = PepClient('%s/sli' % bare(srv, user), srv.password, srv.c2s_port)
        started = asyncio.get_running_loop().create_future()
        xmpp.add_event_handler('session_start', lambda e: started.done() or started.set_result(True))
        xmpp.connect(address=('127.0.0.1', srv.c2s_port), force_starttls=True)
        await asyncio.wait_for(started, 20)
        try:
            payload = slixmpp.xmlstream.ET.fromstring("<prefs xmlns='urn:example:prefs'><theme>dark</theme></prefs>")
            stanza = slixmpp.xmlstream.ElementBase(payload)
            await xmpp['xep_0223'].store(stanza, node='urn:example:prefs', id='current', timeout=10)
            res = await xmpp['xep_0223'].retrieve('urn:example:prefs', timeout=10)
            items = res['pubsub']['items']
            got = [i['id'] for i in items]
            body = [slixmpp.xmlstream.tostring(i.xml) for i in items]
            # XEP-0084 through slixmpp: data, metadata, then fetch by id.
            img = b'\x89PNG\r\n\x1a\n' + bytes(range(200))
            img_id = hashlib.sha1(img).hexdigest()
            await xmpp['xep_0084'].publish_avatar(img, timeout=10)
            await xmpp['xep_0084'].publish_avatar_metadata([{'id': img_id, 'type': 'image/png', 'bytes': len(img)}],
                                                          timeout=10)
            res = await xmpp['xep_0084'].retrieve_avatar(slixmpp.JID(bare(srv, user)), img_id, timeout=10)
            item = list(res['pubsub']['items'])[0]
            # (slixmpp 1.8.3's Data.get_value() cannot decode: compare the base64 text.)
            assert item['id'] == img_id
            assert ''.join(item.xml.find('{urn:xmpp:avatar:data}data').text.split()) == base64.b64encode(img).decode()
            return got, body
        finally:
            xmpp.disconnect(wait=2)
            try:
                await asyncio.wait_for(xmpp.disconnected, 5)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                pass

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        got, body = loop.run_until_complete(asyncio.wait_for(scenario(), 40))
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
        asyncio.set_event_loop(None)
    assert got == ['current']
    assert 'dark' in body[0]


def devicelist_old(ids):
    return "<list xmlns='%s'>%s</list>" % (OLD_NS, ''.join("<device id='%d'/>" % i for i in ids))


def bundle_old(device):
    return ("<bundle xmlns='%s'><signedPreKeyPublic signedPreKeyId='1'>c3BrMQ==</signedPreKeyPublic>"
            "<signedPreKeySignature>c2lnMQ==</signedPreKeySignature><identityKey>aWsx</identityKey>"
            "<prekeys><preKeyPublic preKeyId='1'>cGsx</preKeyPublic><preKeyPublic preKeyId='2'>cGsy</preKeyPublic>"
            "</prekeys></bundle>" % OLD_NS)


def test_xep0384_omemo_published_open_and_fetched_by_another_user(srv):
    alice, bob, carol = fresh_user(srv, 'om'), fresh_user(srv, 'ob'), fresh_user(srv, 'oc')
    a = srv.login(alice, resource='phone')
    bc = srv.login(bob, resource='setup')
    make_subscribed(srv, a, alice, bc, bob)
    bob_dev = notify_login(srv, bob, 'conv', [OLD_DEVICES, NEW_DEVICES])
    open_opts = {'pubsub#access_model': 'open'}
    # Conversations-style (legacy namespace): device list singleton, one bundle node per device.
    published_id(publish(a, OLD_DEVICES, devicelist_old([1234]), item_id='current', options=open_opts))
    published_id(publish(a, OLD_BUNDLES % 1234, bundle_old(1234), item_id='current', options=open_opts))
    # OMEMO 2: devices singleton, bundles one item per device with max_items 'max' (XEP-0384 §5.3).
    published_id(publish(a, NEW_DEVICES, "<devices xmlns='%s'><device id='1234' label='Phone'/></devices>" % NEW_NS,
                         item_id='current', options=open_opts))
    bundle_opts = dict(open_opts, **{'pubsub#max_items': 'max'})
    for dev in (1234, 5678):
        published_id(publish(a, NEW_BUNDLES, "<bundle xmlns='%s'><spk id='1'>c3Br</spk><spks>c2ln</spks><ik>aWs=</ik>"
                             "<prekeys><pk id='1'>cGs=</pk></prekeys></bundle>" % NEW_NS,
                             item_id=str(dev), options=bundle_opts))
    # The subscribed contact's client hears of the device lists.
    got = set()
    while got != {OLD_DEVICES, NEW_DEVICES}:
        m = wait_event(bob_dev, frm=bare(srv, alice))
        for its in m.iter():
            if its.get('node') in (OLD_DEVICES, NEW_DEVICES):
                got.add(its.get('node'))
    # Someone without any subscription fetches everything to start a session (open access).
    c = srv.login(carol, resource='r')
    (iid, lst), = items_of(get_items(c, bare(srv, alice), OLD_DEVICES))
    assert iid == 'current' and [d.get('id') for d in lst.iter(q(OLD_NS, 'device'))] == ['1234']
    (iid, bundle), = items_of(get_items(c, bare(srv, alice), OLD_BUNDLES % 1234, extra=" max_items='1'"))
    assert bundle.find(q(OLD_NS, 'identityKey')).text == 'aWsx', tostr(bundle)
    assert len(list(bundle.iter(q(OLD_NS, 'preKeyPublic')))) == 2
    (iid, devs), = items_of(get_items(c, bare(srv, alice), NEW_DEVICES))
    assert [(d.get('id'), d.get('label')) for d in devs.iter(q(NEW_NS, 'device'))] == [('1234', 'Phone')]
    got = items_of(get_items(c, bare(srv, alice), NEW_BUNDLES, inner="<item id='5678'/>"))
    assert [i for i, _ in got] == ['5678'] and got[0][1].find(q(NEW_NS, 'ik')).text == 'aWs='
    assert [i for i, _ in items_of(get_items(c, bare(srv, alice), NEW_BUNDLES))] == ['1234', '5678']
