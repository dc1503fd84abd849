"""The login path's shortcuts (issue 6) keep the protocol's guarantees: reads served on the
network thread see every earlier write, also one made by starlingctl from another process;
the initial-presence check for offline messages (XEP-0160) misses none, also when they were
sent just before the login; the logout record (XEP-0012), written in a batch nobody waits
for, is there."""
import time

from im_helpers_message import login, no_msg, offline_purge, recv_msg, send_msg, uniq
from im_helpers_vcard import make_subscribed
from rawxmpp import Timeout, q, tostr

NS_LAST = 'jabber:iq:last'


def wait_session_gone(sender, full_jid):
    # A message routed before the server has processed the client's </stream:stream> goes to
    # the closing session and is lost with it (no XEP-0198 here): the burst must start only
    # once the full JID is unavailable, i.e. an IQ to it bounces (RFC 6121 §8.5.3.2.1).
    for _ in range(50):
        try:
            r = sender.iq("<ping xmlns='urn:xmpp:ping'/>", to=full_jid, timeout=0.5)
        except Timeout:
            continue
        if r.get('type') == 'error':
            return
    raise AssertionError('%s still routed to after its stream closed' % full_jid)


def test_offline_messages_sent_right_before_login_arrive_once_in_order(server):
    alice = login(server, 'alice')
    bob = login(server, 'bob')
    offline_purge(bob)
    gone = bob.jid
    bob.close()
    wait_session_gone(alice, gone)
    for rnd in range(3):
        ids = [send_msg(alice, 'bob@localhost', 'burst %d/%d' % (rnd, i), type='chat') for i in range(15)]
        # No wait for the stores: the login races them (RFC 6121 §8.5.2.2.1, XEP-0160 §4).
        bob = login(server, 'bob')
        bob.send('<presence/>')
        got = [recv_msg(bob, timeout=10).get('id') for _ in ids]
        assert got == ids
        no_msg(bob)
        gone = bob.jid
        bob.close()
        wait_session_gone(alice, gone)
    # And nothing is left for the next login.
    bob = login(server, 'bob')
    bob.send('<presence/>')
    no_msg(bob)
    bob.close()
    alice.close()


def test_messages_still_routed_at_login_follow_the_stored_ones(server):
    # The recipient's default privacy list has a subscription rule: every message to it waits
    # for a roster look-up (XEP-0016 §2.2 rule 9) in the privacy module's queue, so many of a
    # burst are still on their way when the initial presence, sent right after the burst,
    # arrives. Those reach the new session live; they must still come after the ones already
    # stored (XEP-0160 §4, RFC 6120 §10.1: one sender's messages in order), each exactly once.
    sender_name, user = uniq('fpa').replace('-', ''), uniq('fpb').replace('-', '')
    server.adduser(sender_name)
    server.adduser(user)
    sender = server.login(sender_name)
    u = server.login(user)
    rule = "<item type='subscription' value='both' action='allow' order='1'/>"
    assert u.iq("<query xmlns='jabber:iq:privacy'><list name='subs'>%s"
                "<item action='allow' order='2'/></list></query>" % rule, type='set').get('type') == 'result'
    assert u.iq("<query xmlns='jabber:iq:privacy'><default name='subs'/></query>",
                type='set').get('type') == 'result'
    to = '%s@localhost' % user
    for rnd in range(3):
        gone = u.jid
        u.close()
        wait_session_gone(sender, gone)
        # Bound but not yet available: the first of these are stored (RFC 6121 §8.5.2.2.1).
        u = login(server, user)
        ids = [send_msg(sender, to, 'late %d/%d' % (rnd, i), type='chat') for i in range(40)]
        u.send('<presence/>')
        got = [recv_msg(u, timeout=15).get('id') for _ in ids]
        assert got == ids
        no_msg(u)
    u.close()
    sender.close()


def test_login_without_offline_messages_gets_none_and_later_ones_still_arrive(server):
    bob = login(server, 'bob')
    offline_purge(bob)
    bob.close()
    bob = login(server, 'bob')
    bob.send('<presence/>')
    no_msg(bob)
    gone = bob.jid
    bob.close()
    alice = login(server, 'alice')
    wait_session_gone(alice, gone)
    mid = send_msg(alice, 'bob@localhost', 'after an empty login', type='chat')
    bob = login(server, 'bob')
    bob.send('<presence/>')
    assert recv_msg(bob, timeout=10).get('id') == mid
    bob.close()
    alice.close()


def test_password_changed_by_starlingctl_is_used_at_the_next_login(server):
    # Account keys are read on the network thread's own connection: a commit by another
    # process must be seen by the very next login, with no stale copy anywhere.
    user = uniq('ctl').replace('-', '')
    server.ctl('adduser', '%s@localhost' % user, '--password', 'first-pw')
    c = server.login(user, password='first-pw')
    c.close()
    for i in range(3):
        pw = 'pw-%d' % i
        server.ctl('passwd', '%s@localhost' % user, '--password', pw)
        c = server.login(user, password=pw)
        c.close()
        failed = False
        try:
            server.login(user, password='first-pw' if i == 0 else 'pw-%d' % (i - 1)).close()
        except Exception:
            failed = True
        assert failed, 'the old password still works after starlingctl passwd'
    server.ctl('deluser', '%s@localhost' % user)
    failed = False
    try:
        server.login(user, password='pw-2').close()
    except Exception:
        failed = True
    assert failed, 'a deleted account still logs in'


def test_logout_records_are_written_for_several_logouts(server_factory):
    # XEP-0012 §3: the time since the last session ended and the last status, for each of
    # several accounts that log out together (their records go to the database in one batch).
    users = ['bob', 'carol', 'dave']
    s = server_factory.start('lastbatch', users=tuple(['alice'] + users))
    alice = s.login('alice', resource='watch')
    clients = {}
    for u in users:
        c = s.login(u, resource='pc')
        make_subscribed(s, c, u, alice, 'alice')
        clients[u] = c
    for u, c in clients.items():
        c.send("<presence type='unavailable'><status>bye %s</status></presence>" % u)
        c.end_stream()
        c.close()
    for u in users:
        deadline = time.monotonic() + 5
        while True:
            r = alice.iq("<query xmlns='%s'/>" % NS_LAST, to='%s@localhost' % u)
            query = r.find(q(NS_LAST, 'query'))
            if r.get('type') == 'result' and query is not None and query.text == 'bye %s' % u:
                break
            assert time.monotonic() < deadline, 'no logout record for %s: %s' % (u, tostr(r))
            time.sleep(0.05)
    alice.close()
