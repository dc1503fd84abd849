"""Raw-XML client side of SASL2 (XEP-0388), Bind 2 (XEP-0386) and FAST (XEP-0484) for the
black-box tests. Built on rawxmpp.Client; nothing here hides what goes over the wire (the
transcripts show every element)."""
import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass, field
from typing import Optional

import rawxmpp
from rawxmpp import (NS_SASL, NS_STREAM, ScramClient, XmppTestError, q, tostr, unb64,
                     xml_escape)

NS_SASL2 = 'urn:xmpp:sasl:2'
NS_BIND2 = 'urn:xmpp:bind:0'
NS_FAST = 'urn:xmpp:fast:0'


def new_agent_id():
    return str(uuid.uuid4())


def sasl2_feature(c):
    return c.feature(NS_SASL2, 'authentication')


def sasl2_mechanisms(c):
    auth = sasl2_feature(c)
    if auth is None:
        return []
    return [m.text or '' for m in auth.findall(q(NS_SASL2, 'mechanism'))]


def sasl2_inline(c):
    auth = sasl2_feature(c)
    return auth.find(q(NS_SASL2, 'inline')) if auth is not None else None


def fast_mechanisms(c):
    inl = sasl2_inline(c)
    fast = inl.find(q(NS_FAST, 'fast')) if inl is not None else None
    if fast is None:
        return []
    return [m.text or '' for m in fast.findall(q(NS_FAST, 'mechanism'))]


def bind2_inline_features(c):
    inl = sasl2_inline(c)
    bind = inl.find(q(NS_BIND2, 'bind')) if inl is not None else None
    if bind is None:
        return None
    bi = bind.find(q(NS_BIND2, 'inline'))
    return [f.get('var') for f in bi.findall(q(NS_BIND2, 'feature'))] if bi is not None else []


def user_agent_xml(agent_id=None, software='StarlingTests', device='CI'):
    attrs = " id='%s'" % xml_escape(agent_id) if agent_id is not None else ''
    return "<user-agent%s><software>%s</software><device>%s</device></user-agent>" % (
        attrs, xml_escape(software), xml_escape(device))


def bind2_xml(tag=None, inner=''):
    t = '<tag>%s</tag>' % xml_escape(tag) if tag is not None else ''
    return "<bind xmlns='%s'>%s%s</bind>" % (NS_BIND2, t, inner)


def request_token_xml(mechanism):
    return "<request-token xmlns='%s' mechanism='%s'/>" % (NS_FAST, mechanism)


def authenticate_xml(mechanism, initial: Optional[bytes], extra=''):
    ir = ''
    if initial is not None:
        ir = '<initial-response>%s</initial-response>' % base64.b64encode(initial).decode()
    return "<authenticate xmlns='%s' mechanism='%s'>%s%s</authenticate>" % (
        NS_SASL2, mechanism, ir, extra)


def sasl2_condition(elem):
    for child in elem:
        if rawxmpp.ns_of(child.tag) == NS_SASL and rawxmpp.local(child.tag) != 'text':
            return rawxmpp.local(child.tag)
    return None


@dataclass
class Sasl2Result:
    ok: bool
    elem: object = None
    condition: Optional[str] = None
    text: Optional[str] = None
    additional_data: Optional[bytes] = None
    authzid: Optional[str] = None
    verified: bool = False
    server_first: Optional[str] = None
    server_first_attrs: Optional[dict] = None
    round_trips: int = 0

    def child(self, ns, name):
        return self.elem.find(q(ns, name)) if self.elem is not None else None


def _finish(c, e, res):
    """Fills `res` from the final element; on success reads the stream features that
    follow without a restart (XEP-0388 §2.6.1)."""
    res.elem = e
    if e.tag == q(NS_SASL2, 'success'):
        res.ok = True
        ad = e.find(q(NS_SASL2, 'additional-data'))
        res.additional_data = unb64(ad.text) if ad is not None else None
        az = e.find(q(NS_SASL2, 'authorization-identifier'))
        res.authzid = az.text if az is not None else None
        c.features = c.recv()
        if c.features.tag != q(NS_STREAM, 'features'):
            raise XmppTestError('expected <stream:features/> right after <success/>, got %s'
                                % tostr(c.features))
        c._scan_features()
        if res.authzid and '/' in res.authzid:
            c.jid = res.authzid
    elif e.tag == q(NS_SASL2, 'failure'):
        res.condition = sasl2_condition(e)
        t = e.find(q(NS_SASL2, 'text'))
        res.text = t.text if t is not None else None
    else:
        raise XmppTestError('unexpected SASL2 answer %s' % tostr(e))
    return res


def sasl2_scram(c, user, password, hash_name='SHA-256', cb_type=None, extra='',
                gs2_header=None, tamper_proof=False, mechanism=None):
    plus = cb_type is not None
    mech = mechanism or ('SCRAM-%s%s' % (hash_name, '-PLUS' if plus else ''))
    if gs2_header is None:
        gs2_header = 'p=%s,,' % cb_type if plus else 'n,,'
    cb = c.cb_data(cb_type) if plus else b''
    sc = ScramClient(hash_name, user, password, gs2_header=gs2_header, cb_data=cb)
    c.send(authenticate_xml(mech, sc.first(), extra))
    res = Sasl2Result(False)
    e = c.recv()
    res.round_trips = 1
    if e.tag != q(NS_SASL2, 'challenge'):
        return _finish(c, e, res)
    final = sc.final(unb64(e.text), tamper_proof=tamper_proof)
    res.server_first = sc.server_first
    res.server_first_attrs = sc.server_first_attrs
    c.send("<response xmlns='%s'>%s</response>" % (NS_SASL2, base64.b64encode(final).decode()))
    e = c.recv()
    res.round_trips = 2
    _finish(c, e, res)
    if res.ok:
        res.verified = res.additional_data is not None and sc.verify_final(res.additional_data)
    return res


def sasl2_plain(c, user, password, extra='', authzid=''):
    msg = ('%s\0%s\0%s' % (authzid, user, password)).encode()
    c.send(authenticate_xml('PLAIN', msg, extra))
    res = Sasl2Result(False, round_trips=1)
    return _finish(c, c.recv(), res)


def ht_initiator(token, cb=b''):
    return hmac.new(token.encode(), b'Initiator' + cb, hashlib.sha256).digest()


def ht_responder(token, cb=b''):
    return hmac.new(token.encode(), b'Responder' + cb, hashlib.sha256).digest()


HT_CB = {'HT-SHA-256-NONE': None, 'HT-SHA-256-EXPR': 'tls-exporter',
         'HT-SHA-256-ENDP': 'tls-server-end-point'}


def sasl2_fast(c, user, token, mechanism='HT-SHA-256-NONE', agent_id=None, count=None,
               invalidate=False, extra='', fast_element=True):
    """One-round-trip FAST authentication (XEP-0484 §3.3, draft-schmaus-kitten-sasl-ht)."""
    cb_type = HT_CB[mechanism]
    cb = c.cb_data(cb_type) if cb_type else b''
    initial = user.encode() + b'\0' + ht_initiator(token, cb)
    attrs = ''
    if count is not None:
        attrs += " count='%s'" % count
    if invalidate:
        attrs += " invalidate='true'"
    fast = "<fast xmlns='%s'%s/>" % (NS_FAST, attrs) if fast_element else ''
    ua = user_agent_xml(agent_id) if agent_id is not None else ''
    c.send(authenticate_xml(mechanism, initial, ua + fast + extra))
    res = Sasl2Result(False, round_trips=1)
    _finish(c, c.recv(), res)
    if res.ok:
        res.verified = res.additional_data == ht_responder(token, cb)
    return res


def token_of(res):
    t = res.child(NS_FAST, 'token')
    return (t.get('token'), t.get('expiry')) if t is not None else (None, None)


def connect(server, **kw):
    """A TLS stream with the post-TLS features read (SASL2 is only offered after TLS)."""
    c = server.client(**kw)
    c.connect_tls()
    return c
