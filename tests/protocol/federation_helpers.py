"""Federation interop harness: real Prosody 0.12 and ejabberd 23.01 (Debian packages) started
on loopback with their own temporary config, data, certificates and domains, plus helpers to
start Starling for s2s and to drive slixmpp clients on every server. See docs/federation.md.

Name resolution without real DNS: every `Federation` runs a FakeDNS server (fakedns.py) on
127.0.0.1:<random port>. Each server's domain gets `_xmpp-server._tcp.<domain>` SRV -> localhost:<the
server's s2s port> plus an A record 127.0.0.1. Prosody is pointed at it through libunbound
(`unbound = { forward = "127.0.0.1@port" }`, needs lua-unbound), ejabberd through an Erlang
inetrc (`{nameserver, {127,0,0,1}, Port}`), Starling through its resolver settings (c-ares
server "127.0.0.1:port") or a per-domain override. No /etc/hosts edits, no fixed ports: runs
in parallel do not collide.

Domains end in `.example.net` (RFC 2606, never resolvable for real; unbound answers names
under `test.` itself, so that TLD cannot be used).

Certificates: a per-run test CA (`fed.pki.ca_file`) signs one certificate per domain
(a DNS-ID SAN) when `valid_certs=True`, so certificate authentication (SASL
EXTERNAL, XEP-0178) can succeed. With `valid_certs=False` the certificates come from a second
CA nobody trusts: TLS still works, peers fall back to Server Dialback (XEP-0220).

    fed = Federation(valid_certs=True)
    p = fed.start_prosody('prosody.example.net'); p.adduser('pat', 'pw')
    e = fed.start_ejabberd('ejabberd.example.net'); e.adduser('ed', 'pw')
    s = fed.start_starling(server_factory, 'starling.example.net', s2s={...})
    client = FedClient('pat@prosody.example.net/r', 'pw', p.c2s_port, ca_file=...)
    fed.stop_all()

Start each server once per test module (ejabberd takes a few seconds to boot).
"""
import asyncio
import datetime
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from fakedns import FakeDNS  # noqa: E402

PROSODY = shutil.which('prosody') or '/usr/bin/prosody'
PROSODYCTL = shutil.which('prosodyctl') or '/usr/bin/prosodyctl'
EJABBERDCTL = shutil.which('ejabberdctl') or '/usr/sbin/ejabberdctl'

START_TIMEOUT = 40.0
STOP_TIMEOUT = 15.0


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_port(port, proc=None, timeout=START_TIMEOUT, what='server', log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError('%s exited with %s during startup\n%s'
                                 % (what, proc.returncode, log() if log else ''))
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError('%s did not listen on %d within %ss\n%s'
                         % (what, port, timeout, log() if log else ''))


def tail(path, n=60):
    try:
        with open(path, 'rb') as f:
            lines = f.read().decode('utf-8', 'replace').splitlines()
    except OSError:
        return ''
    return '--- %s (last %d lines) ---\n%s' % (path, min(n, len(lines)), '\n'.join(lines[-n:]))


def available():
    """None when Prosody and ejabberd are installed, else why the federation tests cannot run
    (they fail then: scripts/install-deps.sh installs both)."""
    for b in (PROSODY, PROSODYCTL, EJABBERDCTL):
        if not os.path.exists(b):
            return 'not installed: %s (scripts/install-deps.sh)' % b
    try:
        subprocess.run(['lua5.4', '-e', 'require "lunbound"'], check=True, capture_output=True,
                       timeout=10)
    except (OSError, subprocess.SubprocessError):
        return 'lua-unbound is not installed (Prosody could not use the test DNS server)'
    return None


# --- certificates ----------------------------------------------------------------------

class TestPKI:
    """A per-run CA (trusted by every test server) and an untrusted one, both EC P-256."""

    OID_XMPPADDR = '1.3.6.1.5.5.7.8.5'
    OID_DNSSRV = '1.3.6.1.5.5.7.8.7'

    def __init__(self, directory):
        from cryptography.hazmat.primitives import hashes  # noqa: F401 (import check)
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.ca_key, self.ca_cert, self.ca_file = self._make_ca('Starling federation test CA', 'ca')
        self.untrusted_key, self.untrusted_cert, self.untrusted_ca_file = \
            self._make_ca('Untrusted test CA', 'untrusted-ca')

    @staticmethod
    def _name(cn):
        from cryptography import x509
        from cryptography.x509.oid import NameOID
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'Starling tests')])

    def _make_ca(self, cn, stem):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder()
                .subject_name(self._name(cn)).issuer_name(self._name(cn))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=2))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                             key_encipherment=False, data_encipherment=False,
                                             key_agreement=False, key_cert_sign=True,
                                             crl_sign=True, encipher_only=False,
                                             decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                               critical=False)
                .sign(key, hashes.SHA256()))
        path = os.path.join(self.dir, stem + '.pem')
        with open(path, 'wb') as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        os.chmod(path, 0o644)
        return key, cert, path

    @staticmethod
    def _der_string(tag, text):
        raw = text.encode('utf-8')
        assert len(raw) < 128
        return bytes([tag, len(raw)]) + raw

    def issue(self, domain, trusted=True, ids=('dns',), stem=None):
        """Writes <stem>.crt, <stem>.key and <stem>.pem (cert+key, for ejabberd); returns the
        three paths. ids: any of 'dns', 'xmppaddr', 'srv' (SANs); () leaves only the CN, which
        is always the domain. The default is a DNS-ID only: ejabberd 23.01 crashes its s2s_in
        process on a peer certificate with an XmppAddr otherName (xmpp_stream_pkix
        get_cert_domains), so certificates shown to ejabberd must not carry one."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier
        ca_key, ca_cert = ((self.ca_key, self.ca_cert) if trusted
                           else (self.untrusted_key, self.untrusted_cert))
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        sans = []
        if 'dns' in ids:
            sans.append(x509.DNSName(domain))
        if 'xmppaddr' in ids:
            sans.append(x509.OtherName(ObjectIdentifier(self.OID_XMPPADDR),
                                       self._der_string(0x0C, domain)))  # UTF8String
        if 'srv' in ids:
            sans.append(x509.OtherName(ObjectIdentifier(self.OID_DNSSRV),
                                       self._der_string(0x16, '_xmpp-server.' + domain)))  # IA5
        b = (x509.CertificateBuilder()
             .subject_name(self._name(domain)).issuer_name(ca_cert.subject)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(hours=1))
             .not_valid_after(now + datetime.timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                   ExtendedKeyUsageOID.CLIENT_AUTH]),
                            critical=False))
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = b.sign(ca_key, hashes.SHA256())
        stem = os.path.join(self.dir, stem or (domain + ('' if trusted else '.untrusted')))
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        key_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        paths = (stem + '.crt', stem + '.key', stem + '.pem')
        for path, data in zip(paths, (cert_pem, key_pem, cert_pem + key_pem)):
            with open(path, 'wb') as f:
                f.write(data)
            os.chmod(path, 0o644)  # test material; read by the prosody/ejabberd users
        return paths


# --- Prosody ---------------------------------------------------------------------------

class Prosody:
    kind = 'prosody'

    def __init__(self, fed, domain, valid_certs=True, extra_config=''):
        self.fed = fed
        self.domain = domain
        self.dir = os.path.join(fed.dir, 'prosody-' + domain)
        self.data = os.path.join(self.dir, 'data')
        os.makedirs(self.data)
        self.c2s_port = free_port()
        self.s2s_port = free_port()
        self.cert, self.key, _ = fed.pki.issue(domain, trusted=valid_certs)
        self.log_path = os.path.join(self.dir, 'prosody.log')
        self.config_path = os.path.join(self.dir, 'prosody.cfg.lua')
        with open(self.config_path, 'w') as f:
            f.write(self._config(valid_certs, extra_config))
        self.proc = None

    def _config(self, valid_certs, extra):
        q = lambda s: '"%s"' % s.replace('\\', '\\\\').replace('"', '\\"')  # noqa: E731
        return '\n'.join([
            '-- Generated by tests/protocol/federation_helpers.py',
            'run_as_root = true',  # the tests run as root in CI; no privilege drop needed
            'pidfile = %s' % q(os.path.join(self.dir, 'prosody.pid')),
            'data_path = %s' % q(self.data),
            'certificates = %s' % q(self.fed.pki.dir),
            'log = { { levels = { min = "debug" }, to = "file", filename = %s } }'
            % q(self.log_path),
            'interfaces = { "127.0.0.1" }',
            'local_interfaces = { "127.0.0.1" }',
            'c2s_ports = { %d }' % self.c2s_port,
            's2s_ports = { %d }' % self.s2s_port,
            'c2s_direct_tls_ports = {}', 's2s_direct_tls_ports = {}',
            'http_ports = {}', 'https_ports = {}',
            'admin_socket = %s' % q(os.path.join(self.dir, 'admin.sock')),
            'modules_enabled = { "roster", "saslauth", "tls", "dialback", "disco", "ping",'
            ' "version", "offline", "admin_shell" }',
            'modules_disabled = { "s2s_bidi" }',
            'authentication = "internal_hashed"',
            'storage = "internal"',
            'c2s_require_encryption = true',
            's2s_require_encryption = true',
            # Valid certificates: require them (SASL EXTERNAL); otherwise dialback only.
            's2s_secure_auth = %s' % ('true' if valid_certs else 'false'),
            'ssl = { cafile = %s; certificate = %s; key = %s; }'
            % (q(self.fed.pki.ca_file), q(self.cert), q(self.key)),
            'unbound = { resolvconf = false; hoststxt = false; forward = "%s@%d"; }'
            % (self.fed.dns.host, self.fed.dns.port),
            'dns_timeout = 5',
            extra,
            'VirtualHost %s' % q(self.domain),
            '  ssl = { certificate = %s; key = %s; }' % (q(self.cert), q(self.key)),
            '',
        ])

    def log_tail(self, n=60):
        return tail(self.log_path, n)

    def ctl(self, *args, check=True, timeout=60):
        cmd = [PROSODYCTL, '--config', self.config_path] + list(args)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError('%s exited %d\n%s\n%s' % (' '.join(cmd), p.returncode,
                                                          p.stdout, p.stderr))
        return p

    def adduser(self, user, password):
        # Works whether or not the server runs (internal storage files).
        self.ctl('register', user, self.domain, password)

    def start(self):
        self.out = open(os.path.join(self.dir, 'prosody.out'), 'ab')
        self.proc = subprocess.Popen([PROSODY, '-F', '--config', self.config_path], stdout=self.out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=self.dir)
        for port in (self.c2s_port, self.s2s_port):
            wait_port(port, self.proc, what='prosody', log=self.log_tail)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        self.out.close()
        self.proc = None


# --- ejabberd --------------------------------------------------------------------------

class Ejabberd:
    kind = 'ejabberd'

    def __init__(self, fed, domain, valid_certs=True):
        self.fed = fed
        self.domain = domain
        self.dir = os.path.join(fed.dir, 'ejabberd-' + domain)
        self.conf_dir = os.path.join(self.dir, 'etc')
        self.spool = os.path.join(self.dir, 'spool')
        self.logs = os.path.join(self.dir, 'logs')
        for d in (self.conf_dir, self.spool, self.logs):
            os.makedirs(d)
        # A distinct Erlang node per instance and run (epmd is shared).
        self.node = 'starling-%s@localhost' % uuid.uuid4().hex[:10]
        self.c2s_port = free_port()
        self.s2s_port = free_port()
        _, _, self.pem = fed.pki.issue(domain, trusted=valid_certs)
        self.valid_certs = valid_certs
        self._write_config()
        self.proc = None
        # ejabberdctl runs the node as the 'ejabberd' user when called by root.
        try:
            pw = pwd.getpwnam('ejabberd')
            for root, dirs, files in os.walk(self.dir):
                for n in [root] + [os.path.join(root, x) for x in files]:
                    os.chown(n, pw.pw_uid, pw.pw_gid)
            os.chmod(fed.dir, 0o755)
        except KeyError:
            pass

    def _write_config(self):
        yml = '\n'.join([
            '# Generated by tests/protocol/federation_helpers.py',
            'hosts: ["%s"]' % self.domain,
            'loglevel: info',
            'certfiles: ["%s"]' % self.pem,
            # Peers' certificates are checked against the per-run CA only.
            'ca_file: "%s"' % self.fed.pki.ca_file,
            's2s_use_starttls: required',
            's2s_dns_timeout: 5',
            's2s_dns_retries: 1',
            'auth_method: internal',
            'auth_password_format: scram',
            'listen:',
            '  - port: %d' % self.c2s_port,
            '    ip: "127.0.0.1"',
            '    module: ejabberd_c2s',
            '    starttls_required: true',
            '  - port: %d' % self.s2s_port,
            '    ip: "127.0.0.1"',
            '    module: ejabberd_s2s_in',
            'acl:',
            '  local:',
            '    user_regexp: ""',
            'access_rules:',
            '  local:',
            '    allow: local',
            '  c2s:',
            '    allow: all',
            '  s2s:',
            '    allow: all',
            'shaper_rules:',
            '  c2s_shaper: none',
            '  s2s_shaper: none',
            'modules:',
            '  mod_disco: {}',
            '  mod_ping: {}',
            '  mod_roster: {}',
            '  mod_offline: {}',
            '  mod_s2s_dialback: {}',
            '  mod_version: {}',
            '',
        ])
        with open(os.path.join(self.conf_dir, 'ejabberd.yml'), 'w') as f:
            f.write(yml)
        with open(os.path.join(self.conf_dir, 'ejabberdctl.cfg'), 'w') as f:
            f.write('ERLANG_NODE=%s\nERL_OPTIONS="+K true"\n' % self.node)
        # Erlang's resolver (inet_res, used for SRV and A/AAAA) asks the test DNS server only.
        with open(os.path.join(self.conf_dir, 'inetrc'), 'w') as f:
            # resolv_conf "" stops /etc/resolv.conf's servers from replacing ours.
            f.write('{lookup, [file, dns]}.\n{resolv_conf, ""}.\n'
                    '{nameserver, {127,0,0,1}, %d}.\n'
                    '{timeout, 2000}.\n{retry, 2}.\n' % self.fed.dns.port)

    def _cmd(self, *args):
        return [EJABBERDCTL, '--config-dir', self.conf_dir, '--logs', self.logs,
                '--spool', self.spool, '--node', self.node] + list(args)

    def log_tail(self, n=60):
        return tail(os.path.join(self.logs, 'ejabberd.log'), n) + '\n' + \
            tail(os.path.join(self.logs, 'error.log'), 20) + '\n' + \
            tail(os.path.join(self.dir, 'ejabberd.out'), 20)

    def ctl(self, *args, check=True, timeout=60):
        p = subprocess.run(self._cmd(*args), capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError('ejabberdctl %s exited %d\n%s\n%s\n%s'
                                 % (' '.join(args), p.returncode, p.stdout, p.stderr,
                                    self.log_tail(20)))
        return p

    def adduser(self, user, password):
        self.ctl('register', user, self.domain, password)

    def start(self):
        self.out = open(os.path.join(self.dir, 'ejabberd.out'), 'ab')
        self.proc = subprocess.Popen(self._cmd('foreground'), stdout=self.out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=self.dir, start_new_session=True)
        for port in (self.c2s_port, self.s2s_port):
            wait_port(port, self.proc, what='ejabberd', log=self.log_tail)
        # Listening is not enough for ejabberdctl commands: wait for "started".
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            p = self.ctl('status', check=False, timeout=30)
            if p.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise AssertionError('ejabberd not started\n%s\n%s' % (p.stdout, self.log_tail()))
            time.sleep(0.3)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.ctl('stop', check=False, timeout=30)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                # The node runs in its own session (start_new_session): end that group only.
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(STOP_TIMEOUT)
        self.out.close()
        self.proc = None


# --- the federation --------------------------------------------------------------------

class Federation:
    """One test DNS server, one PKI and any number of Prosody / ejabberd / Starling servers."""

    def __init__(self, valid_certs=True):
        self.dir = tempfile.mkdtemp(prefix='starling-fed-')
        os.chmod(self.dir, 0o755)
        self.valid_certs = valid_certs
        self.pki = TestPKI(os.path.join(self.dir, 'pki'))
        self.dns = FakeDNS()
        self.servers = []

    def publish(self, domain, s2s_port, direct_tls_port=None):
        """DNS for a domain: SRV _xmpp-server._tcp (and _xmpps-server._tcp when given) with
        target "localhost", plus an A record 127.0.0.1 for the domain itself (the fallback
        path). The SRV target is "localhost" because ejabberd looks SRV targets up through
        libc (net:getaddrinfo: /etc/hosts, then the system's DNS), not through its inetrc
        resolver; localhost is in every /etc/hosts and answered by libunbound and c-ares too."""
        self.dns.srv('_xmpp-server._tcp.' + domain, 'localhost', s2s_port)
        if direct_tls_port:
            self.dns.srv('_xmpps-server._tcp.' + domain, 'localhost', direct_tls_port)
        self.dns.a(domain, '127.0.0.1')

    def dns_servers(self):
        """The test DNS server in c-ares syntax ("127.0.0.1:port") for Starling's resolver."""
        return '%s:%d' % (self.dns.host, self.dns.port)

    def start_prosody(self, domain, **kw):
        s = Prosody(self, domain, valid_certs=kw.pop('valid_certs', self.valid_certs), **kw)
        self.servers.append(s)
        self.publish(domain, s.s2s_port)
        return s.start()

    def start_ejabberd(self, domain, **kw):
        s = Ejabberd(self, domain, valid_certs=kw.pop('valid_certs', self.valid_certs), **kw)
        self.servers.append(s)
        self.publish(domain, s.s2s_port)
        return s.start()

    def starling_overrides(self, domain, s2s=None, valid_certs=None):
        """Config overrides for conftest's server_factory: `domain` as the only host and a
        certificate for it from the test PKI; `s2s` (a dict) becomes the [s2s] section as is
        (its schema belongs to the s2s code)."""
        valid = self.valid_certs if valid_certs is None else valid_certs
        crt, key, _ = self.pki.issue(domain, trusted=valid,
                                     stem='starling-' + domain + ('' if valid else '.untrusted'))
        ov = {
            'host': [{'name': domain, 'registration': True}],
            'tls': {'certificate': crt, 'key': key, 'require_c2s_encryption': True},
        }
        if s2s is not None:
            ov['s2s'] = s2s
        return ov

    def start_starling(self, server_factory, domain, s2s=None, s2s_listener=None,
                       name=None, users=('alice', 'bob', 'carol'), valid_certs=None):
        """Starts Starling through conftest's ServerFactory (stopped with it) with `domain` as
        its host. s2s_listener: a dict such as {'type': 's2s'} -- completed with address
        127.0.0.1 and a free port, appended to the c2s listeners, and published in the test
        DNS (SRV + A); the port is in `server.s2s_port`."""
        conftest = sys.modules[type(server_factory).__module__]
        ov = self.starling_overrides(domain, s2s=s2s, valid_certs=valid_certs)
        s = conftest.Server(name or 'starling-' + domain, overrides=ov, users=users)
        s.s2s_port = None
        if s2s_listener is not None:
            s.s2s_port = free_port()
            lst = dict(s2s_listener)
            lst.setdefault('address', '127.0.0.1')
            lst['port'] = s.s2s_port
            s.config['listener'].append(lst)
            with open(s.config_path, 'w') as f:
                f.write(conftest.to_toml(s.config))
            self.publish(domain, s.s2s_port)
        server_factory.servers.append(s)
        conftest.RUNNING.append(s)
        s.start()
        return s

    def stop_all(self):
        problems = []
        for s in reversed(self.servers):
            if not s.alive():
                problems.append('%s (%s) had died\n%s' % (s.kind, s.domain, s.log_tail()))
            try:
                s.stop()
            except Exception as e:  # keep stopping the others
                problems.append('stopping %s (%s): %r' % (s.kind, s.domain, e))
        self.servers = []
        self.dns.stop()
        if not problems and not os.environ.get('STARLING_FED_KEEP'):
            shutil.rmtree(self.dir, ignore_errors=True)
        return problems

    def logs(self):
        return '\n\n'.join(s.log_tail() for s in self.servers)


# --- slixmpp clients -------------------------------------------------------------------

def _slixmpp():
    import slixmpp
    return slixmpp


def make_client(jid, password, port, ca_file=None):
    """A slixmpp ClientXMPP pinned to 127.0.0.1:port. With ca_file the server certificate is
    verified against it (host name = the JID's domain); without, verification is off."""
    slixmpp = _slixmpp()
    from slix_helpers import configure_client, loopback_client_class
    c = loopback_client_class(slixmpp.ClientXMPP)(jid, password)
    return configure_client(c, port, ca_file)


async def online(client, timeout=20):
    """Connects and waits for session_start; sends initial presence and gets the roster."""
    loop = asyncio.get_event_loop()
    fut = loop.create_future()

    def done(v):
        if not fut.done():
            fut.set_result(v)
    client.add_event_handler('session_start', lambda e: done('ok'))
    client.add_event_handler('failed_all_auth', lambda e: done('failed_all_auth'))
    client.add_event_handler('connection_failed', lambda e: done('connection_failed: %s' % (e,)))
    client.add_event_handler('disconnected', lambda e: done('disconnected: %s' % (e,)))
    client.connect(address=('127.0.0.1', client._loopback_port), force_starttls=True)
    result = await asyncio.wait_for(fut, timeout)
    assert result == 'ok', '%s: %s' % (client.boundjid, result)
    await client.get_roster(timeout=timeout)
    client.send_presence()
    return client


async def offline(client):
    try:
        client.disconnect(wait=2)
        await asyncio.wait_for(client.disconnected, 5)
    except (asyncio.TimeoutError, asyncio.CancelledError):
        client.abort()


class Waiter:
    """Collects events of a client and awaits one matching a predicate (no sleeps)."""

    def __init__(self, client, event):
        self.items = []
        self.cond = asyncio.Condition()
        client.add_event_handler(event, self._on)

    async def _on_async(self, item):
        async with self.cond:
            self.items.append(item)
            self.cond.notify_all()

    def _on(self, item):
        asyncio.ensure_future(self._on_async(item))

    async def wait(self, predicate, timeout=30, what='event'):
        async def _w():
            async with self.cond:
                while True:
                    for it in self.items:
                        if predicate(it):
                            return it
                    await self.cond.wait()
        try:
            return await asyncio.wait_for(_w(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError('timed out waiting for %s; saw %d: %s'
                                 % (what, len(self.items), [str(i)[:200] for i in self.items]))


def run_async(coro_factory, timeout=120):
    """Runs an async scenario on a fresh event loop, cancelling leftovers afterwards."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(asyncio.wait_for(coro_factory(), timeout))
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
        asyncio.set_event_loop(None)


async def befriend_and_chat(a, b, timeout=60):
    """Full RFC 6121 flow between two online clients on different servers: a subscribes to b,
    b approves and subscribes back (slixmpp auto-authorizes), both see each other's available
    presence, then a message each way. Returns the two received messages."""
    a_jid, b_jid = a.boundjid.bare, b.boundjid.bare
    a_pres, b_pres = Waiter(a, 'presence_available'), Waiter(b, 'presence_available')
    a_msg, b_msg = Waiter(a, 'message'), Waiter(b, 'message')
    a.send_presence(pto=b_jid, ptype='subscribe')
    await b_pres.wait(lambda p: p['from'].bare == a_jid, timeout, 'presence of %s at %s'
                      % (a_jid, b_jid))
    await a_pres.wait(lambda p: p['from'].bare == b_jid, timeout, 'presence of %s at %s'
                      % (b_jid, a_jid))
    a.send_message(mto=b_jid, mbody='hello from %s' % a_jid, mtype='chat')
    got_b = await b_msg.wait(lambda m: m['body'] == 'hello from %s' % a_jid, timeout,
                             'message at %s' % b_jid)
    b.send_message(mto=a_jid, mbody='hello from %s' % b_jid, mtype='chat')
    got_a = await a_msg.wait(lambda m: m['body'] == 'hello from %s' % b_jid, timeout,
                             'message at %s' % a_jid)
    return got_a, got_b
