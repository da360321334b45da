"""
Stress 2: a 100 MB stanza (10 MB short) from an authenticated component,
written as fast as the sockets take it, under the default max stanza
size (256K).  The stream gets policy-violation once the stanza is past
the limit, long before its end: the engine stops reading, so the sender
is cut off after the limit and what the sockets hold; the engine never
holds the stanza (its peak RSS grows by a few hundred KB); the daemon
lives; meanwhile another pair's stanzas arrive intact and in order, and
the destination of the big one gets nothing of it.
"""

import os
import random
import select
import sys
import threading
import time

sys.dont_write_bytecode = True	# no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stresslib as st  # noqa: E402
from stresslib import gw, expect  # noqa: E402

# Megabytes of the big stanza (full, short).
STANZA_MB = st.pick(100, 10)
# Big stanzas, each on a new stream.
ROUNDS = 3
# The default max stanza size, not configured.
MAX_STANZA = 262144
# Bound: the sender is cut off before this much (measured 0.3-3.8 MB).
CUT_OFF_MB = 8
# Bound: the engine's peak RSS grows this much at most (measured 0.4 MB).
RSS_GROWTH_MAX_MB = 4
# The other pair's stanzas meanwhile, at least (full, short).
PAIR_STANZAS = st.pick(20000, 2000)
# Bound: seconds for the stream error to come.
ERROR_WITHIN = 5

P = 'stress: bigstanza: '
DOMAINS = ('a.stress', 'b.stress', 'c.stress', 'd.stress')
SECRETS = {dom: gw.new_secret(dom.split('.')[0]) for dom in DOMAINS}


def comp(d, dom):
    c = d.connect()
    c.authenticate(SECRETS[dom], to=dom)
    return c


class Pair(threading.Thread):
    """c sends d stanzas of random bodies until told to stop (and at
    least PAIR_STANZAS); d reads them; each is checked for its body."""

    def __init__(self, d):
        super().__init__(daemon=True)
        self.c, self.dst = comp(d, 'c.stress'), comp(d, 'd.stress')
        self.rng = random.Random(12)
        self.stop = threading.Event()
        self.started = threading.Event()
        self.bodies = []
        self.problem = None

    def run(self):
        try:
            self._run()
        except Exception as e:		# reported by the test
            self.problem = 'the pair crashed: %r' % e

    def _run(self):
        c, dst = self.c, self.dst
        sent = 0
        while not self.stop.is_set() or sent < PAIR_STANZAS:
            batch = []
            for _ in range(100):
                n = self.rng.randint(1, 2000)
                body = ('%x' % self.rng.getrandbits(4 * n)).zfill(n)
                self.bodies.append(body)
                batch.append(st.message('c.stress', 'd.stress', 'p%d' % sent,
                                        body))
                sent += 1
            if not c.send(''.join(batch)):
                self.problem = 'c could not send: %s' % c.describe()
                return
            dst.read_until(lambda: len(st.stanzas(dst.stream)) >= sent - 500
                           or dst.stream.error is not None, 10)
            self.started.set()
        dst.read_until(lambda: len(st.stanzas(dst.stream)) >= sent or
                       dst.stream.error is not None or dst.eof, 20)
        self.started.set()


def pair_problems(pair):
    if pair.problem:
        return pair.problem
    s = pair.dst.stream
    if s.error is not None:
        return 'd\'s stream is ill-formed: %s' % s.error
    got = st.stanzas(s)
    if len(got) != len(pair.bodies):
        return '%d of %d stanzas came: %s' % (len(got), len(pair.bodies),
                                              pair.dst.describe())
    for i, (m, body) in enumerate(zip(got, pair.bodies)):
        if m.get('id') != 'p%d' % i or m.get('from') != 'c.stress' or \
                m.findtext('{%s}body' % gw.NS_COMPONENT) != body:
            return 'stanza %d is not the one sent (id %r)' % (i, m.get('id'))
    return None


def blast(d, a):
    """Writes the big stanza to a as fast as it goes; returns (bytes
    written when the stream error came, bytes written in all, seconds)."""
    head = b"<message from='a.stress' to='b.stress' id='big'><body>"
    size = STANZA_MB << 20
    chunk = b'x' * 65536
    a.sock.setblocking(False)
    written, at_error = 0, None
    t0 = time.monotonic()
    deadline = t0 + 60
    while not a.eof and time.monotonic() < deadline:
        if at_error is not None and time.monotonic() - t0 > ERROR_WITHIN:
            break
        want_w = [a.sock] if written < size and not a.send_failed else []
        r, w, _ = select.select([a.sock], want_w, [], 0.5)
        if r:
            try:
                data = a.sock.recv(65536)
            except ConnectionResetError:
                a.reset = a.eof = True
                data = b''
            if not data:
                a.eof = True
            else:
                a.data += data
                a.stream.feed(data)
            if at_error is None and a.stream.stream_errors():
                at_error = written
        if w:
            try:
                data = head if written == 0 else chunk
                written += a.sock.send(data[:size - written])
            except BlockingIOError:
                pass
            except OSError as e:
                a.send_failed = e
        if not r and not w and written >= size:
            break
    a.sock.setblocking(True)
    return at_error, written, time.monotonic() - t0


def t_big(d, pair):
    b = comp(d, 'b.stress')
    hwm0 = st.engine_kb(d, 'VmHWM')
    size = STANZA_MB << 20
    for i in range(ROUNDS):
        a = comp(d, 'a.stress')
        at_error, written, took = blast(d, a)
        st.figure('round %d: the stream error came after %.1f MB written; '
                  'cut off after %.1f MB of %d MB (%s); %.2f s', i + 1,
                  -1 if at_error is None else at_error / 1048576.0,
                  written / 1048576.0, STANZA_MB,
                  'reset' if a.reset else 'EOF' if a.eof else 'open', took)
        p = gw.stream_error_problems(a, 'policy-violation', 'a.stress',
                                     timeout=ERROR_WITHIN)
        expect(not p, 'the big stanza\'s sender: %s' % p)
        expect(at_error is not None and at_error < size,
               'the error came only after the whole stanza')
        expect(written < CUT_OFF_MB << 20,
               'the sender wrote %.1f MB before it was cut off' %
               (written / 1048576.0))
        a.close()
    hwm1 = st.engine_kb(d, 'VmHWM')
    st.figure('engine peak RSS %s before, %s after', st.fmt_mb(hwm0),
              st.fmt_mb(hwm1))
    pair.stop.set()
    pair.join(30)
    expect(not pair.is_alive(), 'the other pair did not finish')
    # Our close reaches b after anything a's streams could have sent it.
    b.send(gw.CLOSE)
    b.read_to_eof()
    expect(b.stream.error is None, 'b is ill-formed: %s' % b.stream.error)
    expect(not st.stanzas(b.stream), 'b got %d stanzas' %
           len(st.stanzas(b.stream)))
    b.close()
    return hwm0, hwm1


def main():
    d = gw.Daemon('bigstanza', list(SECRETS.items()), [],
                  ['component "%s"' % dom for dom in DOMAINS], ipv6=False)
    try:
        d.start()
    except gw.Fail as e:
        gw.notok(P + 'daemon starts', e)
        st.done('bigstanza')
    st.costs(d, 'before')
    pair = Pair(d)
    pair.start()
    pair.started.wait(10)
    res = {}

    def big():
        res['hwm'] = t_big(d, pair)
    gw.run(P + '%d stanzas of %d MB: policy-violation past the limit, the '
           'sender cut off before %d MB, its destination gets nothing' % (
               ROUNDS, STANZA_MB, CUT_OFF_MB), big)
    st.costs(d, 'after')
    pair.stop.set()
    pair.join(30)
    st.figure('the other pair: %d stanzas, %d delivered', len(pair.bodies),
              len(st.stanzas(pair.dst.stream)))
    gw.check(P + 'meanwhile the other pair\'s stanzas (%d or more) all '
             'arrive intact and in order' % PAIR_STANZAS,
             pair_problems(pair))
    hwm0, hwm1 = res.get('hwm', (None, None))
    st.memory_check(P + 'the engine does not hold the stanza: peak RSS '
                    'grows at most %d MB' % RSS_GROWTH_MAX_MB,
                    None if hwm0 is None else st.mb(hwm1 - hwm0),
                    RSS_GROWTH_MAX_MB, 'engine peak RSS growth')
    gw.check(P + 'the daemon lives', None if d.alive() else
             'daemon died: %s' % d.log().splitlines()[-3:])
    pair.c.close()
    pair.dst.close()
    gw.check_stop(P.rstrip(': '), d)
    gw.check_logs_clean(P + 'no secret and no digest in the log', [d])
    st.done('bigstanza')


if __name__ == '__main__':
    main()
