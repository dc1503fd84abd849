"""XEP-0012: Last Activity — server uptime (§5), an account's time since logout with its last
status (§3) shown only to subscribers, 0 while online, errors and disco."""
import time

import pytest

from im_helpers_vcard import NS_LAST, assert_error, assert_result, make_subscribed
from rawxmpp import NS_DISCO_INFO, q, tostr


def last(c, to=None):
    return c.iq("<query xmlns='%s'/>" % NS_LAST, to=to)


def seconds(r):
    query = r.find(q(NS_LAST, 'query'))
    assert query is not None, tostr(r)
    return int(query.get('seconds')), (query.text or '')


def test_xep0012_s5_server_uptime(server):
    c = server.login('alice', resource='uptime')
    s1, _ = seconds(assert_result(last(c, to='localhost')))
    assert s1 >= 0
    time.sleep(1.2)
    s2, _ = seconds(assert_result(last(c, to='localhost')))
    assert s2 >= s1 + 1, (s1, s2)


def test_xep0012_set_is_bad_request(server):
    c = server.login('alice', resource='set')
    assert_error(c.iq("<query xmlns='%s'/>" % NS_LAST, type='set', to='localhost'), 'bad-request')


def test_xep0012_disco_feature(server):
    c = server.login('alice', resource='disco')
    r = assert_result(c.iq("<query xmlns='%s'/>" % NS_DISCO_INFO, to='localhost'))
    assert NS_LAST in [f.get('var') for f in r.iter(q(NS_DISCO_INFO, 'feature'))], tostr(r)


def test_xep0012_s3_unsubscribed_requester_forbidden(server):
    c = server.login('carol', resource='nosub')
    assert_error(last(c, to='dave@localhost'), 'forbidden')


def test_xep0012_nonexistent_account_service_unavailable(server):
    c = server.login('carol', resource='nouser')
    assert_error(last(c, to='nosuchuser@localhost'), 'service-unavailable')


def test_xep0012_s3_own_account_online_is_zero(server):
    c = server.login('erin', resource='self')
    assert seconds(assert_result(last(c, to='erin@localhost')))[0] == 0


def test_xep0012_s3_subscriber_sees_logout_time_and_status(server_factory):
    s = server_factory.start('last', users=('alice', 'bob', 'carol'))
    a = s.login('alice', resource='home')
    b = s.login('bob', resource='pc')
    make_subscribed(s, a, 'alice', b, 'bob')
    # Online: 0 seconds (§3, last paragraph).
    assert seconds(assert_result(last(b, to='alice@localhost')))[0] == 0
    a.send("<presence type='unavailable'><status>Heading Home</status></presence>")
    a.end_stream()
    a.close()
    time.sleep(2.2)
    secs, status = seconds(assert_result(last(b, to='alice@localhost')))
    assert 2 <= secs <= 30, secs
    assert status == 'Heading Home'
    # Someone without a subscription still gets forbidden.
    c = s.login('carol', resource='x')
    assert_error(last(c, to='alice@localhost'), 'forbidden')
    # Persisted: after a restart the logout time is still known.
    s.stop()
    s.start()
    b = s.login('bob', resource='again')
    secs2, status2 = seconds(assert_result(last(b, to='alice@localhost')))
    assert secs2 >= secs and status2 == 'Heading Home'
    # Back online: 0 again.
    a = s.login('alice', resource='back')
    assert seconds(assert_result(last(b, to='alice@localhost')))[0] == 0


def test_xep0012_s4_full_jid_query_goes_to_client(server):
    a = server.login('alice', resource='full')
    b = server.login('bob', resource='full')
    b.send("<iq type='get' id='last-full' to='alice@localhost/full'><query xmlns='%s'/></iq>" % NS_LAST)
    iq = a.recv_stanza(lambda e: e.get('id') == 'last-full')
    assert iq.get('from') == 'bob@localhost/full', tostr(iq)
    a.send("<iq type='result' id='last-full' to='bob@localhost/full'><query xmlns='%s' seconds='123'/></iq>"
           % NS_LAST)
    r = b.wait_iq('last-full')
    assert seconds(r)[0] == 123


def wait_last_status(c, owner, expected, timeout=5.0):
    """Asks for `owner`'s last activity until the answer carries `expected` as its status (the
    server handles the owner's logout after the client's stream close arrives); bounded."""
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        r = last(c, to=owner)
        if r.get('type') == 'result':
            got = seconds(r)
            if got[1] == expected:
                return got
        time.sleep(0.05)
    raise AssertionError('last activity of %s: %r, expected status %r' % (owner, got, expected))


def test_xep0012_s3_logout_records_in_quick_succession(server_factory):
    # Logout records are group-committed a little after the logout (issue 6): the server must
    # still answer from the newest one at once, keep the newest of several logouts in a row,
    # and have it stored when it stops.
    s = server_factory.start('lastq', users=('alice', 'bob'))
    a = s.login('alice', resource='home')
    b = s.login('bob', resource='pc')
    make_subscribed(s, a, 'alice', b, 'bob')
    a.end_stream()
    a.close()
    for status in ('one', 'two', 'three'):
        a = s.login('alice', resource=status)
        a.send("<presence/>")
        a.send("<presence type='unavailable'><status>%s</status></presence>" % status)
        a.end_stream()
        a.close()
        secs, _ = wait_last_status(b, 'alice@localhost', status)
        assert 0 <= secs <= 30, secs
    s.stop()
    s.start()
    b = s.login('bob', resource='again')
    secs, status = seconds(assert_result(last(b, to='alice@localhost')))
    assert status == 'three' and 0 <= secs <= 30, (secs, status)
