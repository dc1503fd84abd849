"""Helpers for the XEP-0313 (MAM) and XEP-0280 (carbons) tests: archive queries over raw
XML, result collection, stanza-id look-ups."""
import os
import time

from rawxmpp import NS_CLIENT, q, tostr

NS_MAM = 'urn:xmpp:mam:2'
NS_RSM = 'http://jabber.org/protocol/rsm'
NS_FWD = 'urn:xmpp:forward:0'
NS_DELAY = 'urn:xmpp:delay'
NS_SID = 'urn:xmpp:sid:0'
NS_CARBONS = 'urn:xmpp:carbons:2'
NS_HINTS = 'urn:xmpp:hints'
MSG = q(NS_CLIENT, 'message')

_n = [0]


def uniq(prefix='m'):
    _n[0] += 1
    return '%s%d%d' % (prefix, os.getpid(), _n[0])


def form(**fields):
    """A MAM filter form; values may be lists (multi-valued fields). Keys use _ for -."""
    out = ["<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
           "<value>%s</value></field>" % NS_MAM]
    for k, v in fields.items():
        vals = v if isinstance(v, (list, tuple)) else [v]
        out.append("<field var='%s'>%s</field>" % (k.replace('_', '-'),
                                                    ''.join('<value>%s</value>' % x for x in vals)))
    out.append('</x>')
    return ''.join(out)


def rsm(max=None, after=None, before=None, index=None):
    s = "<set xmlns='%s'>" % NS_RSM
    if max is not None:
        s += '<max>%s</max>' % max
    if after is not None:
        s += '<after>%s</after>' % after
    if before is not None:
        s += '<before>%s</before>' % before if before else '<before/>'
    if index is not None:
        s += '<index>%s</index>' % index
    return s + '</set>'


class Page:
    def __init__(self, iq, results):
        self.iq = iq
        self.results = results  # [(archive id, forwarded <message/>, stamp)]
        fin = iq.find(q(NS_MAM, 'fin'))
        self.fin = fin
        self.complete = fin is not None and fin.get('complete') in ('true', '1')
        s = fin.find(q(NS_RSM, 'set')) if fin is not None else None
        self.first = s.findtext(q(NS_RSM, 'first')) if s is not None else None
        f = s.find(q(NS_RSM, 'first')) if s is not None else None
        self.first_index = int(f.get('index')) if f is not None and f.get('index') else None
        self.last = s.findtext(q(NS_RSM, 'last')) if s is not None else None
        c = s.findtext(q(NS_RSM, 'count')) if s is not None else None
        self.count = int(c) if c is not None else None

    @property
    def ids(self):
        return [r[0] for r in self.results]

    @property
    def bodies(self):
        return [r[1].findtext(q(NS_CLIENT, 'body')) for r in self.results]


def mam_iq(c, inner='', to=None, queryid=None, timeout=10):
    qid = queryid or uniq('q')
    r = c.iq("<query xmlns='%s' queryid='%s'>%s</query>" % (NS_MAM, qid, inner), type='set', to=to,
             timeout=timeout)
    return r, qid


def query(c, inner='', to=None, timeout=10):
    """Runs a query; returns a Page (results in arrival order). Asserts success."""
    r, qid = mam_iq(c, inner, to=to, timeout=timeout)
    assert r.get('type') == 'result', tostr(r)
    results = []
    keep = []
    for e in c.others:
        res = e.find(q(NS_MAM, 'result')) if e.tag == MSG else None
        if res is not None and res.get('queryid') == qid:
            fwd = res.find(q(NS_FWD, 'forwarded'))
            delay = fwd.find(q(NS_DELAY, 'delay'))
            inner_msg = fwd.find(MSG)
            assert e.get('from') == c.jid.split('/')[0] and delay is not None and inner_msg is not None, tostr(e)
            results.append((res.get('id'), inner_msg, delay.get('stamp')))
        else:
            keep.append(e)
    c.others[:] = keep
    return Page(r, results)


def query_error(c, inner='', to=None):
    r, _ = mam_iq(c, inner, to=to)
    assert r.get('type') == 'error', tostr(r)
    err = r.find(q(NS_CLIENT, 'error'))
    conds = [ch.tag.split('}')[1] for ch in err if ch.tag.startswith('{urn:ietf:params:xml:ns:xmpp-stanzas}')
             and not ch.tag.endswith('}text')]
    return conds[0]


def all_pages(c, inner_form='', max=100, backward=False, guard=1000):
    """Every result, paging with RSM after (forward) or before (backward)."""
    out = []
    cursor = None
    pages = 0
    while True:
        if backward:
            p = query(c, inner_form + rsm(max=max, before=cursor or ''))
            out = p.results + out
            cursor = p.first
        else:
            p = query(c, inner_form + rsm(max=max, after=cursor))
            out = out + p.results
            cursor = p.last
        pages += 1
        assert pages < guard
        if p.complete or not p.results:
            return out, pages


def stanza_ids(msg, by=None):
    return [(s.get('by'), s.get('id')) for s in msg.findall(q(NS_SID, 'stanza-id'))
            if by is None or s.get('by') == by]


def send(c, to, body=None, type='chat', id=None, payload=''):
    id = id or uniq('msg')
    b = '<body>%s</body>' % body if body is not None else ''
    t = " type='%s'" % type if type else ''
    c.send("<message to='%s' id='%s'%s>%s%s</message>" % (to, id, t, b, payload))
    return id


def recv_msg(c, pred=lambda e: True, timeout=5):
    return c.recv_stanza(lambda e: e.tag == MSG and pred(e), timeout=timeout)


def sync(c):
    r = c.iq("<ping xmlns='urn:xmpp:ping'/>", to='localhost')
    assert r.get('type') == 'result', tostr(r)


def no_msg(c, pred=lambda e: True, wait=0.5):
    sync(c)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            e = recv_msg(c, pred, timeout=max(0.05, deadline - time.monotonic()))
        except AssertionError:
            return
        raise AssertionError('unexpected message: %s' % tostr(e))


def fresh_user(server, prefix):
    """A new account (tests that count archive rows need an archive nobody else touched)."""
    name = uniq(prefix)
    server.adduser(name)
    return name
