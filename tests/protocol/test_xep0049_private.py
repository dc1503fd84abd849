"""XEP-0049: Private XML Storage — per-namespace storage of arbitrary XML, own account only."""
import pytest

from im_helpers_vcard import NS_PRIVATE, assert_error, assert_result
from rawxmpp import NS_DISCO_INFO, q, tostr

EXODUS = "<exodus xmlns='exodus:prefs'><defaultnick>Hamlet</defaultnick><flag on='yes'/></exodus>"


@pytest.fixture(scope='module')
def srv(server_factory):
    return server_factory.start('private', users=('alice', 'bob', 'carol'),
                                overrides={'limits': {'max_stanza_size': 262144}})


def pset(c, inner, to=None):
    return c.iq("<query xmlns='%s'>%s</query>" % (NS_PRIVATE, inner), type='set', to=to)


def pget(c, inner, to=None):
    return c.iq("<query xmlns='%s'>%s</query>" % (NS_PRIVATE, inner), to=to)


def stored(r):
    query = r.find(q(NS_PRIVATE, 'query'))
    assert query is not None, tostr(r)
    return list(query)


def test_xep0049_s2_store_and_retrieve(srv):
    c = srv.login('alice', resource='p')
    r = assert_result(pset(c, EXODUS))
    assert len(r) == 0
    els = stored(assert_result(pget(c, "<exodus xmlns='exodus:prefs'/>")))
    assert len(els) == 1 and els[0].tag == q('exodus:prefs', 'exodus'), tostr(els[0])
    assert els[0].findtext(q('exodus:prefs', 'defaultnick')) == 'Hamlet'
    assert els[0].find(q('exodus:prefs', 'flag')).get('on') == 'yes'


def test_xep0049_s2_nothing_stored_returns_empty_element(srv):
    c = srv.login('bob', resource='p')
    els = stored(assert_result(pget(c, "<storage xmlns='storage:bookmarks'/>")))
    assert len(els) == 1 and els[0].tag == q('storage:bookmarks', 'storage') and len(els[0]) == 0


def test_xep0049_namespaces_are_separate_and_replaced(srv):
    c = srv.login('carol', resource='p')
    assert_result(pset(c, "<a xmlns='urn:example:a'>1</a>"))
    assert_result(pset(c, "<b xmlns='urn:example:b'>2</b>"))
    assert_result(pset(c, "<a xmlns='urn:example:a'>3</a>"))
    els = stored(assert_result(pget(c, "<a xmlns='urn:example:a'/>")))
    assert [e.text for e in els] == ['3']
    els = stored(assert_result(pget(c, "<b xmlns='urn:example:b'/>")))
    assert [e.text for e in els] == ['2']


def test_xep0049_s2_several_elements_same_namespace(srv):
    c = srv.login('carol', resource='multi')
    assert_result(pset(c, "<x xmlns='urn:example:m'>1</x><y xmlns='urn:example:m'>2</y>"))
    els = stored(assert_result(pget(c, "<x xmlns='urn:example:m'/>")))
    assert [(e.tag, e.text) for e in els] == [(q('urn:example:m', 'x'), '1'), (q('urn:example:m', 'y'), '2')]


def test_xep0049_s2_other_users_data_forbidden(srv):
    b = srv.login('bob', resource='snoop')
    assert_error(pget(b, "<exodus xmlns='exodus:prefs'/>", to='alice@localhost'), 'forbidden')
    assert_error(pset(b, "<exodus xmlns='exodus:prefs'>x</exodus>", to='alice@localhost'), 'forbidden')
    assert_error(pget(b, "<exodus xmlns='exodus:prefs'/>", to='nobody@localhost'), 'forbidden')
    a = srv.login('alice', resource='check')
    els = stored(assert_result(pget(a, "<exodus xmlns='exodus:prefs'/>")))
    assert els[0].findtext(q('exodus:prefs', 'defaultnick')) == 'Hamlet'


def test_xep0049_s2_empty_query_not_acceptable(srv):
    c = srv.login('bob', resource='empty')
    assert_error(pset(c, ''), 'not-acceptable')
    assert_error(pget(c, ''), 'not-acceptable')


def test_xep0049_s3_reserved_namespaces_not_acceptable(srv):
    c = srv.login('bob', resource='reserved')
    # A child without its own namespace inherits jabber:iq:private.
    assert_error(pset(c, "<nons>x</nons>"), 'not-acceptable')
    assert_error(pget(c, "<nons/>"), 'not-acceptable')
    assert_error(pset(c, "<message xmlns='jabber:client'/>"), 'not-acceptable')


def test_xep0049_s2_get_one_namespace_at_a_time(srv):
    c = srv.login('bob', resource='two')
    assert_error(pget(c, "<a xmlns='urn:example:a'/><b xmlns='urn:example:b'/>"), 'bad-request')


def test_xep0049_size_limit(srv):
    """Local policy: 64 KiB per namespace."""
    c = srv.login('bob', resource='big')
    assert_result(pset(c, "<big xmlns='urn:example:big'>%s</big>" % ('x' * 60000)))
    assert_error(pset(c, "<big xmlns='urn:example:big'>%s</big>" % ('y' * 70000)), 'policy-violation')
    els = stored(assert_result(pget(c, "<big xmlns='urn:example:big'/>")))
    assert els[0].text == 'x' * 60000


def test_xep0049_survives_relogin_and_restart(server_factory):
    s = server_factory.start('private-restart', users=('alice',))
    a = s.login('alice', resource='one')
    assert_result(pset(a, EXODUS))
    a.end_stream()
    a.close()
    s.stop()
    s.start()
    a = s.login('alice', resource='two')
    els = stored(assert_result(pget(a, "<exodus xmlns='exodus:prefs'/>")))
    assert els[0].findtext(q('exodus:prefs', 'defaultnick')) == 'Hamlet'


def test_xep0049_removed_with_account(srv):
    c = srv.login('carol', resource='rm')
    assert_result(pset(c, "<gone xmlns='urn:example:gone'>1</gone>"))
    srv.ctl('deluser', 'carol@localhost')
    srv.adduser('carol')
    c2 = srv.login('carol', resource='rm2')
    els = stored(assert_result(pget(c2, "<gone xmlns='urn:example:gone'/>")))
    assert len(els) == 1 and len(els[0]) == 0 and not els[0].text


def test_xep0049_disco_account_feature(srv):
    c = srv.login('alice', resource='disco')
    r = assert_result(c.iq("<query xmlns='%s'/>" % NS_DISCO_INFO, to='alice@localhost'))
    assert NS_PRIVATE in [f.get('var') for f in r.iter(q(NS_DISCO_INFO, 'feature'))], tostr(r)
