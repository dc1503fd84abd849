"""An account deleted with starlingctl takes its data with it (roster, vCard, private XML,
offline messages): a new account of the same name starts empty."""
from rawxmpp import tostr

NS_ROSTER = 'jabber:iq:roster'


def test_starlingctl_deluser_removes_module_data(server_factory):
    s = server_factory.start('deluser')
    a = s.login('alice', resource='r')
    r = a.iq("<query xmlns='jabber:iq:roster'><item jid='bob@localhost' name='Bob'/></query>", type='set')
    assert r.get('type') == 'result', tostr(r)
    r = a.iq("<vCard xmlns='vcard-temp'><FN>Alice</FN></vCard>", type='set')
    assert r.get('type') == 'result', tostr(r)
    r = a.iq("<query xmlns='jabber:iq:private'><x xmlns='urn:example'>secret</x></query>", type='set')
    assert r.get('type') == 'result', tostr(r)
    r = a.iq("<query xmlns='jabber:iq:roster'/>")
    assert 'bob@localhost' in tostr(r)
    a.end_stream()
    a.close()

    s.ctl('deluser', 'alice@localhost')
    s.adduser('alice')
    a = s.login('alice', resource='again')
    r = a.iq("<query xmlns='jabber:iq:roster'/>")
    assert r.get('type') == 'result' and 'bob@localhost' not in tostr(r), tostr(r)
    r = a.iq("<vCard xmlns='vcard-temp'/>")
    assert 'Alice' not in tostr(r), tostr(r)
    r = a.iq("<query xmlns='jabber:iq:private'><x xmlns='urn:example'/></query>")
    assert r.get('type') == 'result' and 'secret' not in tostr(r), tostr(r)
