"""
The uplink end to end against ejabberd (issue 14), in make stress: the
scenarios of uplink_prosody_test.py (imported, the same functions), with
Debian's ejabberd 23.01 started by ejabberdlib in a private directory on
loopback instead of Prosody.  gatewayd has an upstream to ejabberd's
ejabberd_service port, an echoing component (slixmpp's ComponentXMPP)
is behind gatewayd, a c2s user (slixmpp's ClientXMPP) is on ejabberd.

What ejabberd does differently, and how the scenarios see it:
- a stanza for a component that is not connected: ejabberd has no route
  for its domain and hands it to s2s, refused here (s2s_access none):
  the user gets auth/forbidden at once; ejabberdlib counts those as the
  bounces (its debug line "Finding connection for {HOST, DOMAIN}");
- a component gone: only its route unregistered (debug) is logged;
- ejabberd_service's global_routes (true by default) gives a component
  that authenticates the routes of every domain of its listener: with
  gatewayd's uplinks on one listener, the first up would get the others'
  stanzas.  ejabberdlib sets it false (each stream routes its own domain
  only, as with Prosody); two more scenarios check both: false, a stanza
  for BAD (never up) is ejabberd's to refuse; true, it comes up IRC's
  uplink and gatewayd answers it remote-server-not-found, delivering
  nothing to IRC's component and keeping the uplink;
- its log is written about 0.1 s late: the counts that must be zero
  sync first (ejabberdlib's sync).

Not in make check (ejabberd and Erlang are about 100 MB more to install):
make stress installs the package (STRESS_DEBS) and runs this from
regress/stress/stress.sh (full only).  Without ejabberd, or if it does
not start, it says skip, not ok.

    TOP=... /usr/bin/python3 regress/uplink/uplink_ejabberd_test.py
"""

import logging
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ejabberdlib as el  # noqa: E402
from ejabberdlib import gw  # noqa: E402
import uplink_prosody_test as up  # noqa: E402

P = 'uplink ejabberd: '


def t_other_domain(srv, d, peers):
    """global_routes false: a stanza for BAD, whose uplink is never up,
    is refused by ejabberd (its bounce), not sent up IRC's uplink."""
    user, comp = peers['user'], peers['comp']
    mark = srv.mark()
    mid = user.send_message('bot@' + up.BAD, 'for bad')
    e = user.wait_id(mid)
    gw.expect(e is not None and e.type == 'error' and
              (e.error_type, e.condition) == ('auth', 'forbidden'),
              'answer %r' % e)
    gw.expect(srv.bounce_count(up.BAD, mark) == 1, 'ejabberd bounces: %r'
              % srv.bounces(up.BAD, mark))
    gw.expect(not comp.select(lambda g: g.id == mid),
              'delivered to %s\'s component' % up.IRC)


def t_global_routes():
    """ejabberd's default global_routes (true): IRC's uplink, the only
    one up, is given BAD's route too, and gatewayd answers what comes
    for BAD on it; the uplink stays up."""
    srv = el.Ejabberd(components=[(up.IRC, gw.new_secret('irc-up')),
                                  (up.BAD, gw.new_secret('bad-up'))],
                      name='ejabberd-global', global_routes=True).start()
    d = up.gatewayd(srv, 'uplink-ejabberd-global')
    peers = []
    try:
        gw.expect(srv.wait_component(up.IRC), 'IRC\'s uplink not up')
        gw.expect(srv.wait_log(el.ROUTE_UP % up.BAD),
                  'ejabberd did not give BAD\'s route to IRC\'s uplink')
        comp = up.local(d)
        peers.append(comp)
        user = srv.client('alice')
        peers.append(user)
        mid = user.send_message('bot@' + up.BAD, 'for bad')
        e = user.wait_id(mid)
        gw.expect(e is not None and e.type == 'error' and
                  (e.error_type, e.condition) ==
                  ('cancel', 'remote-server-not-found'), 'answer %r' % e)
        gw.expect(srv.bounce_count(up.BAD) == 0, 'ejabberd answered it')
        gw.expect(not comp.select(lambda g: g.id == mid),
                  'delivered to %s\'s component' % up.IRC)
        mid = user.send_message(up.BOT, 'still up')
        g = user.wait_id(mid)
        gw.expect(g is not None and g.body == 'still up' and
                  d.log_count('uplink of %s: down' % up.IRC) == 0,
                  'IRC\'s uplink disturbed: %r' % g)
    finally:
        for p in peers:
            p.close()
        d.stop()
        srv.stop()


def t_no_problems(srv, mark):
    """ejabberd logged no error or warning but the refusals of BAD (its
    wrong secret, the test's doing)."""
    bad = srv.problems(mark, allow=(el.REFUSED % up.BAD,))
    gw.expect(not bad, '%d lines, the first: %s' % (
        len(bad), ' | '.join(b.split('\n')[0][:200] for b in bad[:3])))


def main():
    logging.basicConfig(level=logging.CRITICAL)	# before slixmpp's import
    why = el.available()
    if why:
        gw.skip(P + 'all', why)
        gw.finish()
    t0 = time.monotonic()
    srv = el.Ejabberd(components=[(up.IRC, gw.new_secret('irc-up')),
                                  (up.BAD, gw.new_secret('bad-up'))])
    try:
        srv.start()
    except gw.Fail as e:
        gw.skip(P + 'all', 'ejabberd could not be started: %s' % e)
        gw.finish()
    print('# ejabberd started in %.1f s' % srv.started_in, flush=True)
    mark = srv.start_mark
    d = up.gatewayd(srv, 'uplink-ejabberd')
    up.scenarios(P, srv, d, more=[
        ('a stanza for a domain whose uplink is down: ejabberd refuses it '
         '(global_routes false), nothing goes up another uplink',
         t_other_domain)])
    print('# ejabberd restarted in %.1f s' % srv.started_in, flush=True)
    gw.run(P + 'ejabberd logs no problem (but the wrong secret)',
           t_no_problems, srv, mark)
    rc = srv.stop()
    gw.check(P + 'ejabberd exits 0 on SIGTERM', rc != 0 and
             'exit status %r' % rc)
    gw.run(P + 'global_routes true (ejabberd\'s default): a stanza for a '
           'domain whose uplink is down comes up another, gatewayd answers '
           'it remote-server-not-found', t_global_routes)
    print('# uplink_ejabberd_test.py: %.1fs' % (time.monotonic() - t0))
    gw.finish()


if __name__ == '__main__':
    main()
