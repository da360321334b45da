"""
Stress 3: garbage.  1,000 connections (100 short), 50 at a time, from
127.0.0.2-9, each sending random bytes of a random length up to 64 KB
(half uniform random bytes, half random runs of XML tokens, below):
a third before any header, a third after a valid header (and ours), a
third after authenticating (their garbage ends with a NUL, never valid
XML, so that every one must end: an authenticated stream has no
handshake timeout).  Each ends with a stream error carrying an RFC 6120
condition, or a close, within the handshake timeout (plus a margin) of
its start, or of its garbage once authenticated: never a hang; what
gatewayd sends stays well-formed.  The daemon lives; a component
authenticates and exchanges a stanza afterwards; the engine's RSS comes
back near where it was.
"""

import asyncio
import collections
import os
import random
import sys
import time

sys.dont_write_bytecode = True	# no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stresslib as st  # noqa: E402
from stresslib import gw, expect  # noqa: E402

# Garbage connections (full, short).
CONNS = st.pick(1000, 100)
# Of them open at once.
AT_ONCE = 50
# Garbage lengths are uniform in 1..MAX_LEN bytes.
MAX_LEN = 65536
# Configured: the time an unauthenticated connection has.
HANDSHAKE_TIMEOUT = 4
# Bound: seconds past it (or past authenticated garbage) for every end.
END_MARGIN = 5
# Bound: engine RSS after, over the one before (measured 0.7-0.8 MB).
RSS_BACK_MB = 3
# Seconds for it to come back.
RSS_WAIT = 5
# The garbage is random.Random(SEED * 1000003 + connection); printed.
SEED = int(os.environ.get('STRESS_SEED') or time.time())

P = 'stress: garbage: '
KINDS = ('before a header', 'after a header', 'after authentication')
# a and b for the end; the authenticated garbage comes from g0-g49, one
# stream each at a time.
DOMAINS = ['a.stress', 'b.stress'] + ['g%d.stress' % i
                                      for i in range(AT_ONCE)]
SECRETS = {dom: gw.new_secret(dom.split('.')[0]) for dom in DOMAINS}


# The garbage comes in three flavours: uniform random bytes, which expat
# refuses within a few bytes; random runs of XML's own tokens, which
# take it deeper (tags, attribute values, references, CDATA, the markup
# gatewayd refuses); and a valid beginning (of a header, or of a stanza
# once there is a stream) followed by random text that never ends it,
# which leaves the stream waiting, for the handshake timeout, the
# pre-authentication limit or the NUL.
FLAVOURS = ('random bytes', 'XML tokens', 'a valid beginning')
STARTS = {
    'before a header': gw.stream_header('a.stress')[:-1].encode() + b" x='",
    'after a header': b"<handshake>",
    'after authentication': "<message from='%s' to='b.stress' "
                            "id='g'><body>",  # from: the stream's name
}
TEXT = 'abcdefghijklmnopqrstuvwxyz0123456789 \n\u00e9\u4e2d'


def textish(rng, n):
    return ''.join(rng.choice(TEXT) for _ in range(n // 2)).encode()[:n]

TOKENS = ['<', '>', '/', '/>', '=', "'", '"', ' ', '\n', 'a', 'x:y', 'é',
          'xmlns', "xmlns='jabber:component:accept'", 'xmlns:x', 'stream',
          'stream:stream', 'message', 'handshake', '&amp;', '&#x41;', '&#0;',
          '&bogus;', '<![CDATA[', ']]>', '<?xml', '?>', '<!--', '-->',
          '<!DOCTYPE', '\x01', '\ufffe']


def xmlish(rng, n):
    out = []
    size = 0
    while size < n:
        t = rng.choice(TOKENS).encode()
        if rng.random() < 0.01:
            t = rng.randbytes(rng.randint(1, 4))
        out.append(t)
        size += len(t)
    return b''.join(out)[:n]


async def one(d, i, res, names):
    rng = random.Random(SEED * 1000003 + i)
    kind = KINDS[i % 3]
    source = '127.0.0.%d' % (2 + i % 8)
    n = rng.randint(1, MAX_LEN)
    flavour = FLAVOURS[i // 3 % 3]
    if flavour == FLAVOURS[0]:
        garbage = rng.randbytes(n)
    elif flavour == FLAVOURS[1]:
        garbage = xmlish(rng, n)
    else:
        garbage = textish(rng, n)
    if kind == KINDS[2]:
        garbage += b'\0'
    t0 = time.monotonic()
    try:
        c = await st.AConn.open(d.port, source=source)
    except (OSError, asyncio.TimeoutError) as e:
        res['problems'].append('%d: connect: %r' % (i, e))
        return
    try:
        if kind == KINDS[1]:
            await c.send(gw.stream_header('a.stress'))
            if await c.read_header() is None:
                res['problems'].append('%d (%s): no header: %s' % (
                    i, kind, c.describe()))
                return
        elif kind == KINDS[2]:
            name = await names.get()
            try:
                if not await c.authenticate(name, SECRETS[name]):
                    res['problems'].append('%d (%s): not authenticated: '
                                           '%s' % (i, kind, c.describe()))
                    return
                if flavour == FLAVOURS[2]:
                    garbage = (STARTS[kind] % name).encode() + garbage
                await one_garbage(c, i, (kind, flavour), garbage, t0,
                                  res)
            finally:
                # Ended by gatewayd (or a problem): the name is free.
                c.close()
                names.put_nowait(name)
            return
        if flavour == FLAVOURS[2]:
            garbage = STARTS[kind] + garbage
        await one_garbage(c, i, (kind, flavour), garbage, t0, res)
    finally:
        c.close()


async def one_garbage(c, i, kf, garbage, t0, res):
    kind = kf[0]
    await c.send(garbage)
    sent = time.monotonic()
    deadline = (sent if kind == KINDS[2] else t0 + HANDSHAKE_TIMEOUT) \
        + END_MARGIN
    await c.read_to_eof(deadline - time.monotonic())
    took = time.monotonic() - (sent if kind == KINDS[2] else t0)
    res['longest'][kind] = max(res['longest'][kind], took)
    s = c.stream
    if not c.eof:
        res['problems'].append('%d (%s, %d bytes): no end %.1f s after '
                               'its %s: %s' % (
                                   i, kind, len(garbage), took,
                                   'garbage' if kind == KINDS[2] else
                                   'start', c.describe()))
        return
    if s.error is not None:
        res['problems'].append('%d (%s): gatewayd\'s output is '
                               'ill-formed: %s' % (i, kind, s.error))
        return
    cond = s.condition()
    if cond is None:
        res['ends'][kf]['closed' + (' (reset)' if c.reset else '')] \
            += 1
    elif cond in st.RFC6120_CONDITIONS:
        res['ends'][kf][cond] += 1
    else:
        res['problems'].append('%d (%s): condition %s' % (i, kind, cond))


async def crowd(d, res):
    sem = asyncio.Semaphore(AT_ONCE)
    names = asyncio.Queue()
    for dom in DOMAINS[2:]:
        names.put_nowait(dom)

    async def limited(i):
        async with sem:
            await one(d, i, res, names)
    await asyncio.gather(*(limited(i) for i in range(CONNS)))


def t_garbage(d, state):
    res = {'problems': [], 'longest': dict.fromkeys(KINDS, 0.0),
           'ends': {(k, f): collections.Counter() for k in KINDS
                    for f in FLAVOURS}}
    t0 = time.monotonic()
    asyncio.run(crowd(d, res))
    st.figure('%d connections in %.1f s, seed %d', CONNS,
              time.monotonic() - t0, SEED)
    for (k, f), ends in res['ends'].items():
        st.figure('%s %s: %s', f, k, ', '.join(
            '%s %d' % kv for kv in sorted(ends.items())) or 'none')
    for k in KINDS:
        st.figure('garbage %s: the longest took %.2f s to end', k,
                  res['longest'][k])
    state['res'] = res
    expect(not res['problems'], '%d problems: %s' % (
        len(res['problems']), '; '.join(res['problems'][:3])))


def t_after(d):
    expect(d.alive(), 'daemon died: %s' % d.log().splitlines()[-3:])
    a = d.connect()
    a.authenticate(SECRETS['a.stress'], to='a.stress')
    b = d.connect()
    b.authenticate(SECRETS['b.stress'], to='b.stress')
    a.send(st.message('a.stress', 'b.stress', 'after', 'hello'))
    b.read_until(lambda: st.stanzas(b.stream) or b.eof)
    got = st.stanzas(b.stream)
    expect(got and got[0].get('id') == 'after', 'no stanza: %s' %
           b.describe())
    gw.orderly_close(a)
    gw.orderly_close(b)


def main():
    d = gw.Daemon('garbage', list(SECRETS.items()), [
        'handshake timeout %d' % HANDSHAKE_TIMEOUT,
        # Room for every garbage connection at once: the slots are
        # the attack tests', the parser is this one's.
        'max unauthenticated 256 per address 64',
    ], ['component "%s"' % dom for dom in DOMAINS], ipv6=False)
    try:
        d.start()
    except gw.Fail as e:
        gw.notok(P + 'daemon starts', e)
        st.done('garbage')
    before = st.costs(d, 'before')
    state = {}
    gw.run(P + '%d connections of random bytes (before a header, after '
           'one, after authentication): each ends with an RFC 6120 stream '
           'error or a close, within the handshake timeout + %d s, output '
           'well-formed' % (CONNS, END_MARGIN), t_garbage, d, state)
    during = st.costs(d, 'after the garbage')
    gw.run(P + 'the daemon lives; a component authenticates and exchanges '
           'a stanza afterwards', t_after, d)
    # The engine frees a connection when it reads its close.
    base = before['engine']['rss']
    deadline = time.monotonic() + RSS_WAIT
    while True:
        rss = st.engine_kb(d)
        if rss is None or rss - base <= RSS_BACK_MB * 1024 or st.ASAN or \
                time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    st.figure('engine RSS %s before, peak %s, %s after', st.fmt_mb(base),
              st.fmt_mb(during['engine']['hwm']), st.fmt_mb(rss))
    st.memory_check(P + 'the engine\'s RSS comes back within %d MB of where '
                    'it was' % RSS_BACK_MB,
                    None if rss is None or base is None else
                    st.mb(rss - base), RSS_BACK_MB, 'engine RSS growth')
    gw.check_stop(P.rstrip(': '), d)
    gw.check_logs_clean(P + 'no secret and no digest in the log', [d])
    st.done('garbage')


if __name__ == '__main__':
    main()
