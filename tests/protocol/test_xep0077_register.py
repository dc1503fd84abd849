"""XEP-0077: In-Band Registration (register, conflict, missing fields, password change,
cancellation, disabled hosts, per-IP throttling)."""
import itertools
import os

import pytest

from rawxmpp import NS_CLIENT, NS_FEATURE_REGISTER, NS_IQ_REGISTER, q, stanza_error, tostr

_n = itertools.count(1)


def uniq(prefix='reg'):
    return '%s%d-%s' % (prefix, next(_n), os.urandom(3).hex())


def reg_query(inner=''):
    return "<query xmlns='%s'>%s</query>" % (NS_IQ_REGISTER, inner)


def register(c, user, password, to=None):
    return c.iq(reg_query('<username>%s</username><password>%s</password>' % (user, password)),
                type='set', to=to)


def login_result(server, user, password, host='localhost'):
    """None on success, else the SASL failure condition."""
    c = server.client()
    c.connect_tls(to=host)
    r = c.auth_scram(user, password, 'SHA-256')
    c.close()
    return None if r.ok else r.condition


def assert_err(r, type_, cond, code):
    err = stanza_error(r)
    assert r.get('type') == 'error' and err, tostr(r)
    assert (err[0], err[1], err[2]) == (type_, cond, code), \
        'expected %s/%s/code=%s, got %s' % (type_, cond, code, tostr(r))


def test_xep0077_3_1_get_fields(server):
    c = server.client()
    c.connect_tls()
    r = c.iq(reg_query())
    assert r.get('type') == 'result', tostr(r)
    query = r.find(q(NS_IQ_REGISTER, 'query'))
    assert query is not None, tostr(r)
    assert query.find(q(NS_IQ_REGISTER, 'instructions')) is not None, tostr(r)
    assert query.find(q(NS_IQ_REGISTER, 'username')) is not None, tostr(r)
    assert query.find(q(NS_IQ_REGISTER, 'password')) is not None, tostr(r)
    assert query.find(q(NS_IQ_REGISTER, 'registered')) is None, tostr(r)


def test_xep0077_3_1_register_then_login(server):
    user = uniq()
    c = server.client()
    c.connect_tls()
    r = register(c, user, 'pw-%s' % user)
    assert r.get('type') == 'result', tostr(r)
    # Registration leaves the stream unauthenticated; log in on the same stream.
    c.authenticate(user, 'pw-%s' % user)
    c.open()
    assert c.bind('r') == '%s@localhost/r' % user
    assert login_result(server, user, 'pw-%s' % user) is None


def test_xep0077_3_1_conflict(server):
    c = server.client()
    c.connect_tls()
    r = register(c, 'alice', 'another-password')
    assert_err(r, 'cancel', 'conflict', '409')
    # The existing account keeps its password.
    assert login_result(server, 'alice', server.password) is None


@pytest.mark.parametrize('inner', ['<username>%(u)s</username>',
                                   '<password>pw</password>',
                                   '<username>%(u)s</username><password/>'],
                         ids=['no-password', 'no-username', 'empty-password'])
def test_xep0077_3_1_not_acceptable_missing_fields(server, inner):
    user = uniq()
    c = server.client()
    c.connect_tls()
    r = c.iq(reg_query(inner % {'u': user}), type='set')
    assert_err(r, 'modify', 'not-acceptable', '406')
    assert login_result(server, user, 'pw') == 'not-authorized'


def test_xep0077_3_3_change_password(server):
    user = uniq()
    c = server.client()
    c.connect_tls()
    assert register(c, user, 'old-pw').get('type') == 'result'
    c.close()
    c = server.login(user, 'old-pw', resource='pw')
    r = c.iq(reg_query('<username>%s</username><password>new-pw</password>' % user),
             type='set', to='localhost')
    assert r.get('type') == 'result', tostr(r)
    assert login_result(server, user, 'new-pw') is None
    assert login_result(server, user, 'old-pw') == 'not-authorized'


def test_xep0077_3_3_empty_password_keeps_old(server):
    user = uniq()
    c = server.client()
    c.connect_tls()
    assert register(c, user, 'keep-pw').get('type') == 'result'
    c.close()
    c = server.login(user, 'keep-pw', resource='pw')
    r = c.iq(reg_query('<username>%s</username><password/>' % user), type='set', to='localhost')
    assert r.get('type') == 'error', 'an empty password must not be set: %s' % tostr(r)
    assert login_result(server, user, 'keep-pw') is None


def test_xep0077_3_3_change_other_users_password_refused(server):
    user = uniq()
    c = server.client()
    c.connect_tls()
    assert register(c, user, 'pw-one').get('type') == 'result'
    c.close()
    c = server.login(user, 'pw-one', resource='x')
    r = c.iq(reg_query('<username>bob</username><password>hijacked</password>'), type='set',
             to='localhost')
    assert r.get('type') == 'error', tostr(r)
    assert login_result(server, 'bob', server.password) is None
    assert login_result(server, 'bob', 'hijacked') == 'not-authorized'


def test_xep0077_3_2_cancel_registration(server):
    user = uniq()
    c = server.client()
    c.connect_tls()
    assert register(c, user, 'bye-pw').get('type') == 'result'
    c.close()
    other = server.login(user, 'bye-pw', resource='other')
    c = server.login(user, 'bye-pw', resource='main')
    r = c.iq(reg_query('<remove/>'), type='set')
    assert r.get('type') == 'result', tostr(r)
    # §3.2: the server SHOULD send <not-authorized/> and terminate all sessions of the account.
    cond = other.expect_stream_error()
    assert cond == 'not-authorized', tostr(other.last_stream_error)
    cond = c.expect_stream_error()
    assert cond == 'not-authorized', tostr(c.last_stream_error)
    assert login_result(server, user, 'bye-pw') == 'not-authorized'


def test_xep0077_registration_disabled_host(server_factory):
    srv = server_factory.start('noreg', {'host': [{'name': 'localhost', 'registration': False}]})
    c = srv.client()
    c.connect_tls()
    assert c.feature(NS_FEATURE_REGISTER, 'register') is None, \
        'register feature advertised on a host without registration: %s' % tostr(c.features)
    r = c.iq(reg_query())
    assert r.get('type') == 'error', tostr(r)
    # §3.1: "If the host does not support In-Band Registration, it MUST return a
    # <service-unavailable/> error."
    assert_err(r, 'cancel', 'service-unavailable', '503')
    r = register(c, uniq(), 'pw-long-enough')
    assert_err(r, 'cancel', 'service-unavailable', '503')


# XEP-0086 mapping of the conditions a throttled registration may use.
THROTTLE_CONDITIONS = {
    'not-acceptable': ('406', {'modify', 'wait'}),     # XEP-0077 §3.1.1 "too many times"
    'resource-constraint': ('500', {'wait'}),
    'policy-violation': (None, {'modify', 'wait'}),
}


def test_xep0077_3_1_1_throttle_per_ip(server_factory):
    srv = server_factory.start('regthrottle', {'registration': {'min_interval_per_ip': 600}})
    first, second = uniq('t'), uniq('t')
    c = srv.client()
    c.connect_tls()
    assert register(c, first, 'pw-first').get('type') == 'result'
    c.close()
    c = srv.client()
    c.connect_tls()
    r = register(c, second, 'pw-second')
    err = stanza_error(r)
    assert r.get('type') == 'error' and err, 'second registration within the interval: %s' % tostr(r)
    assert err[1] in THROTTLE_CONDITIONS, tostr(r)
    code, types = THROTTLE_CONDITIONS[err[1]]
    assert err[0] in types, tostr(r)
    if code:
        assert err[2] == code, 'legacy code (XEP-0086) for %s is %s: %s' % (err[1], code, tostr(r))
    assert login_result(srv, second, 'pw-second') == 'not-authorized'
    assert login_result(srv, first, 'pw-first') is None
