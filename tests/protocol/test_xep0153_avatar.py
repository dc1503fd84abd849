"""XEP-0153: vCard-Based Avatars — the server puts the SHA-1 of the stored photo into the
user's available presence (<x xmlns='vcard-temp:x:update'><photo/></x>) when the client did
not, observed on directed presence received by a contact."""
import hashlib

import pytest

from im_helpers_vcard import (NS_VCARD_UPDATE, PHOTO_B64, PHOTO_BYTES, PHOTO_SHA1, assert_result,
                              is_presence_from, make_subscribed, no_stanza, ping, vcard_set,
                              wrapped_b64)
from rawxmpp import q, tostr


@pytest.fixture(scope='module')
def srv(server_factory):
    return server_factory.start('avatar', users=('alice', 'bob', 'carol', 'dave'))


def photo_of(p):
    x = p.find(q(NS_VCARD_UPDATE, 'x'))
    assert x is not None, 'no vcard-temp:x:update in %s' % tostr(p)
    ph = x.find(q(NS_VCARD_UPDATE, 'photo'))
    return None if ph is None else (ph.text or '')


def directed(sender, to, body=''):
    sender.send("<presence to='%s'>%s</presence>" % (to, body))


def test_xep0153_s3_1_hash_of_photo_stamped(srv):
    a = srv.login('alice', resource='pc')
    b = srv.login('bob', resource='pc')
    assert_result(vcard_set(a, "<FN>A</FN><PHOTO><TYPE>image/png</TYPE><BINVAL>%s</BINVAL></PHOTO>"
                            % wrapped_b64(PHOTO_BYTES)))
    directed(a, 'bob@localhost/pc')
    p = b.recv_stanza(is_presence_from('alice@localhost/pc'))
    assert photo_of(p) == PHOTO_SHA1, tostr(p)


def test_xep0153_s4_1_no_photo_means_empty_photo(srv):
    c = srv.login('carol', resource='pc')
    b = srv.login('bob', resource='nophoto')
    ping(c, srv)  # let the server finish loading carol's avatar state after binding
    directed(c, 'bob@localhost/nophoto')
    p = b.recv_stanza(is_presence_from('carol@localhost/pc'))
    assert photo_of(p) == '', tostr(p)
    assert_result(vcard_set(c, "<FN>Carol, no photo</FN>"))
    directed(c, 'bob@localhost/nophoto', '<status>again</status>')
    p = b.recv_stanza(is_presence_from('carol@localhost/pc'))
    assert photo_of(p) == '', tostr(p)


def test_xep0153_client_supplied_update_untouched(srv):
    a = srv.login('alice', resource='own')
    b = srv.login('bob', resource='own')
    # XEP-0153 §4.1 rule 2: an empty <x/> means "not ready": the server must not fill it in.
    directed(a, 'bob@localhost/own', "<x xmlns='%s'/>" % NS_VCARD_UPDATE)
    p = b.recv_stanza(is_presence_from('alice@localhost/own'))
    xs = p.findall(q(NS_VCARD_UPDATE, 'x'))
    assert len(xs) == 1 and len(xs[0]) == 0, tostr(p)
    directed(a, 'bob@localhost/own', "<x xmlns='%s'><photo>%s</photo></x>" % (NS_VCARD_UPDATE, 'ab' * 20))
    p = b.recv_stanza(is_presence_from('alice@localhost/own'))
    assert len(p.findall(q(NS_VCARD_UPDATE, 'x'))) == 1
    assert photo_of(p) == 'ab' * 20


def test_xep0153_new_photo_updates_hash_and_survives_relogin(srv):
    d = srv.login('dave', resource='one')
    b = srv.login('bob', resource='dave')
    other = b'\x89PNG other image'
    assert_result(vcard_set(d, "<PHOTO><BINVAL>%s</BINVAL></PHOTO>" % PHOTO_B64))
    assert_result(vcard_set(d, "<PHOTO><BINVAL>%s</BINVAL></PHOTO>"
                            % __import__('base64').b64encode(other).decode()))
    directed(d, 'bob@localhost/dave')
    p = b.recv_stanza(is_presence_from('dave@localhost/one'))
    assert photo_of(p) == hashlib.sha1(other).hexdigest(), tostr(p)
    d.end_stream()
    d.close()
    d = srv.login('dave', resource='two')
    ping(d, srv)
    directed(d, 'bob@localhost/dave')
    p = b.recv_stanza(is_presence_from('dave@localhost/two'))
    assert photo_of(p) == hashlib.sha1(other).hexdigest(), tostr(p)


def test_xep0153_unavailable_not_stamped(srv):
    a = srv.login('alice', resource='gone')
    b = srv.login('bob', resource='gone')
    ping(a, srv)
    a.send("<presence to='bob@localhost/gone' type='unavailable'/>")
    p = b.recv_stanza(is_presence_from('alice@localhost/gone'))
    assert p.get('type') == 'unavailable'
    assert p.find(q(NS_VCARD_UPDATE, 'x')) is None, tostr(p)


def test_xep0153_s3_1_broadcast_to_subscriber_carries_hash(server_factory):
    """The contact sees the hash in the user's presence broadcast (RFC 6121 §4.4)."""
    s = server_factory.start('avatar-broadcast', users=('alice', 'bob'))
    a = s.login('alice', resource='pc')
    b = s.login('bob', resource='pc')
    b.send('<presence/>')
    make_subscribed(s, a, 'alice', b, 'bob')
    assert_result(vcard_set(a, "<PHOTO><TYPE>image/png</TYPE><BINVAL>%s</BINVAL></PHOTO>" % PHOTO_B64))
    b.others.clear()
    a.send('<presence><status>with avatar</status></presence>')
    p = b.recv_stanza(lambda e: is_presence_from('alice@localhost/pc')(e)
                      and e.findtext('{jabber:client}status') == 'with avatar')
    assert photo_of(p) == PHOTO_SHA1, tostr(p)
