"""XEP-0198 with a real client library: slixmpp (Debian 1.8.3) enables stream management,
loses its TCP connection, reconnects and resumes; every message arrives exactly once."""
import asyncio

from sm_helpers import message
from test_slixmpp_interop import StarlingClient, close, run

TIMEOUT = 20


async def until(loop, cond, what, timeout=TIMEOUT):
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError('timed out waiting for %s' % what)
        await asyncio.sleep(0.05)


def test_xep0198_slixmpp_resumes_after_lost_connection(server):
    sender = server.login('bob', resource='slix-sender')
    to = 'alice@localhost/slix-sm'

    async def scenario(loop):
        xmpp = StarlingClient(to, server.password, server.c2s_port, 'SCRAM-SHA-256')
        xmpp.register_plugin('xep_0198')
        got = []
        events = {}
        xmpp.add_event_handler('message', lambda m: got.append(m['id']))
        for name in ('session_start', 'sm_enabled', 'session_resumed', 'sm_failed'):
            xmpp.add_event_handler(name, lambda e, n=name: events.setdefault(n, e))
        xmpp.connect(address=('127.0.0.1', server.c2s_port), force_starttls=True)
        try:
            await until(loop, lambda: 'sm_enabled' in events, 'stream management to be enabled')
            assert xmpp['xep_0198'].sm_id
            xmpp.send_presence()
            for n in range(3):
                message(sender, to, 'before %d' % n, 'b%d' % n)
            await until(loop, lambda: len(got) >= 3, 'the first messages')
            # The network goes away (no </stream:stream>).
            xmpp.abort()
            await until(loop, lambda: xmpp.transport is None, 'the connection to drop')
            for n in range(3):
                message(sender, to, 'during %d' % n, 'd%d' % n)
            xmpp.connect(address=('127.0.0.1', server.c2s_port), force_starttls=True)
            await until(loop, lambda: 'session_resumed' in events or 'sm_failed' in events, 'resumption')
            assert 'session_resumed' in events, events
            message(sender, to, 'after', 'a0')
            await until(loop, lambda: 'a0' in got, 'the message after resumption')
            await asyncio.sleep(0.3)  # anything duplicated would arrive by now
            assert got == ['b0', 'b1', 'b2', 'd0', 'd1', 'd2', 'a0'], got
        finally:
            await close(xmpp)
        return True

    try:
        assert run(scenario)
    finally:
        sender.close()
