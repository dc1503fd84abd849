"""Federation between two Starling servers (RFC 6120 §4 and §13 server-to-server streams,
XEP-0220 Server Dialback, RFC 6121 across servers): a.test and b.test on loopback, joined by
[s2s.routes]. Their certificates are self-signed and not trusted by each other, so these
streams authenticate with dialback (the certificate path is in test_s2s_certificates.py)."""
import re
import time

import pytest

from rawxmpp import NS_CLIENT, NS_PING, NS_STANZAS, q, stanza_error, tostr
from s2s_helpers import (MSG, PRES, login, recv_error, recv_message, send_message, start_federated,
                         uniq)

NS_ROSTER = 'jabber:iq:roster'
NS_DELAY = 'urn:xmpp:delay'


@pytest.fixture(scope='module')
def fed(server_factory):
    # A also serves a2.test: several local domains, each its own domain pair.
    servers = start_federated(server_factory, ['a.test', 'b.test'], extra_hosts={'a.test': ['a2.test']})
    servers['a.test'].adduser('zed', host='a2.test')
    return servers['a.test'], servers['b.test']


def wait_log(srv, pattern, timeout=15):
    return wait_any_log([srv], pattern, timeout)


def wait_any_log(servers, pattern, timeout=15):
    """True once `pattern` appears in the log of any of `servers`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(re.search(pattern, s.log_text()) for s in servers):
            return True
        time.sleep(0.05)
    return False


def test_rfc6120_s2s_message_both_ways(fed):
    a, b = fed
    alice = login(a, 'alice', presence=True)
    bob = login(b, 'bob', presence=True)
    # RFC 6121 §8.5.3.1: a message to a full JID goes to that resource, here across servers.
    send_message(alice, bob.jid, 'hello from a')
    m = recv_message(bob, body='hello from a')
    assert m.get('from') == alice.jid
    assert m.get('to') == bob.jid
    send_message(bob, 'alice@a.test', 'hello from b')
    m = recv_message(alice, body='hello from b')
    assert m.get('from') == bob.jid
    # Both directions used dialback: the self-signed certificates are not trusted.
    assert wait_log(a, r's2s out b\.test: authenticated for a\.test \(dialback, TLS\)')
    assert wait_log(b, r's2s out a\.test: authenticated for b\.test \(dialback, TLS\)')
    assert wait_log(a, r'b\.test authenticated by dialback for a\.test')
    assert 'SASL EXTERNAL' not in a.log_text()


def test_rfc6120_s2s_payload_and_namespaces_survive(fed):
    a, b = fed
    alice = login(a, 'alice', presence=True)
    bob = login(b, 'bob', presence=True)
    id = uniq('m')
    alice.send("<message to='%s' id='%s' type='chat'><body>x &amp; y</body>"
               "<thread>t1</thread><custom xmlns='urn:example:x' a='1'><inner>z</inner></custom>"
               "</message>" % (bob.jid, id))
    m = recv_message(bob, body='x & y')
    assert m.get('id') == id
    assert m.findtext(q(NS_CLIENT, 'thread')) == 't1'
    custom = m.find(q('urn:example:x', 'custom'))
    assert custom is not None and custom.get('a') == '1'
    assert custom.findtext(q('urn:example:x', 'inner')) == 'z'


def test_rfc6120_s2s_iq_to_remote_server_and_user(fed):
    a, b = fed
    alice = login(a, 'alice')
    # An IQ to the remote server itself is answered by it (XEP-0199 ping).
    r = alice.iq("<ping xmlns='%s'/>" % NS_PING, to='b.test')
    assert r.get('type') == 'result', tostr(r)
    assert r.get('from') == 'b.test'
    # An IQ to an offline full JID at the remote server: its error comes back over s2s
    # (RFC 6121 §8.5.3.2.2: service-unavailable).
    r = alice.iq("<ping xmlns='%s'/>" % NS_PING, to='bob@b.test/nowhere')
    assert r.get('type') == 'error', tostr(r)
    assert stanza_error(r)[1] == 'service-unavailable'


def test_rfc6121_subscription_both_ways_and_presence(fed):
    a, b = fed
    dave = login(a, 'dave', presence=True)
    erin = login(b, 'erin', presence=True)
    # Interested resources (RFC 6121 §2.1.6) get the roster pushes.
    assert dave.iq("<query xmlns='%s'/>" % NS_ROSTER).get('type') == 'result'
    # RFC 6121 §3.1: dave@a.test asks erin@b.test.
    dave.send("<presence to='erin@b.test' type='subscribe'/>")
    req = erin.recv_stanza(lambda e: e.tag == PRES and e.get('type') == 'subscribe', timeout=15)
    assert req.get('from') == 'dave@a.test'
    erin.send("<presence to='dave@a.test' type='subscribed'/>")
    # dave's roster push says 'to', and erin's current presence follows (§3.1.5, §3.1.6).
    dave.recv_stanza(lambda e: e.tag == q(NS_CLIENT, 'iq') and e.find(q(NS_ROSTER, 'query')) is not None and any(
        i.get('jid') == 'erin@b.test' and i.get('subscription') == 'to'
        for i in e.find(q(NS_ROSTER, 'query'))), timeout=15)
    p = dave.recv_stanza(lambda e: e.tag == PRES and e.get('from') == erin.jid and e.get('type') is None,
                         timeout=15)
    # And the other way round.
    erin.send("<presence to='dave@a.test' type='subscribe'/>")
    req = dave.recv_stanza(lambda e: e.tag == PRES and e.get('type') == 'subscribe', timeout=15)
    assert req.get('from') == 'erin@b.test'
    dave.send("<presence to='erin@b.test' type='subscribed'/>")
    erin.recv_stanza(lambda e: e.tag == PRES and e.get('from') == dave.jid and e.get('type') is None,
                     timeout=15)
    # RFC 6121 §4.4: a presence change reaches the remote contact.
    erin.send("<presence><status>busy over there</status></presence>")
    p = dave.recv_stanza(lambda e: e.tag == PRES and e.get('from') == erin.jid and
                         e.findtext(q(NS_CLIENT, 'status')) == 'busy over there', timeout=15)
    # RFC 6121 §4.2.2 / §4.3: a new session of dave probes erin and gets her presence.
    dave2 = login(a, 'dave')
    dave2.send('<presence/>')
    dave2.recv_stanza(lambda e: e.tag == PRES and e.get('from') == erin.jid and e.get('type') is None,
                      timeout=15)
    # RFC 6121 §4.5.2: unavailable when erin leaves.
    erin.send("<presence type='unavailable'/>")
    dave.recv_stanza(lambda e: e.tag == PRES and e.get('from') == erin.jid and
                     e.get('type') == 'unavailable', timeout=15)


def test_xep0160_offline_message_to_remote_user(fed):
    a, b = fed
    alice = login(a, 'alice')
    body = uniq('offline')
    send_message(alice, 'carol@b.test', body)
    # Wait until B has it (the s2s round trip) by pinging b.test on the same path.
    r = alice.iq("<ping xmlns='%s'/>" % NS_PING, to='b.test')
    assert r.get('type') == 'result'
    carol = login(b, 'carol')
    carol.send('<presence/>')
    m = recv_message(carol, body=body)
    assert m.get('from') == alice.jid
    assert m.find(q(NS_DELAY, 'delay')) is not None  # XEP-0203 stamp of the stored message


def test_several_local_hosts_federate(fed):
    a, b = fed
    # b.test talks to two domains of one server; each domain pair is authenticated on its
    # own (XEP-0220 §2: dialback is per domain pair), in both directions.
    bob = login(b, 'bob', presence=True)
    zed = a.client(name='zed@a2.test')
    zed.login('zed', a.password, resource='z', to='a2.test')
    zed.send('<presence/>')
    send_message(bob, zed.jid, 'to the second host')
    m = recv_message(zed, body='to the second host')
    assert m.get('from') == bob.jid
    send_message(zed, bob.jid, 'from the second host')
    m = recv_message(bob, body='from the second host')
    assert m.get('from') == 'zed@a2.test/z'
    assert wait_log(b, r'a2\.test authenticated by dialback for b\.test')
    assert wait_log(a, r'b\.test authenticated by dialback for a2\.test')


def test_rfc6120_8_3_3_16_unknown_remote_domain(fed):
    a, b = fed
    alice = login(a, 'alice')
    id = send_message(alice, 'someone@nonexistent.invalid', 'into the void')
    cond, e = recv_error(alice, id)
    assert cond == 'remote-server-not-found', tostr(e)
    assert e.get('from') == 'someone@nonexistent.invalid'
    # RFC 6120 §8.3.1: errors are never bounced: an error stanza to the same place gets no
    # answer (the ping after it is the first thing back).
    alice.send("<message to='someone@nonexistent.invalid' type='error' id='e1'>"
               "<error type='cancel'><item-not-found xmlns='%s'/></error></message>" % NS_STANZAS)
    r = alice.iq("<ping xmlns='%s'/>" % NS_PING, to='a.test')
    assert r.get('type') == 'result'
    time.sleep(0.3)
    r = alice.iq("<ping xmlns='%s'/>" % NS_PING, to='a.test')
    assert not [x for x in alice.others if x.get('id') == 'e1'], [tostr(x) for x in alice.others]


def test_idle_streams_close_and_reconnect(server_factory):
    servers = start_federated(server_factory, ['i1.test', 'i2.test'], s2s={'idle_timeout': 1},
                              name_prefix='idle')
    s1, s2 = servers['i1.test'], servers['i2.test']
    alice = login(s1, 'alice', presence=True)
    bob = login(s2, 'bob', presence=True)
    send_message(alice, bob.jid, 'first')
    recv_message(bob, body='first')
    # [s2s] idle_timeout: the quiet links are closed by whichever side notices first (each
    # end of a link has its own timer, so either server may log it)...
    assert wait_any_log([s1, s2], r'idle, closing')
    assert wait_log(s1, r's2s out i2\.test: connection closed')
    assert wait_log(s2, r's2s out i1\.test: connection closed')
    # ...and the next stanza sets up a new one (a second dialback on each side).
    send_message(alice, bob.jid, 'second')
    recv_message(bob, body='second')
    send_message(bob, alice.jid, 'third')
    recv_message(alice, body='third')
    assert len(re.findall(r's2s out i2\.test: authenticated for i1\.test', s1.log_text())) >= 2
