"""RFC 6121 §4.2.2 / §4.3.2: the probes of one login to many local contacts in different
states, answered together (the presence module answers a login's local probes from one read of
who may see the user, the contacts' sessions and one last-activity read). Every rule of §4.3.2
and the privacy rules that apply to presence (XEP-0191 blocking, XEP-0016 presence-in) must
come out exactly as for a single probe."""
import time

import rawxmpp
from rawxmpp import q, NS_CLIENT
from im_helpers_roster import fresh_user, bare, online, wait_item, close_all, roster_get, roster_items, subscribe_both
from im_helpers_privacy import block, ok, set_list, set_default, item_xml, sync

NS_DELAY = 'urn:xmpp:delay'


def mutual(server, u, uc, cn):
    """Mutual subscription ('both') between online U (client uc) and contact cn."""
    U, C = bare(server, u), bare(server, cn)
    c = online(server, cn, 'setup', presence=False)
    subscribe_both(uc, U, c, C)
    close_all(c)


def presences_from(c, bares, settle=1.0, timeout=8, until=None):
    """Presence stanzas from the given bare JIDs until `until(got)` holds, then `settle`
    seconds more (to catch anything that should not come)."""
    got = []
    deadline = time.monotonic() + timeout
    settle_end = None
    while True:
        now = time.monotonic()
        if settle_end is None and until is not None and until(got):
            settle_end = now + settle
        end = settle_end if settle_end is not None else deadline
        if now >= end:
            return got
        try:
            e = c.recv(timeout=end - now)
        except rawxmpp.Timeout:
            return got
        if e.tag == q(NS_CLIENT, 'presence') and (e.get('from') or '').split('/')[0] in bares:
            got.append(e)


def test_rfc6121_4_3_2_login_probes_mixed_contacts(server):
    u = fresh_user(server, 'pm')
    A, B, C, D, E = (fresh_user(server, 'pm' + x) for x in 'abcde')
    U = bare(server, u)
    uc = online(server, u, 'setup', presence=False)
    for cn in (A, B, C, D, E):
        mutual(server, u, uc, cn)
    # U's own default list denies presence from E (XEP-0016 §2.8 <presence-in/>).
    ok(set_list(uc, 'noe', item_xml('deny', 1, 'jid', bare(server, E), kinds=('presence-in',)),
                item_xml('allow', 2)))
    ok(set_default(uc, 'noe'))
    close_all(uc)

    # A: two available resources (rule 2: each one's current presence).
    a1 = online(server, A, 'a1', presence=False)
    a1.send("<presence><status>one</status></presence>")
    a2 = online(server, A, 'a2', presence=False)
    a2.send("<presence><show>away</show><priority>-1</priority></presence>")
    # B: offline after an unavailable with a status (rule 3, XEP-0012 record).
    b = online(server, B, 'b', presence=False)
    b.send("<presence/>")
    b.send("<presence type='unavailable'><status>gone</status></presence>")
    sync(b)
    b.end_stream()
    b.close()
    # C: deleted and re-created (empty roster) while U keeps 'both': rule 1, and C's new
    # session's presence must not leak.
    server.ctl('deluser', bare(server, C))
    server.adduser(C)
    c = online(server, C, 'c', presence=False)
    c.send("<presence><status>new me</status></presence>")
    # D: available, but blocks U (XEP-0191 §3: no presence either way).
    d = online(server, D, 'd', presence=False)
    ok(block(d, U))
    d.send("<presence><status>hidden</status></presence>")
    # E: available; U's default list denies its presence.
    e = online(server, E, 'e', presence=False)
    e.send("<presence><status>denied</status></presence>")
    for x in (a1, a2, c, d, e):
        sync(x)

    bares = {bare(server, x) for x in (A, B, C, D, E)}
    want = lambda got: (sum(1 for p in got if (p.get('from') or '').split('/')[0] == bare(server, A)) >= 2
                        and any(p.get('from') == bare(server, B) for p in got)
                        and any(p.get('from') == bare(server, C) for p in got))
    uc = online(server, u, 'u', presence=True)
    got = presences_from(uc, bares, until=want)
    by = {}
    for p in got:
        by.setdefault(p.get('from'), []).append(p)
    desc = [rawxmpp.tostr(p) for p in got]
    # Rule 2: one presence per available resource of A, as that resource sent it.
    pa1 = by.get(bare(server, A) + '/a1', [])
    pa2 = by.get(bare(server, A) + '/a2', [])
    assert len(pa1) == 1 and pa1[0].findtext(q(NS_CLIENT, 'status')) == 'one', desc
    assert len(pa2) == 1 and pa2[0].findtext(q(NS_CLIENT, 'show')) == 'away', desc
    assert pa2[0].findtext(q(NS_CLIENT, 'priority')) == '-1', desc
    assert pa1[0].get('to') == U + '/u' and pa1[0].get('type') is None, desc
    # Rule 3: B unavailable from the bare JID with the recorded status and a delay.
    pb = by.get(bare(server, B), [])
    assert len(pb) == 1 and pb[0].get('type') == 'unavailable', desc
    assert pb[0].findtext(q(NS_CLIENT, 'status')) == 'gone', desc
    assert pb[0].find(q(NS_DELAY, 'delay')) is not None, desc
    # Rule 1: C 'unsubscribed' from the bare JID, and nothing of C's session.
    pc = by.get(bare(server, C), [])
    assert [p.get('type') for p in pc] == ['unsubscribed'], desc
    assert not any(k.startswith(bare(server, C) + '/') for k in by), desc
    # Blocked and denied: nothing at all from D and E.
    assert not any(k.split('/')[0] in (bare(server, D), bare(server, E)) for k in by), desc
    close_all(uc, a1, a2, c, d, e)


def test_rfc6121_4_3_2_probe_answers_follow_subscription_changes(server):
    """Who may see the user is read at each login, never remembered: a contact that cancels
    the user's subscription between two logins is answered 'unsubscribed'... by not being
    probed at all (the user's item loses 'to'), and one that grants it afterwards answers."""
    u, cn = fresh_user(server, 'pf'), fresh_user(server, 'pfc')
    U, C = bare(server, u), bare(server, cn)
    uc = online(server, u, 'setup', presence=False)
    mutual(server, u, uc, cn)
    close_all(uc)
    c = online(server, cn, 'c', presence=False)
    c.send("<presence><status>here</status></presence>")
    sync(c)
    # First login: C's presence comes.
    uc = online(server, u, 'u1')
    got = presences_from(uc, {C}, settle=0.3, until=lambda g: len(g) >= 1)
    assert [p.get('from') for p in got] == [C + '/c'], [rawxmpp.tostr(p) for p in got]
    close_all(uc)
    # C cancels U's subscription (RFC 6121 §3.2): U's item becomes 'from', no probe, nothing.
    c.send("<presence to='%s' type='unsubscribed'/>" % U)
    uc = online(server, u, 'setup2', presence=False)
    wait_item(uc, C, 'from')
    close_all(uc)
    uc = online(server, u, 'u2')
    got = presences_from(uc, {C}, settle=0.8, timeout=0.8)
    assert got == [], [rawxmpp.tostr(p) for p in got]
    close_all(uc)
    # U subscribes again and C approves: the next login sees C again.
    uc = online(server, u, 'setup3', presence=False)
    uc.send("<presence to='%s' type='subscribe'/>" % C)
    wait_item(uc, C, 'from', 'subscribe')
    c.send("<presence to='%s' type='subscribed'/>" % U)
    wait_item(uc, C, 'both')
    close_all(uc)
    uc = online(server, u, 'u3')
    got = presences_from(uc, {C}, settle=0.3, until=lambda g: len(g) >= 1)
    assert [p.get('from') for p in got] == [C + '/c'], [rawxmpp.tostr(p) for p in got]
    close_all(uc, c)
