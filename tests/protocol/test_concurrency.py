"""Many concurrent clients: 200 raw TLS logins in parallel, all bound at the same time."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import rawxmpp
from rawxmpp import tostr

N_CLIENTS = 200
N_ACCOUNTS = 40
PW = 'load-pw'


@pytest.fixture(scope='module')
def loadserver(server_factory):
    users = ['load%02d' % i for i in range(N_ACCOUNTS)]
    return server_factory.start('load', {'limits': {'max_connections_per_ip': 1000}},
                                users=users, password=PW)


def test_rfc6120_200_concurrent_tls_logins(loadserver):
    barrier = threading.Barrier(N_CLIENTS, timeout=90)
    errors = []
    clients = []
    lock = threading.Lock()

    def one(i):
        user = 'load%02d' % (i % N_ACCOUNTS)
        direct = i % 2 == 1
        mech = ('SCRAM-SHA-1', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'PLAIN')[i % 4]
        c = None
        try:
            c = rawxmpp.Client(loadserver.tls_port if direct else loadserver.c2s_port,
                               direct_tls=direct, timeout=60, name='load%d' % i)
            with lock:
                clients.append(c)
            jid = c.login(user, PW, mech=mech, resource='r%d' % i)
            assert jid == '%s@localhost/r%d' % (user, i), jid
            barrier.wait()  # all 200 sessions exist at the same time
            r = c.iq("<ping xmlns='urn:xmpp:ping'/>", to='localhost', timeout=60)
            assert r.get('type') == 'result', tostr(r)
            assert c.end_stream(timeout=30)
            return True
        except Exception as e:  # collected and reported below
            with lock:
                errors.append('client %d (%s, %s, %s): %r' % (i, user, mech,
                                                             'direct' if direct else 'starttls',
                                                             e))
            try:
                barrier.abort()
            except Exception:
                pass
            return False
        finally:
            if c is not None:
                c.close()

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=N_CLIENTS) as pool:
        results = list(pool.map(one, range(N_CLIENTS), timeout=150))
    elapsed = time.monotonic() - t0
    rawxmpp.ACTIVE.clear()  # transcripts of 200 clients are too much for a report
    # Clients that only saw the barrier broken by another client's failure come last.
    errors.sort(key=lambda e: 'BrokenBarrierError' in e)
    assert not errors, '%d of %d clients failed (%.1fs); first errors:\n%s' % (
        len(errors), N_CLIENTS, elapsed, '\n'.join(errors[:10]))
    assert all(results)
    assert loadserver.alive()
