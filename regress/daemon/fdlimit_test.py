"""
The engine under a small open-files limit (64): it keeps descriptors for
itself (standard ones, its pipes, its event loop, the listeners, one to
spare), so that when connections fill the rest a newcomer is still
answered at once, instead of waiting in the listen queue while accept(2)
fails: the oldest connection still waiting for its peer makes room
(resource-constraint); none of this ends the daemon, and once the
connections are gone components get in again.  A reload that passes new
listeners while the table is full makes room for them (from connections
waiting for their peers), or, when every connection is authenticated,
waits for one to close; it never ends the engine (recvmsg(2) would drop
the descriptor).
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
import gwtest as gw  # noqa: E402
from gwtest import Fail, expect, run  # noqa: E402

IRC = 'irc.example.org'
IRC_1 = gw.new_secret('irc')
NOFILE = 64
TRIES = 100		# more connections than the limit allows


def open_many(d):
    """TRIES connections, each sending its header: accepted ones get our
    header with from, refused ones a header without from and the error.
    Returns (accepted, refused, undecided)."""
    conns = []
    accepted, refused, undecided = [], [], []
    for _ in range(TRIES):
        c = d.connect()
        c.send(c.header(IRC))
        conns.append(c)
    for c in conns:
        c.read_until(lambda: c.stream.header is not None and
                     ('from' in c.stream.header or c.eof), timeout=2)
        h = c.stream.header
        if h is not None and 'from' in h:
            accepted.append(c)
        elif h is not None and c.eof:
            refused.append(c)
        else:
            undecided.append(c)
    return accepted, refused, undecided


def test_full(d, state):
    t0 = time.monotonic()
    accepted, refused, undecided = open_many(d)
    took = time.monotonic() - t0
    state['accepted'] = accepted
    state['refused'] = refused
    if undecided:
        raise Fail('%d connections neither accepted nor refused within 2s '
                   '(%d accepted, %d refused): %s' % (
                       len(undecided), len(accepted), len(refused),
                       undecided[0].describe()))
    # Those shed after their header came get their error a little later.
    for c in accepted:
        c.read_until(lambda: c.stream.stream_errors() or c.eof, 0.05)
    shed = [c for c in accepted if c.stream.stream_errors()]
    for c in shed + refused:
        p = gw.stream_error_problems(c, 'resource-constraint', None)
        expect(not p, 'made room: %s' % p)
    # (One shed just now may not have its stream error yet: a floor.)
    open_now = len(accepted) - len(shed)
    expect(open_now > NOFILE // 2,
           '%d open at once under a limit of %d' % (open_now, NOFILE))
    expect(len(shed) + len(refused) >= TRIES - NOFILE,
           'only %d shed and %d refused' % (len(shed), len(refused)))
    expect(took < 5, 'took %.1fs' % took)


def test_no_accept_failure(d, state):
    log = d.log()
    expect('accept:' not in log, 'accept failed: %s' % [
        line for line in log.splitlines() if 'accept:' in line][:2])
    expect(d.wait_log('resource-constraint (room made for a newcomer)'),
           'shedding not logged')


def test_after(d, state):
    for c in state.get('accepted', []) + state.get('refused', []):
        c.close()
    expect(d.alive(), 'daemon died: %s' % d.log().splitlines()[-3:])
    # The daemon frees the slots when it reads the closes.
    deadline = time.monotonic() + gw.TIMEOUT
    while True:
        c = d.connect()
        c.send(c.header(IRC))
        c.read_until(lambda: c.stream.header is not None and
                     ('from' in c.stream.header or c.eof))
        if c.stream.header is not None and 'from' in c.stream.header:
            break
        c.close()
        if time.monotonic() >= deadline:
            raise Fail('still refused: %s' % c.describe())
        time.sleep(0.05)
    c.stream_id = c.stream.header['id']
    expect(c.handshake(IRC_1), 'not authenticated: %s' % c.describe())
    gw.orderly_close(c)


def listen_lines(ports):
    return ['listen on 127.0.0.1 port %d' % p for p in ports]


def reload_with(d, ports):
    d.lines += listen_lines(ports)
    d.write_config()
    d.proc.send_signal(signal.SIGHUP)


def listening(d, ports, timeout=gw.TIMEOUT):
    return all(d.wait_log('engine: listening on 127.0.0.1 port %d' % p,
                          timeout) for p in ports)


def test_reload_full(d, state):
    accepted, refused, undecided = open_many(d)
    expect(len(accepted) + len(refused) == TRIES,
           '%d undecided' % len(undecided))
    new = [p for p in gw.free_ports(6) if p != d.port][:5]
    reload_with(d, new)
    expect(listening(d, new), 'new listeners not up: %s' %
           ' | '.join(d.log().splitlines()[-4:]))
    expect(d.alive(), 'daemon died: %s' % d.log().splitlines()[-3:])
    for c in accepted + refused:
        c.close()
    for p in new:
        c = gw.Conn(p)
        c.authenticate(IRC_1, IRC)
        gw.orderly_close(c)


def test_reload_authenticated(d, state):
    comps = []
    for dom, secret in state['secrets']:
        c = d.connect()
        c.send(c.header(dom))
        c.read_until(lambda: c.stream.header is not None or c.eof, 2)
        if c.stream.header is None or 'from' not in c.stream.header:
            c.close()
            break
        c.stream_id = c.stream.header['id']
        expect(c.handshake(secret), 'not authenticated: %s' % c.describe())
        comps.append(c)
    expect(len(comps) > 10, 'only %d authenticated' % len(comps))
    start = d.log_count('parent\'s messages wait')
    new = [p for p in gw.free_ports(6) if p != d.port][:5]
    reload_with(d, new)
    expect(d.wait_log("parent's messages wait", after=start),
           'no wait logged: %s' % ' | '.join(d.log().splitlines()[-4:]))
    expect(d.alive(), 'daemon died: %s' % d.log().splitlines()[-3:])
    for c in comps[:6]:
        gw.orderly_close(c)
    expect(listening(d, new), 'new listeners not up after a close: %s' %
           ' | '.join(d.log().splitlines()[-4:]))
    expect(d.wait_log('room in the descriptor table again'), 'no room')
    for c in comps[6:]:
        c.close()


def reload_daemon(name, secrets, ports):
    d = gw.Daemon(name, secrets, [
        'max connections 1000',
        'max unauthenticated 1000 per address 1000',
    ] + listen_lines(ports),
        components=['component "%s"' % dom for dom, _ in secrets],
        nofile=NOFILE, ipv6=False)
    d.start()
    return d


def reload_tests():
    P = 'fdlimit: open-files limit %d, 11 listeners: ' % NOFILE
    try:
        d = reload_daemon('fdreload', [(IRC, IRC_1)],
                          gw.free_ports(10))
    except Fail as e:
        gw.notok(P + 'daemon starts', e)
        return
    run(P + 'a reload adding 5 listeners at a full table: they listen, '
        'the daemon lives', test_reload_full, d, {})
    gw.check_stop('fdlimit: reload at a full table', d)
    secrets = [('c%d.example.org' % i, gw.new_secret('c%d' % i))
               for i in range(NOFILE)]
    try:
        d = reload_daemon('fdreload-auth', secrets, [])
    except Fail as e:
        gw.notok(P + 'daemon starts', e)
        return
    run('fdlimit: open-files limit %d, every slot authenticated: a reload '
        'adding 5 listeners waits for a close, then they listen' % NOFILE,
        test_reload_authenticated, d, {'secrets': secrets})
    gw.check_stop('fdlimit: reload with every slot authenticated', d)


def main():
    d = gw.Daemon('fdlimit', [(IRC, IRC_1)], [
        'max connections 1000',
        'max unauthenticated 1000 per address 1000',
    ], components=['component "%s"' % IRC], nofile=NOFILE)
    try:
        d.start()
    except Fail as e:
        gw.notok('fdlimit: daemon starts', e)
        gw.finish()
    state = {}
    P = 'fdlimit: open-files limit %d: ' % NOFILE
    run(P + '%d connections: each answered at once, the oldest making '
        'room (resource-constraint), none left waiting' % TRIES,
        test_full, d, state)
    run(P + 'accept(2) never failed: the reserve held', test_no_accept_failure,
        d, state)
    run(P + 'the daemon lives on; a component gets in once they are gone',
        test_after, d, state)
    gw.check_stop('fdlimit: SIGTERM exits 0', d)
    reload_tests()
    gw.check_logs_clean('fdlimit: no secret and no digest in any log',
                        gw._daemons)
    gw.finish()


if __name__ == '__main__':
    main()
