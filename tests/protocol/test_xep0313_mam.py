"""XEP-0313 Message Archive Management for user archives: archiving in both directions,
XEP-0359 stanza ids, every query filter, XEP-0059 paging over thousands of messages, flipped
pages, metadata, XEP-0441 preferences, retention and size cap, restart, errors."""
import time

import pytest

from mam_helpers import (MSG, NS_CARBONS, NS_MAM, NS_SID, all_pages, form, fresh_user, no_msg, query,
                         query_error, recv_msg, rsm, send, stanza_ids, sync, uniq)
from rawxmpp import NS_CLIENT, NS_DISCO_INFO, q, tostr


def login(server, user, resource=None, available=True):
    """A session; available (initial presence) so that messages to the bare JID reach it
    (RFC 6121 §8.5.2.1) instead of offline storage."""
    c = server.login(user, resource=resource or uniq(user))
    if available:
        c.send('<presence/>')
        sync(c)
    return c


def body_is(text):
    return lambda e: e.findtext(q(NS_CLIENT, 'body')) == text


def test_xep0313_7_disco_features_on_the_account(server):
    c = login(server, 'alice')
    r = c.iq("<query xmlns='%s'/>" % NS_DISCO_INFO, to='alice@localhost')
    feats = {f.get('var') for f in r.iter(q(NS_DISCO_INFO, 'feature'))}
    assert {'urn:xmpp:mam:2', 'urn:xmpp:mam:2#extended', 'urn:xmpp:sid:0'} <= feats, tostr(r)
    c.close()


def test_xep0313_4_1_5_form_lists_supported_fields(server):
    c = login(server, 'alice')
    r = c.iq("<query xmlns='%s'/>" % NS_MAM, type='get')
    assert r.get('type') == 'result', tostr(r)
    vars_ = {f.get('var') for f in r.iter(q('jabber:x:data', 'field'))}
    assert {'FORM_TYPE', 'with', 'start', 'end', 'before-id', 'after-id', 'ids'} <= vars_
    c.close()


def test_xep0313_archives_both_directions_with_stanza_id(server):
    a, b = fresh_user(server, 'arch'), fresh_user(server, 'arch')
    ca, cb = login(server, a), login(server, b)
    body = uniq('hello')
    send(ca, '%s@localhost' % b, body)
    m = recv_msg(cb, body_is(body))
    # XEP-0313 §3.3: the recipient's archive id, by = the recipient's bare JID.
    ids = stanza_ids(m)
    assert len(ids) == 1 and ids[0][0] == '%s@localhost' % b, tostr(m)
    reply = uniq('reply')
    send(cb, ca.jid, reply)
    recv_msg(ca, body_is(reply))
    pa = query(ca)
    assert pa.bodies == [body, reply] and pa.complete, tostr(pa.iq)
    # Outgoing stored as sent (to = the peer), incoming with the sender's full JID.
    assert pa.results[0][1].get('to') == '%s@localhost' % b
    assert pa.results[1][1].get('from') == cb.jid
    pb = query(cb)
    assert pb.bodies == [body, reply]
    assert pb.ids[0] == ids[0][1]
    # The sender's outgoing message does not carry the sender's archive id to the peer.
    assert all(by != '%s@localhost' % a for by, _ in stanza_ids(m))
    ca.close()
    cb.close()


def test_xep0359_forged_stanza_id_stripped_origin_id_kept(server):
    a, b = fresh_user(server, 'forge'), fresh_user(server, 'forge')
    ca, cb = login(server, a), login(server, b)
    body = uniq('forged')
    send(ca, '%s@localhost' % b, body, payload=(
        "<stanza-id xmlns='%s' by='%s@localhost' id='forged-1'/>"
        "<stanza-id xmlns='%s' by='room@muc.example' id='other'/>"
        "<origin-id xmlns='%s' id='origin-1'/>") % (NS_SID, b, NS_SID, NS_SID))
    m = recv_msg(cb, body_is(body))
    mine = stanza_ids(m, by='%s@localhost' % b)
    assert len(mine) == 1 and mine[0][1] != 'forged-1', tostr(m)
    assert ('room@muc.example', 'other') in stanza_ids(m)
    assert m.find(q(NS_SID, 'origin-id')).get('id') == 'origin-1'
    assert query(cb).ids == [mine[0][1]]
    ca.close()
    cb.close()


def test_xep0313_offline_message_archived_and_stamped(server):
    a, b = fresh_user(server, 'off'), fresh_user(server, 'off')
    ca = login(server, a)
    body = uniq('offline')
    send(ca, '%s@localhost' % b, body)
    sync(ca)
    cb = login(server, b, available=False)
    p = query(cb)
    assert p.bodies == [body]
    # The offline copy, delivered on initial presence, carries the same archive id.
    cb.send('<presence/>')
    m = recv_msg(cb, body_is(body))
    assert stanza_ids(m, by='%s@localhost' % b) == [('%s@localhost' % b, p.ids[0])], tostr(m)
    ca.close()
    cb.close()


def test_xep0313_6_1_1_what_is_archived(server):
    a, b = fresh_user(server, 'rules'), fresh_user(server, 'rules')
    ca, cb = login(server, a), login(server, b)
    to = '%s@localhost' % b
    send(ca, to, type='chat', payload="<composing xmlns='http://jabber.org/protocol/chatstates'/>")
    send(ca, to, 'no-store', payload="<no-store xmlns='urn:xmpp:hints'/>")
    send(ca, to, 'no-perm', payload="<no-permanent-store xmlns='urn:xmpp:hints'/>")
    send(ca, to, 'headline', type='headline')
    send(ca, to, type='chat', payload="<store xmlns='urn:xmpp:hints'/><x xmlns='urn:example'/>")
    send(ca, to, 'normal', type=None)
    send(ca, to, type='chat', payload="<encrypted xmlns='eu.siacs.conversations.axolotl'><payload>x</payload></encrypted>")
    sync(ca)
    for p in (query(ca), query(cb)):
        assert p.bodies == [None, 'normal', None], [tostr(r[1]) for r in p.results]
    ca.close()
    cb.close()


def test_xep0313_note_to_self_archived_once(server):
    a = fresh_user(server, 'self')
    c1, c2 = login(server, a), login(server, a)
    body = uniq('note')
    send(c1, '%s@localhost' % a, body)
    send(c1, c2.jid, body + '-full')
    recv_msg(c2, body_is(body + '-full'))
    p = query(c1)
    assert p.bodies == [body, body + '-full'], p.bodies
    p = query(c1, form(**{'with': '%s@localhost' % a}))
    assert len(p.results) == 2
    c1.close()
    c2.close()


@pytest.fixture(scope='module')
def filled(server):
    """An archive with 12 messages: with romeo (even) and nurse (odd), nurse from two
    resources, 1.1 s gap between the first 6 and the rest (for start/end)."""
    owner = fresh_user(server, 'jul')
    romeo, nurse = fresh_user(server, 'rom'), fresh_user(server, 'nur')
    c = login(server, owner)
    cr = login(server, romeo, resource='garden')
    cn1 = login(server, nurse, resource='kitchen')
    cn2 = login(server, nurse, resource='hall')
    bodies = []
    for i in range(12):
        if i == 6:
            sync(c)
            time.sleep(1.1)
        body = 'f%d' % i
        bodies.append(body)
        sender = cr if i % 2 == 0 else (cn1 if i % 4 == 1 else cn2)
        send(sender, '%s@localhost' % owner, body)
        recv_msg(c, body_is(body))
    p = query(c, rsm(max=100))
    assert p.bodies == bodies
    for x in (cr, cn1, cn2):
        x.close()
    return {'c': c, 'ids': p.ids, 'stamps': [r[2] for r in p.results], 'romeo': romeo, 'nurse': nurse,
            'owner': owner}


def test_xep0313_4_1_1_with_bare_and_full(filled):
    c = filled['c']
    p = query(c, form(**{'with': '%s@localhost' % filled['romeo']}))
    assert p.bodies == ['f0', 'f2', 'f4', 'f6', 'f8', 'f10']
    p = query(c, form(**{'with': '%s@localhost' % filled['nurse']}))
    assert p.bodies == ['f1', 'f3', 'f5', 'f7', 'f9', 'f11']
    p = query(c, form(**{'with': '%s@localhost/kitchen' % filled['nurse']}))
    assert p.bodies == ['f1', 'f5', 'f9']
    p = query(c, form(**{'with': 'nobody@localhost'}))
    assert p.results == [] and p.complete and p.count == 0


def test_xep0313_4_1_2_start_and_end(filled):
    c, stamps = filled['c'], filled['stamps']
    p = query(c, form(start=stamps[6]))
    assert p.bodies == ['f%d' % i for i in range(6, 12)]
    p = query(c, form(end=stamps[5]))
    assert p.bodies == ['f%d' % i for i in range(6)]
    p = query(c, form(start=stamps[3], end=stamps[8]))
    assert p.bodies == ['f%d' % i for i in range(3, 9)]
    # A whole-second stamp between the two bursts.
    p = query(c, form(start='2000-01-01T00:00:00Z', end='2000-01-02T00:00:00+01:00'))
    assert p.results == []


def test_xep0313_4_1_3_after_before_and_ids(filled):
    c, ids = filled['c'], filled['ids']
    p = query(c, form(after_id=ids[2], before_id=ids[7]))
    assert p.bodies == ['f3', 'f4', 'f5', 'f6']
    p = query(c, form(after_id=ids[9]))
    assert p.bodies == ['f10', 'f11']
    p = query(c, form(ids=[ids[8], ids[1]]))
    assert p.bodies == ['f1', 'f8']
    p = query(c, form(ids=[ids[8], ids[1]], **{'with': '%s@localhost' % filled['romeo']}))
    assert p.bodies == ['f8']
    for f in (form(after_id='unknown'), form(before_id='unknown'), form(ids=[ids[0], 'unknown'])):
        assert query_error(c, f) == 'item-not-found'


def test_xep0313_4_3_rsm_errors_and_flip(filled):
    c, ids = filled['c'], filled['ids']
    assert query_error(c, rsm(max=5, after='unknown')) == 'item-not-found'
    assert query_error(c, rsm(max=5, before='unknown')) == 'item-not-found'
    p = query(c, rsm(max=5))
    assert p.bodies == ['f%d' % i for i in range(5)] and not p.complete
    assert (p.first, p.last, p.count, p.first_index) == (ids[0], ids[4], 12, 0)
    # Last page: empty <before/>; chronological within the page.
    p = query(c, rsm(max=5, before=''))
    assert p.bodies == ['f%d' % i for i in range(7, 12)] and not p.complete
    assert p.first_index == 7
    p = query(c, rsm(max=5, before=ids[2]))
    assert p.bodies == ['f0', 'f1'] and p.complete
    # XEP-0313 §4.3.4: flip-page reverses the order of the same page.
    p = query(c, rsm(max=5, after=ids[3]) + "<flip-page/>")
    assert p.bodies == ['f8', 'f7', 'f6', 'f5', 'f4']
    assert (p.first, p.last) == (ids[4], ids[8])
    # XEP-0059 §2.7: the count alone.
    p = query(c, rsm(max=0))
    assert p.results == [] and p.count == 12 and p.first is None
    # XEP-0059 §2.6: page by index.
    p = query(c, rsm(max=3, index=10))
    assert p.bodies == ['f10', 'f11'] and p.first_index == 10 and p.complete


def test_xep0313_5_metadata(server, filled):
    c, ids = filled['c'], filled['ids']
    r = c.iq("<metadata xmlns='%s'/>" % NS_MAM)
    md = r.find(q(NS_MAM, 'metadata'))
    assert md.find(q(NS_MAM, 'start')).get('id') == ids[0], tostr(r)
    assert md.find(q(NS_MAM, 'end')).get('id') == ids[-1]
    assert md.find(q(NS_MAM, 'end')).get('timestamp') == filled['stamps'][-1]
    empty = login(server, fresh_user(server, 'empty'))
    r = empty.iq("<metadata xmlns='%s'/>" % NS_MAM)
    md = r.find(q(NS_MAM, 'metadata'))
    assert md is not None and len(md) == 0, tostr(r)
    empty.close()


def test_xep0313_errors_for_bad_queries(server, filled):
    c = filled['c']
    # §4.1.5: a field the server does not know.
    assert query_error(c, form(**{'{urn:example}fulltext': 'x'})) == 'feature-not-implemented'
    assert query_error(c, form(include_groupchat='true')) == 'feature-not-implemented'
    assert query_error(c, form(start='yesterday')) == 'bad-request'
    assert query_error(c, form(**{'with': '@@bad'})) == 'jid-malformed'
    assert query_error(c, "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'>"
                          "<value>urn:xmpp:mam:1</value></field></x>") == 'bad-request'
    assert query_error(c, rsm(max='ten')) == 'bad-request'
    assert query_error(c, rsm(after='a', before='b')) == 'bad-request'
    # §8.1: someone else's archive.
    assert query_error(c, '', to='%s@localhost' % filled['romeo']) == 'forbidden'
    # The server is still there.
    sync(c)


def test_xep0059_paging_thousands_forward_and_backward(server):
    a, b = fresh_user(server, 'bulk'), fresh_user(server, 'bulk')
    ca = login(server, a)
    n = 2000
    # One write for all of them: the server archives them as they are routed.
    ca.send(''.join("<message to='%s@localhost' type='chat' id='b%d'><body>%d</body></message>" % (b, i, i)
                    for i in range(n)))
    sync(ca)
    t0 = time.monotonic()
    fwd, pages = all_pages(ca, max=250)
    t_fwd = time.monotonic() - t0
    assert [int(r[1].findtext(q(NS_CLIENT, 'body'))) for r in fwd] == list(range(n))
    assert pages == 8
    ids = [r[0] for r in fwd]
    assert len(set(ids)) == n
    back, _ = all_pages(ca, max=300, backward=True)
    assert [r[0] for r in back] == ids
    # with-filtered paging uses its own index and gives the same sequence.
    wf, _ = all_pages(ca, inner_form=form(**{'with': '%s@localhost' % b}), max=500)
    assert [r[0] for r in wf] == ids
    # The server caps the page size (max_page_size, default 250).
    p = query(ca, rsm(max=100000))
    assert len(p.results) == 250 and not p.complete and p.count == n
    print('paged %d messages forward in %.2fs' % (n, t_fwd))
    ca.close()


def prefs(c, default=None, always=(), never=()):
    if default is None:
        r = c.iq("<prefs xmlns='%s'/>" % NS_MAM)
    else:
        r = c.iq("<prefs xmlns='%s' default='%s'><always>%s</always><never>%s</never></prefs>" % (
            NS_MAM, default, ''.join('<jid>%s</jid>' % j for j in always),
            ''.join('<jid>%s</jid>' % j for j in never)), type='set')
    assert r.get('type') == 'result', tostr(r)
    p = r.find(q(NS_MAM, 'prefs'))
    return (p.get('default'), [j.text for j in p.find(q(NS_MAM, 'always'))],
            [j.text for j in p.find(q(NS_MAM, 'never'))])


def test_xep0441_prefs_never_always(server):
    a, b, d = fresh_user(server, 'pref'), fresh_user(server, 'pref'), fresh_user(server, 'pref')
    ca, cb, cd = login(server, a), login(server, b), login(server, d)
    assert prefs(ca) == ('always', [], [])
    assert prefs(ca, 'never', always=['%s@localhost' % b]) == ('never', ['%s@localhost' % b], [])
    assert prefs(ca) == ('never', ['%s@localhost' % b], [])
    send(cb, '%s@localhost' % a, 'from-b')
    # Archived when routed: wait for it before a sends, or b's and a's streams race and the
    # archive order (the order the server routed them) is not the order sent here.
    recv_msg(ca, body_is('from-b'))
    send(cd, '%s@localhost' % a, 'from-d')
    m = recv_msg(ca, body_is('from-d'))
    assert stanza_ids(m) == [], tostr(m)  # not archived: no archive id
    send(ca, '%s@localhost' % d, 'to-d')
    send(ca, '%s@localhost' % b, 'to-b')
    sync(ca)
    assert query(ca).bodies == ['from-b', 'to-b']
    assert prefs(ca, 'always', never=['%s@localhost' % d]) == ('always', [], ['%s@localhost' % d])
    send(cd, '%s@localhost' % a, 'from-d2')
    send(cb, '%s@localhost' % a, 'from-b2')
    recv_msg(ca, body_is('from-b2'))
    assert query(ca).bodies == ['from-b', 'to-b', 'from-b2']
    # Bad preferences.
    r = ca.iq("<prefs xmlns='%s' default='sometimes'/>" % NS_MAM, type='set')
    assert r.get('type') == 'error' and r.find('.//{urn:ietf:params:xml:ns:xmpp-stanzas}bad-request') is not None
    r = ca.iq("<prefs xmlns='%s' default='always'><always><jid>@x</jid></always></prefs>" % NS_MAM, type='set')
    assert r.get('type') == 'error', tostr(r)
    for c in (ca, cb, cd):
        c.close()


def test_xep0441_prefs_roster(server):
    a, b, d = fresh_user(server, 'ros'), fresh_user(server, 'ros'), fresh_user(server, 'ros')
    ca, cb, cd = login(server, a), login(server, b), login(server, d)
    r = ca.iq("<query xmlns='jabber:iq:roster'><item jid='%s@localhost'/></query>" % b, type='set')
    assert r.get('type') == 'result', tostr(r)
    assert prefs(ca, 'roster')[0] == 'roster'
    for i in range(3):
        send(cd, '%s@localhost' % a, 'stranger%d' % i)
        send(cb, '%s@localhost' % a, 'contact%d' % i)
    got = [recv_msg(ca).findtext(q(NS_CLIENT, 'body')) for _ in range(6)]
    # Order kept although the decisions wait for the roster.
    assert [g for g in got if g.startswith('contact')] == ['contact0', 'contact1', 'contact2']
    assert [g for g in got if g.startswith('stranger')] == ['stranger0', 'stranger1', 'stranger2']
    send(ca, '%s@localhost' % d, 'to-stranger')
    send(ca, '%s@localhost' % b, 'to-contact')
    sync(ca)
    # Archiving is asynchronous (batched writes after the roster decision): wait, bounded.
    expected = ['contact0', 'contact1', 'contact2', 'to-contact']
    for _ in range(50):
        bodies = query(ca).bodies
        if bodies == expected:
            break
        time.sleep(0.1)
    assert bodies == expected
    for c in (ca, cb, cd):
        c.close()


def test_xep0313_prefs_and_archive_survive_restart(server_factory):
    s = server_factory.start('mam-restart')
    ca, cb = login(s, 'alice'), login(s, 'bob')
    send(ca, 'bob@localhost', 'before restart')
    recv_msg(cb, body_is('before restart'))
    prefs(cb, 'always', never=['carol@localhost'])
    before = query(cb)
    ca.close()
    cb.close()
    s.stop()
    s.start()
    cb = login(s, 'bob')
    after = query(cb)
    assert after.ids == before.ids and after.bodies == ['before restart']
    assert prefs(cb) == ('always', [], ['carol@localhost'])
    # New ids after the restart sort after the old ones.
    ca = login(s, 'alice')
    send(ca, 'bob@localhost', 'after restart')
    recv_msg(cb, body_is('after restart'))
    assert query(cb).bodies == ['before restart', 'after restart']
    ca.close()
    cb.close()


def test_xep0313_3_2_retention_and_size_cap(server_factory):
    s = server_factory.start('mam-retention', overrides={'mam': {'max_age': 2, 'expiry_interval': 1,
                                                                 'max_messages_per_user': 5}})
    ca, cb = login(s, 'alice'), login(s, 'bob')
    for i in range(8):
        send(ca, 'bob@localhost', 'cap%d' % i)
    sync(ca)
    # Size cap: the oldest went.
    assert query(cb).bodies == ['cap%d' % i for i in range(3, 8)]
    # Retention: gone once older than max_age (hidden at once, deleted by the expiry pass).
    deadline = time.monotonic() + 6
    while query(cb).results and time.monotonic() < deadline:
        time.sleep(0.25)
    assert query(cb).results == []
    send(ca, 'bob@localhost', 'fresh')
    recv_msg(cb, body_is('fresh'))
    assert query(cb).bodies == ['fresh']
    ca.close()
    cb.close()


def test_xep0313_archive_removed_with_account(server):
    a, b = fresh_user(server, 'gone'), fresh_user(server, 'gone')
    ca = login(server, a)
    send(ca, '%s@localhost' % b, 'bye')
    sync(ca)
    ca.close()
    server.ctl('deluser', '%s@localhost' % a)
    server.adduser(a)
    ca = login(server, a)
    assert query(ca).results == []
    ca.close()


def test_xep0313_slixmpp_client_retrieves_archive(server):
    import slixmpp  # python3-slixmpp, installed by scripts/install-deps.sh
    import asyncio
    from test_slixmpp_interop import StarlingClient, run, session, close

    a, b = fresh_user(server, 'sli'), fresh_user(server, 'sli')
    ca = login(server, a)
    for i in range(5):
        send(ca, '%s@localhost' % b, 'sli%d' % i)
    sync(ca)
    ca.close()

    async def go(loop):
        x = StarlingClient('%s@localhost/sx' % b, server.password, server.c2s_port)
        x.register_plugin('xep_0313')
        assert await session(x, loop, False) == 'ok'
        try:
            bodies = []
            async for m in x['xep_0313'].iterate(rsm={'max': 2}):
                bodies.append(m['mam_result']['forwarded']['stanza']['body'])
            return bodies
        finally:
            await close(x)

    assert run(go) == ['sli%d' % i for i in range(5)]
