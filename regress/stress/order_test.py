"""
Stress 7: 1,000,000 stanzas (100,000 short) of 200 bytes between 4 pairs
of components, pushed by the C load generator with its order check
(loadgen -o): every stanza carries its sender's sequence number, and each
receiver gets them all, in order, none twice, nothing after the last.
The engine's own count at exit agrees: every stanza in went out, none
bounced.  Throughput is a figure only: no timing is asserted.
"""

import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True	# no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stresslib as st  # noqa: E402
from stresslib import gw  # noqa: E402

# Sender/receiver pairs.
PAIRS = 4
# Stanzas in all, shared by the pairs (full, short).
STANZAS = st.pick(1000000, 100000)
# Bytes of each stanza.
SIZE = 200
# Seconds before the load generator counts as hung.
LOADGEN_TIMEOUT = 300
# Bound: engine RSS at the end (measured 4.3 MB; its queues are 1 MB).
ENGINE_RSS_MAX_MB = 16

P = 'stress: order: '


def after_load(d, secret):
    gw.expect(d.alive(), 'daemon died: %s' % d.log().splitlines()[-3:])
    c = d.connect()
    c.authenticate(secret, to='r0.bench')
    gw.orderly_close(c)


def main():
    obj = os.environ.get('OBJ', 'obj')
    loadgen = os.path.join(gw.TOP, obj, 'regress', 'loadgen')
    if not os.access(loadgen, os.X_OK):
        gw.notok(P + 'load generator', '%s not built' % loadgen)
        st.done('order')
    secret = gw.new_secret('bench')
    names = ['%s%d.bench' % (k, i) for i in range(PAIRS) for k in 'sr']
    d = gw.Daemon('order', [(n, secret) for n in names], [],
                  ['component "%s"' % n for n in names], ipv6=False)
    try:
        d.start()
    except gw.Fail as e:
        gw.notok(P + 'daemon starts', e)
        st.done('order')
    before = st.costs(d, 'before')
    t0 = time.monotonic()
    try:
        r = subprocess.run([loadgen, '-o', str(d.port), str(PAIRS),
                            str(STANZAS), str(SIZE), secret],
                           capture_output=True, text=True,
                           timeout=LOADGEN_TIMEOUT)
        out = (r.stdout + r.stderr).strip()
        rc = r.returncode
    except subprocess.TimeoutExpired:
        out, rc = 'no end within %d s' % LOADGEN_TIMEOUT, None
    took = time.monotonic() - t0
    st.figure('loadgen: %s', out)
    after = st.costs(d, 'after %d stanzas' % STANZAS)
    cpu = (after['cpu'] or 0) - (before['cpu'] or 0)
    m = re.search(r'([0-9]+) stanzas/s', out)
    st.figure('throughput %s stanzas/s (%d pairs, %d bytes); engine CPU '
              '%.2f s, %.1f us a stanza; %.1f s in all',
              m.group(1) if m else '-', PAIRS, SIZE, cpu,
              cpu * 1e6 / STANZAS, took)
    gw.check(P + '%d stanzas through %d pairs: none lost, none twice, '
             'order kept per pair' % (STANZAS, PAIRS),
             None if rc == 0 and 'order kept' in out else
             'loadgen status %r: %s' % (rc, out))
    gw.run(P + 'the daemon lives; a component authenticates afterwards',
           after_load, d, secret)
    st.memory_check(P + 'engine RSS at most %d MB' % ENGINE_RSS_MAX_MB,
                    st.mb(after['engine']['rss']), ENGINE_RSS_MAX_MB,
                    'engine RSS')
    gw.check_stop(P.rstrip(': '), d)
    # Each pair's sender ended with one stanza more (id 'end').
    line = [l for l in d.log().splitlines() if 'engine: exiting:' in l]
    m = re.search(r'exiting: ([0-9]+) stanzas in, ([0-9]+) out, '
                  r'([0-9]+) bounces', line[-1] if line else '')
    want = STANZAS // PAIRS * PAIRS + PAIRS
    if m:
        st.figure('engine at exit: %s stanzas in, %s out, %s bounced',
                  *m.groups())
    gw.check(P + 'the engine counted %d stanzas in and out, none bounced' %
             want, 'no exit line: %s' % d.log()[-300:] if not m else
             None if m.groups() == (str(want), str(want), '0') else
             'in %s, out %s, bounced %s' % m.groups())
    gw.check_logs_clean(P + 'no secret and no digest in the log', [d])
    st.done('order')


if __name__ == '__main__':
    main()
