"""RFC 6121 §3 and Appendix A: presence subscriptions between two local accounts.

Every row of the Appendix A tables is run against the server: a fresh user U and contact C are
brought into the row's state through the protocol, then U sends (A.2) or receives (A.3) the
stanza, and U's roster item must show the expected subscription/ask; rows whose result keeps a
pending-in request must redeliver it at U's next login.
"""
import pytest

import rawxmpp
from rawxmpp import q, NS_CLIENT
from im_helpers_roster import (NS_ROSTER, fresh_user, bare, online, roster_items, roster_get,
                               roster_set, wait_push, wait_presence, is_presence, no_stanza,
                               error_condition, wait_item, close_all)


class Pair:
    def __init__(self, server):
        self.server = server
        self.u_name, self.c_name = fresh_user(server, 'su'), fresh_user(server, 'sc')
        self.U, self.C = bare(server, self.u_name), bare(server, self.c_name)
        self.u = online(server, self.u_name, 'u')
        self.c = online(server, self.c_name, 'c')

    def u_sends(self, type):
        self.u.send("<presence to='%s' type='%s'/>" % (self.C, type))

    def c_sends(self, type):
        self.c.send("<presence to='%s' type='%s'/>" % (self.U, type))

    def sync(self, direction):
        """Waits until the server has processed what the sender sent so far: a directed presence
        with a fresh status, sent after it, reaches the other party only afterwards (the sender's
        presence is processed in order, RFC 6120 §10.1, and presence to an account waits for the
        subscription stanzas being processed for it)."""
        self.marks = getattr(self, 'marks', 0) + 1
        mark = 'sync-%d' % self.marks
        sender, to, receiver = (self.u, self.C, self.c) if direction == 'outbound' else (self.c, self.U, self.u)
        sender.send("<presence to='%s'><status>%s</status></presence>" % (to, mark))

        def pred(e):
            st = e.find(q(NS_CLIENT, 'status'))
            return is_presence()(e) and st is not None and st.text == mark
        receiver.recv_stanza(pred, timeout=10)

    def close(self):
        close_all(self.u, self.c)


def _pending_out(p, sub='none'):
    p.u_sends('subscribe')
    wait_presence(p.c, p.U, 'subscribe')
    wait_item(p.u, p.C, sub, 'subscribe')


def _pending_in(p):
    p.c_sends('subscribe')
    wait_presence(p.u, p.C, 'subscribe')


def _to(p):
    _pending_out(p)
    p.c_sends('subscribed')
    wait_item(p.u, p.C, 'to')


def _from(p, sub='from'):
    _pending_in(p)
    p.u_sends('subscribed')
    wait_item(p.u, p.C, sub)


def setup_state(p, state):
    if state == 'None':
        assert roster_set(p.u, p.C).get('type') == 'result'
        wait_item(p.u, p.C, 'none')
    elif state == 'None+PendingOut':
        _pending_out(p)
    elif state == 'None+PendingIn':
        assert roster_set(p.u, p.C).get('type') == 'result'
        _pending_in(p)
    elif state == 'None+PendingOut+In':
        _pending_out(p)
        _pending_in(p)
    elif state == 'To':
        _to(p)
    elif state == 'To+PendingIn':
        _to(p)
        _pending_in(p)
    elif state == 'From':
        _from(p)
    elif state == 'From+PendingOut':
        _from(p)
        _pending_out(p, 'from')
    elif state == 'Both':
        _to(p)
        _from(p, 'both')
    else:
        raise ValueError(state)


# state -> (subscription, ask, pending_in)
STATES = {
    'None': ('none', None, False),
    'None+PendingOut': ('none', 'subscribe', False),
    'None+PendingIn': ('none', None, True),
    'None+PendingOut+In': ('none', 'subscribe', True),
    'To': ('to', None, False),
    'To+PendingIn': ('to', None, True),
    'From': ('from', None, False),
    'From+PendingOut': ('from', 'subscribe', False),
    'Both': ('both', None, False),
}

ORDER = list(STATES)

# RFC 6121 Appendix A: (direction, stanza type) -> resulting state per existing state
TABLES = {
    ('outbound', 'subscribe'): ['None+PendingOut', 'None+PendingOut', 'None+PendingOut+In',
                                'None+PendingOut+In', 'To', 'To+PendingIn', 'From+PendingOut',
                                'From+PendingOut', 'Both'],
    ('outbound', 'unsubscribe'): ['None', 'None', 'None+PendingIn', 'None+PendingIn', 'None',
                                  'None+PendingIn', 'From', 'From', 'From'],
    ('outbound', 'subscribed'): ['None', 'None+PendingOut', 'From', 'From+PendingOut', 'To',
                                 'Both', 'From', 'From+PendingOut', 'Both'],
    ('outbound', 'unsubscribed'): ['None', 'None+PendingOut', 'None', 'None+PendingOut', 'To',
                                   'To', 'None', 'None+PendingOut', 'To'],
    ('inbound', 'subscribe'): ['None+PendingIn', 'None+PendingOut+In', 'None+PendingIn',
                               'None+PendingOut+In', 'To+PendingIn', 'To+PendingIn', 'From',
                               'From+PendingOut', 'Both'],
    ('inbound', 'unsubscribe'): ['None', 'None+PendingOut', 'None', 'None+PendingOut', 'To', 'To',
                                 'None', 'None+PendingOut', 'To'],
    ('inbound', 'subscribed'): ['None', 'To', 'None+PendingIn', 'To+PendingIn', 'To',
                                'To+PendingIn', 'From', 'Both', 'Both'],
    ('inbound', 'unsubscribed'): ['None', 'None', 'None+PendingIn', 'None+PendingIn', 'None',
                                  'None+PendingIn', 'From', 'From', 'From'],
}

CASES = [(d, t, ORDER[i], after) for (d, t), afters in TABLES.items() for i, after in enumerate(afters)]


@pytest.mark.parametrize('direction,type,before,after', CASES,
                         ids=['A%s-%s-%s' % ('2' if d == 'outbound' else '3', t, b) for d, t, b, _ in CASES])
def test_rfc6121_appendix_a(server, direction, type, before, after):
    p = Pair(server)
    try:
        setup_state(p, before)
        (p.u_sends if direction == 'outbound' else p.c_sends)(type)
        # Pending-in is invisible in the roster: without this, U's next login could race the
        # stanza's processing; and an unchanged row must not be checked before a (wrong)
        # change could land.
        p.sync(direction)
        sub, ask, pending_in = STATES[after]
        if type == 'subscribed' and direction == 'outbound' and before in ('None', 'None+PendingOut', 'To'):
            # §3.4: with no request pending, 'subscribed' is a pre-approval
            it = None
            for _ in range(100):
                it = roster_items(roster_get(p.u))[p.C]
                if it['approved'] == 'true':
                    break
            assert it['approved'] == 'true', it
        wait_item(p.u, p.C, sub, ask)
        # Pending-in is invisible in the roster (§3.1.3); it shows as redelivery at login.
        u2 = online(server, p.u_name, 'again')
        if pending_in:
            wait_presence(u2, p.C, 'subscribe')
        elif STATES[before][2]:
            no_stanza(u2, is_presence(p.C, 'subscribe'))
        close_all(u2)
    finally:
        p.close()


def test_rfc6121_3_1_full_flow_with_pushes_and_presence(server):
    """RFC 6121 §3.1 examples: request, pushes with ask, approval, presence exchange."""
    p = Pair(server)
    p.u.send("<presence to='%s' type='subscribe'><status>hi</status></presence>" % p.C)
    # §3.1.2: the user's interested resources get a push with ask='subscribe'
    push = wait_push(p.u, p.C)
    assert roster_items(push)[p.C]['ask'] == 'subscribe'
    assert roster_items(push)[p.C]['subscription'] == 'none'
    # §3.1.3: the contact gets the request from the user's bare JID, status kept
    req = wait_presence(p.c, p.U, 'subscribe')
    assert req.findtext(q(NS_CLIENT, 'status')) == 'hi'
    # no roster push for the contact: a request is not a roster item
    no_stanza(p.c, lambda e: e.tag == q(NS_CLIENT, 'iq') and e.get('type') == 'set')
    p.c_sends('subscribed')
    # §3.1.5: contact's roster: subscription='from'
    push = wait_push(p.c, p.U)
    assert roster_items(push)[p.U]['subscription'] == 'from'
    # §3.1.6: user's roster: 'to', the approval delivered, and the contact's presence follows
    push = wait_push(p.u, p.C)
    assert roster_items(push)[p.C] ['subscription'] == 'to' and roster_items(push)[p.C]['ask'] is None
    wait_presence(p.u, p.C, 'subscribed')
    wait_presence(p.u, p.C + '/c', 'available')
    p.close()


def test_rfc6121_3_1_request_to_offline_contact_redelivered_after_restart(server_factory):
    s = server_factory.start('sub-restart')
    u = online(s, 'alice', 'a')
    u.send("<presence to='bob@localhost' type='subscribe'><status>please</status></presence>")
    wait_push(u, 'bob@localhost')
    close_all(u)
    s.stop()
    s.start()
    c = online(s, 'bob', 'b')
    req = wait_presence(c, 'alice@localhost', 'subscribe')
    assert req.findtext(q(NS_CLIENT, 'status')) == 'please'
    close_all(c)
    # Still pending at the next login (until answered)
    c = online(s, 'bob', 'b2')
    wait_presence(c, 'alice@localhost', 'subscribe')
    c.send("<presence to='alice@localhost' type='subscribed'/>")
    wait_push(c, 'alice@localhost')
    close_all(c)
    c = online(s, 'bob', 'b3')
    no_stanza(c, is_presence('alice@localhost', 'subscribe'))
    assert roster_items(roster_get(c))['alice@localhost']['subscription'] == 'from'
    close_all(c)


def test_rfc6121_3_4_preapproval_auto_accepts(server):
    p = Pair(server)
    p.u_sends('subscribed')  # pre-approve C
    push = wait_push(p.u, p.C)
    assert roster_items(push)[p.C]['approved'] == 'true'
    no_stanza(p.c, is_presence(p.U, 'subscribed'))  # §3.4.1: not routed
    p.c_sends('subscribe')
    # U's server answers for U: C gets 'to', U never sees the request
    wait_push(p.c, p.U)
    wait_item(p.c, p.U, 'to')
    wait_item(p.u, p.C, 'from')
    assert roster_items(roster_get(p.u))[p.C]['approved'] is None
    no_stanza(p.u, is_presence(p.C, 'subscribe'))
    p.close()


def test_rfc6121_2_5_2_remove_cancels_subscriptions(server):
    p = Pair(server)
    setup_state(p, 'Both')
    r = roster_set(p.u, p.C, extra=" subscription='remove'")
    assert r.get('type') == 'result'
    # The contact loses both directions and sees the user go unavailable
    wait_item(p.c, p.U, 'none')
    wait_presence(p.c, p.U + '/u', 'unavailable')
    p.close()


def test_rfc6121_3_subscribe_to_remote_domain_bounced(server):
    u = online(server, 'carol', 'remote')
    u.send("<presence to='someone@remote.example' type='subscribe'/>")
    e = wait_presence(u, 'someone@remote.example', 'error')
    assert error_condition(e) == 'remote-server-not-found'
    close_all(u)


def test_rfc6121_3_subscribe_without_to_is_bad_request(server):
    u = online(server, 'carol', 'noto')
    u.send("<presence type='subscribe'/>")
    e = u.recv_stanza(lambda x: x.tag == q(NS_CLIENT, 'presence') and x.get('type') == 'error')
    assert error_condition(e) == 'bad-request'
    close_all(u)


def test_rfc6121_3_subscription_flood_rate_limited(server):
    u_name = fresh_user(server, 'flood')
    u = online(server, u_name, 'f', roster=False)
    for i in range(101):
        u.send("<presence to='nobody%d@localhost' type='subscribe'/>" % i)
    e = u.recv_stanza(lambda x: x.tag == q(NS_CLIENT, 'presence') and x.get('type') == 'error', timeout=20)
    assert error_condition(e) == 'policy-violation', rawxmpp.tostr(e)
    assert e.get('from') == 'nobody100@localhost'
    close_all(u)


def test_rfc6121_3_subscription_rate_is_configurable(server_factory):
    # [limits] max_subscriptions_per_minute
    s = server_factory.start('sub-rate', overrides={'limits': {'max_subscriptions_per_minute': 5}})
    u = online(s, 'alice', 'f', roster=False)
    for i in range(6):
        u.send("<presence to='nobody%d@localhost' type='subscribe'/>" % i)
    e = u.recv_stanza(lambda x: x.tag == q(NS_CLIENT, 'presence') and x.get('type') == 'error', timeout=20)
    assert error_condition(e) == 'policy-violation', rawxmpp.tostr(e)
    assert e.get('from') == 'nobody5@localhost'
    close_all(u)


def test_rfc6121_inbound_subscription_stanzas_for_an_account_processed_in_order(server):
    """RFC 6120 §10.1: C's stanzas are processed in the order sent. Requests each cancelled
    right away (RFC 6121 §3.3.3) leave no pending request: the last stanza, "unsubscribe", is
    applied last, however quickly they follow each other."""
    p = Pair(server)
    try:
        assert roster_set(p.u, p.C).get('type') == 'result'
        wait_item(p.u, p.C, 'none')
        for _ in range(25):
            p.c_sends('subscribe')
            p.c_sends('unsubscribe')
        p.sync('inbound')
        wait_item(p.u, p.C, 'none')
        u2 = online(server, p.u_name, 'again')
        no_stanza(u2, is_presence(p.C, 'subscribe'))
        close_all(u2)
    finally:
        p.close()
