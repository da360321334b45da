"""
The harness of the uplink tests, proved without gatewayd: a private
Prosody (prosodylib) on loopback, a component connected to it directly
(slixmpp's ComponentXMPP, echoing), a c2s user (slixmpp's ClientXMPP,
PLAIN without TLS).  Messages and an iq go through in order and come
back; with the component gone, the user gets an error and Prosody logs
the bounce; after a restart of Prosody the component and the user
connect again.
"""

import logging
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prosodylib as pl  # noqa: E402
from prosodylib import gw  # noqa: E402
from gwtest import expect, run  # noqa: E402

P = 'prosody '
ECHO = 'echo.example.test'
BOT = 'bot@' + ECHO
N = 20


def test_start(srv):
    srv.start()
    if not os.path.exists('/proc/net/tcp'):
        return		# no /proc (OpenBSD): the ports answered, enough
    want = sorted([('127.0.0.1', srv.c2s_port),
                   ('127.0.0.1', srv.component_port)])
    got = srv.listening()
    expect(got == want, 'listening on %r, expected only %r' % (got, want))


def test_component(srv, peers):
    mark = srv.mark()
    peers['comp'] = srv.component(ECHO, echo=True)
    expect(srv.wait_component(ECHO, mark), 'Prosody did not log %r for %s'
           % (pl.UP, ECHO))


def test_client(srv, peers):
    c = srv.client('alice')
    peers['user'] = c
    expect(c.jid.startswith(srv.jid('alice') + '/'), 'bound JID %r' % c.jid)
    expect(srv.wait_log('Authenticated as %s' % srv.jid('alice')),
           'no authentication in the log')


def test_messages(srv, peers):
    user, comp = peers['user'], peers['comp']
    ids = [user.send_message(BOT if i % 2 else ECHO, 'hello %d <&>' % i)
           for i in range(N)]
    came = comp.expect(lambda g: g.id in ids, N, kind='message',
                       what='messages at the component')
    expect([g.id for g in came] == ids, 'component got them out of order: '
           '%r' % [g.id for g in came])
    for i, g in enumerate(came):
        expect(g.body == 'hello %d <&>' % i, 'body %r' % g.body)
        expect(g.frm == user.jid, 'from %r, expected %r' % (g.frm, user.jid))
        expect(g.to == (BOT if i % 2 else ECHO), 'to %r' % g.to)
        expect(g.type == 'chat', 'type %r' % g.type)
    back = user.expect(lambda g: g.id in ids, N, kind='message',
                       what='echoes')
    expect([g.id for g in back] == ids, 'echoes out of order: %r' %
           [g.id for g in back])
    for i, g in enumerate(back):
        expect(g.body == 'hello %d <&>' % i and g.type == 'chat',
               'echo %r' % g)
        expect(g.frm == (BOT if i % 2 else ECHO), 'echo from %r' % g.frm)


def test_iq(srv, peers):
    user, comp = peers['user'], peers['comp']
    iid = user.send_iq(ECHO)
    g = comp.wait_id(iid)
    expect(g is not None and g.kind == 'iq' and g.type == 'get',
           'no iq get at the component: %s' % comp.describe())
    expect('{%s}ping' % pl.NS_PING in g.children, 'payload %r' % g.children)
    r = user.wait_id(iid)
    expect(r is not None, 'no answer to the iq: %s' % user.describe())
    expect(r.kind == 'iq' and r.type == 'result' and r.frm == ECHO,
           'answer %r' % r)


def test_bounce(srv, peers):
    user, comp = peers['user'], peers['comp']
    mark = srv.mark()
    expect(comp.disconnect(), 'component stream did not end in time')
    comp.close()
    expect(srv.wait_component_gone(ECHO, mark),
           'Prosody did not log the component gone')
    mid = user.send_message(BOT, 'anyone?')
    e = user.wait_id(mid)
    expect(e is not None, 'no error for a message to an absent component: '
           '%s' % user.describe())
    expect(e.kind == 'message' and e.type == 'error', 'answer %r' % e)
    expect((e.error_type, e.condition) == ('wait', 'remote-server-timeout'),
           'error %s/%s, expected wait/remote-server-timeout' %
           (e.error_type, e.condition))
    iid = user.send_iq(ECHO)
    e = user.wait_id(iid)
    expect(e is not None and e.type == 'error' and
           e.condition == 'remote-server-timeout', 'iq answer %r' % e)
    expect(srv.wait_bounces(2, ECHO, mark), 'bounces logged: %r' %
           srv.bounces(since=mark))
    lines = srv.bounces(ECHO, mark)
    expect(len(lines) == 2, '%d bounce lines, expected 2' % len(lines))
    expect("id='%s'" % mid in lines[0] and "id='%s'" % iid in lines[1],
           'bounce lines %r' % lines)


def test_restart(srv, peers):
    user = peers['user']
    before = (srv.c2s_port, srv.component_port)
    mark = srv.mark()
    t0 = time.monotonic()
    srv.restart()
    took = time.monotonic() - t0
    expect((srv.c2s_port, srv.component_port) == before, 'ports changed')
    expect(user.wait_gone(), 'the user was not disconnected by the restart')
    expect(srv.log_count('Received SIGTERM', mark) >= 1,
           'no SIGTERM in the log')
    user.close()
    comp = srv.component(ECHO, echo=True)
    peers['comp'] = comp
    expect(srv.wait_component(ECHO, mark), 'component not back')
    user = srv.client('alice')	# the account survived in data/
    peers['user'] = user
    mid = user.send_message(BOT, 'again')
    g = user.wait_id(mid)
    expect(g is not None and g.type == 'chat' and g.body == 'again',
           'after the restart: %s' % user.describe())
    expect(srv.bounce_count(ECHO, mark) == 0, 'bounces after the restart')
    print('# restart took %.2fs' % took, flush=True)


def test_conflict(srv, peers):
    # A second stream for a connected component: Prosody's default
    # (kick_new) refuses it with a conflict stream error.
    try:
        c = srv.component(ECHO)
    except gw.Fail as e:
        expect('conflict' in str(e), 'refused, but not conflict: %s' % e)
        return
    c.close()
    raise gw.Fail('a second component stream for %s was accepted' % ECHO)


def test_stop(srv, peers):
    for p in peers.values():
        p.disconnect()
        p.close()
    rc = srv.stop()
    expect(rc == 0, 'exit status %r' % rc)
    expect(not os.path.exists(srv.pidpath), 'pid file left')
    bad = srv.problems(allow=['Second component attempted to connect'])
    expect(not bad, 'Prosody logged: %s' % ' | '.join(bad[:4]))


def main():
    logging.basicConfig(level=logging.CRITICAL)	# before slixmpp's import
    why = pl.available()
    if why:
        gw.skip(P + 'harness', why)
        gw.finish()
    t0 = time.monotonic()
    srv = pl.Prosody(components=[(ECHO, gw.new_secret('echo'))])
    peers = {}
    if not run(P + 'starts, listening on 127.0.0.1 c2s and component ports '
               'only', test_start, srv):
        gw.finish()
    ok = run(P + 'component %s connects (ComponentXMPP)' % ECHO,
             test_component, srv, peers)
    ok = run(P + 'c2s user logs in, PLAIN without TLS (ClientXMPP)',
             test_client, srv, peers) and ok
    if ok:
        run(P + '%d messages from the user reach the component in order, '
            'and the echoes come back in order' % N, test_messages, srv,
            peers)
        run(P + 'an iq from the user reaches the component, its result '
            'comes back', test_iq, srv, peers)
        run(P + 'a second stream for the component: conflict',
            test_conflict, srv, peers)
        run(P + 'component gone: message and iq answered '
            'wait/remote-server-timeout, both bounces logged', test_bounce,
            srv, peers)
        run(P + 'restart on the same ports: component and user connect '
            'again, traffic resumes', test_restart, srv, peers)
    run(P + 'stops on SIGTERM with status 0, no error in its log', test_stop,
        srv, peers)
    print('# %d Prosody starts, %.1fs in all' % (srv.starts,
                                                 time.monotonic() - t0),
          flush=True)
    gw.finish()


if __name__ == '__main__':
    main()
