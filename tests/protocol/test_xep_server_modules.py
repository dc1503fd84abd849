"""Server-side modules: XEP-0030 (service discovery), XEP-0199 (ping), XEP-0092 (software
version), XEP-0202 (entity time)."""
import datetime
import re

import pytest

from rawxmpp import (NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING, NS_TIME, NS_VERSION, q,
                     stanza_error, tostr)


@pytest.fixture(scope='module')
def c(server):
    cl = server.login('alice', resource='modules')
    yield cl
    cl.close()


def test_xep0030_disco_info_server(c):
    r = c.iq("<query xmlns='%s'/>" % NS_DISCO_INFO, to='localhost')
    assert r.get('type') == 'result', tostr(r)
    assert r.get('from') == 'localhost', tostr(r)
    query = r.find(q(NS_DISCO_INFO, 'query'))
    assert query is not None, tostr(r)
    ids = [(i.get('category'), i.get('type')) for i in query.findall(q(NS_DISCO_INFO, 'identity'))]
    assert ('server', 'im') in ids, ids
    features = [f.get('var') for f in query.findall(q(NS_DISCO_INFO, 'feature'))]
    for ns in (NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING, NS_VERSION, NS_TIME, 'jabber:iq:register'):
        assert ns in features, '%s missing from %s' % (ns, features)
    assert len(features) == len(set(features)), 'duplicate features: %s' % features


def test_xep0030_disco_info_unknown_node(c):
    r = c.iq("<query xmlns='%s' node='urn:example:no-such-node'/>" % NS_DISCO_INFO, to='localhost')
    assert r.get('type') == 'error', tostr(r)
    assert stanza_error(r)[1] == 'item-not-found', tostr(r)


def test_xep0030_disco_items_server(c):
    r = c.iq("<query xmlns='%s'/>" % NS_DISCO_ITEMS, to='localhost')
    assert r.get('type') == 'result', tostr(r)
    query = r.find(q(NS_DISCO_ITEMS, 'query'))
    assert query is not None, tostr(r)
    for item in query:
        assert item.tag == q(NS_DISCO_ITEMS, 'item') and item.get('jid'), tostr(r)


def test_xep0030_disco_set_is_error(c):
    """disco queries are IQ-get only; an IQ-set must be answered with an error (RFC 6120
    §8.2.3: every IQ-set gets a result or an error)."""
    r = c.iq("<query xmlns='%s'/>" % NS_DISCO_INFO, type='set', to='localhost')
    assert r.get('type') == 'error', tostr(r)
    assert stanza_error(r)[1], tostr(r)


def test_xep0199_ping_server(c):
    r = c.iq("<ping xmlns='%s'/>" % NS_PING, to='localhost')
    assert r.get('type') == 'result', tostr(r)
    assert len(r) == 0, 'ping result must be empty: %s' % tostr(r)


def test_xep0092_version(c):
    r = c.iq("<query xmlns='%s'/>" % NS_VERSION, to='localhost')
    assert r.get('type') == 'result', tostr(r)
    query = r.find(q(NS_VERSION, 'query'))
    assert query is not None, tostr(r)
    assert query.findtext(q(NS_VERSION, 'name')) == 'Starling', tostr(r)
    version = query.findtext(q(NS_VERSION, 'version'))
    assert version and re.match(r'^\d+\.\d+', version), tostr(r)
    # version_show_os defaults to false (RFC 6120 §13.13 information leaks)
    assert query.find(q(NS_VERSION, 'os')) is None, tostr(r)


def test_xep0202_entity_time(c):
    r = c.iq("<time xmlns='%s'/>" % NS_TIME, to='localhost')
    assert r.get('type') == 'result', tostr(r)
    t = r.find(q(NS_TIME, 'time'))
    assert t is not None, tostr(r)
    tzo = t.findtext(q(NS_TIME, 'tzo'))
    utc = t.findtext(q(NS_TIME, 'utc'))
    # XEP-0082: TZD is "Z" or [+-]hh:mm; utc is CCYY-MM-DDThh:mm:ss[.sss]Z
    assert tzo and re.fullmatch(r'Z|[+-]\d{2}:\d{2}', tzo), tostr(r)
    m = re.fullmatch(r'(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?Z', utc or '')
    assert m, 'utc not in XEP-0082 format: %r' % utc
    server_now = datetime.datetime.strptime(m.group(1), '%Y-%m-%dT%H:%M:%S').replace(
        tzinfo=datetime.timezone.utc)
    delta = abs((datetime.datetime.now(datetime.timezone.utc) - server_now).total_seconds())
    assert delta < 60, 'server UTC time off by %ss' % delta
