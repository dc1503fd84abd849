"""Graceful shutdown of starlingd on SIGTERM (RFC 6120 §4.9.3.19 <system-shutdown/>, §4.4):
every client and server stream gets the stream error and the closing tag, through TLS; the
process exits 0 within [limits] shutdown_timeout; what clients sent just before is kept
(RFC 6121 §3.1.3: a subscription request for an offline contact is stored; XEP-0160 offline
messages; XEP-0198 unacknowledged stanzas); a client that never reads does not hold the
shutdown beyond the timeout; a second SIGTERM stops at once."""
import signal
import socket
import time

import rawxmpp
from conftest import free_port
from im_helpers_message import MSG, uniq
from im_helpers_roster import online, close_all, roster_get, roster_items, wait_presence
from im_helpers_vcard import NS_LAST, assert_result, make_subscribed
from rawxmpp import q, NS_CLIENT, NS_PING
from s2s_helpers import connect_raw, s2s_listener
from sm_helpers import NS_SM, Sm, drop

TIMEOUT = 5  # [limits] shutdown_timeout of these servers


def start(factory, name, shutdown_timeout=TIMEOUT, limits=None, **kw):
    lim = {'shutdown_timeout': shutdown_timeout}
    lim.update(limits or {})
    return factory.start(name, overrides={'limits': lim}, **kw)


def sigterm(s):
    s.proc.send_signal(signal.SIGTERM)
    return time.monotonic()


def wait_exit(s, within):
    """The exit code, which must come within `within` seconds."""
    rc = s.proc.wait(within)
    s.stop()  # closes the log; the process is gone already
    return rc


def ping(c):
    r = c.iq("<ping xmlns='%s'/>" % NS_PING, to='localhost')
    assert r.get('type') == 'result', rawxmpp.tostr(r)


def test_rfc6120_4_9_3_19_sigterm_ends_every_client_stream_with_system_shutdown(server_factory):
    s = start(server_factory, 'shutdown-streams')
    unauth = s.client(name='unauthenticated')
    unauth.open()  # plain TCP, stream open, not logged in
    starttls = s.login('alice', resource='starttls')
    direct = s.login('bob', resource='direct', direct_tls=True)
    assert direct.t.tls is not None and starttls.t.tls is not None
    t0 = sigterm(s)
    for c in (unauth, starttls, direct):
        # <stream:error><system-shutdown/></stream:error>, </stream:stream>, then the close
        # (expect_stream_error checks all three; through TLS for the last two).
        assert c.expect_stream_error(timeout=TIMEOUT) == 'system-shutdown', c.dump()
        assert rawxmpp.local(c.last_stream_error[0].tag) == 'system-shutdown'
    assert wait_exit(s, TIMEOUT + 2) == 0, s.log_tail()
    elapsed = time.monotonic() - t0
    assert elapsed < TIMEOUT, 'shutdown took %.1f s with well-behaved clients' % elapsed
    assert 'shutdown_timeout reached' not in s.log_text()
    # No new connections once the shutdown began; the server comes back normally.
    s.start()
    s.assert_accepts_login()


def test_rfc6120_4_9_3_19_s2s_stream_gets_system_shutdown(server_factory):
    port = free_port()
    s = server_factory.start('shutdown-s2s', overrides={
        'limits': {'shutdown_timeout': TIMEOUT},
        's2s': {'require_encryption': False},
    }, extra_listeners=[s2s_listener(port)])
    s.s2s_port = port
    peer = connect_raw(s, name='peer-server')
    peer.open_s2s('localhost', 'peer.test')
    sigterm(s)
    assert peer.expect_stream_error(timeout=TIMEOUT) == 'system-shutdown', peer.dump()
    assert wait_exit(s, TIMEOUT + 2) == 0, s.log_tail()
    s.start()


def test_shutdown_keeps_what_was_sent_just_before(server_factory):
    """A message to an offline user and a subscription request to an offline contact, sent
    right before SIGTERM: both are there after the restart (XEP-0160; RFC 6121 §3.1.3: the
    contact's server MUST store the request). Their processing is still under way when the
    signal comes (the ping answer only says the stream read them), several times over."""
    s = start(server_factory, 'shutdown-data')
    rounds = 3
    for i in range(rounds):
        u = online(s, 'alice', 'a%d' % i)
        body = uniq('before-shutdown')
        u.send("<message to='carol@localhost' type='chat' id='m%d'><body>%s</body></message>" % (i, body))
        contact = ('dave', 'erin', 'bob')[i]
        u.send("<presence to='%s@localhost' type='subscribe'><status>r%d</status></presence>"
               % (contact, i))
        ping(u)
        t0 = sigterm(s)
        assert u.expect_stream_error(timeout=TIMEOUT) == 'system-shutdown'
        assert wait_exit(s, TIMEOUT + 2) == 0, s.log_tail()
        assert time.monotonic() - t0 < TIMEOUT
        s.start()
        # The offline message (XEP-0160: delivered after initial presence).
        c = online(s, 'carol', 'c%d' % i, roster=False)
        m = c.recv_stanza(lambda e: e.tag == MSG and e.findtext(q(NS_CLIENT, 'body')) == body, timeout=5)
        assert m.get('from', '').startswith('alice@localhost')
        # The subscription request, stored for the offline contact.
        d = online(s, contact, 'd%d' % i)
        req = wait_presence(d, 'alice@localhost', 'subscribe')
        assert req.findtext(q(NS_CLIENT, 'status')) == 'r%d' % i
        # And the user's side: the contact is pending-out in alice's roster (RFC 6121 §3.1.2).
        u = online(s, 'alice', 'check%d' % i)
        item = roster_items(roster_get(u))['%s@localhost' % contact]
        assert item['ask'] == 'subscribe'
        close_all(u, c, d)


def test_xep0198_unacked_stanzas_survive_shutdown(server_factory):
    """A stream-managed session ended by the shutdown loses nothing: a message it did not
    acknowledge goes to offline storage (XEP-0198 §4, as when a session ends) and is delivered
    at the next login."""
    s = start(server_factory, 'shutdown-sm')
    a = s.login('alice', resource='sm')
    a.send("<enable xmlns='%s' resume='true'/>" % NS_SM)
    sm = Sm(a, auto_ack=False)
    enabled = a.recv()
    assert enabled.tag == q(NS_SM, 'enabled'), rawxmpp.tostr(enabled)
    a.send('<presence/>')
    b = s.login('bob', resource='b')
    body = uniq('unacked')
    b.send("<message to='alice@localhost/sm' type='chat' id='u1'><body>%s</body></message>" % body)
    sm.recv(lambda e: e.tag == MSG)  # received, never acknowledged
    sigterm(s)
    assert a.expect_stream_error(timeout=TIMEOUT) == 'system-shutdown'
    assert wait_exit(s, TIMEOUT + 2) == 0, s.log_tail()
    s.start()
    a = online(s, 'alice', 'again', roster=False)
    m = a.recv_stanza(lambda e: e.tag == MSG and e.findtext(q(NS_CLIENT, 'body')) == body, timeout=5)
    assert m.get('from') == 'bob@localhost/b', rawxmpp.tostr(m)
    close_all(a)


def test_xep0198_hibernated_session_ends_at_shutdown(server_factory):
    """A resumable session whose connection dropped (XEP-0198 §5, waiting to be resumed) cannot
    be resumed after the server is gone: the shutdown ends it, and the stanzas it held, the
    unacknowledged one and one queued while it waited, go to offline storage."""
    s = start(server_factory, 'shutdown-hibernated')
    a = s.login('alice', resource='sm')
    a.send("<enable xmlns='%s' resume='true'/>" % NS_SM)
    sm = Sm(a, auto_ack=False)
    assert a.recv().tag == q(NS_SM, 'enabled')
    a.send('<presence/>')
    b = s.login('bob', resource='b')
    first, second = uniq('unacked'), uniq('queued')
    b.send("<message to='alice@localhost/sm' type='chat'><body>%s</body></message>" % first)
    sm.recv(lambda e: e.tag == MSG)
    drop(a)
    time.sleep(0.2)  # the server notices the dropped connection (no event to wait for)
    b.send("<message to='alice@localhost/sm' type='chat'><body>%s</body></message>" % second)
    ping(b)
    sigterm(s)
    assert b.expect_stream_error(timeout=TIMEOUT) == 'system-shutdown'
    assert wait_exit(s, TIMEOUT + 2) == 0, s.log_tail()
    s.start()
    a = online(s, 'alice', 'again', roster=False)
    for body in (first, second):
        a.recv_stanza(lambda e: e.tag == MSG and e.findtext(q(NS_CLIENT, 'body')) == body, timeout=5)
    close_all(a)


def test_xep0012_logout_record_written_at_shutdown(server_factory):
    """A session ended by the shutdown goes through the usual logout: XEP-0012 §3 knows when the
    user was last seen after the restart (a hard stop left no record: item-not-found)."""
    s = start(server_factory, 'shutdown-last', users=('alice', 'bob'))
    a = s.login('alice', resource='home')
    b = s.login('bob', resource='pc')
    make_subscribed(s, a, 'alice', b, 'bob')
    sigterm(s)
    for c in (a, b):
        assert c.expect_stream_error(timeout=TIMEOUT) == 'system-shutdown'
    assert wait_exit(s, TIMEOUT + 2) == 0, s.log_tail()
    s.start()
    b = s.login('bob', resource='again')
    r = assert_result(b.iq("<query xmlns='%s'/>" % NS_LAST, to='alice@localhost'))
    secs = int(r.find(q(NS_LAST, 'query')).get('seconds'))
    assert 0 <= secs <= 30, secs
    close_all(b)


def stuck_client(s, user):
    """A logged-in client that stops reading, with a small receive buffer, and enough traffic
    sent to it that the server's writes to it block."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(('127.0.0.1', s.c2s_port))
    stuck = rawxmpp.Client(s.c2s_port, sock=sock, name='%s/stuck' % user)
    stuck.login(user, s.password, resource='stuck')
    sender = s.login('bob', resource='flood')
    blob = 'x' * 50000
    for i in range(200):  # 10 MB: more than the kernel buffers of both ends hold
        sender.send("<message to='%s@localhost/stuck' type='chat' id='f%d'><body>%s</body></message>"
                    % (user, i, blob))
    ping(sender)
    return stuck, sender


def test_client_that_never_reads_does_not_hold_shutdown(server_factory):
    s = start(server_factory, 'shutdown-stuck', shutdown_timeout=2, limits={'max_bytes_per_second': 0})
    stuck, sender = stuck_client(s, 'alice')
    t0 = sigterm(s)
    # The other client is told as usual.
    assert sender.expect_stream_error(timeout=5) == 'system-shutdown'
    rc = wait_exit(s, 2 + 5)
    elapsed = time.monotonic() - t0
    assert rc == 0, s.log_tail()
    # It waited for the stuck client (the test set-up worked) but not beyond the timeout.
    assert 'shutdown_timeout reached with 1 client streams' in s.log_text(), s.log_tail()
    assert 1.5 < elapsed < 2 + 3, elapsed
    stuck.close()
    s.start()


def test_second_sigterm_stops_at_once(server_factory):
    s = start(server_factory, 'shutdown-twice', shutdown_timeout=60, limits={'max_bytes_per_second': 0})
    stuck, sender = stuck_client(s, 'alice')
    sigterm(s)
    assert sender.expect_stream_error(timeout=5) == 'system-shutdown'
    assert s.alive()  # held by the stuck client, up to 60 s
    t0 = sigterm(s)
    assert wait_exit(s, 5) == 0, s.log_tail()
    assert time.monotonic() - t0 < 3
    stuck.close()
    s.start()
