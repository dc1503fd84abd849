"""starlingctl against the database of a running server: adduser, passwd, deluser, users,
and config check."""
import os
import re
import subprocess

import pytest

import conftest
from conftest import STARLINGCTL


@pytest.fixture(autouse=True)
def _need_ctl():
    if not os.path.exists(STARLINGCTL):
        pytest.fail('starlingctl not built: %s' % STARLINGCTL, pytrace=False)


def login_condition(server, user, password):
    c = server.client()
    c.connect_tls()
    r = c.auth_scram(user, password, 'SHA-256')
    c.close()
    return None if r.ok else r.condition


def test_ctl_adduser_while_running(server):
    server.ctl('adduser', 'frank@localhost', '--password', 'frank-pw')
    assert login_condition(server, 'frank', 'frank-pw') is None
    c = server.login('frank', 'frank-pw', resource='ctl', mech='PLAIN')
    assert c.jid == 'frank@localhost/ctl'


def test_ctl_adduser_existing_fails(server):
    p = server.ctl('adduser', 'alice@localhost', '--password', 'x', check=False)
    assert p.returncode != 0, 'adding an existing user must fail: %s %s' % (p.stdout, p.stderr)
    assert login_condition(server, 'alice', server.password) is None


def test_ctl_passwd_while_running(server):
    server.ctl('adduser', 'grace@localhost', '--password', 'old-pw')
    server.ctl('passwd', 'grace@localhost', '--password', 'new-pw')
    assert login_condition(server, 'grace', 'new-pw') is None
    assert login_condition(server, 'grace', 'old-pw') == 'not-authorized'


def test_ctl_deluser_while_running(server):
    server.ctl('adduser', 'heidi@localhost', '--password', 'h-pw')
    assert login_condition(server, 'heidi', 'h-pw') is None
    server.ctl('deluser', 'heidi@localhost')
    assert login_condition(server, 'heidi', 'h-pw') == 'not-authorized'


def test_ctl_users_lists_accounts(server):
    server.ctl('adduser', 'ivan@localhost', '--password', 'i-pw')
    p = server.ctl('users', 'localhost')
    listed = set(p.stdout.split())
    # Either bare localparts or bare JIDs, one per line.
    names = {x.split('@')[0] for x in listed}
    for u in conftest.DEFAULT_USERS + ('ivan',):
        assert u in names, '%s not listed: %r' % (u, p.stdout)


def test_ctl_check_valid_config(server):
    p = server.ctl('check', check=False)
    assert p.returncode == 0, p.stdout + p.stderr


def test_ctl_check_unknown_key_reports_file_and_line(server, tmp_path):
    with open(server.config_path) as f:
        lines = f.read().splitlines()
    idx = lines.index('[limits]')
    lines.insert(idx + 1, 'no_such_option = 42')
    bad = tmp_path / 'bad.toml'
    bad.write_text('\n'.join(lines) + '\n')
    p = subprocess.run([STARLINGCTL, '-c', str(bad), 'check'], capture_output=True, text=True,
                       timeout=30)
    out = p.stdout + p.stderr
    assert p.returncode == 1, 'exit %d: %s' % (p.returncode, out)
    line_no = idx + 2
    assert re.search(r'%s:%d\b' % (re.escape(str(bad)), line_no), out) or \
        re.search(r'bad\.toml:%d\b' % line_no, out), \
        'expected "%s:%d" in: %s' % (bad, line_no, out)
    assert 'no_such_option' in out, out
