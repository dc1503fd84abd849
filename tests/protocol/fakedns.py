"""A tiny authoritative DNS server for tests: answers A, AAAA and SRV queries over UDP on a
loopback address from an in-memory table, so that federation tests can use SRV discovery
(RFC 6120 §3.2, XEP-0368) with real resolvers (Prosody's libunbound, ejabberd's inet_res,
Starling's c-ares) without real DNS and without touching /etc/hosts.

    dns = FakeDNS()                 # binds 127.0.0.1 on a free port, serves in a thread
    dns.srv('_xmpp-server._tcp.a.test', 'a.test', 5269)   # priority 0, weight 0
    dns.a('a.test', '127.0.0.1')
    dns.port, dns.host              # where resolvers should send queries
    dns.stop()

Unknown names get NXDOMAIN; a known name without records of the asked type gets an empty
NOERROR answer. Queries are counted per (name, type) in `dns.queries`.
"""
import ipaddress
import socket
import struct
import threading

TYPE_A, TYPE_AAAA, TYPE_SRV = 1, 28, 33


def _encode_name(name):
    name = name.rstrip('.')
    out = b''
    if name:
        for label in name.split('.'):
            raw = label.encode('ascii')
            out += bytes([len(raw)]) + raw
    return out + b'\0'


class FakeDNS:
    def __init__(self, host='127.0.0.1', port=0):
        self.host = host
        self.records = {}  # lowercase name -> [(type, rdata)]
        self.queries = {}
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self._serve, name='fakedns', daemon=True)
        self.thread.start()

    # --- table -------------------------------------------------------------------------
    def _add(self, name, rtype, rdata):
        with self.lock:
            self.records.setdefault(name.rstrip('.').lower(), []).append((rtype, rdata))

    def a(self, name, ip):
        self._add(name, TYPE_A, ipaddress.IPv4Address(ip).packed)

    def aaaa(self, name, ip):
        self._add(name, TYPE_AAAA, ipaddress.IPv6Address(ip).packed)

    def srv(self, name, target, port, priority=0, weight=0):
        self._add(name, TYPE_SRV, struct.pack('!HHH', priority, weight, port) + _encode_name(target))

    def remove(self, name):
        with self.lock:
            self.records.pop(name.rstrip('.').lower(), None)

    # --- server ------------------------------------------------------------------------
    def _answer(self, packet):
        if len(packet) < 17:
            return None
        qid, flags = struct.unpack('!HH', packet[:4])
        off, labels = 12, []
        while off < len(packet) and packet[off] != 0:
            n = packet[off]
            if n & 0xC0 or off + 1 + n > len(packet):
                return None
            labels.append(packet[off + 1:off + 1 + n].decode('ascii', 'replace'))
            off += 1 + n
        off += 1
        if off + 4 > len(packet):
            return None
        qtype, _qclass = struct.unpack('!HH', packet[off:off + 4])
        question = packet[12:off + 4]
        name = '.'.join(labels).lower()
        with self.lock:
            self.queries[(name, qtype)] = self.queries.get((name, qtype), 0) + 1
            known = name in self.records
            answers = [rd for t, rd in self.records.get(name, ()) if t == qtype]
        rcode = 0 if known else 3
        # QR, AA, RD copied from the query; RA.
        hdr = struct.pack('!HHHHHH', qid, 0x8400 | (flags & 0x0100) | 0x0080 | rcode,
                          1, len(answers), 0, 0)
        body = b''
        for rd in answers:
            body += struct.pack('!HHHIH', 0xC00C, qtype, 1, 60, len(rd)) + rd
        return hdr + question + body

    def _serve(self):
        while self.running:
            try:
                packet, peer = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                reply = self._answer(packet)
            except Exception:  # a malformed query must not stop the server
                reply = None
            if reply is not None:
                try:
                    self.sock.sendto(reply, peer)
                except OSError:
                    pass

    def stop(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()
