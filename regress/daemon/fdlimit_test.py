"""
The engine under a small open-files limit (64): it keeps descriptors for
itself (standard ones, its pipes, its event loop, the listeners, one to
refuse with), so that when connections fill the rest a newcomer still
gets resource-constraint at once, instead of waiting in the listen
queue while accept(2) fails; none of the failures ends the daemon, and
once the connections are gone components get in again.
"""

import os
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
    expect(refused, 'none of %d refused under an open-files limit of %d' %
           (TRIES, NOFILE))
    expect(NOFILE // 2 < len(accepted) < NOFILE,
           '%d accepted under a limit of %d' % (len(accepted), NOFILE))
    for c in refused:
        p = gw.stream_error_problems(c, 'resource-constraint', False)
        expect(not p, 'refused: %s' % p)
    expect(took < 5, 'took %.1fs' % took)


def test_no_accept_failure(d, state):
    log = d.log()
    expect('accept:' not in log, 'accept failed: %s' % [
        line for line in log.splitlines() if 'accept:' in line][:2])
    expect(d.wait_log('connection from 127.0.0.1 refused: '
                      'resource-constraint'), 'refusal not logged')


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
    run(P + '%d connections: each accepted or refused with '
        'resource-constraint at once, none left waiting' % TRIES,
        test_full, d, state)
    run(P + 'accept(2) never failed: the reserve held', test_no_accept_failure,
        d, state)
    run(P + 'the daemon lives on; a component gets in once they are gone',
        test_after, d, state)
    gw.check_stop('fdlimit: SIGTERM exits 0', d)
    gw.check_logs_clean('fdlimit: no secret and no digest in any log', [d])
    gw.finish()


if __name__ == '__main__':
    main()
