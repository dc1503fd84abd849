"""Harness for the black-box protocol tests: starts the real starlingd on free loopback ports
with a temporary data dir and config, and shows its log (and the raw transcripts) when a test
fails.

Environment: STARLINGD and STARLINGCTL point at the binaries (default: build-core/).
"""
import copy
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import rawxmpp  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
STARLINGD = os.environ.get('STARLINGD') or os.path.join(ROOT, 'build-core', 'starlingd')
STARLINGCTL = os.environ.get('STARLINGCTL') or os.path.join(ROOT, 'build-core', 'starlingctl')

# Accounts present on every server started by the fixtures (created with starlingctl before
# the server starts).
PASSWORD = 'secret-pw'
DEFAULT_USERS = ('alice', 'bob', 'carol', 'dave', 'erin')

START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def deep_merge(base, overrides):
    out = copy.deepcopy(base)
    for k, v in (overrides or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _toml_value(v):
    if isinstance(v, bool):
        return 'true' if v else 'false'
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return '[' + ', '.join(_toml_value(x) for x in v) + ']'
    if isinstance(v, dict):  # inline table, e.g. [s2s] routes = { "b.test" = "127.0.0.1:5269" }
        return '{ ' + ', '.join('%s = %s' % (json.dumps(k), _toml_value(x)) for k, x in v.items()) + ' }'
    raise TypeError(v)


def to_toml(cfg):
    """Minimal TOML writer: scalars, tables, arrays of tables (one level)."""
    lines = []
    for k, v in cfg.items():
        if not isinstance(v, (dict, list)) or (isinstance(v, list) and v and
                                                not isinstance(v[0], dict)):
            lines.append('%s = %s' % (k, _toml_value(v)))
    for k, v in cfg.items():
        if isinstance(v, dict):
            lines.append('')
            lines.append('[%s]' % k)
            for kk, vv in v.items():
                lines.append('%s = %s' % (kk, _toml_value(vv)))
    for k, v in cfg.items():
        if isinstance(v, list) and v and isinstance(v[0], dict):
            for item in v:
                lines.append('')
                lines.append('[[%s]]' % k)
                for kk, vv in item.items():
                    lines.append('%s = %s' % (kk, _toml_value(vv)))
    return '\n'.join(lines) + '\n'


def base_config(data_dir, c2s_port, tls_port):
    return {
        'data_dir': data_dir,
        'log': {'level': 'debug'},
        'tls': {
            'certificate': 'certs/localhost.crt',
            'key': 'certs/localhost.key',
            'require_c2s_encryption': True,
        },
        'auth': {
            'scram_iterations': 4096,
            'legacy_auth': True,
            # High limits: many tests fail logins on purpose from 127.0.0.1.
            'max_failures_per_ip': 10000,
            'max_failures_per_account': 10000,
            'failure_window': 300,
            'resource_conflict': 'replace',
        },
        'registration': {'min_interval_per_ip': 0},
        'limits': {
            'max_stanza_size': 65536,
            'max_depth': 32,
            'handshake_timeout': 30,
            'close_timeout': 2,
            # Graceful shutdown on SIGTERM (stop()): well within STOP_TIMEOUT even when a test
            # left a client that does not read.
            'shutdown_timeout': 5,
        },
        'host': [{'name': 'localhost', 'registration': True}],
        'listener': [
            {'type': 'c2s', 'address': '127.0.0.1', 'port': c2s_port},
            {'type': 'c2s_tls', 'address': '127.0.0.1', 'port': tls_port},
        ],
    }


def run_ctl(config_path, *args, timeout=60, check=True):
    cmd = [STARLINGCTL, '-c', config_path] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError('%s exited %d\nstdout: %s\nstderr: %s'
                             % (' '.join(cmd), p.returncode, p.stdout, p.stderr))
    return p


class Server:
    """One running starlingd."""

    def __init__(self, name, overrides=None, users=DEFAULT_USERS, password=PASSWORD,
                 extra_hosts=(), extra_listeners=()):
        for binary in (STARLINGD, STARLINGCTL):
            if not os.path.exists(binary):
                pytest.fail('not built: %s (set STARLINGD / STARLINGCTL)' % binary, pytrace=False)
        self.name = name
        self.dir = tempfile.mkdtemp(prefix='starling-proto-%s-' % name)
        self.data_dir = os.path.join(self.dir, 'data')
        os.makedirs(self.data_dir)
        self.c2s_port = free_port()
        self.tls_port = free_port()
        while self.tls_port == self.c2s_port:
            self.tls_port = free_port()
        cfg = base_config(self.data_dir, self.c2s_port, self.tls_port)
        self.config = deep_merge(cfg, overrides)  # lists (host, listener) are replaced
        for h in extra_hosts:
            self.config['host'].append(h)
        for listener in extra_listeners:  # e.g. an s2s listener next to the default c2s ones
            self.config['listener'].append(listener)
        self.config_path = os.path.join(self.dir, 'starling.toml')
        with open(self.config_path, 'w') as f:
            f.write(to_toml(self.config))
        self.log_path = os.path.join(self.dir, 'starlingd.log')
        self.proc = None
        self.password = password
        self.crashed_reported = False
        for u in users:
            self.adduser(u, password)

    @property
    def domain(self):
        return self.config['host'][0]['name']

    def adduser(self, user, password=PASSWORD, host=None):
        return run_ctl(self.config_path, 'adduser', '%s@%s' % (user, host or self.domain),
                       '--password', password)

    def ctl(self, *args, check=True, timeout=60):
        return run_ctl(self.config_path, *args, check=check, timeout=timeout)

    def start(self):
        if not os.path.exists(STARLINGD):
            pytest.fail('starlingd not built: %s' % STARLINGD, pytrace=False)
        self.log = open(self.log_path, 'ab')
        self.proc = subprocess.Popen([STARLINGD, '--config', self.config_path],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.dir)
        deadline = time.monotonic() + START_TIMEOUT
        pending = {self.c2s_port, self.tls_port}
        while pending:
            if self.proc.poll() is not None:
                raise AssertionError('starlingd exited with %s during startup\n%s'
                                     % (self.proc.returncode, self.log_tail()))
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError('starlingd did not accept connections within %ss\n%s'
                                     % (START_TIMEOUT, self.log_tail()))
            for port in list(pending):
                if self._probe(port, tls=(port == self.tls_port)):
                    pending.discard(port)
            if pending:
                time.sleep(0.05)
        return self

    @staticmethod
    def _probe(port, tls):
        # The direct-TLS port is probed with a complete handshake so that the probe itself
        # is an ordinary client (abrupt closes are tested separately, see
        # test_xep0368_direct_tls_abrupt_close).
        try:
            s = socket.create_connection(('127.0.0.1', port), timeout=0.5)
        except OSError:
            return False
        try:
            if tls:
                t = rawxmpp.Transport(s)
                t.start_tls(time.monotonic() + 5)
                t.close()
            return True
        except (OSError, AssertionError, rawxmpp.SSL.Error):
            return False
        finally:
            s.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None:
            return None
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait(STOP_TIMEOUT)
                self.log.close()
                raise AssertionError('starlingd did not stop within %ss of SIGTERM\n%s'
                                     % (STOP_TIMEOUT, self.log_tail()))
        self.log.close()
        return rc

    def log_text(self):
        try:
            with open(self.log_path, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    def log_tail(self, n=80):
        lines = self.log_text().splitlines()
        return '--- starlingd log (%s, %s), last %d lines ---\n%s' % (
            self.name, self.log_path, min(n, len(lines)), '\n'.join(lines[-n:]))

    def sanitizer_report(self):
        text = self.log_text()
        for marker in ('ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:',
                       'ThreadSanitizer'):
            if marker in text:
                i = text.index(marker)
                return text[max(0, i - 200):i + 4000]
        return None

    # Convenience: raw clients
    def client(self, direct_tls=False, **kw):
        port = self.tls_port if direct_tls else self.c2s_port
        return rawxmpp.Client(port, direct_tls=direct_tls, **kw)

    def login(self, user='alice', password=None, resource=None, mech='SCRAM-SHA-256',
              direct_tls=False, **kw):
        c = self.client(direct_tls=direct_tls, name='%s/%s' % (user, resource))
        c.login(user, password or self.password, mech=mech, resource=resource, **kw)
        return c

    def assert_accepts_login(self, user='alice'):
        """After a stream error the server must still serve new clients."""
        c = self.login(user, resource='after-error-%d' % time.monotonic_ns())
        r = c.iq("<ping xmlns='urn:xmpp:ping'/>", to=self.domain)
        assert r.get('type') == 'result', rawxmpp.tostr(r)
        c.end_stream()
        c.close()


RUNNING = []


class ServerFactory:
    def __init__(self):
        self.servers = []

    def start(self, name, overrides=None, users=DEFAULT_USERS, **kw):
        s = Server(name, overrides, users=users, **kw)
        self.servers.append(s)
        RUNNING.append(s)
        s.start()
        return s

    def stop_all(self):
        problems = []
        for s in self.servers:
            crashed = not s.alive()
            rc = s.stop()
            if s in RUNNING:
                RUNNING.remove(s)
            if crashed and not s.crashed_reported and s.proc is not None:
                problems.append('starlingd (%s) had exited with %s before teardown\n%s'
                                % (s.name, rc, s.log_tail()))
            elif rc not in (0, None, -signal.SIGTERM):
                problems.append('starlingd (%s) exited with %s on SIGTERM\n%s'
                                % (s.name, rc, s.log_tail()))
            rep = s.sanitizer_report()
            if rep:
                problems.append('sanitizer report in starlingd (%s) log:\n%s' % (s.name, rep))
        for s in self.servers:
            if not problems:
                shutil.rmtree(s.dir, ignore_errors=True)
        self.servers = []
        if problems:
            raise AssertionError('\n\n'.join(problems))


@pytest.fixture(scope='module')
def server_factory():
    f = ServerFactory()
    yield f
    f.stop_all()


@pytest.fixture(scope='module')
def server(server_factory):
    """The default server of a test module: host 'localhost' with registration, STARTTLS and
    direct TLS listeners, accounts alice..erin with password PASSWORD."""
    return server_factory.start('default')


@pytest.fixture(autouse=True)
def _track_clients(request):
    rawxmpp.ACTIVE.clear()
    yield
    # A server that died during this test is this test's failure.
    for s in RUNNING:
        if s.proc is not None and not s.alive() and not s.crashed_reported:
            s.crashed_reported = True
            pytest.fail('starlingd (%s) died during this test (exit %s)\n%s'
                        % (s.name, s.proc.returncode, s.log_tail()), pytrace=False)
    for c in list(rawxmpp.ACTIVE):
        c.close()
    rawxmpp.ACTIVE.clear()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and rep.when in ('call', 'setup', 'teardown'):
        for c in list(rawxmpp.ACTIVE)[:6]:
            rep.sections.append(('raw transcript %s' % c.name, c.dump()[-6000:]))
        for s in RUNNING:
            rep.sections.append(('starlingd log %s' % s.name, s.log_tail(60)))
