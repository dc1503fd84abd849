"""bench/run (the side-by-side runner, bench/README.md) on a tiny Starling-only load: it must
start its own starlingd, register the accounts, run the scenarios and write a results file
with the figures and the targets. This checks the tool, not the server's speed; the anchors
(Prosody, ejabberd) are left out because CI does not install them.

Also its settle step: a scenario starts only once the server has gone idle after the
previous one, so one scenario's backlog is not charged to the next."""
import importlib.machinery
import importlib.util
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from test_bench_tool import bench_binary

RUNNER = os.path.join(ROOT, 'bench', 'run')


def load_runner():
    loader = importlib.machinery.SourceFileLoader('bench_run_under_test', RUNNER)
    spec = importlib.util.spec_from_loader('bench_run_under_test', loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def build_dir():
    d = os.path.dirname(os.path.abspath(bench_binary()))
    if not os.path.exists(os.path.join(d, 'starlingd')):
        pytest.fail('bench/run needs starlingd next to starling-bench in %s' % d, pytrace=False)
    return d


def test_runner_writes_figures_and_targets(tmp_path):
    out = tmp_path / 'RESULTS.md'
    cmd = [sys.executable, RUNNER, '--build', build_dir(), '--servers', 'starling',
           '--scenarios', 'login,messages', '--repeats', '1', '--users', '4',
           '--msg-users', '6', '--rates', '50', '--duration', '0.5', '--out', str(out)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, 'bench/run exited %d\n%s' % (p.returncode, p.stderr[-4000:])
    text = out.read_text()
    # Every figure row has a number for Starling, produced by this run.
    login = re.search(r'^\| server CPU per full TLS login \(closed loop\) \| µs \| ([0-9,.]+) \|$',
                      text, re.M)
    assert login, text
    assert float(login.group(1).replace(',', '')) > 0
    delivered = re.search(r'^\| delivered ratio at 50 msg/s \|  \| ([0-9.]+) \|$', text, re.M)
    assert delivered and float(delivered.group(1)) == 1.0, text
    assert '## Targets (issue 6)' in text
    assert re.search(r'^\| p99 at 50 msg/s ≤ 10 ms \(≥ 99 % delivered\) \| [0-9.,]+ ms \| 10\.0 ms '
                     r'\| (yes|\*\*no\*\*) \|$',
                     text, re.M), text
    assert 'generator produced no results' not in text, text
    assert (tmp_path / 'results-messages.png').stat().st_size > 0


def test_settle_waits_for_a_busy_server_to_go_idle():
    run = load_runner()
    # A stand-in server that burns a core for about 2.5 s and then sleeps.
    busy = subprocess.Popen([sys.executable, '-c',
                             'import time\nt = time.monotonic()\n'
                             'while time.monotonic() - t < 2.5: pass\ntime.sleep(60)'])
    try:
        class Busy:
            name = 'busy'

            def measured_pid(self):
                return busy.pid
        t0 = time.monotonic()
        run.settle(Busy(), 'unit', window=0.5, limit=30)
        waited = time.monotonic() - t0
        assert 2.0 <= waited < 10, waited
        # An idle server passes at once (one window).
        t0 = time.monotonic()
        run.settle(Busy(), 'unit', window=0.5, limit=30)
        assert time.monotonic() - t0 < 1.5
        # A server that never goes idle is measured anyway after the limit, and said so.
        run.SETTLE_NOTES.clear()
        spin = subprocess.Popen([sys.executable, '-c', 'while True: pass'])
        try:
            class Spin(Busy):
                name = 'spin'

                def measured_pid(self):
                    return spin.pid
            run.settle(Spin(), 'unit', window=0.5, limit=1)
            assert run.SETTLE_NOTES and 'still' in run.SETTLE_NOTES[0], run.SETTLE_NOTES
        finally:
            spin.kill()
            spin.wait()
    finally:
        busy.kill()
        busy.wait()


def test_generator_processes_follow_the_descriptor_limit(monkeypatch):
    # As few generator processes as the hard descriptor limit allows (they share one core),
    # with room for each process's own descriptors.
    run = load_runner()
    limit = {'n': 20000}
    monkeypatch.setattr(run.resource, 'getrlimit', lambda what: (1024, limit['n']))
    assert run.processes_for(1900) == 1
    assert run.processes_for(19000) == 1
    assert run.processes_for(19600) == 2
    assert run.processes_for(40000) == 3
    limit['n'] = 4096
    assert run.processes_for(19000) == 6


def _state(pid):
    with open('/proc/%d/stat' % pid) as f:
        st = f.read()
    return st[st.rfind(')') + 2]


def _settles_to(pid, stopped):
    # A signal is delivered asynchronously: the state changes within moments, not at once.
    deadline = time.monotonic() + 5
    while (_state(pid) == 'T') != stopped and time.monotonic() < deadline:
        time.sleep(0.01)
    return (_state(pid) == 'T') == stopped


def test_servers_not_measured_are_stopped_meanwhile():
    # All servers share one core: while one is measured, the others' process trees (a child
    # too, as ejabberd's beam.smp under ejabberdctl) are stopped, and continued afterwards.
    run = load_runner()
    code = ('import subprocess, sys, time\n'
            'c = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])\n'
            'print(c.pid, flush=True)\ntime.sleep(60)\n')
    procs = [subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    children = []
    try:
        children = [int(p.stdout.readline()) for p in procs]

        class Stand:
            def __init__(self, proc):
                self.proc = proc
        measured, other = Stand(procs[0]), Stand(procs[1])
        with run.alone([measured, other], measured):
            assert _settles_to(procs[1].pid, True) and _settles_to(children[1], True)
            assert _state(procs[0].pid) != 'T' and _state(children[0]) != 'T'
        assert _settles_to(procs[1].pid, False) and _settles_to(children[1], False)
        # A server already gone is skipped.
        procs[1].kill()
        procs[1].wait()
        with run.alone([measured, other], measured):
            assert _state(procs[0].pid) != 'T'
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for p in procs:
            p.kill()
            p.wait()
