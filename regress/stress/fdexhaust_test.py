"""
Stress 5: descriptor exhaustion at the default limit.  The daemon runs
with its open-files limit at the hard limit (20,000 here; 2,000 short)
and limits on connections far above it, so that descriptors are what
runs out; clients in several processes (each under the same limit) open
more connections than fit (25,000; 3,000 short) from 127.0.0.2-9, each
sending its header, and hold them all.  Every one is answered within a
few seconds: accepted (our header, with from) or refused with a stream
error; once the table is full, each newcomer makes room by ending the
oldest connection waiting for its peer (resource-constraint), so the
table stays full; accept(2) never fails ("accept:" in the log); the
daemon lives, and a component gets in once they are gone.  A second
flood reuses the memory of the first.  The case of a low limit with
many listeners is regress/daemon/fdlimit.sh's.
"""

import asyncio
import collections
import multiprocessing
import os
import resource
import signal
import sys
import time

sys.dont_write_bytecode = True	# no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stresslib as st  # noqa: E402
from stresslib import gw, expect  # noqa: E402

# Our hard limit on open files (20,000 here).
HARD = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
# The daemon's open-files limit (full: the hard limit; short).
NOFILE = st.pick(HARD, 2000)
# Connections in all, more than fit (full, short).
CONNS = st.pick(25000, 3000)
# Client processes, each under the same hard limit.
WORKERS = 2
# Unanswered connections a worker has at once (the listen backlog: 128).
IN_FLIGHT = 50
# Bound: seconds from connect to the answer, each (measured: 0.95 s).
ANSWER_WITHIN = 5
# Descriptors the engine keeps for itself (11 and 1 per listener).
RESERVE = 12
# Bound: the share of the table found open at once, at least.
FULL_SHARE = 0.95
# Floods, one after the other.
ROUNDS = 2
# Bound: engine RSS a connection at a full table, each with a parser
# that has read a header (measured 14.4 KB: its arena 12 KiB; 18.6 KB
# before the arenas took the first page with room).
KB_PER_CONN_MAX = 17
# Bound: a later flood's engine RSS over the first one's (measured 0.1 MB).
REUSE_SLACK_MB = 8

P = 'stress: fdexhaust: '
IRC = 'irc.example.org'
IRC_1 = gw.new_secret('irc')


async def client(port, n, first, res, release):
    sem = asyncio.Semaphore(IN_FLIGHT)
    conns = []

    async def watch(c):
        await c.read_to_eof(3600)

    async def one(i):
        async with sem:
            t0 = time.monotonic()
            try:
                c = await st.AConn.open(
                    port, source='127.0.0.%d' % (2 + i % 8),
                    timeout=ANSWER_WITHIN * 2)
            except (OSError, asyncio.TimeoutError) as e:
                res['problems'].append('connect: %r' % e)
                res['unanswered'] += 1
                return
            conns.append(c)
            await c.send(gw.stream_header(IRC))
            await c.read_until(lambda: c.eof or c.stream.error is not None or
                               bool(c.stream.stream_errors()) or
                               (c.stream.header is not None and
                                'from' in c.stream.header),
                               ANSWER_WITHIN * 2)
            took = time.monotonic() - t0
            res['slowest'] = max(res['slowest'], took)
            h = c.stream.header
            if c.stream.stream_errors() or c.eof:
                res['refused'] += 1
            elif h is not None and 'from' in h:
                res['accepted'] += 1
            else:
                res['unanswered'] += 1
                res['problems'].append('no answer in %.1f s: %s' % (
                    took, c.describe()))
                return
            if took > ANSWER_WITHIN:
                res['late'] += 1
        # The rest of its stream: a stream error if it is shed.
        await watch(c)

    tasks = [asyncio.ensure_future(one(first + i)) for i in range(n)]
    # Answered (or not) all: report, hold them until told, then go.
    while res['accepted'] + res['refused'] + res['unanswered'] < n:
        await asyncio.sleep(0.05)
    # The last ones shed get their error: until no more come for 0.5 s.
    deadline = time.monotonic() + ANSWER_WITHIN
    last, same = -1, 0
    while same < 5 and time.monotonic() < deadline:
        now = sum(1 for c in conns if c.eof or c.stream.stream_errors())
        same = same + 1 if now == last else 0
        last = now
        await asyncio.sleep(0.1)
    for c in conns:
        s = c.stream
        if s.stream_errors() or c.eof:
            cond = s.condition() or 'closed without a stream error'
            if s.error is not None:
                cond = 'ill-formed: %s' % s.error
            res['ends'][cond] += 1
        else:
            res['open'] += 1
    res['ends'] = dict(res['ends'])
    res['problems'] = res['problems'][:20]
    await asyncio.get_running_loop().run_in_executor(None, release)
    for c in conns:
        c.close()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def worker(port, n, first, pipe):
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    st.raise_nofile()
    res = {'accepted': 0, 'refused': 0, 'unanswered': 0, 'late': 0,
           'open': 0, 'slowest': 0.0, 'problems': [],
           'ends': collections.Counter()}

    def release():
        pipe.send(res)
        pipe.recv()
    try:
        asyncio.run(client(port, n, first, res, release))
    except Exception as e:
        res['problems'].append('the worker crashed: %r' % e)
        res['ends'] = dict(res['ends'])
        pipe.send(res)
    pipe.close()


def t_exhaust(d, state):
    ctx = multiprocessing.get_context('fork')
    procs = []
    per = CONNS // WORKERS
    t0 = time.monotonic()
    for w in range(WORKERS):
        a, b = ctx.Pipe()
        p = ctx.Process(target=worker, args=(d.port, per, w * per, b),
                        daemon=True)
        p.start()
        procs.append((p, a))
    results = []
    for p, a in procs:
        if a.poll(600):
            results.append(a.recv())
        else:
            results.append({'problems': ['a worker said nothing']})
    took = time.monotonic() - t0
    costs = st.costs(d, 'with every connection open')
    state['rss'] = costs['engine']['rss']
    state['open'] = 0
    for p, a in procs:
        try:
            a.send('go')
        except OSError:
            pass
    state['procs'] = procs
    tot = collections.Counter()
    ends = collections.Counter()
    problems = []
    slowest = 0.0
    for r in results:
        for k in ('accepted', 'refused', 'unanswered', 'late', 'open'):
            tot[k] += r.get(k, 0)
        ends.update(r.get('ends', {}))
        problems += r.get('problems', [])
        slowest = max(slowest, r.get('slowest', 0.0))
    table = NOFILE - RESERVE
    state['open'] = tot['open']
    st.figure('%d connections in %.1f s from %d processes: %d accepted, %d '
              'refused at once, %d unanswered, %d answered after %d s; the '
              'slowest answer %.2f s', CONNS, took, WORKERS, tot['accepted'],
              tot['refused'], tot['unanswered'], tot['late'], ANSWER_WITHIN,
              slowest)
    st.figure('then: %d open (a table of %d), ends: %s', tot['open'], table,
              ', '.join('%s %d' % kv for kv in sorted(ends.items())))
    expect(not problems, '%d problems: %s' % (len(problems),
                                              '; '.join(problems[:3])))
    expect(tot['accepted'] + tot['refused'] == per * WORKERS,
           '%d of %d answered' % (tot['accepted'] + tot['refused'],
                                  per * WORKERS))
    expect(tot['late'] == 0, '%d answered after %d s (the slowest %.1f s)'
           % (tot['late'], ANSWER_WITHIN, slowest))
    bad = {k: v for k, v in ends.items() if k != 'resource-constraint'}
    expect(not bad, 'ended otherwise than with resource-constraint: %s' %
           bad)
    expect(tot['open'] >= table * FULL_SHARE,
           'only %d open at once with a table of %d' % (tot['open'], table))
    expect(tot['open'] <= table, '%d open with a table of %d' % (
        tot['open'], table))


def t_no_accept_failure(d):
    bad = [line for line in d.log().splitlines() if 'accept:' in line]
    expect(not bad, 'accept failed: %s' % bad[:2])
    expect('room made for a newcomer' in d.log(), 'no shedding logged')


def t_after(d, state):
    for p, a in state.get('procs', []):
        p.join(60)
    expect(d.alive(), 'daemon died: %s' % d.log().splitlines()[-3:])
    # The engine frees the slots as it reads the closes.
    deadline = time.monotonic() + 20
    while True:
        c = d.connect()
        c.send(c.header(IRC))
        c.read_until(lambda: c.stream.header is not None and
                     ('from' in c.stream.header or c.eof))
        if c.stream.header is not None and 'from' in c.stream.header:
            break
        c.close()
        if time.monotonic() >= deadline:
            raise gw.Fail('still refused: %s' % c.describe())
        time.sleep(0.1)
    c.stream_id = c.stream.header['id']
    expect(c.handshake(IRC_1), 'not authenticated: %s' % c.describe())
    gw.orderly_close(c)


def main():
    if CONNS // WORKERS > HARD - 100:
        gw.skip(P + 'descriptor exhaustion', 'a hard limit of %d descriptors '
                'is too small for %d connections in %d processes' % (
                    HARD, CONNS, WORKERS))
        st.done('fdexhaust')
    if NOFILE > HARD and not gw.is_root():
        gw.skip(P + 'descriptor exhaustion', 'the hard limit is %d: a limit '
                'of %d needs root' % (HARD, NOFILE))
        st.done('fdexhaust')
    big = CONNS * 4
    d = gw.Daemon('fdexhaust', [(IRC, IRC_1)], [
        'max connections %d' % big,
        'max unauthenticated %d per address %d' % (big, big),
        # They all wait for their handshake until the end.
        'handshake timeout 600',
    ], components=['component "%s"' % IRC], nofile=NOFILE, ipv6=False)
    try:
        d.start()
    except gw.Fail as e:
        gw.notok(P + 'daemon starts', e)
        st.done('fdexhaust')
    base = st.costs(d, 'before (open-files limit %d)' % NOFILE)
    rss = []
    for r in range(ROUNDS):
        state = {}
        what = 'flood %d of %d: ' % (r + 1, ROUNDS)
        gw.run(P + what + 'open-files limit %d, %d connections: each '
               'answered within %d s, accepted or refused; the table stays '
               'full, the oldest making room (resource-constraint)' % (
                   NOFILE, CONNS, ANSWER_WITHIN), t_exhaust, d, state)
        gw.run(P + what + 'accept(2) never failed', t_no_accept_failure, d)
        rss.append(state.get('rss'))
        if r == 0:
            per = None
            if rss[0] and base['engine']['rss'] and state.get('open'):
                per = (rss[0] - base['engine']['rss']) / state['open']
                st.figure('engine: %.1f KB a connection', per)
            st.memory_check(P + 'engine RSS at a full table: at most %d KB '
                            'a connection' % KB_PER_CONN_MAX,
                            per, KB_PER_CONN_MAX, 'engine RSS a connection',
                            'KB')
        gw.run(P + what + 'the daemon lives; a component gets in once '
               'they are gone', t_after, d, state)
        st.costs(d, 'after flood %d' % (r + 1))
    st.memory_check(P + 'a later flood reuses the memory of the first: '
                    'engine RSS at most %d MB more' % REUSE_SLACK_MB,
                    None if None in rss else st.mb(max(rss[1:]) - rss[0]),
                    REUSE_SLACK_MB, 'engine RSS growth')
    gw.check_stop(P.rstrip(': '), d)
    gw.check_logs_clean(P + 'no secret and no digest in the log', [d])
    st.done('fdexhaust')


if __name__ == '__main__':
    main()
