"""starling-bench (bench/README.md) against a real starlingd: a tiny load that must register
accounts in-band (XEP-0077), log them in, and deliver every message, with the server's CPU
sampled from /proc. This checks the tool, not the server's speed.

Environment: STARLING_BENCH points at the binary (default: build-core/ or build/)."""
import json
import os
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
    msgs = phases['messages@200']
    assert msgs['sent'] > 0 and msgs['delivered'] > 0, msgs
    assert msgs['delivery_ratio'] == 1.0, msgs
    assert msgs['latency_ms']['count'] == msgs['delivered'], msgs
    assert_server_cpu(msgs)
    assert 'login' in p.stdout and 'messages@200' in p.stdout, p.stdout


def test_bench_idle_reports_rss_per_session(bench_server, tmp_path):
    phases, _ = run_bench(bench_server, tmp_path, '--register', '--scenario', 'idle',
                          '--duration', '1')
    idle = phases['idle']
    assert idle['sessions'] == USERS, idle
    assert_server_cpu(idle)
    assert 'rss_per_session_kb' in idle['server'], idle
