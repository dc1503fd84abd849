"""starling-bench (bench/README.md) against a real starlingd: a tiny load that must register
accounts in-band (XEP-0077), log them in, and deliver every message, with the server's CPU
sampled from /proc. This checks the tool, not the server's speed.

Environment: STARLING_BENCH points at the binary (default: build-core/ or build/)."""
import json
import os
import signal
import subprocess

import pytest

from conftest import ROOT

USERS = 10


def bench_binary():
    env = os.environ.get('STARLING_BENCH')
    if env:
        candidates = [env]
    else:
        candidates = [os.path.join(ROOT, d, 'starling-bench') for d in ('build-core', 'build')]
    for c in candidates:
        if os.path.exists(c):
            return c
    pytest.fail('starling-bench not built (looked for %s); build the top-level project or set '
                'STARLING_BENCH' % ', '.join(candidates), pytrace=False)


@pytest.fixture(scope='module')
def bench_server(server_factory):
    return server_factory.start('bench', users=())


def run_bench(server, tmp_path, *args):
    out = tmp_path / 'bench.json'
    cmd = [bench_binary(), '--host', '127.0.0.1', '--port', str(server.c2s_port),
           '--domain', server.domain, '--password', server.password,
           '--users', str(USERS), '--server-pid', str(server.proc.pid),
           '--json', str(out)] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, '%s exited %d\nstdout:\n%s\nstderr:\n%s' % (
        ' '.join(cmd), p.returncode, p.stdout, p.stderr[-4000:])
    with open(out) as f:
        data = json.load(f)
    return {ph['name']: ph for ph in data['phases']}, p


def assert_server_cpu(phase):
    srv = phase['server']
    assert srv is not None, phase
    assert srv['cpu_s'] >= 0 and srv['rss_after_kb'] > 0, phase
    assert 'cpu_per_op_us' in srv, phase


def test_bench_register_login_messages(bench_server, tmp_path):
    phases, p = run_bench(bench_server, tmp_path, '--register', '--scenario', 'login,messages',
                          '--duration', '2', '--rates', '200')
    reg = phases['register']
    assert reg['ops'] == USERS and reg['errors'] == 0, reg
    login = phases['login']
    assert login['ops'] > 0 and login['errors'] == 0, login
    assert login['latency_ms']['count'] == login['ops'], login
    assert_server_cpu(login)
    assert login['server']['cpu_s'] > 0, login
    # Per-thread server CPU: the threads' deltas add up to the process's, and the busiest
    # thread's share is a fraction (a second core can only help where work is spread).
    threads = login['server']['threads']
    assert any(t['name'] == 'starlingd' for t in threads), threads
    assert abs(sum(t['cpu_s'] for t in threads) - login['server']['cpu_s']) <= 0.05, login
    assert 0 < login['server']['busiest_thread_share'] <= 1, login
    msgs = phases['messages@200']
    assert msgs['sent'] > 0 and msgs['delivered'] > 0, msgs
    assert msgs['delivery_ratio'] == 1.0, msgs
    assert msgs['latency_ms']['count'] == msgs['delivered'], msgs
    assert_server_cpu(msgs)
    assert 'login' in p.stdout and 'messages@200' in p.stdout, p.stdout
    # Open loop at half the closed-loop rate follows the closed loop.
    opened = phases['login-open']
    assert opened['errors'] == 0 and opened['offered_rate'] > 0, opened
    assert opened['latency_ms']['count'] == opened['ops'], opened
    # The generator's own CPU is part of every phase.
    for ph in phases.values():
        assert ph['client']['cpu_s'] >= 0 and 'cpu_per_op_us' in ph['client'], ph


def test_bench_idle_reports_rss_per_session(bench_server, tmp_path):
    phases, _ = run_bench(bench_server, tmp_path, '--register', '--scenario', 'idle',
                          '--duration', '1')
    idle = phases['idle']
    assert idle['sessions'] == USERS, idle
    assert_server_cpu(idle)
    assert 'rss_per_session_kb' in idle['server'], idle


def test_bench_presence_and_mam(bench_server, tmp_path):
    """presence: mutual rosters built by subscriptions, then logins with the full roster while
    half of the contacts are online; mam: runs where the server advertises urn:xmpp:mam:2 and
    says it skipped otherwise."""
    phases, p = run_bench(bench_server, tmp_path, '--register', '--scenario', 'presence,mam',
                          '--roster-size', '4', '--presence-users', '6', '--mam-users', '2',
                          '--mam-messages', '5', '--mam-page', '2', '--duration', '1')
    pres = phases['presence']
    assert pres['ops'] > 0 and pres['errors'] == 0, pres  # an error if a roster had < 4 items
    assert pres['items'] > 0, pres  # presence fan-out reached the online contacts
    assert_server_cpu(pres)
    mam = phases['mam']
    if 'skipped' in mam['note']:
        assert mam['ops'] == 0, mam
    else:
        assert mam['ops'] > 0 and mam['errors'] == 0 and mam['items'] > 0, mam
        assert mam['latency_ms']['count'] == mam['ops'], mam


def test_bench_processes_and_plot(bench_server, tmp_path):
    """Two generator processes share the accounts and the offered rate; the parent merges."""
    png = tmp_path / 'plot.png'
    phases, p = run_bench(bench_server, tmp_path, '--register', '--processes', '2',
                          '--scenario', 'messages', '--duration', '1', '--rates', '100,200',
                          '--plot', str(png))
    for name in ('messages@100', 'messages@200'):
        msgs = phases[name]
        assert msgs['sent'] > 0 and msgs['delivery_ratio'] == 1.0, msgs
        assert msgs['latency_ms']['count'] == msgs['delivered'], msgs
        assert_server_cpu(msgs)
    assert png.exists() and png.stat().st_size > 0, p.stderr[-2000:]


def test_bench_roster_plan_is_the_mutual_ring(tmp_path):
    """--roster-plan writes the rosters the presence setup would build in-band (bench/run puts
    them into Prosody's and ejabberd's storage): every account has --roster-size distinct
    contacts, never itself, and every item is mutual."""
    plan = tmp_path / 'plan.txt'
    p = subprocess.run([bench_binary(), '--domain', 'example.org', '-s', 'presence',
                        '--roster-size', '4', '--presence-users', '7', '--roster-plan', str(plan)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    pairs = [tuple(line.split()) for line in plan.read_text().splitlines()]
    owners = {}
    for owner, contact in pairs:
        assert owner != contact, pairs
        assert owner.endswith('@example.org') and contact.endswith('@example.org'), pairs
        owners.setdefault(owner, set()).add(contact)
    assert len(owners) == 7, owners
    assert all(len(c) == 4 for c in owners.values()), owners
    assert len(pairs) == 7 * 4, pairs  # no duplicates
    for owner, contacts in owners.items():
        for c in contacts:
            assert owner in owners[c], (owner, c)


def test_bench_stops_raising_the_rate_once_messages_are_lost(server_factory, tmp_path):
    """--stop-when-overloaded (bench/run passes it): a rate at which fewer than 99 % of the
    messages arrive ends the climb; the higher rates are reported as skipped, not offered. The
    server is frozen (SIGSTOP) from the first progress line of the first rate (about 1 s into its
    3 s) through its drain, so most of its messages do not arrive in time; it is thawed once
    the generator says it skipped the next rate."""
    srv = server_factory.start('bench-overload', users=())
    out = tmp_path / 'bench.json'
    cmd = [bench_binary(), '--host', '127.0.0.1', '--port', str(srv.c2s_port),
           '--domain', srv.domain, '--password', srv.password, '--users', '4',
           '--server-pid', str(srv.proc.pid), '--json', str(out), '--register',
           '-s', 'messages', '--rates', '20,40,80', '--duration', '3', '--drain', '1',
           '--timeout', '30', '--stop-when-overloaded']
    gen = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stopped = False
    err = []
    try:
        for line in gen.stderr:
            err.append(line)
            if line.startswith('[messages@20]') and not stopped:
                os.kill(srv.proc.pid, signal.SIGSTOP)
                stopped = True
            if stopped and line.startswith('[messages@40]') and 'skipped' in line:
                os.kill(srv.proc.pid, signal.SIGCONT)
                stopped = False
        gen.wait(60)
    finally:
        if stopped:
            os.kill(srv.proc.pid, signal.SIGCONT)
        if gen.poll() is None:
            gen.kill()
    assert gen.returncode == 0, ''.join(err[-30:])
    with open(out) as f:
        phases = {ph['name']: ph for ph in json.load(f)['phases']}
    first = phases['messages@20']
    assert first['sent'] > 0 and first['delivery_ratio'] < 0.99, first
    for name in ('messages@40', 'messages@80'):
        ph = phases[name]
        assert ph['note'].startswith('skipped: fewer than 99 % delivered at 20'), ph
        assert ph['sent'] == 0 and ph['wall_s'] == 0, ph
    # Without the option every rate is offered (the tool's default, as before).
    cmd.remove('--stop-when-overloaded')
    cmd[cmd.index('--rates') + 1] = '20,40'
    cmd[cmd.index('--duration') + 1] = '1'
    cmd.remove('--register')
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    with open(out) as f:
        phases = {ph['name']: ph for ph in json.load(f)['phases']}
    assert all(phases[n]['delivery_ratio'] == 1.0 for n in ('messages@20', 'messages@40')), phases
