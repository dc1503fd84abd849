"""Connection limits and deadlines (RFC 6120 §13.12 resource exhaustion, §4.9.3 stream errors):
handshake timeout and connections per IP."""
import time

import pytest

from rawxmpp import Closed, tostr


@pytest.fixture(scope='module')
def limited(server_factory):
    return server_factory.start('limits', {'limits': {'handshake_timeout': 1,
                                                      'max_connections_per_ip': 5}})


def test_rfc6120_4_9_3_4_handshake_timeout(limited):
    """A client that never authenticates is disconnected after handshake_timeout with a
    stream error (RFC 6120 §4.9.3.4 <connection-timeout/> or §4.9.3.18 <policy-violation/>)."""
    c = limited.client()
    c.open()
    t0 = time.monotonic()
    cond = c.expect_stream_error(timeout=10)
    elapsed = time.monotonic() - t0
    assert cond in ('connection-timeout', 'policy-violation'), tostr(c.last_stream_error)
    assert 0.5 <= elapsed <= 6, 'closed after %.1fs with handshake_timeout = 1' % elapsed


def test_rfc6120_handshake_timeout_spares_bound_sessions(limited):
    c = limited.login('alice', resource='patient')
    time.sleep(2.5)
    r = c.iq("<ping xmlns='urn:xmpp:ping'/>", to='localhost')
    assert r.get('type') == 'result', tostr(r)
    assert c.end_stream()


def test_rfc6120_13_12_max_connections_per_ip(limited):
    held = []
    for i in range(5):
        c = limited.client(name='held%d' % i)
        c.login('bob', limited.password, resource='held%d' % i)
        held.append(c)
    extra = limited.client(name='extra')
    refused = False
    try:
        extra.open(timeout=5)
    except Closed:
        refused = True  # closed without a stream
    if not refused:
        cond = extra.expect_stream_error(timeout=5)
        assert cond in ('policy-violation', 'resource-constraint', 'connection-timeout'), \
            tostr(extra.last_stream_error)
    # The held sessions are unaffected, and a slot frees up when one of them leaves.
    r = held[0].iq("<ping xmlns='urn:xmpp:ping'/>", to='localhost')
    assert r.get('type') == 'result', tostr(r)
    assert held[0].end_stream()
    held[0].close()
    deadline = time.monotonic() + 5
    while True:
        try:
            again = limited.login('bob', resource='again')
            break
        except (Closed, AssertionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert again.jid == 'bob@localhost/again'
