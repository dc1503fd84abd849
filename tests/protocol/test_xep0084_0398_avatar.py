"""XEP-0084 User Avatar over PEP, and XEP-0398 conversion: an avatar published with XEP-0084
lands in the vCard PHOTO (so the XEP-0153 hash in presence equals the XEP-0084 id), and a vCard
photo is published to the avatar nodes."""
import base64
import hashlib

import pytest

from im_helpers_roster import fresh_user
from im_helpers_vcard import NS_VCARD, NS_VCARD_UPDATE, vcard_get, vcard_set
from pep_helpers import (event_items, get_items, items_of, make_subscribed, notify_login, publish,
                         published_id, wait_until, wait_event)
from rawxmpp import NS_CLIENT, NS_DISCO_INFO, q, tostr

NS_DATA = 'urn:xmpp:avatar:data'
NS_META = 'urn:xmpp:avatar:metadata'

IMAGE = b'\x89PNG\r\n\x1a\n' + bytes(range(256)) * 4
IMAGE_B64 = base64.b64encode(IMAGE).decode()
IMAGE_ID = hashlib.sha1(IMAGE).hexdigest()


@pytest.fixture(scope='module')
def srv(server_factory):
    return server_factory.start('avatar')


def bare(srv, user):
    return '%s@%s' % (user, srv.domain)


def publish_avatar(c, image_b64, image_id, type='image/png'):
    published_id(publish(c, NS_DATA, "<data xmlns='%s'>%s</data>" % (NS_DATA, image_b64), item_id=image_id))
    published_id(publish(c, NS_META, "<metadata xmlns='%s'><info bytes='%d' id='%s' type='%s'/></metadata>"
                         % (NS_META, len(base64.b64decode(image_b64)), image_id, type), item_id=image_id))


def vcard_photo(c):
    r = vcard_get(c)
    if r.get('type') != 'result':
        return None
    photo = r.find('%s/%s' % (q(NS_VCARD, 'vCard'), q(NS_VCARD, 'PHOTO')))
    if photo is None:
        return None
    return photo.findtext(q(NS_VCARD, 'TYPE')), ''.join((photo.findtext(q(NS_VCARD, 'BINVAL')) or '').split())


def test_xep0084_publish_fetch_notify_and_xep0398_vcard(srv):
    owner, contact = fresh_user(srv, 'ava'), fresh_user(srv, 'fan')
    oc = srv.login(owner, resource='r')
    cc = srv.login(contact, resource='setup')
    make_subscribed(srv, oc, owner, cc, contact)
    fan = notify_login(srv, contact, 'phone', [NS_META])
    publish_avatar(oc, IMAGE_B64, IMAGE_ID)
    # XEP-0084 §4.3: metadata notification to interested contacts.
    m = wait_event(fan, frm=bare(srv, owner), node=NS_META)
    (_, iid, meta), = event_items(m)
    assert iid == IMAGE_ID and meta.find(q(NS_META, 'info')).get('id') == IMAGE_ID
    # §4.4: the contact fetches the data by id.
    got = items_of(get_items(fan, bare(srv, owner), NS_DATA, inner="<item id='%s'/>" % IMAGE_ID))
    assert got[0][0] == IMAGE_ID and ''.join(got[0][1].text.split()) == IMAGE_B64
    # XEP-0398 §3.1: the vCard now holds the image ...
    assert wait_until(lambda: vcard_photo(oc) == ('image/png', IMAGE_B64)), vcard_photo(oc)
    # ... and presence announces the same hash (XEP-0153 / XEP-0398 §4).
    # Presences sent before the conversion carry the old (empty) hash, and one of them may
    # still be on its way: wait for ours with the new hash (a timeout if it never comes).
    oc.others.clear()
    oc.send('<presence/>')
    photo_path = '%s/%s' % (q(NS_VCARD_UPDATE, 'x'), q(NS_VCARD_UPDATE, 'photo'))
    p = oc.recv_stanza(lambda e: e.tag == q(NS_CLIENT, 'presence') and e.get('from', '').startswith(bare(srv, owner) + '/')
                       and e.find(photo_path) is not None and e.find(photo_path).text == IMAGE_ID, timeout=5)
    assert p.find(photo_path).text == IMAGE_ID, tostr(p)
    r = oc.iq("<query xmlns='%s'/>" % NS_DISCO_INFO, to=bare(srv, owner))
    assert "urn:xmpp:pep-vcard-conversion:0" in {f.get('var') for f in r.iter(q(NS_DISCO_INFO, 'feature'))}


def test_xep0398_mismatching_avatar_not_converted(srv):
    owner = fresh_user(srv, 'bad')
    oc = srv.login(owner, resource='r')
    publish_avatar(oc, IMAGE_B64, 'f' * 40)  # the id is not the image's SHA-1
    other = base64.b64encode(b'GIF89a' + bytes(100)).decode()
    publish_avatar(oc, other, hashlib.sha1(base64.b64decode(other)).hexdigest(), type='image/gif')
    # Only the consistent one reached the vCard (conversions run in order).
    assert wait_until(lambda: vcard_photo(oc) == ('image/gif', other)), vcard_photo(oc)


def test_xep0398_vcard_photo_published_to_pep(srv):
    owner = fresh_user(srv, 'vc')
    oc = srv.login(owner, resource='r')
    r = vcard_set(oc, "<FN>V</FN><PHOTO><TYPE>image/jpeg</TYPE><BINVAL>%s</BINVAL></PHOTO>" % IMAGE_B64)
    assert r.get('type') == 'result', tostr(r)

    def meta():
        r = get_items(oc, bare(srv, owner), NS_META)
        return items_of(r) if r.get('type') == 'result' else []
    assert wait_until(lambda: [i for i, _ in meta()] == [IMAGE_ID]), meta()
    info = meta()[0][1].find(q(NS_META, 'info'))
    assert (info.get('type'), info.get('bytes')) == ('image/jpeg', str(len(IMAGE)))
    got = items_of(get_items(oc, bare(srv, owner), NS_DATA))
    assert [(i, ''.join(p.text.split())) for i, p in got] == [(IMAGE_ID, IMAGE_B64)]
