"""
Stress 6: 10,000 authenticated idle components (1,000 short), each
configured with its own secret, connected from one asyncio client.
Figures: the time to connect them all; after 10 s idle (streams that
rest 5 s give up their parsers) the PSS of each process and of the
whole tree, per component (what the tree grew by since it started with
the same configuration and no connection, divided by the components).
Asserted: a bound on the tree's PSS per component; every component is
still connected at the end, having received nothing but its handshake;
one of them exchanges a stanza with another.
"""

import asyncio
import os
import sys
import time

sys.dont_write_bytecode = True	# no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stresslib as st  # noqa: E402
from stresslib import gw, expect  # noqa: E402

# Authenticated idle components (full, short).
COMPONENTS = st.pick(10000, 1000)
# Seconds idle before the figures (streams rest after 5).
IDLE = 10
# Handshakes under way at once.  One at a time, the engine's heap holds
# each resting stream and little else: 8.0-8.3 KB a component at 10,000
# (8.5 at 1,000).  With 200 at once, the parsers they drop when they
# rest leave holes among the streams, which the heap keeps: 10.0 KB.
IN_FLIGHT = 1
# Seconds for one to authenticate.
CONNECT_TIMEOUT = 20
# Bound: the whole tree's PSS growth a component (measured 8.3 KB, 8.5
# short); 11 leaves 30% and fails streams that keep their parsers (11.4
# KB at the peak, before they rest).
PSS_PER_COMPONENT_MAX_KB = 11

P = 'stress: idle: '
NAMES = ['c%d.stress' % i for i in range(COMPONENTS)]
SECRETS = {n: gw.new_secret(n.split('.')[0]) for n in NAMES}


async def connect_all(d, conns, res):
    sem = asyncio.Semaphore(IN_FLIGHT)

    async def one(name):
        async with sem:
            try:
                c = await st.AConn.open(d.port, timeout=CONNECT_TIMEOUT)
            except (OSError, asyncio.TimeoutError) as e:
                res['problems'].append('%s: connect: %r' % (name, e))
                return
            if not await c.authenticate(name, SECRETS[name],
                                        CONNECT_TIMEOUT):
                res['problems'].append('%s: not authenticated: %s' % (
                    name, c.describe()))
                c.close()
                return
            conns[name] = c
    await asyncio.gather(*(one(n) for n in NAMES))


async def scenario(d, state):
    conns = {}
    res = {'problems': []}
    t0 = time.monotonic()
    await connect_all(d, conns, res)
    took = time.monotonic() - t0
    state['took'] = took
    st.figure('%d components connected and authenticated in %.1f s '
              '(%.0f a second), %d in flight at most', len(conns), took,
              len(conns) / took, IN_FLIGHT)
    expect(not res['problems'], '%d not connected: %s' % (
        len(res['problems']), '; '.join(res['problems'][:3])))
    # Idle: each keeps reading, so that what it gets is seen.
    received = {n: c.received for n, c in conns.items()}
    watchers = [asyncio.ensure_future(c.read_to_eof(3600))
                for c in conns.values()]
    await asyncio.sleep(IDLE)
    state['idle'] = st.costs(d, 'after %d s idle with %d components' % (
        IDLE, len(conns)))
    gone = [n for n, c in conns.items() if c.eof]
    talk = [n for n, c in conns.items()
            if c.received != received[n] and n not in gone]
    state['connected'] = len(conns) - len(gone)
    expect(not gone, '%d disconnected, such as %s: %s' % (
        len(gone), gone[:1], gone and conns[gone[0]].describe()))
    expect(not talk, '%d were sent something while idle, such as %s' % (
        len(talk), talk[:1]))
    # One of them sends another a stanza.
    a, b = conns[NAMES[0]], conns[NAMES[-1]]
    n = len(st.stanzas(b.stream))
    await a.send(st.message(NAMES[0], NAMES[-1], 'idle', 'awake'))
    deadline = time.monotonic() + gw.TIMEOUT
    while len(st.stanzas(b.stream)) <= n and not b.eof and \
            time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    got = st.stanzas(b.stream)[n:]
    expect(got and got[0].get('id') == 'idle' and
           got[0].get('from') == NAMES[0],
           'the stanza did not come: %s' % b.describe())
    for w in watchers:
        w.cancel()
    await asyncio.gather(*watchers, return_exceptions=True)
    for c in conns.values():
        c.close()


def t_idle(d, state):
    asyncio.run(scenario(d, state))


def main():
    hard = st.raise_nofile()
    if hard < COMPONENTS + 100:
        gw.skip(P + '%d idle components' % COMPONENTS, 'a hard limit of %d '
                'descriptors is too small' % hard)
        st.done('idle')
    d = gw.Daemon('idle', list(SECRETS.items()), [
        'max connections %d' % (COMPONENTS + 100),
        'max unauthenticated %d per address %d' % (
            max(128, 2 * IN_FLIGHT), max(16, 2 * IN_FLIGHT)),
    ], ['component "%s"' % n for n in NAMES], ipv6=False)
    try:
        d.start(timeout=30)
    except gw.Fail as e:
        gw.notok(P + 'daemon starts', e)
        st.done('idle')
    base = st.costs(d, 'before, with %d components configured' % COMPONENTS)
    state = {}
    gw.run(P + '%d components authenticate, idle %d s: all still connected, '
           'one exchanges a stanza' % (COMPONENTS, IDLE), t_idle, d, state)
    idle = state.get('idle')
    per = {}
    if idle:
        for role in st.ROLES:
            b, a = base[role]['pss'], idle[role]['pss']
            per[role] = None if a is None or b is None else \
                (a - b) * 1024.0 / COMPONENTS
        tree = None if None in per.values() else sum(per.values())
        st.figure('PSS per component: %s; whole tree %s', ', '.join(
            '%s %s' % (r, '-' if per[r] is None else '%.2f KB' % (
                per[r] / 1024.0)) for r in st.ROLES),
            '-' if tree is None else '%.2f KB' % (tree / 1024.0))
        if tree is None:
            gw.skip(P + 'PSS per component', 'smaps_rollup cannot be read '
                    '(no process of gatewayd is dumpable; root can read it)')
        else:
            st.memory_check(P + 'the whole tree\'s PSS grows at most %d KB '
                            'a component' % PSS_PER_COMPONENT_MAX_KB,
                            tree / 1024.0, PSS_PER_COMPONENT_MAX_KB,
                            'the tree\'s PSS a component', 'KB')
    gw.check(P + 'the daemon lives', None if d.alive() else
             'daemon died: %s' % d.log().splitlines()[-3:])
    t = time.monotonic()
    gw.check_stop(P.rstrip(': '), d)
    st.figure('stopped in %.1f s', time.monotonic() - t)
    t = time.monotonic()
    gw.check_logs_clean(P + 'no secret and no digest in the log', [d])
    st.figure('log checked in %.1f s (%d bytes)', time.monotonic() - t,
              len(d.log()))
    st.done('idle')


if __name__ == '__main__':
    main()
