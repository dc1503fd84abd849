"""Connection limits beyond the stanza size: idle timeout and per-connection input shaping
(limits.idle_timeout, limits.max_bytes_per_second)."""
import time

from rawxmpp import tostr

PING = "<iq type='get' id='p%d' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>"


def test_idle_connection_closed_with_connection_timeout(server_factory):
    s = server_factory.start('idle', {'limits': {'idle_timeout': 1}})
    quiet = s.login('alice', resource='quiet')
    busy = s.login('bob', resource='busy')
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        r = busy.iq("<ping xmlns='urn:xmpp:ping'/>", to='localhost')
        assert r.get('type') == 'result', tostr(r)
        time.sleep(0.3)
    # RFC 6120 §4.9.3.4: the quiet one is gone, the active one is not.
    assert quiet.expect_stream_error(timeout=5) == 'connection-timeout'
    r = busy.iq("<ping xmlns='urn:xmpp:ping'/>", to='localhost')
    assert r.get('type') == 'result', tostr(r)


def test_input_over_the_rate_is_slowed_not_dropped(server_factory):
    rate = 5000
    s = server_factory.start('rate', {'limits': {'max_bytes_per_second': rate}})
    flood = s.login('alice', resource='flood')
    other = s.login('bob', resource='other')
    n = 560
    payload = ''.join(PING % i for i in range(n))
    assert len(payload) > 8 * rate  # a flood of several seconds
    t0 = time.monotonic()
    flood.send(payload, timeout=30)
    # Meanwhile another client is served at once.
    t1 = time.monotonic()
    r = other.iq("<ping xmlns='urn:xmpp:ping'/>", to='localhost')
    assert r.get('type') == 'result', tostr(r)
    # Far sooner than the flood takes to drain: the flooder does not hold up the thread.
    assert time.monotonic() - t1 < 2.5
    seen = set()
    deadline = time.monotonic() + 30
    while len(seen) < n and time.monotonic() < deadline:
        e = flood.recv(timeout=max(0.01, deadline - time.monotonic()))
        if e.get('type') == 'result':
            seen.add(e.get('id'))
    elapsed = time.monotonic() - t0
    assert len(seen) == n, 'every stanza is answered: nothing is dropped'
    # One second of burst, then `rate` bytes per second; the pause for the last read (up to
    # 16 KiB) comes after its stanzas were answered.
    assert elapsed >= (len(payload) - rate - 16384) / rate * 0.8, elapsed
