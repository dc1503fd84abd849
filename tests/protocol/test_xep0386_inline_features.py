"""XEP-0386 Bind 2 inline features registered by the modules: XEP-0198 stream management
(answered inside <bound/>), XEP-0280 carbons and XEP-0352 CSI, all in the login round trip."""
import rawxmpp
from rawxmpp import NS_CLIENT, q, tostr
from sasl2_helpers import (NS_BIND2, bind2_inline_features, bind2_xml, connect, new_agent_id,
                           sasl2_plain, user_agent_xml)

NS_SM = 'urn:xmpp:sm:3'
NS_CARBONS = 'urn:xmpp:carbons:2'
NS_CSI = 'urn:xmpp:csi:0'
NS_FORWARD = 'urn:xmpp:forward:0'


def test_inline_features_are_advertised(server):
    c = connect(server)
    feats = set(bind2_inline_features(c))
    assert {NS_SM, NS_CARBONS, NS_CSI} <= feats, feats


def test_inline_sm_enable_answered_in_bound(server):
    c = connect(server)
    r = sasl2_plain(c, 'alice', server.password,
                    extra=user_agent_xml(new_agent_id()) +
                    bind2_xml('SM', "<enable xmlns='%s' resume='true'/>" % NS_SM))
    assert r.ok, tostr(r.elem)
    bound = r.child(NS_BIND2, 'bound')
    enabled = bound.find(q(NS_SM, 'enabled')) if bound is not None else None
    assert enabled is not None and enabled.get('resume') == 'true' and enabled.get('id'), tostr(r.elem)
    # Stream management is on: the server answers <r/> with <a h='0'/> (nothing received yet).
    c.send("<r xmlns='%s'/>" % NS_SM)
    a = c.recv()
    assert a.tag == q(NS_SM, 'a') and a.get('h') == '0', tostr(a)


def test_inline_carbons_enable_gives_copies(server):
    phone = connect(server)
    r = sasl2_plain(phone, 'bob', server.password,
                    extra=user_agent_xml(new_agent_id()) +
                    bind2_xml('Phone', "<enable xmlns='%s'/>" % NS_CARBONS))
    assert r.ok, tostr(r.elem)
    laptop = server.login('bob', resource='laptop')
    laptop.send("<message to='carol@localhost' type='chat' id='c1'><body>from laptop</body></message>")
    m = phone.recv_stanza(lambda e: e.tag == q(NS_CLIENT, 'message'))
    sent = m.find(q(NS_CARBONS, 'sent'))
    assert sent is not None, tostr(m)
    inner = sent.find(q(NS_FORWARD, 'forwarded')).find(q(NS_CLIENT, 'message'))
    assert inner.findtext(q(NS_CLIENT, 'body')) == 'from laptop'


def test_inline_csi_inactive_holds_presence(server):
    c = connect(server)
    r = sasl2_plain(c, 'carol', server.password,
                    extra=user_agent_xml(new_agent_id()) +
                    bind2_xml('Idle', "<inactive xmlns='%s'/>" % NS_CSI))
    assert r.ok, tostr(r.elem)
    c.send("<presence/>")
    other = server.login('carol', resource='other')
    other.send("<presence><status>held back</status></presence>")
    assert other.iq("<ping xmlns='urn:xmpp:ping'/>", to='localhost').get('type') == 'result'
    # While inactive, the other resource's presence is held back (an urgent stanza such as an
    # IQ result would flush it first, XEP-0352 §5, so only wait here).
    held = lambda e: e.tag == q(NS_CLIENT, 'presence') and e.findtext(q(NS_CLIENT, 'status')) == 'held back'
    try:
        e = c.recv_stanza(held, timeout=1.0)
        raise AssertionError('presence delivered to an inactive client: %s' % tostr(e))
    except rawxmpp.Timeout:
        pass
    c.send("<active xmlns='%s'/>" % NS_CSI)
    assert c.recv_stanza(held) is not None
