"""An idle client stream frees its XML parser after limits.idle_release_delay and recreates it
on the next byte (docs/configuration.md). The client must not see any difference: stanzas,
stream-level elements, the closing handshake and stream restarts work as before."""
import time

from rawxmpp import tostr
from idle_helpers import released_count, wait_released

PING = "<ping xmlns='urn:xmpp:ping'/>"


def _msg(to, body, id):
    return "<message to='%s' type='chat' id='%s'><body>%s</body></message>" % (to, id, body)


def _expect_body(client, body):
    m = client.recv_stanza(lambda e: e.tag == '{jabber:client}message')
    assert m.findtext('{jabber:client}body') == body, tostr(m)
    return m


def test_released_stream_still_exchanges_stanzas(server_factory):
    s = server_factory.start('idle-release', {'limits': {'idle_release_delay': 1}})
    alice = s.login('alice', resource='a')
    bob = s.login('bob', resource='b')
    alice.send("<presence/>")
    bob.send("<presence/>")
    wait_released(s, alice)
    wait_released(s, bob)
    # A whole stanza after the release, and the answer from the other released stream.
    alice.send(_msg(bob.jid, 'after idle', 'm1'))
    _expect_body(bob, 'after idle')
    bob.send(_msg(alice.jid, 'reply \u00e9 &amp; &lt;3', 'm2'))
    _expect_body(alice, 'reply \u00e9 & <3')
    r = alice.iq(PING, to='localhost')
    assert r.get('type') == 'result', tostr(r)
    # Released again, then a stanza that arrives in pieces, split inside a tag, inside a
    # multi-byte character and inside a reference.
    wait_released(s, alice, times=2)
    data = _msg(bob.jid, 'pi\u00e8ces &amp; parts', 'm3').encode()
    cuts = [5, data.index(b'\xc3') + 1, data.index(b'&amp;') + 2, len(data)]
    start = 0
    for cut in cuts:
        alice.send(data[start:cut])
        start = cut
        time.sleep(0.05)
    _expect_body(bob, 'pi\u00e8ces & parts')
    # Whitespace keepalives (RFC 6120 §4.6.1) on a released stream are just ignored.
    wait_released(s, alice, times=3)
    alice.send(' \n ')
    r = alice.iq(PING, to='localhost')
    assert r.get('type') == 'result', tostr(r)


def test_stanza_split_across_the_idle_delay(server_factory):
    s = server_factory.start('idle-split', {'limits': {'idle_release_delay': 1}})
    alice = s.login('alice', resource='a')
    bob = s.login('bob', resource='b')
    wait_released(s, alice)
    sid = alice.stream_attrs['id']
    data = _msg(bob.jid, 'half and half', 'm1')
    alice.send(data[:30])
    # Longer than the delay: the stream is in the middle of a stanza, so nothing is released
    # (the parser holds the partial stanza) and the rest still completes it.
    time.sleep(1.6)
    assert released_count(s, sid) == 1
    alice.send(data[30:])
    _expect_body(bob, 'half and half')
    r = alice.iq(PING, to='localhost')
    assert r.get('type') == 'result', tostr(r)


def test_released_stream_before_tls_and_sasl_restarts(server_factory):
    """Released while waiting for STARTTLS and again after TLS: the stream restarts
    (RFC 6120 §4.3.3) still work and the session ends up bound and usable."""
    s = server_factory.start('idle-restart', {'limits': {'idle_release_delay': 1}})
    c = s.client(name='slow-login')
    c.open()
    wait_released(s, c)
    c.starttls()
    c.open()
    wait_released(s, c)
    c.authenticate('alice', s.password)
    c.open()
    wait_released(s, c)
    c.bind('slow')
    r = c.iq(PING, to='localhost')
    assert r.get('type') == 'result', tostr(r)
    bob = s.login('bob', resource='b')
    c.send(_msg(bob.jid, 'slow but fine', 'm1'))
    _expect_body(bob, 'slow but fine')


def test_released_stream_closes_cleanly_and_stream_management_works(server_factory):
    s = server_factory.start('idle-close', {'limits': {'idle_release_delay': 1}})
    c = s.login('alice', resource='sm')
    c.send("<enable xmlns='urn:xmpp:sm:3'/>")
    e = c.recv()
    assert e.tag == '{urn:xmpp:sm:3}enabled', tostr(e)
    r = c.iq(PING, to='localhost')
    assert r.get('type') == 'result', tostr(r)
    wait_released(s, c)
    # XEP-0198 §4: a request for an acknowledgement, a non-stanza element, after the release.
    c.send("<r xmlns='urn:xmpp:sm:3'/>")
    # (The server may send its own <r/> first; skip it.)
    a = c.recv_stanza(lambda e: e.tag == '{urn:xmpp:sm:3}a')
    assert a.tag == '{urn:xmpp:sm:3}a' and a.get('h') == '1', tostr(a)
    wait_released(s, c, times=2)
    # RFC 6120 §4.4: the closing handshake on a released stream.
    assert c.end_stream()


def test_release_can_be_disabled(server_factory):
    s = server_factory.start('idle-never', {'limits': {'idle_release_delay': 0}})
    c = s.login('alice', resource='a')
    sid = c.stream_attrs['id']
    time.sleep(1.3)
    r = c.iq(PING, to='localhost')
    assert r.get('type') == 'result', tostr(r)
    assert released_count(s, sid) == 0
