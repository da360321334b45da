"""
Stress 4: resets in the middle of a stanza.  An authenticated sender
writes a complete stanza and, in the same write, the first part of
another (cut at a random byte: in the start tag, the body or the end
tag), waits until the receiver has the complete one (so the engine has
read the part too), and resets the connection (SO_LINGER 0); then it
reconnects, 1,000 times (100 short).  Meanwhile a second sender's
complete stanzas go to the same receiver.  The receiver's stream stays
well-formed; it gets every complete stanza of both, in each sender's
order, and no byte of any partial one; the daemon lives, and the
engine's RSS does not grow with the resets.
"""

import os
import random
import sys
import time

sys.dont_write_bytecode = True	# no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stresslib as st  # noqa: E402
from stresslib import gw, expect  # noqa: E402

# Half stanzas, each ended by a reset (full, short).
RESETS = st.pick(1000, 100)
# The second sender's stanzas per reset.
STEADY_PER_RESET = 3
# Bound: engine RSS growth after the first 10% (measured 0-0.1 MB).
RSS_GROWTH_MAX_MB = 2
# The cuts and bodies are random.Random(SEED); printed.
SEED = int(os.environ.get('STRESS_SEED') or time.time())

P = 'stress: resets: '
DOMAINS = ('a.stress', 'b.stress', 'r.stress')
SECRETS = {dom: gw.new_secret(dom.split('.')[0]) for dom in DOMAINS}


def comp(d, dom):
    c = d.connect()
    c.authenticate(SECRETS[dom], to=dom)
    return c


def t_resets(d, state):
    rng = random.Random(SEED)
    r = comp(d, 'r.stress')
    b = comp(d, 'b.stress')
    want_a, want_b = [], []
    rss = {}
    cuts = {'start tag': 0, 'body': 0, 'end tag': 0}
    got = lambda: st.stanzas(r.stream)  # noqa: E731
    for i in range(RESETS):
        if i == RESETS // 10:
            rss['warm'] = st.engine_kb(d)
        a = comp(d, 'a.stress')
        body = '%x' % rng.getrandbits(4 * rng.randint(1, 3000))
        whole = st.message('a.stress', 'r.stress', 'a%d' % i, body)
        part = st.message('a.stress', 'r.stress', 'half%d' % i, body)
        cut = rng.randint(1, len(part) - 1)
        head = part.index('>') + 1
        cuts['start tag' if cut < head else 'body'
             if cut <= part.rindex('<') else 'end tag'] += 1
        want_a.append('a%d' % i)
        a.send(whole + part[:cut])
        steady = ''
        for _ in range(STEADY_PER_RESET):
            sid = 'b%d' % len(want_b)
            want_b.append(sid)
            steady += st.message('b.stress', 'r.stress', sid, 'steady')
        b.send(steady)
        n = len(want_a) + len(want_b)
        r.read_until(lambda: len(got()) >= n or r.stream.error is not None
                     or r.eof)
        expect(r.stream.error is None, 'the receiver\'s stream is '
               'ill-formed after %d resets: %s: %s' % (
                   i, r.stream.error, r.describe()))
        expect(len(got()) >= n, 'after %d resets, %d stanzas of %d came: '
               '%s' % (i, len(got()), n, r.describe()))
        a.abort()
    rss['end'] = st.engine_kb(d)
    state['rss'] = rss
    # What could still come after the last reset comes before our close.
    r.send(gw.CLOSE)
    r.read_to_eof()
    ids = [m.get('id') for m in got()]
    st.figure('%d resets (cut in the start tag %d, in the body %d, in the '
              'end tag %d); the receiver got %d stanzas, %d bytes; seed %d',
              RESETS, cuts['start tag'], cuts['body'], cuts['end tag'],
              len(ids), len(r.data), SEED)
    expect(r.stream.error is None, 'the receiver\'s stream is ill-formed: '
           '%s' % r.stream.error)
    expect(not r.stream.junk, 'text between stanzas: %r' % r.stream.junk[:2])
    k = r.data.find(b'half')
    expect(k < 0, 'a partial stanza came: %s' %
           gw.short(r.data[max(0, k - 100):k + 200]))
    expect([x for x in ids if x.startswith('a')] == want_a,
           'the first sender\'s stanzas: %s' % ids[:10])
    expect([x for x in ids if x.startswith('b')] == want_b,
           'the second sender\'s stanzas: %s' % ids[:10])
    expect(len(ids) == len(want_a) + len(want_b), 'other stanzas came')
    b.close()
    r.close()


def main():
    d = gw.Daemon('resets', list(SECRETS.items()), [],
                  ['component "%s"' % dom for dom in DOMAINS], ipv6=False)
    try:
        d.start()
    except gw.Fail as e:
        gw.notok(P + 'daemon starts', e)
        st.done('resets')
    st.costs(d, 'before')
    state = {}
    gw.run(P + '%d senders reset mid-stanza, a second sender meanwhile: '
           'the receiver stays well-formed, gets every complete stanza in '
           'order and no partial one' % RESETS, t_resets, d, state)
    st.costs(d, 'after')
    rss = state.get('rss', {})
    if rss:
        st.figure('engine RSS %s after %d resets, %s after %d',
                  st.fmt_mb(rss['warm']), RESETS // 10,
                  st.fmt_mb(rss['end']), RESETS)
    st.memory_check(P + 'engine RSS grows at most %d MB after the first '
                    '%d resets' % (RSS_GROWTH_MAX_MB, RESETS // 10),
                    st.mb(rss['end'] - rss['warm']) if rss else None,
                    RSS_GROWTH_MAX_MB)
    gw.check(P + 'the daemon lives', None if d.alive() else
             'daemon died: %s' % d.log().splitlines()[-3:])
    gw.check_stop(P.rstrip(': '), d)
    gw.check_logs_clean(P + 'no secret and no digest in the log', [d])
    st.done('resets')


if __name__ == '__main__':
    main()
