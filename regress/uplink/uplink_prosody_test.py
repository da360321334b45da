"""
The uplink end to end (issue 14): Debian's Prosody started in a private
directory on loopback, gatewayd with an upstream to Prosody's component
port, an echoing component (slixmpp's ComponentXMPP) behind gatewayd,
and a c2s user (slixmpp's ClientXMPP) on Prosody.  Messages and an iq
go through both ways; the component restarts within the grace while the
user sends and nothing is lost or bounced; gone past the grace, the user
gets an error; Prosody restarts and the uplink comes back by itself; a
wrong upstream secret is logged and retried, nothing else disturbed.

The scenarios take the server as an argument: uplink_ejabberd_test.py
(make stress) runs the same ones against ejabberd (ejabberdlib), through
scenarios(); the server's name in their names and messages is its
label, Prosody's by default.
"""

import logging
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prosodylib as pl  # noqa: E402
from prosodylib import gw  # noqa: E402
from gwtest import expect, run  # noqa: E402

P = 'uplink prosody: '
IRC = 'irc.example.test'		# behind gatewayd, echoing
BAD = 'bad.example.test'		# its upstream secret is wrong
BOT = 'bot@' + IRC
GRACE = 3


def gatewayd(srv, name, grace=GRACE):
    """gatewayd with the upstream "xmpp" to srv, for IRC and BAD."""
    up = os.path.join(gw.scratch(), name + '.upsecrets')
    fd = os.open(up, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        f.write('%s %s\n' % (IRC, srv.secret(IRC)))
        f.write('%s %s\n' % (BAD, gw.new_secret('wrong')))
    d = gw.Daemon(name, [(IRC, gw.new_secret('irc-local')),
                         (BAD, gw.new_secret('bad-local'))],
                  lines=['upstream "xmpp" {',
                         '\tconnect to 127.0.0.1 port %d' %
                         srv.component_port,
                         '\tsecrets "%s"' % up,
                         '\tgrace %d' % grace, '}'],
                  components=['component "%s" { upstream "xmpp" }' % IRC,
                              'component "%s" { upstream "xmpp" }' % BAD])
    return d.start()


def server_name(srv):
    """How the messages name srv: its label (ejabberdlib's has one)."""
    return getattr(srv, 'label', 'Prosody')


def local(d, domain=IRC, **kw):
    """A component behind gatewayd, on its port."""
    secret = dict(d.secrets)[domain]
    return pl.Component(domain, secret, d.port, echo=True, **kw).start()


def t_uplink_up(srv, d, peers):
    expect(srv.wait_component(IRC), '%s never saw %s authenticate'
           % (server_name(srv), IRC))
    expect(d.wait_log('uplink of %s: up' % IRC), 'gatewayd did not log it')
    peers['comp'] = local(d)
    peers['user'] = srv.client('alice')


def t_messages(srv, d, peers):
    user, comp = peers['user'], peers['comp']
    mark = srv.mark()
    ids = [user.send_message(BOT if i % 2 else IRC, 'hi %d <&>' % i)
           for i in range(20)]
    came = comp.expect(lambda g: g.id in ids, 20, kind='message',
                       what='messages at the component')
    expect([g.id for g in came] == ids, 'component got %r' %
           [g.id for g in came])
    expect(all(g.frm == user.jid for g in came), 'from rewritten')
    back = user.expect(lambda g: g.id in ids, 20, kind='message',
                       what='echoes')
    expect([g.id for g in back] == ids, 'echoes %r' % [g.id for g in back])
    expect(all(g.body == 'hi %d <&>' % i for i, g in enumerate(back)),
           'bodies changed')
    expect(srv.bounce_count(IRC, mark) == 0, '%s bounced some' %
           server_name(srv))


def t_iq(srv, d, peers):
    user, comp = peers['user'], peers['comp']
    iid = user.send_iq(IRC)
    expect(comp.wait_id(iid) is not None, 'no iq at the component')
    r = user.wait_id(iid)
    expect(r is not None and r.type == 'result' and r.frm == IRC,
           'answer %r' % r)


def t_restart_within_grace(srv, d, peers):
    """The component restarts while the user sends: all arrive, in order."""
    user, comp = peers['user'], peers['comp']
    mark = srv.mark()
    expect(comp.disconnect(), 'the component did not close')
    comp.close()
    ids = [user.send_message(BOT, 'while away %d' % i) for i in range(15)]
    expect(d.wait_log('component away, holding'), 'gatewayd held nothing')
    comp = peers['comp'] = local(d)
    ids += [user.send_message(BOT, 'after %d' % i) for i in range(5)]
    came = comp.expect(lambda g: g.id in ids, len(ids), kind='message',
                       what='messages after the restart')
    expect([g.id for g in came] == ids, 'component got %r' %
           [g.id for g in came])
    back = user.expect(lambda g: g.id in ids, len(ids), kind='message',
                       what='echoes')
    expect([g.id for g in back] == ids and
           not any(g.is_error() for g in back), 'user got %r' % back)
    expect(srv.bounce_count(since=mark) == 0, '%s bounced: %r' %
           (server_name(srv), srv.bounces(since=mark)))
    expect(not srv.wait_component_gone(IRC, mark, timeout=0.5),
           '%s saw the component go away' % server_name(srv))


def t_gone_past_grace(srv, d, peers):
    user, comp = peers['user'], peers['comp']
    expect(comp.disconnect(), 'the component did not close')
    comp.close()
    t0 = time.monotonic()
    mid = user.send_message(BOT, 'anyone?')
    e = user.wait_id(mid, timeout=GRACE + 5)
    took = time.monotonic() - t0
    expect(e is not None and e.type == 'error', 'no error: %s' %
           user.describe())
    expect((e.error_type, e.condition) == ('wait', 'remote-server-timeout'),
           'error %s/%s' % (e.error_type, e.condition))
    expect(GRACE - 1 <= took <= GRACE + 2, 'answered after %.1f s (grace '
           '%d)' % (took, GRACE))
    peers['comp'] = local(d)


def t_prosody_restart(srv, d, peers):
    ups = d.log_count('uplink of %s: up' % IRC)
    peers['user'].close()
    srv.restart()
    expect(d.wait_log('uplink of %s: up' % IRC, timeout=15, after=ups),
           'the uplink did not come back')
    user = peers['user'] = srv.client('alice')
    mid = user.send_message(BOT, 'again')
    g = user.wait_id(mid)
    expect(g is not None and g.type == 'chat' and g.body == 'again',
           'traffic did not resume: %s' % user.describe())


def t_wrong_secret(srv, d, peers):
    """BAD's upstream secret is wrong: refused, logged, retried later."""
    expect(d.wait_log('uplink of %s: connected' % BAD, after=1, timeout=10),
           'not retried')
    expect(d.log_count('stream error not-authorized') >= 1,
           'the server\'s reason is not logged')
    expect(srv.component_ups(BAD) == 0 and
           d.log_count('uplink of %s: up' % BAD) == 0, 'BAD came up')
    # IRC is not disturbed.
    user = peers['user']
    mid = user.send_message(BOT, 'still here')
    g = user.wait_id(mid)
    expect(g is not None and g.body == 'still here', 'IRC disturbed')


def scenarios(p, srv, d, more=()):
    """Every scenario, against srv (started) through d (gatewayd with
    its upstream to srv), in order, then those of more ((name, function)
    pairs, called the same way); the names prefixed with p.  Ends
    gatewayd, not srv."""
    name = server_name(srv)
    peers = {}
    if run(p + 'the uplink authenticates to %s' % name, t_uplink_up, srv,
           d, peers):
        for what, fn in (
                ('messages both ways through the uplink, in order',
                 t_messages),
                ('an iq from the user, its result back', t_iq),
                ('the component restarts within the grace while the user '
                 'sends: all arrive in order, no bounce',
                 t_restart_within_grace),
                ('gone past the grace: the user gets '
                 'wait/remote-server-timeout', t_gone_past_grace),
                ('%s restarts: the uplink comes back by itself' % name,
                 t_prosody_restart),
                ('a wrong upstream secret: refused, retried, nothing else '
                 'disturbed', t_wrong_secret)) + tuple(more):
            run(p + what, fn, srv, d, peers)
    for peer in peers.values():
        peer.close()
    run(p + 'gatewayd exits 0', lambda: expect(d.stop() == 0, 'exit status'))
    # The digests are slixmpp's and the server's to compute: secrets only.
    text = d.log()
    gw.check(p + 'no secret in the log', '; '.join(
        'secret %s in the log' % x for x in sorted(gw.SENT_SECRETS)
        if x in text) or (not gw.SENT_SECRETS and 'no secrets sent'))


def main():
    logging.basicConfig(level=logging.CRITICAL)	# before slixmpp's import
    why = pl.available()
    if why:
        gw.skip(P + 'all', why)
        gw.finish()
    t0 = time.monotonic()
    srv = pl.Prosody(components=[(IRC, gw.new_secret('irc-up')),
                                 (BAD, gw.new_secret('bad-up'))]).start()
    d = gatewayd(srv, 'uplink-prosody')
    scenarios(P, srv, d)
    srv.stop()
    print('# uplink_prosody_test.py: %.1fs' % (time.monotonic() - t0))
    gw.finish()


if __name__ == '__main__':
    main()
