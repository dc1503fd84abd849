"""Logins and in-band registration with a real client library: slixmpp (Debian 1.8.3)."""
import asyncio
import logging
import os

import pytest

import slixmpp  # python3-slixmpp, installed by scripts/install-deps.sh
from slix_helpers import configure_client, loopback_client_class  # noqa: E402

TIMEOUT = 20


class StarlingClient(loopback_client_class(slixmpp.ClientXMPP)):
    """slixmpp client pinned to 127.0.0.1:port, accepting the self-signed certificate and
    presenting itself as not supporting channel binding (slix_helpers.py says why)."""

    def __init__(self, jid, password, port, mech=None):
        super().__init__(jid, password, sasl_mech=mech)
        configure_client(self, port, plugins=('xep_0199', 'xep_0092'))


def run(coro_factory, timeout=TIMEOUT * 2):
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(asyncio.wait_for(coro_factory(loop), timeout))
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
        asyncio.set_event_loop(None)


async def session(xmpp, loop, direct_tls):
    """Connects; returns 'ok' when the session started, else the failure event."""
    outcome = loop.create_future()

    def done(value):
        if not outcome.done():
            outcome.set_result(value)

    xmpp.add_event_handler('session_start', lambda e: done('ok'))
    xmpp.add_event_handler('failed_all_auth', lambda e: done('failed_all_auth'))
    xmpp.add_event_handler('no_auth', lambda e: done('no_auth'))
    xmpp.add_event_handler('disconnected', lambda e: done('disconnected: %s' % (e,)))
    xmpp.add_event_handler('connection_failed', lambda e: done('connection_failed: %s' % (e,)))
    xmpp.add_event_handler('stream_error', lambda e: done('stream_error: %s' % e['condition']))
    xmpp.connect(address=('127.0.0.1', xmpp._loopback_port), use_ssl=direct_tls,
                 force_starttls=not direct_tls, disable_starttls=direct_tls)
    return await asyncio.wait_for(outcome, TIMEOUT)


async def close(xmpp):
    try:
        xmpp.disconnect(wait=2)
        await asyncio.wait_for(xmpp.disconnected, 5)
    except (asyncio.TimeoutError, asyncio.CancelledError):
        xmpp.abort()


MECHS = ['SCRAM-SHA-1', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'PLAIN']


@pytest.mark.parametrize('direct_tls', [False, True], ids=['starttls', 'direct-tls'])
@pytest.mark.parametrize('mech', MECHS)
def test_slixmpp_login(server, mech, direct_tls):
    port = server.tls_port if direct_tls else server.c2s_port
    resource = 'slix-%s-%s' % (mech, 'direct' if direct_tls else 'starttls')

    async def scenario(loop):
        xmpp = StarlingClient('alice@localhost/%s' % resource, server.password, port, mech)
        used = {}
        xmpp.add_event_handler('auth_success',
                               lambda e: used.setdefault('mech', xmpp['feature_mechanisms'].mech.name))
        result = await session(xmpp, loop, direct_tls)
        try:
            assert result == 'ok', 'slixmpp %s login failed: %s' % (mech, result)
            assert used.get('mech') == mech, used
            assert str(xmpp.boundjid) == 'alice@localhost/%s' % resource
            rtt = await xmpp['xep_0199'].ping('localhost', timeout=10)
            assert rtt is not None
            version = await xmpp['xep_0092'].get_version('localhost', timeout=10)
            assert version['software_version']['name'] == 'Starling'
        finally:
            await close(xmpp)
        return True

    assert run(scenario)


def test_slixmpp_wrong_password_fails(server):
    async def scenario(loop):
        xmpp = StarlingClient('alice@localhost/slix-bad', 'not-the-password', server.c2s_port,
                              'SCRAM-SHA-256')
        result = await session(xmpp, loop, False)
        await close(xmpp)
        return result

    assert run(scenario) == 'failed_all_auth'


def test_slixmpp_xep0077_inband_registration(server):
    user = 'slixreg%s' % os.urandom(3).hex()
    password = 'slix-pw-%s' % user

    async def register(loop):
        xmpp = StarlingClient('%s@localhost/reg' % user, password, server.c2s_port,
                              'SCRAM-SHA-256')
        xmpp.register_plugin('xep_0004')
        xmpp.register_plugin('xep_0066')
        xmpp.register_plugin('xep_0077')
        xmpp['xep_0077'].force_registration = True
        # Registration happens before the session exists; slixmpp would otherwise hold the
        # IQ back until the session starts.
        xmpp._always_send_everything = True
        registered = loop.create_future()

        async def on_register(form):
            try:
                iq = xmpp.Iq()
                iq['type'] = 'set'
                iq['register']['username'] = xmpp.boundjid.user
                iq['register']['password'] = password
                await iq.send(timeout=10)
                if not registered.done():
                    registered.set_result('registered')
            except Exception as e:  # reported through the future
                if not registered.done():
                    registered.set_result('register failed: %r' % e)
                xmpp.disconnect()

        xmpp.add_event_handler('register', on_register)
        result = await session(xmpp, loop, False)
        try:
            assert registered.done() and registered.result() == 'registered', \
                registered.result() if registered.done() else 'register event never fired'
            assert result == 'ok', 'login after registration failed: %s' % result
        finally:
            await close(xmpp)
        return True

    assert run(register)

    async def login_again(loop):
        xmpp = StarlingClient('%s@localhost/again' % user, password, server.c2s_port,
                              'SCRAM-SHA-1')
        result = await session(xmpp, loop, False)
        await close(xmpp)
        return result

    assert run(login_again) == 'ok'
