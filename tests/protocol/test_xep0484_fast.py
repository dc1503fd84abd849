"""XEP-0484 FAST over SASL2: a token obtained on one login, a one-round-trip reconnect with it
(HT-SHA-256-NONE and the channel-binding variants), and every way a token stops working."""
import os
import re
import sqlite3

import pytest
from OpenSSL import SSL

from rawxmpp import NS_IQ_REGISTER, q, tostr
from sasl2_helpers import (NS_BIND2, NS_FAST, bind2_xml, connect, fast_mechanisms,
                           new_agent_id, request_token_xml, sasl2_fast, sasl2_scram, token_of,
                           user_agent_xml)

XEP0082 = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$')


def obtain(server, user='alice', mechanism='HT-SHA-256-NONE', agent=None, password=None, **kw):
    agent = agent or new_agent_id()
    c = connect(server, **kw)
    r = sasl2_scram(c, user, password or server.password,
                    extra=user_agent_xml(agent) + request_token_xml(mechanism))
    assert r.ok and r.verified, tostr(r.elem)
    token, expiry = token_of(r)
    assert token and XEP0082.match(expiry or ''), tostr(r.elem)
    c.close()
    return token, agent


def db_exec(server, sql, *args):
    con = sqlite3.connect(os.path.join(server.data_dir, 'starling.db'), timeout=10)
    try:
        con.execute(sql, args)
        con.commit()
    finally:
        con.close()


def test_xep0484_4_1_advertised_inline(server):
    c = connect(server, tls_min=SSL.TLS1_3_VERSION)
    mechs = fast_mechanisms(c)
    assert mechs == ['HT-SHA-256-EXPR', 'HT-SHA-256-ENDP', 'HT-SHA-256-NONE'], tostr(c.features)
    c12 = connect(server, tls_max=SSL.TLS1_2_VERSION)
    assert fast_mechanisms(c12) == ['HT-SHA-256-ENDP', 'HT-SHA-256-NONE'], tostr(c12.features)


def test_xep0484_token_then_one_round_trip_reconnect_with_bind2(server):
    token, agent = obtain(server, 'alice')
    c = connect(server)
    r = sasl2_fast(c, 'alice', token, agent_id=agent, extra=bind2_xml('FastClient'))
    assert r.ok, tostr(r.elem)
    # One round trip: <authenticate/> answered by <success/> with the HT responder value.
    assert r.round_trips == 1 and r.verified, tostr(r.elem)
    assert r.authzid.startswith('alice@localhost/FastClient/'), r.authzid
    assert r.child(NS_BIND2, 'bound') is not None
    r2 = c.iq("<ping xmlns='urn:xmpp:ping'/>", to='localhost')
    assert r2.get('type') == 'result'
    # The token keeps working (not due for rotation, not invalidated).
    c2 = connect(server)
    assert sasl2_fast(c2, 'alice', token, agent_id=agent).ok


@pytest.mark.parametrize('mechanism', ['HT-SHA-256-EXPR', 'HT-SHA-256-ENDP'])
def test_xep0484_channel_binding_mechanisms(server, mechanism):
    token, agent = obtain(server, 'bob', mechanism, tls_min=SSL.TLS1_3_VERSION)
    c = connect(server, tls_min=SSL.TLS1_3_VERSION)
    r = sasl2_fast(c, 'bob', token, mechanism, agent_id=agent)
    assert r.ok and r.verified, tostr(r.elem)
    # §3.3: bound to the mechanism it was issued for.
    c = connect(server, tls_min=SSL.TLS1_3_VERSION)
    r = sasl2_fast(c, 'bob', token, 'HT-SHA-256-NONE', agent_id=agent)
    assert not r.ok and r.condition == 'not-authorized', tostr(r.elem)


def test_xep0484_wrong_token_user_or_agent_fails(server):
    token, agent = obtain(server, 'carol')
    for user, tok, ag in [('carol', token[:-1] + ('A' if token[-1] != 'A' else 'B'), agent),
                          ('carol', token, new_agent_id()),
                          ('dave', token, agent),
                          ('carol', token, None)]:
        c = connect(server)
        r = sasl2_fast(c, user, tok, agent_id=ag)
        assert not r.ok and r.condition == 'not-authorized', (user, ag, tostr(r.elem))
    # An HT mechanism without <fast/> is no token login.
    c = connect(server)
    r = sasl2_fast(c, 'carol', token, agent_id=agent, fast_element=False)
    assert not r.ok and r.condition == 'not-authorized', tostr(r.elem)
    c = connect(server)
    assert sasl2_fast(c, 'carol', token, agent_id=agent).ok


def test_xep0484_count_replay_rejected(server):
    token, agent = obtain(server, 'dave')
    c = connect(server)
    assert sasl2_fast(c, 'dave', token, agent_id=agent, count=1).ok
    c = connect(server)
    r = sasl2_fast(c, 'dave', token, agent_id=agent, count=1)
    assert not r.ok and r.condition == 'not-authorized', 'replayed count accepted: %s' % tostr(r.elem)
    c = connect(server)
    assert sasl2_fast(c, 'dave', token, agent_id=agent, count=2).ok
    c = connect(server)
    r = sasl2_fast(c, 'dave', token, agent_id=agent, count=0)
    assert not r.ok and r.condition == 'malformed-request', tostr(r.elem)


def test_xep0484_3_5_invalidate(server):
    token, agent = obtain(server, 'erin')
    c = connect(server)
    r = sasl2_fast(c, 'erin', token, agent_id=agent, invalidate=True)
    assert r.ok, tostr(r.elem)
    assert token_of(r) == (None, None), 'no new token without a request: %s' % tostr(r.elem)
    c = connect(server)
    r = sasl2_fast(c, 'erin', token, agent_id=agent)
    assert not r.ok and r.condition == 'not-authorized', tostr(r.elem)


def test_xep0484_4_2_expired_token(server):
    token, agent = obtain(server, 'alice')
    db_exec(server, "UPDATE fast_tokens SET expiry = 1 WHERE agent = ?", agent)
    c = connect(server)
    r = sasl2_fast(c, 'alice', token, agent_id=agent)
    assert not r.ok and r.condition == 'credentials-expired', tostr(r.elem)


def test_xep0484_3_4_rotation_keeps_old_token_until_new_used(server):
    token, agent = obtain(server, 'bob')
    c = connect(server)
    assert sasl2_fast(c, 'bob', token, agent_id=agent).ok
    # Pretend the token was issued long ago: the next use rotates it without a request.
    db_exec(server, "UPDATE fast_tokens SET issued = 1 WHERE agent = ?", agent)
    c = connect(server)
    r = sasl2_fast(c, 'bob', token, agent_id=agent)
    assert r.ok, tostr(r.elem)
    new_token, expiry = token_of(r)
    assert new_token and new_token != token, tostr(r.elem)
    # The client may not have received it: the old token still works, and since the old one
    # is still due for rotation it gets another new token, which replaces the unused one
    # (XEP-0484 §3.4 SHOULD) ...
    c = connect(server)
    r = sasl2_fast(c, 'bob', token, agent_id=agent)
    assert r.ok, tostr(r.elem)
    newer, _ = token_of(r)
    assert newer and newer not in (token, new_token), tostr(r.elem)
    c = connect(server)
    r = sasl2_fast(c, 'bob', new_token, agent_id=agent)
    assert not r.ok and r.condition == 'not-authorized', tostr(r.elem)
    # ... until the new one is used: then the older token is gone (§3.4 MUST), and a fresh
    # token needs no rotation.
    c = connect(server)
    r = sasl2_fast(c, 'bob', newer, agent_id=agent)
    assert r.ok and token_of(r) == (None, None), tostr(r.elem)
    c = connect(server)
    r = sasl2_fast(c, 'bob', token, agent_id=agent)
    assert not r.ok and r.condition == 'not-authorized', tostr(r.elem)


def test_xep0484_token_gone_after_password_change(server_factory):
    srv = server_factory.start('fast-passwd')
    token, agent = obtain(srv, 'carol')
    # XEP-0077 §3.3 password change in-band.
    c = srv.login('carol', resource='pw')
    r = c.iq("<query xmlns='%s'><username>carol</username><password>new-pw-1</password></query>"
             % NS_IQ_REGISTER, type='set')
    assert r.get('type') == 'result', tostr(r)
    c = connect(srv)
    r = sasl2_fast(c, 'carol', token, agent_id=agent)
    assert not r.ok and r.condition == 'not-authorized', tostr(r.elem)
    # And through starlingctl.
    token, agent = obtain(srv, 'carol', password='new-pw-1')
    srv.ctl('passwd', 'carol@localhost', '--password', 'new-pw-2')
    c = connect(srv)
    r = sasl2_fast(c, 'carol', token, agent_id=agent)
    assert not r.ok and r.condition == 'not-authorized', tostr(r.elem)


def test_xep0484_request_for_unadvertised_mechanism_gets_no_token(server):
    c = connect(server)
    r = sasl2_scram(c, 'alice', server.password,
                    extra=user_agent_xml(new_agent_id()) + request_token_xml('HT-SHA-256-BOGUS'))
    assert r.ok and token_of(r) == (None, None), tostr(r.elem)
    # Without a user-agent id there is no client to bind a token to.
    c = connect(server)
    r = sasl2_scram(c, 'alice', server.password, extra=request_token_xml('HT-SHA-256-NONE'))
    assert r.ok and token_of(r) == (None, None), tostr(r.elem)
