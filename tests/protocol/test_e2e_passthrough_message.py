"""End-to-end extensions in <message/> pass through the server untouched: the receiving
client gets exactly the payload that was sent (compared as XML trees), delivered live to a
full JID and after offline storage (XEP-0160/XEP-0013), where only the server's own
XEP-0203 <delay/> (and the XEP-0013 <offline/> tag) are added."""
import xml.etree.ElementTree as ET

import pytest

from im_helpers_message import (canon, login, no_msg, offline_fetch,
                                offline_purge, payload, recv_msg, send_msg, server_delay,
                                wait_offline_count)
from rawxmpp import tostr

PAYLOADS = {
    # XEP-0085 chat states (with a body, as chat states alone are not stored offline)
    'chatstates': "<body>hi</body><active xmlns='http://jabber.org/protocol/chatstates'/>",
    # XEP-0184 receipts: request and receipt
    'receipt-request': "<body>ack?</body><request xmlns='urn:xmpp:receipts'/>",
    'receipt': "<received xmlns='urn:xmpp:receipts' id='richard2-4.1.247'/>",
    # XEP-0066 out-of-band data
    'oob': "<body>look</body><x xmlns='jabber:x:oob'><url>http://example.org/a?b=1&amp;c=2</url>"
           "<desc>A &lt;file&gt;</desc></x>",
    # XEP-0071 XHTML-IM: mixed content, nested inline elements, xml:lang, namespaced attribute
    'xhtml-im': "<body>Wow, I'm green with envy!</body>"
                "<html xmlns='http://jabber.org/protocol/xhtml-im'>"
                "<body xmlns='http://www.w3.org/1999/xhtml' xml:lang='en'>"
                "<p style='font-size:large'><em>Wow</em>, I&apos;m <span style='color:green'>green</span>"
                " with <strong>envy</strong>!<br/>tail text</p></body></html>",
    # XEP-0224 attention
    'attention': "<body>Why don't you answer?</body><attention xmlns='urn:xmpp:attention:0'/>",
    # XEP-0203 delayed delivery set by the sender's side
    'delay': "<body>old</body><delay xmlns='urn:xmpp:delay' from='capulet.com' "
             "stamp='2002-09-10T23:08:25Z'>Offline Storage</delay>",
    # An unknown namespace: nested elements, attributes (one namespaced), text and tails
    'unknown': "<body>x</body><thing xmlns='urn:example:unknown:1' a='1' b='two words'"
               " xmlns:o='urn:example:other' o:attr='q&quot;uote'>"
               "lead<inner deep='yes'><leaf/>leaf tail<o:foreign x='y'>text</o:foreign></inner>"
               "trail<empty/></thing>",
    # Non-ASCII text and character references
    'unicode': "<body>caf\u00e9 \u2603 \U0001F600 &#x41;&amp;&lt;</body><subject>s\u00fcbject</subject>",
}


def expected(payload_xml):
    wrapper = ET.fromstring("<message xmlns='jabber:client'>%s</message>" % payload_xml)
    return [canon(c) for c in wrapper]


@pytest.mark.parametrize('name', sorted(PAYLOADS))
def test_e2e_payload_live_to_full_jid(server, name):
    alice = login(server, 'alice')
    bob = login(server, 'bob')
    mid = send_msg(alice, bob.jid, type='chat', payload=PAYLOADS[name])
    m = recv_msg(bob, id=mid)
    assert payload(m) == expected(PAYLOADS[name]), tostr(m)
    assert m.get('type') == 'chat' and m.get('from') == alice.jid
    alice.close()
    bob.close()


@pytest.mark.parametrize('name', sorted(PAYLOADS))
def test_e2e_payload_after_offline_storage(server, name):
    alice = login(server, 'alice')
    carol = login(server, 'carol')
    offline_purge(carol)
    mid = send_msg(alice, 'carol@localhost', type='chat', payload=PAYLOADS[name])
    no_msg(alice, id=mid)
    assert wait_offline_count(carol, 1) == 1
    [m] = offline_fetch(carol)
    assert m.get('id') == mid
    assert server_delay(m) is not None, tostr(m)
    assert payload(m, drop_server_delay_from='localhost') == expected(PAYLOADS[name]), tostr(m)
    offline_purge(carol)
    alice.close()
    carol.close()


def test_e2e_payload_offline_flood_on_initial_presence(server):
    alice = login(server, 'alice')
    erin = login(server, 'erin')
    offline_purge(erin)
    erin.close()
    ids = {}
    for name in sorted(PAYLOADS):
        ids[name] = send_msg(alice, 'erin@localhost', type='chat', payload=PAYLOADS[name])
    probe = login(server, 'erin')  # XEP-0013 use marks only this session (no flood for it)
    assert wait_offline_count(probe, len(ids)) == len(ids)
    probe.close()
    erin = login(server, 'erin')
    erin.send('<presence/>')
    for name, mid in ids.items():
        m = recv_msg(erin, id=mid)
        assert payload(m, drop_server_delay_from='localhost') == expected(PAYLOADS[name]), tostr(m)
    alice.close()
    erin.close()
