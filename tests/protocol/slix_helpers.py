"""What every slixmpp 1.8 client in these tests needs to talk to a Starling on loopback.

- No DNS: slixmpp queries the system resolver even for an IP address unless aiodns is off and
  its SRV lookup is answered locally; every client here is pinned to 127.0.0.1 and a port.
- Certificates: the test servers' certificates are self-signed; with a CA file the server is
  verified against it (host name = the JID's domain), without one verification is off.
- Channel binding: slixmpp 1.8 only knows 'tls-unique', which Starling does not offer (TLS 1.3
  has none, RFC 9266). Left alone it would send the gs2 flag 'y' ("I support it, you do not
  seem to"), which a server offering SCRAM-*-PLUS must reject (RFC 5802 §6); so the client is
  presented as not supporting channel binding at all (flag 'n').
"""
import ssl


def loopback_client_class(base):
    """A subclass of the slixmpp client class `base` whose SRV/A lookups all answer
    127.0.0.1:<the port given to configure_client()>."""

    class LoopbackClient(base):
        async def get_dns_records(self, domain, port=None):
            return [(domain, '127.0.0.1', self._loopback_port)]

    return LoopbackClient


def configure_client(c, port, ca_file=None, plugins=('xep_0199',)):
    """Applies the loopback, certificate and channel-binding settings above to client `c` (made
    from loopback_client_class) and registers `plugins`. Returns `c`."""
    c._loopback_port = port
    c.use_ipv6 = False
    c.use_aiodns = False
    if ca_file:
        c.ssl_context.load_verify_locations(ca_file)
        c.ssl_context.verify_mode = ssl.CERT_REQUIRED
    else:
        c.ssl_context.check_hostname = False
        c.ssl_context.verify_mode = ssl.CERT_NONE
    mechs = c['feature_mechanisms']
    default = mechs._default_credentials

    def credentials(required, optional):
        creds = default(required, optional)
        if 'channel_binding' in creds:
            creds['channel_binding'] = None
        return creds
    mechs.sasl_callback = credentials
    for p in plugins:
        c.register_plugin(p)
    return c
