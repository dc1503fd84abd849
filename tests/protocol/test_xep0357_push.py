"""XEP-0357 Push Notifications: enable/disable with publish options, notifications to the app
server (a local client here) when the session is hibernated (XEP-0198) or the user is offline,
the summary form, disabling on an error answer."""
import time

import pytest

from rawxmpp import q, NS_CLIENT, tostr
from im_helpers_roster import fresh_user, bare, no_stanza, close_all, error_condition
from sm_helpers import (NS_PUSH, NS_PUBSUB, NS_DATA, sm_login, drop, message, form_fields)

IQ = q(NS_CLIENT, 'iq')
PUBLISH_OPTIONS = 'http://jabber.org/protocol/pubsub#publish-options'


def enable(c, service, node='node-1', secret='s3cr3t', form=True, form_type=PUBLISH_OPTIONS):
    x = ''
    if form:
        x = ("<x xmlns='%s' type='submit'><field var='FORM_TYPE'><value>%s</value></field>"
             "<field var='secret'><value>%s</value></field></x>" % (NS_DATA, form_type, secret))
    node_attr = " node='%s'" % node if node is not None else ''
    return c.iq("<enable xmlns='%s' jid='%s'%s>%s</enable>" % (NS_PUSH, service, node_attr, x), type='set')


def disable(c, service, node=None):
    node_attr = " node='%s'" % node if node is not None else ''
    return c.iq("<disable xmlns='%s' jid='%s'%s/>" % (NS_PUSH, service, node_attr), type='set')


def is_publish(e):
    return e.tag == IQ and e.get('type') == 'set' and e.find(q(NS_PUBSUB, 'pubsub')) is not None


def wait_publish(app, timeout=10):
    return app.recv_stanza(is_publish, timeout=timeout)


def answer(app, iq, error=False):
    if error:
        app.send("<iq type='error' id='%s' to='%s'><error type='cancel'><item-not-found "
                 "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>" % (iq.get('id'), iq.get('from')))
    else:
        app.send("<iq type='result' id='%s' to='%s'/>" % (iq.get('id'), iq.get('from')))


def summary(iq):
    pubsub = iq.find(q(NS_PUBSUB, 'pubsub'))
    publish = pubsub.find(q(NS_PUBSUB, 'publish'))
    x = publish.find('%s/%s/%s' % (q(NS_PUBSUB, 'item'), q(NS_PUSH, 'notification'), q(NS_DATA, 'x')))
    assert x is not None, tostr(iq)
    opts = pubsub.find('%s/%s' % (q(NS_PUBSUB, 'publish-options'), q(NS_DATA, 'x')))
    return publish.get('node'), form_fields(x), form_fields(opts) if opts is not None else None


@pytest.fixture
def app(server):
    """The test app server: a local account's client that receives the publish IQs."""
    name = fresh_user(server, 'app')
    c = server.login(name, resource='app')
    c.service = '%s/app' % bare(server, name)
    yield c
    c.close()


def test_xep0357_account_feature(server):
    c = server.login('alice', resource='push-disco')
    r = c.iq("<query xmlns='http://jabber.org/protocol/disco#info'/>", to='alice@%s' % server.domain)
    features = [f.get('var') for f in r.iter('{http://jabber.org/protocol/disco#info}feature')]
    assert NS_PUSH in features, tostr(r)
    c.close()


def test_xep0357_enable_validation(server, app):
    c = server.login('alice', resource='push-bad')
    r = enable(c, app.service, node=None)
    assert r.get('type') == 'error' and error_condition(r) == 'bad-request', tostr(r)
    r = enable(c, app.service, form_type='urn:example:other')
    assert r.get('type') == 'error' and error_condition(r) == 'bad-request', tostr(r)
    r = c.iq("<enable xmlns='%s' jid='%s' node='n'/>" % (NS_PUSH, app.service), type='get')
    assert r.get('type') == 'error' and error_condition(r) == 'bad-request', tostr(r)
    c.close()


def test_xep0357_notification_when_hibernated(server, app):
    un = fresh_user(server, 'ph')
    U = bare(server, un)
    sm, _ = sm_login(server, un, 'phone')
    r = enable(sm.c, app.service, node='hib-node')
    assert r.get('type') == 'result', tostr(r)
    drop(sm.c)
    sender = server.login('bob', resource='push-sender')
    message(sender, U, 'secret text', 'p1')
    iq = wait_publish(app)
    assert iq.get('from') == U and iq.get('to') == app.service
    node, fields, opts = summary(iq)
    assert node == 'hib-node'
    assert fields['FORM_TYPE'] == ['urn:xmpp:push:summary']
    assert fields['message-count'] == ['1']
    assert fields['last-message-sender'] == ['bob@%s/push-sender' % server.domain]
    assert 'last-message-body' not in fields  # [push] include_body is off by default
    assert opts['secret'] == ['s3cr3t'] and opts['FORM_TYPE'] == [PUBLISH_OPTIONS]
    answer(app, iq)
    close_all(sender)


def test_xep0357_notification_when_offline_and_disable_on_error(server, app):
    un = fresh_user(server, 'po')
    U = bare(server, un)
    c = server.login(un, resource='setup')
    assert enable(c, app.service, node='off-node').get('type') == 'result'
    c.end_stream()
    c.close()
    sender = server.login('bob', resource='push-sender2')
    message(sender, U, 'one', 'o1')
    iq = wait_publish(app)
    _, fields, _ = summary(iq)
    assert fields['message-count'] == ['1']
    answer(app, iq)
    message(sender, U, 'two', 'o2')
    iq = wait_publish(app)
    assert summary(iq)[1]['message-count'] == ['2']
    # The app server refuses: the registration is dropped, no more notifications.
    answer(app, iq, error=True)
    sender.iq("<ping xmlns='urn:xmpp:ping'/>", to=server.domain)
    time.sleep(0.3)  # the removal runs after the error answer arrives
    message(sender, U, 'three', 'o3')
    no_stanza(app, is_publish, timeout=1.0)
    close_all(sender)


def test_xep0357_disable(server, app):
    un = fresh_user(server, 'pd')
    U = bare(server, un)
    c = server.login(un, resource='setup')
    assert enable(c, app.service, node='a').get('type') == 'result'
    assert enable(c, app.service, node='b').get('type') == 'result'
    assert disable(c, app.service, node='a').get('type') == 'result'
    c.end_stream()
    c.close()
    sender = server.login('bob', resource='push-sender3')
    message(sender, U, 'x', 'd1')
    iq = wait_publish(app)
    assert summary(iq)[0] == 'b'
    answer(app, iq)
    no_stanza(app, is_publish, timeout=0.5)  # only node b was left
    c = server.login(un, resource='setup2')
    assert disable(c, app.service).get('type') == 'result'  # every node of that service
    c.end_stream()
    c.close()
    message(sender, U, 'y', 'd2')
    no_stanza(app, is_publish, timeout=1.0)
    close_all(sender)


def test_xep0357_include_body(server_factory):
    s = server_factory.start('push-body', overrides={'push': {'include_body': True}})
    app = s.login('erin', resource='app')
    c = s.login('alice', resource='setup')
    assert enable(c, 'erin@%s/app' % s.domain, node='body').get('type') == 'result'
    c.end_stream()
    c.close()
    sender = s.login('bob', resource='b')
    message(sender, 'alice@%s' % s.domain, 'Wherefore art thou?', 'b1')
    iq = wait_publish(app)
    assert summary(iq)[1]['last-message-body'] == ['Wherefore art thou?']
    answer(app, iq)
    close_all(sender, app)
