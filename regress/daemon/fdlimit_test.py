"""
The engine under a small open-files limit (64): it keeps descriptors for
itself (standard ones, its pipes, its event loop, the listeners, one to
spare), so that when connections fill the rest a newcomer is still
answered at once, instead of waiting in the listen queue while accept(2)
fails: the oldest connection still waiting for its peer makes room
(resource-constraint); none of this ends the daemon, and once the
connections are gone components get in again.
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
    gw.check_logs_clean('fdlimit: no secret and no digest in any log', [d])
    gw.finish()


if __name__ == '__main__':
    main()
