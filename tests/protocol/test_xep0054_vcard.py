"""XEP-0054: vcard-temp — own vCard (get, set, replace, verbatim storage, size limit), another
user's vCard answered by the server, errors and disco."""
import pytest

from im_helpers_vcard import (NS_VCARD, assert_error, assert_result, vcard_get, vcard_of,
                              vcard_set)
from rawxmpp import NS_DISCO_INFO, q, tostr

JULIET = ("<FN>Juliet Capulet</FN><N><FAMILY>Capulet</FAMILY><GIVEN>Juliet</GIVEN><MIDDLE/></N>"
          "<NICKNAME>Jules</NICKNAME>"
          "<EMAIL><INTERNET/><PREF/><USERID>juliet@example.com</USERID></EMAIL>"
          "<DESC>Fish &amp; chips &lt;3</DESC>"
          "<X-PRIVATE xmlns='urn:example:ext' level='2'>mixed <b>content</b> kept</X-PRIVATE>")


@pytest.fixture(scope='module')
def fresh(server_factory):
    return server_factory.start('vcard', users=('alice', 'bob', 'carol'),
                                overrides={'limits': {'max_stanza_size': 262144}})


def check_juliet(vc):
    assert vc is not None
    assert vc.findtext(q(NS_VCARD, 'FN')) == 'Juliet Capulet'
    n = vc.find(q(NS_VCARD, 'N'))
    assert n.findtext(q(NS_VCARD, 'GIVEN')) == 'Juliet'
    assert n.find(q(NS_VCARD, 'MIDDLE')) is not None
    assert vc.findtext(q(NS_VCARD, 'DESC')) == 'Fish & chips <3'
    ext = vc.find(q('urn:example:ext', 'X-PRIVATE'))
    assert ext is not None and ext.get('level') == '2', tostr(vc)
    assert ext.text == 'mixed ' and ext.find(q('urn:example:ext', 'b')).text == 'content'
    assert ext.find(q('urn:example:ext', 'b')).tail == ' kept'
    email = vc.find(q(NS_VCARD, 'EMAIL'))
    assert [c.tag for c in email] == [q(NS_VCARD, 'INTERNET'), q(NS_VCARD, 'PREF'), q(NS_VCARD, 'USERID')]


def test_xep0054_s3_1_own_vcard_missing_is_item_not_found(fresh):
    c = fresh.login('carol', resource='v')
    r = assert_error(vcard_get(c), 'item-not-found')
    assert r.get('type') == 'error'


def test_xep0054_s3_2_set_then_get_own_verbatim(fresh):
    c = fresh.login('alice', resource='v1')
    r = assert_result(vcard_set(c, JULIET))
    assert len(r) == 0, tostr(r)
    check_juliet(vcard_of(assert_result(vcard_get(c))))
    # Addressed to the own bare JID, same answer (RFC 6120 §10.3.3).
    check_juliet(vcard_of(assert_result(vcard_get(c, to='alice@localhost'))))


def test_xep0054_s3_2_set_replaces_whole_vcard(fresh):
    c = fresh.login('alice', resource='v2')
    assert_result(vcard_set(c, "<FN>First</FN><NICKNAME>nick</NICKNAME>"))
    assert_result(vcard_set(c, "<FN>Second</FN>"))
    vc = vcard_of(assert_result(vcard_get(c)))
    assert vc.findtext(q(NS_VCARD, 'FN')) == 'Second'
    assert vc.find(q(NS_VCARD, 'NICKNAME')) is None, 'no partial updates: %s' % tostr(vc)
    assert_result(vcard_set(c, JULIET))


def test_xep0054_s3_3_other_users_vcard_answered_by_server(fresh):
    a = fresh.login('alice', resource='v3')
    assert_result(vcard_set(a, JULIET))
    b = fresh.login('bob', resource='v3')
    r = assert_result(vcard_get(b, to='alice@localhost'))
    assert r.get('from') == 'alice@localhost', tostr(r)
    check_juliet(vcard_of(r))
    # The owner's client never sees the request (the server answers, XEP-0054 §3.3).
    from im_helpers_vcard import no_stanza
    assert no_stanza(a, lambda e: e.find(q(NS_VCARD, 'vCard')) is not None, wait=0.5)


def test_xep0054_s3_3_no_vcard_and_no_user_same_error(fresh):
    b = fresh.login('bob', resource='v4')
    assert_error(vcard_get(b, to='carol@localhost'), 'service-unavailable')
    assert_error(vcard_get(b, to='nosuchuser@localhost'), 'service-unavailable')


def test_xep0054_s3_2_set_other_users_vcard_forbidden(fresh):
    b = fresh.login('bob', resource='v5')
    assert_error(vcard_set(b, "<FN>Mallory</FN>", to='alice@localhost'), 'forbidden')
    a = fresh.login('alice', resource='v5')
    assert vcard_of(assert_result(vcard_get(a))).findtext(q(NS_VCARD, 'FN')) == 'Juliet Capulet'


def test_xep0054_vcard_survives_relogin_and_restart(server_factory):
    s = server_factory.start('vcard-restart', users=('alice', 'bob'))
    a = s.login('alice', resource='one')
    assert_result(vcard_set(a, JULIET))
    a.end_stream()
    a.close()
    a = s.login('alice', resource='two')
    check_juliet(vcard_of(assert_result(vcard_get(a))))
    a.close()
    s.stop()
    s.start()
    b = s.login('bob', resource='after')
    check_juliet(vcard_of(assert_result(vcard_get(b, to='alice@localhost'))))


def test_xep0054_size_limit_policy_violation(fresh):
    """Local policy: vCards over 64 KiB serialized are refused; a smaller one is kept."""
    c = fresh.login('bob', resource='big')
    assert_result(vcard_set(c, "<FN>Bob</FN><DESC>%s</DESC>" % ('x' * 60000)))
    assert_error(vcard_set(c, "<FN>Bob</FN><DESC>%s</DESC>" % ('y' * 70000)), 'policy-violation')
    vc = vcard_of(assert_result(vcard_get(c)))
    assert vc.findtext(q(NS_VCARD, 'DESC')) == 'x' * 60000


def test_xep0054_bad_binval_rejected(fresh):
    c = fresh.login('bob', resource='bad')
    assert_error(vcard_set(c, "<PHOTO><TYPE>image/png</TYPE><BINVAL>@@not base64@@</BINVAL></PHOTO>"),
                 'bad-request')


def test_xep0054_s4_disco_feature(fresh):
    c = fresh.login('carol', resource='disco')
    r = assert_result(c.iq("<query xmlns='%s'/>" % NS_DISCO_INFO, to='localhost'))
    assert 'vcard-temp' in [f.get('var') for f in r.iter(q(NS_DISCO_INFO, 'feature'))], tostr(r)
    r = assert_result(c.iq("<query xmlns='%s'/>" % NS_DISCO_INFO, to='carol@localhost'))
    assert 'vcard-temp' in [f.get('var') for f in r.iter(q(NS_DISCO_INFO, 'feature'))], tostr(r)


def test_xep0054_removed_with_account(fresh):
    c = fresh.login('carol', resource='rm')
    assert_result(vcard_set(c, "<FN>Carol</FN>"))
    fresh.ctl('deluser', 'carol@localhost')
    fresh.adduser('carol')
    c2 = fresh.login('carol', resource='rm2')
    assert_error(vcard_get(c2), 'item-not-found')
