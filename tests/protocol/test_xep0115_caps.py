"""XEP-0115: Entity Capabilities — the server asks a client announcing an unknown verification
string for its disco#info (node#ver), verifies it (§5.4) and caches verified strings globally
(memory and database), so other clients announcing the same string are not asked."""
import os
import sqlite3
import time

import pytest

from im_helpers_vcard import (EXODUS_INFO, EXODUS_NODE, EXODUS_VER, NS_DISCO_INFO, answer_disco,
                              assert_result, caps_presence, caps_ver, disco_body, is_disco_query,
                              no_stanza, ping)
from rawxmpp import q, tostr


@pytest.fixture(scope='module')
def srv(server_factory):
    return server_factory.start('caps', users=('alice', 'bob', 'carol', 'dave', 'erin', 'frank'))


def test_xep0115_s6_2_unknown_ver_is_queried_then_cached(srv):
    a = srv.login('alice', resource='exodus')
    a.send(caps_presence(EXODUS_NODE, EXODUS_VER))
    iq = a.recv_stanza(is_disco_query)
    assert iq.get('from') == 'localhost', tostr(iq)
    assert iq.get('to') == 'alice@localhost/exodus', tostr(iq)
    assert iq.find(q(NS_DISCO_INFO, 'query')).get('node') == EXODUS_NODE + '#' + EXODUS_VER
    answer_disco(a, iq, EXODUS_INFO)
    ping(a, srv)
    # §5.4 step 3.8: verified, cached for everybody: bob is not asked.
    b = srv.login('bob', resource='exodus')
    b.send(caps_presence(EXODUS_NODE, EXODUS_VER))
    assert no_stanza(b, is_disco_query, wait=1.5)
    # Nor is alice when she announces it again.
    a.send(caps_presence(EXODUS_NODE, EXODUS_VER))
    assert no_stanza(a, is_disco_query, wait=0.5)


def test_xep0115_presence_not_delayed_by_query(srv):
    """The query runs in the background: the client's next stanzas are handled while it has
    not answered."""
    c = srv.login('carol', resource='slow')
    ident = [('client', 'pc', '', 'Slow 1.0')]
    feats = ['http://jabber.org/protocol/caps', 'urn:example:slow']
    c.send(caps_presence('urn:example:slow', caps_ver(ident, feats)))
    ping(c, srv)
    iq = c.recv_stanza(is_disco_query)
    answer_disco(c, iq, disco_body(ident, feats))


def test_xep0115_s5_4_mismatch_not_cached(srv):
    ident = [('client', 'pc', '', 'Liar 1.0')]
    feats = ['http://jabber.org/protocol/caps', 'urn:example:claimed']
    ver = caps_ver(ident, feats)
    d = srv.login('dave', resource='liar')
    d.send(caps_presence('urn:example:liar', ver))
    iq = d.recv_stanza(is_disco_query)
    # The answer does not hash to the announced string (a feature is missing).
    answer_disco(d, iq, disco_body(ident, feats[:1]))
    ping(d, srv)
    # §5.4 step 3.9: not cached: the next client announcing it is asked.
    e = srv.login('erin', resource='honest')
    e.send(caps_presence('urn:example:liar', ver))
    iq = e.recv_stanza(is_disco_query)
    assert iq.get('to') == 'erin@localhost/honest'
    answer_disco(e, iq, disco_body(ident, feats))
    ping(e, srv)
    f = srv.login('frank', resource='third')
    f.send(caps_presence('urn:example:liar', ver))
    assert no_stanza(f, is_disco_query, wait=1.5)


def test_xep0115_s5_4_unsupported_hash_not_cached_globally(srv):
    a = srv.login('alice', resource='md5')
    a.send(caps_presence('urn:example:md5', 'bm90LWEtaGFzaA==', hash='md5'))
    iq = a.recv_stanza(is_disco_query)
    answer_disco(a, iq, EXODUS_INFO)
    b = srv.login('bob', resource='md5')
    b.send(caps_presence('urn:example:md5', 'bm90LWEtaGFzaA==', hash='md5'))
    iq = b.recv_stanza(is_disco_query)
    answer_disco(b, iq, EXODUS_INFO)


def test_xep0115_legacy_caps_without_hash_ignored(srv):
    c = srv.login('carol', resource='legacy')
    c.send("<presence><c xmlns='http://jabber.org/protocol/caps' node='urn:example:old' ver='1.0'/></presence>")
    assert no_stanza(c, is_disco_query, wait=1.0)


def test_xep0115_cache_survives_restart(server_factory):
    s = server_factory.start('caps-restart', users=('alice', 'bob'))
    a = s.login('alice', resource='one')
    a.send(caps_presence(EXODUS_NODE, EXODUS_VER))
    answer_disco(a, a.recv_stanza(is_disco_query), EXODUS_INFO)
    ping(a, s)
    # The verified entry is written in the background: wait (bounded) until it is on disk
    # before stopping, so the restart tests persistence and not a race with shutdown.
    db = os.path.join(s.data_dir, 'starling.db')
    deadline = time.monotonic() + 10
    while True:
        with sqlite3.connect(db, timeout=5) as conn:
            if conn.execute('SELECT COUNT(*) FROM caps_cache').fetchone()[0] > 0:
                break
        assert time.monotonic() < deadline, 'verified caps never reached the database'
        time.sleep(0.05)
    a.close()
    s.stop()
    s.start()
    b = s.login('bob', resource='two')
    b.send(caps_presence(EXODUS_NODE, EXODUS_VER))
    assert no_stanza(b, is_disco_query, wait=1.5)
