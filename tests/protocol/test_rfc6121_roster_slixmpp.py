"""RFC 6121 with a real client library (slixmpp, Debian 1.8.3): roster fetch, subscription
handshake with auto-authorisation, presence seen by both sides, roster versioning."""
import asyncio

import pytest

from test_slixmpp_interop import StarlingClient, session, close, run, TIMEOUT
from im_helpers_roster import fresh_user, bare


def test_rfc6121_slixmpp_subscription_and_presence(server):
    un, cn = fresh_user(server, 'slu'), fresh_user(server, 'slc')
    U, C = bare(server, un), bare(server, cn)

    async def scenario(loop):
        u = StarlingClient(U + '/slix', server.password, server.c2s_port, 'SCRAM-SHA-256')
        c = StarlingClient(C + '/slix', server.password, server.c2s_port, 'SCRAM-SHA-256')
        # slixmpp answers requests itself (auto_authorize) and subscribes back (auto_subscribe)
        seen = {'u': loop.create_future(), 'c': loop.create_future()}

        def on_available(who, other):
            def handler(p):
                if p['from'].bare == other and not seen[who].done():
                    seen[who].set_result(p['status'])
            return handler

        u.add_event_handler('presence_available', on_available('u', C))
        c.add_event_handler('presence_available', on_available('c', U))
        for x in (u, c):
            x.add_event_handler('session_start', lambda e, x=x: (x.send_presence(pstatus='hello'),
                                                                    x.get_roster()))
        try:
            assert await session(u, loop, False) == 'ok'
            assert await session(c, loop, False) == 'ok'
            await u.get_roster()
            await c.get_roster()
            u.send_presence(pto=C, ptype='subscribe')
            await asyncio.wait_for(seen['u'], TIMEOUT)
            await asyncio.wait_for(seen['c'], TIMEOUT)
            for _ in range(100):
                if u.client_roster[C]['subscription'] == 'both' and \
                        c.client_roster[U]['subscription'] == 'both':
                    break
                await asyncio.sleep(0.1)
            assert u.client_roster[C]['subscription'] == 'both'
            assert c.client_roster[U]['subscription'] == 'both'
            # A name set through slixmpp's roster API comes back as a push (RFC 6121 §2.3.2);
            # slixmpp uses roster versioning, so its cached roster is kept up to date by pushes.
            await u.update_roster(C, name='Contact', groups=['Friends'])
            for _ in range(100):
                if u.client_roster[C]['name'] == 'Contact':
                    break
                await asyncio.sleep(0.05)
            assert u.client_roster[C]['name'] == 'Contact'
            assert list(u.client_roster[C]['groups']) == ['Friends']
            assert u.client_roster[C]['subscription'] == 'both'
            # §2.6.3: the client's version is current: an empty result
            result = await u.get_roster()
            assert not result['roster']['items']
        finally:
            await close(u)
            await close(c)
        return True

    assert run(scenario)
