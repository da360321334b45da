"""
make bench: gatewayd beside Debian's Prosody and Twisted Words' router,
in one run, on this machine, with the C load generator
(obj/regress/loadgen), which shares the cores with the server it
measures.  Each server is started by this script on 127.0.0.1 in a
scratch directory and stopped by it, with the same components and one
secret: s<i>.bench -> r<i>.bench (the pairs), h<slot>.bench (the
handshakes), i<k>.bench (the idle components).
  - gatewayd -d (not -v) with each component configured;
  - Prosody is regress/uplink/prosodylib.py's, each component a
    Component section, quietened to warn once it listens (SIGHUP), with
    nagle = false (gatewayd sets TCP_NODELAY too) and a listen backlog
    of 1024.  Prosody 0.12 loads no rate limit for components
    (mod_limits is not enabled, and limits only c2s and s2s) and its
    component stanza size limit (512 KiB) is above every stanza here;
  - Twisted (python3-twisted): twist xmpp-router, the epoll reactor,
    logging at warn, which takes any component with the secret.
    BENCH_TWISTED=0 leaves it out.

Every measurement runs in turns, gatewayd, Prosody, Twisted,
BENCH_ROUNDS times (default 5), and the table shows the medians:
  - stanzas/s: the senders write for BENCH_SECS seconds (default 2) as
    fast as the server takes them, 4 pairs x 200 B, 4 pairs x 2 KB and
    1 pair x 200 B; the rate is that of the stanzas received at their
    destinations, up to the last one;
  - latency from write to read, 1 pair x 200 B, paced at 10,000
    stanzas/s and at 1,000/s for BENCH_LAT_SECS seconds (default 3):
    p50, p99, p99.9 (the median of each over the rounds); a server that
    does not keep up (delivers less than 95% of the rate offered) is
    said to in the row;
  - handshakes per second, 16 in flight, each a fresh TCP connection
    that authenticates, closes its stream and waits for the server to
    close the connection, for BENCH_SECS seconds;
then, once each, on a freshly started server configured with
BENCH_IDLE idle components (default 10,000, fewer if the descriptor limit
is lower; each server needs one a component): they connect one at a time
and authenticate, and BENCH_IDLE_WAIT seconds (default 10) after the
last handshake the PSS (/proc/PID/smaps_rollup) of the whole tree
(gatewayd: parent, engine and authd; Prosody, Twisted: their one
process) is compared with that before the first connection: the growth
per idle component; then each sends the next 4 messages (loadgen's
talk: every fourth of 8 KB, the others 200 B) and BENCH_IDLE_WAIT
seconds after the last is in, the growth again (what traffic leaves
behind: buffers kept, fragmentation).  A stanza written but never received is lost, an
error stanza or a stream error is an error; the note column says so
for any run, and a footer if the servers did not stop cleanly.

The table goes to the standard output and to OBJ/bench/table.txt, every
load generator line to OBJ/bench/runs.txt.

--short (make check, regress/bench/short.sh): each measurement once,
tiny (2,000 stanzas, 20 handshakes, 20 idle components), against each
server, on one server each: ok when it produces a number and nothing
was lost or errored; skip for a peer that is not installed.

Run with /usr/bin/python3 (Debian's).
"""

import datetime
import os
import platform
import re
import resource
import select
import signal
import statistics
import subprocess
import tempfile
import textwrap
import sys
import time

sys.dont_write_bytecode = True	# no __pycache__ in the tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'uplink'))
sys.path.insert(0, os.path.dirname(HERE))
import gwtest as gw  # noqa: E402
import prosodylib as pl  # noqa: E402

SHORT = '--short' in sys.argv[1:]
OBJ = os.environ.get('OBJ', 'obj')
GATEWAYD = os.environ.get('GATEWAYD') or os.path.join(gw.TOP, OBJ, 'bin',
                                                      'gatewayd')
LOADGEN = os.path.join(gw.TOP, OBJ, 'regress', 'loadgen')


def param(name, default, cast=int):
    v = os.environ.get(name, '')
    return cast(v) if v.strip() else default


ROUNDS = param('BENCH_ROUNDS', 5)
SECS = param('BENCH_SECS', 2.0, float)
LAT_SECS = param('BENCH_LAT_SECS', 3.0, float)
IDLE = param('BENCH_IDLE', 20 if SHORT else 10000)
IDLE_WAIT = param('BENCH_IDLE_WAIT', 0 if SHORT else 10, float)
PAIRS = 4
INFLIGHT = 16			# handshakes under way at once
TALK = 4			# messages an idle component sends (loadgen)
RATIO_MIN = 30			# issue 15: 4 pairs x 200 B, over Prosody
IDLE_MAX_KIB = 4		# issue 15: whole-tree PSS an idle component
RATES = (10000, 1000)		# latency: stanzas a second offered
KEEP_UP = 0.95			# of the rate offered, delivered
SHORT_STANZAS = 2000
SHORT_HANDSHAKES = 20

THROUGHPUT = [('4 pairs x 200 B', 4, 200), ('4 pairs x 2 KB', 4, 2048),
              ('1 pair x 200 B', 1, 200)]

PROSODY_EXTRA = ['network_settings = { nagle = false; tcp_backlog = 1024 }']

SECRET = gw.new_secret('bench')
PAIR_NAMES = ['%s%d.bench' % (k, i) for i in range(PAIRS) for k in 'sr']
HS_NAMES = ['h%d.bench' % i for i in range(INFLIGHT)]


def idle_names(n):
    return ['i%d.bench' % k for k in range(n)]


# ---------------------------------------------------------------------------
# The servers

class Gatewayd(gw.Daemon):
    """gatewayd -d (not -v: a log line per connection would be measured
    too), the components given, each with SECRET."""

    label = 'gatewayd'
    binary = GATEWAYD
    flags = '-d'

    def __init__(self, name, domains):
        gw.Daemon.__init__(self, name, [(d, SECRET) for d in domains], [
            'max connections %d' % (len(domains) + 100),
            'max unauthenticated 256 per address 256',
        ], ['component "%s"' % d for d in domains], ipv6=False)

    def start(self, timeout=30):
        return gw.Daemon.start(self, timeout)

    def pss_kb(self):
        """The whole tree's PSS: parent, engine and authd."""
        v = [gw.proc_pss_kb(p) if p else None for p in self.pids().values()]
        return None if None in v else sum(v)

    def stop_status(self):
        rc = self.stop()
        return None if rc == 0 else 'exit status %r: %s' % (
            rc, ' | '.join(self.log().splitlines()[-3:]))


class Prosody:
    """Debian's Prosody, prosodylib's, with the components given."""

    label = 'Prosody'

    def __init__(self, name, domains):
        self.p = pl.Prosody(components=[(d, SECRET) for d in domains],
                            users={}, name=name, log_level='info',
                            extra=PROSODY_EXTRA)

    def start(self, timeout=30):
        # prosodylib waits for the info lines of its listeners; then the
        # log goes to another file at warn, once SIGHUP has reloaded it.
        # Its signal handlers are set by a timer of the main loop, which
        # has run once the loop logs the connection of start's c2s
        # probe: a SIGHUP before would end it.
        self.p.start(timeout)
        if not self.p.wait_log('Client connected', timeout,
                               self.p.start_mark):
            raise gw.Fail('Prosody\'s main loop did not run')
        self.p.log_level = 'warn'
        self.p.logpath = os.path.join(self.p.dir, 'prosody-warn.log')
        self.p.reload()
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.p.logpath):
            if time.monotonic() > deadline or not self.p.alive():
                raise gw.Fail('Prosody did not reload its logging '
                              '(%s): %s' % (
                                  'running' if self.p.alive() else
                                  'exited', self.p._tail(self.p.log(
                                      self.p.start_mark), out=True)))
            time.sleep(0.02)
        return self

    @property
    def port(self):
        return self.p.component_port

    def pss_kb(self):
        return gw.proc_pss_kb(self.p.proc.pid) if self.p.alive() else None

    def stop_status(self):
        rc = self.p.stop()
        return None if rc == 0 else 'exit status %r: %s' % (
            rc, ' | '.join(self.p.log().splitlines()[-3:]))

    def problems(self):
        return self.p.problems()


def prosody_missing():
    if os.access(pl.PROSODY, os.X_OK):
        return None
    return '%s not installed (Debian package prosody: sh regress/deps.sh ' \
        'prosody as root)' % pl.PROSODY


class Twisted:
    """Twisted Words' XMPP router (twist xmpp-router, Debian's
    python3-twisted): any component name with the one secret, routed by
    its domain; the epoll reactor, logging at warn."""

    label = 'Twisted'

    def __init__(self, name, domains=()):
        self.dir = tempfile.mkdtemp(prefix=name + '.', dir=gw.scratch())
        self.logpath = os.path.join(self.dir, 'twisted.log')
        self.proc = None
        self.port = None

    def start(self, timeout=30):
        self.port = gw.free_port(False)
        self.proc = subprocess.Popen(
            ['/usr/bin/python3', '-m', 'twisted', '--log-file=' +
             self.logpath, '--log-level=warn', '--log-format=text',
             '--reactor=epoll', 'xmpp-router', '--port=tcp:%d:interface='
             '127.0.0.1' % self.port, '--secret=' + SECRET],
            cwd=self.dir, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        gw._daemons.append(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if pl._accepts(self.port):
                return self
            time.sleep(0.05)
        self.kill()
        raise gw.Fail('twist xmpp-router did not start: %s' %
                      ' | '.join(self.log().splitlines()[-3:]))

    def log(self):
        try:
            with open(self.logpath, errors='replace') as f:
                return f.read()
        except OSError:
            return ''

    def pss_kb(self):
        return gw.proc_pss_kb(self.proc.pid) if self.proc and \
            self.proc.poll() is None else None

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self in gw._daemons:
            gw._daemons.remove(self)

    def stop_status(self):
        self.proc.terminate()
        try:
            rc = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            rc = None
        self.kill()
        # twist sets no handler for SIGTERM: it ends by the signal.
        return None if rc in (0, -signal.SIGTERM) else 'exit status %r' % rc

    def problems(self):
        return [ln for ln in self.log().splitlines() if ln.strip()]


def twisted_missing():
    try:
        import twisted.words.xmpproutertap  # noqa: F401
    except ImportError as e:
        return 'Twisted Words not installed (Debian package ' \
            'python3-twisted): %s' % e
    return None


def deb_version(pkg):
    try:
        r = subprocess.run(['dpkg-query', '-W', '-f', '${Version}', pkg],
                           capture_output=True, text=True)
        if r.returncode == 0 and r.stdout.strip():
            return r.stdout.strip()
    except OSError:
        pass
    return 'unknown'


# The peers beside gatewayd: label, class, why it is missing, package.
PEERS = [('Prosody', Prosody, prosody_missing, 'prosody'),
         ('Twisted', Twisted, twisted_missing, 'python3-twisted')]
if os.environ.get('BENCH_TWISTED', '1').strip() == '0':
    PEERS = PEERS[:1]
LABELS = ['gatewayd'] + [p[0] for p in PEERS]


# ---------------------------------------------------------------------------
# The load generator

NUM = r'([0-9.]+)'
RE_COUNTS = re.compile(r'([0-9]+) stanzas/s; sent ([0-9]+), received '
                       r'([0-9]+), lost ([0-9]+), errors ([0-9]+)')
RE_LAT = re.compile(r'sent at ([0-9]+)/s; latency p50 %s us, p99 %s us, '
                    r'p99\.9 %s us, max %s us' % (NUM, NUM, NUM, NUM))
RE_HS = re.compile(r'([0-9]+) (?:handshakes|components authenticated), '
                   r'[0-9]+ in flight: [0-9.]+ s, ([0-9]+) handshakes/s; '
                   r'errors ([0-9]+)')
RE_TALK = re.compile(r'talk: ([0-9]+) messages of ([0-9]+) components '
                     r'received in ([0-9.]+) s')
RE_IDLE = re.compile(r'([0-9]+) idle components: ([0-9]+) connected, '
                     r'([0-9]+) closed, ([0-9]+) sent something')

_runs_log = []


def log_run(server, what, text):
    _runs_log.append('%s %s, %s: %s' % (
        time.strftime('%H:%M:%S'), server.label, what, text.strip()))


class Run:
    """One run's figures: value (the measure's), and what went wrong:
    lost, errors, problem (no figure at all), behind (did not keep up)."""

    def __init__(self, value=None, lost=0, errors=0, problem=None,
                 behind=None, extra=None):
        self.value = value
        self.lost = lost
        self.errors = errors
        self.problem = problem
        self.behind = behind
        self.extra = extra or {}


def loadgen(server, what, args, timeout):
    """Runs the load generator against server; (status, its line, its
    stderr)."""
    try:
        r = subprocess.run([LOADGEN] + [str(a) for a in args],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        log_run(server, what, 'timed out after %d s' % timeout)
        return None, '', 'timed out after %d s' % timeout
    log_run(server, what, r.stdout + (' [stderr] ' + r.stderr
                                      if r.stderr.strip() else ''))
    return r.returncode, r.stdout.strip(), r.stderr.strip()


def why(out, err):
    return ' '.join((err or out or 'no output').split())[:300]


def throughput(server, pairs, size, stanzas=0, secs=None):
    secs = SECS if secs is None else secs
    rc, out, err = loadgen(server, 'throughput %d x %d' % (pairs, size),
                           ['-t', secs, server.port, pairs, stanzas, size,
                            SECRET], secs + 60)
    m = RE_COUNTS.search(out)
    if not m:
        return Run(problem=why(out, err))
    rate, sent, got, lost, errors = (int(x) for x in m.groups())
    return Run(rate if got else None, lost, errors,
               None if got else 'nothing received', extra={'got': got})


def latency(server, rate, stanzas=0, secs=None):
    secs = LAT_SECS if secs is None else secs
    rc, out, err = loadgen(server, 'latency at %d/s' % rate,
                           ['-t', secs, '-r', rate, server.port, 1, stanzas,
                            200, SECRET], secs + 60)
    m, ml = RE_COUNTS.search(out), RE_LAT.search(out)
    if not m or not ml:
        return Run(problem=why(out, err))
    delivered, sent, got, lost, errors = (int(x) for x in m.groups())
    sent_at = int(ml.group(1))
    p50, p99, p999, pmax = (float(x) for x in ml.groups()[1:])
    behind = None
    if min(delivered, sent_at) < KEEP_UP * rate:
        behind = 'delivered %s/s, written %s/s' % (num(delivered),
                                                     num(sent_at))
    return Run((p50, p99, p999), lost, errors,
               None if got else 'nothing received', behind,
               {'got': got, 'delivered': delivered})


def handshakes(server, count=0, secs=None):
    secs = SECS if secs is None else secs
    args = ['-H', '-c', INFLIGHT] + (['-t', secs] if not count else []) + \
        [server.port, count, SECRET]
    rc, out, err = loadgen(server, 'handshakes', args, secs + 60)
    m = RE_HS.search(out)
    if not m:
        return Run(problem=why(out, err))
    done, rate, errors = (int(x) for x in m.groups())
    if errors:
        return Run(rate if done else None, 0, errors,
                   None if done else why(out, err))
    return Run(rate if done else None, problem=None if done else
               'no handshake', extra={'done': done})


def read_line(proc, timeout):
    """A line of proc's standard output within timeout seconds, or ''."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline() if ready else ''


def slab_kb():
    """The kernel's slab caches in use (/proc/slabinfo, root only), KiB:
    sockets, their inodes and files, epoll's entries."""
    try:
        with open('/proc/slabinfo') as f:
            lines = f.read().splitlines()[2:]
    except OSError:
        return None
    total = 0
    for line in lines:
        v = line.split()
        if len(v) > 3 and v[1].isdigit() and v[3].isdigit():
            total += int(v[1]) * int(v[3])
    return total / 1024.0


def idle(server, n, wait):
    """n idle components, one at a time; the tree's PSS growth per
    component (bytes) wait seconds after the last handshake; then each
    sends the next TALK messages (loadgen's talk) and, wait seconds after
    the last is in, the growth again: two Runs."""
    time.sleep(0.5)		# the server settles after its start
    base = server.pss_kb()
    slab0 = slab_kb()
    proc = subprocess.Popen([LOADGEN, '-I', '-c', '1', str(server.port),
                             str(n), SECRET], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    first = read_line(proc, 60 + n * 0.05)
    log_run(server, 'idle %d' % n, first)
    m = RE_HS.search(first)
    if not m:
        proc.kill()
        out, err = proc.communicate(timeout=60)
        failed = Run(problem=why(first + out, err))
        return failed, failed
    done, hs_rate, errors = (int(x) for x in m.groups())
    time.sleep(wait)
    after = server.pss_kb()
    slab1 = slab_kb()
    proc.stdin.write('talk\n')
    proc.stdin.flush()
    talk = read_line(proc, 60 + n * 0.01)
    log_run(server, 'idle %d, talk' % n, talk)
    mt = RE_TALK.search(talk)
    time.sleep(wait)
    again = server.pss_kb()
    try:
        out, err = proc.communicate('', timeout=60)	# its stdin ends
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    log_run(server, 'idle %d' % n, out + (' [stderr] ' + err
                                          if err.strip() else ''))
    mi = RE_IDLE.search(out)
    closed = int(mi.group(3)) if mi else n
    talked = int(mi.group(4)) if mi else 0
    problem = None
    if done < n:
        problem = '%d of %d authenticated: %s' % (done, n, why(out, err))
    elif base is None or after is None or again is None:
        problem = 'PSS cannot be read (/proc/PID/smaps_rollup)'
    per = None if problem else (after - base) * 1024.0 / n
    kernel = None if problem or slab0 is None or slab1 is None else \
        (slab1 - slab0) * 1024.0 / n
    first_run = Run(per, closed, errors + talked, problem,
                    extra={'base': base, 'after': after, 'hs_rate': hs_rate,
                           'kernel': kernel})
    if not problem and not mt:
        problem = 'the talk did not end: %s' % why(talk + out, err)
    per = None if problem else (again - base) * 1024.0 / n
    lost = n * TALK - int(mt.group(1)) if mt else 0
    return first_run, Run(per, lost, errors + talked, problem,
                          extra={'after': again})


# ---------------------------------------------------------------------------
# The table

def num(v):
    return '{:,}'.format(int(round(v)))


def fmt_us(v):
    if v >= 10000:
        return '%.1f ms' % (v / 1000.0)
    if v >= 1000:
        return '%.2f ms' % (v / 1000.0)
    if v >= 10:
        return '%.0f us' % v
    return '%.1f us' % v


def fmt_ratio(g, p):
    if g is None or p is None or p == 0:
        return '-'
    r = g / p
    if r >= 100:
        return '%.0f' % r
    if r >= 10:
        return '%.1f' % r
    if r >= 0.1:
        return '%.2f' % r
    return '%.3f' % r


class Row:
    def __init__(self, measure, fmt):
        self.measure = measure
        self.fmt = fmt
        self.runs = dict((label, []) for label in LABELS)
        self.missing = {}	# label: why there is no figure at all

    def value(self, label, pick=None):
        vals = [r.value if pick is None else r.value[pick]
                for r in self.runs[label] if r.value is not None]
        return statistics.median(vals) if vals else None

    def cell(self, label, pick=None):
        if label in self.missing:
            return self.missing[label]
        v = self.value(label, pick)
        return '-' if v is None else self.fmt(v)

    def note(self):
        parts = []
        for label, runs in self.runs.items():
            if not runs:
                continue
            lost = sum(r.lost for r in runs)
            errors = sum(r.errors for r in runs)
            bad = [r for r in runs if r.lost or r.errors]
            if lost or errors:
                parts.append('%s: %s in %d of %d runs' % (label, ', '.join(
                    x for x in ('%s lost' % num(lost) if lost else '',
                                '%s errors' % num(errors) if errors else '')
                    if x), len(bad), len(runs)))
            behind = [r for r in runs if r.behind]
            if len(behind) * 2 > len(runs):
                parts.append('%s does not keep up: %s' % (
                    label, behind[len(behind) // 2].behind))
            elif behind:
                parts.append('%s behind in %d of %d runs' % (
                    label, len(behind), len(runs)))
            problems = [r.problem for r in runs if r.problem]
            if problems:
                parts.append('%s: no figure in %d of %d runs (%s)' % (
                    label, len(problems), len(runs), problems[0]))
        return '; '.join(parts)


def lat_rows(rate):
    rows = []
    for i, q in enumerate(('p50', 'p99', 'p99.9')):
        r = Row('latency %s at %s/s' % (q, num(rate)), fmt_us)
        r.pick = i
        rows.append(r)
    return rows


def render(rows, header):
    """The columns: measure, gatewayd, then each peer and the ratio
    gatewayd/peer, then the note."""
    head = ['measure', 'gatewayd']
    for label in LABELS[1:]:
        head += [label, 'ratio']
    table = [head + ['note' if any(r.note() for r in rows) else '']]
    for r in rows:
        pick = getattr(r, 'pick', None)
        g = r.value('gatewayd', pick)
        cells = [r.measure, r.cell('gatewayd', pick)]
        for label in LABELS[1:]:
            cells += [r.cell(label, pick),
                      fmt_ratio(g, r.value(label, pick))]
        table.append(cells + [r.note() if pick in (None, 0) else ''])
    ncol = len(head)
    w = [max(len(t[i]) for t in table) for i in range(ncol)]
    lines = []
    for t in table:
        cols = [t[0].ljust(w[0])] + [t[i].rjust(w[i])
                                     for i in range(1, ncol)]
        lines.append(('  '.join(cols) + '  ' + t[ncol]).rstrip())
    return '\n'.join(header + lines) + '\n'


def verdicts(tp, idle_row, idle_again):
    """What issue 15 asks of gatewayd, said of this run's figures."""
    out = []
    g, p = tp.value('gatewayd'), tp.value('Prosody')
    if g is not None and p:
        out.append('4 pairs x 200 B: gatewayd %.1f times Prosody (at least '
                   '%d asked): %s' % (g / p, RATIO_MIN, 'holds' if
                                      g / p >= RATIO_MIN else 'FAILS'))
    for row, what in ((idle_row, ''), (idle_again, ', after traffic')):
        v = row.value('gatewayd')
        if v is not None:
            out.append('PSS per idle component%s, %s components: %.2f KiB '
                       '(at most %d asked): %s' % (
                           what, num(IDLE), v / 1024.0, IDLE_MAX_KIB,
                           'holds' if v <= IDLE_MAX_KIB * 1024 else 'FAILS'))
    return ''.join(line + '\n' for line in out)


def machine():
    model = platform.processor() or 'unknown'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    return 'nproc %d, %s' % (len(os.sched_getaffinity(0)), model)


def commit():
    try:
        r = subprocess.run(['git', '-C', gw.TOP, 'rev-parse', '--short',
                            'HEAD'], capture_output=True, text=True)
        if r.returncode != 0:
            return 'unknown'
        c = r.stdout.strip()
        d = subprocess.run(['git', '-C', gw.TOP, 'status', '--porcelain',
                            '--untracked-files=no'], capture_output=True,
                           text=True)
        return c + (' (with local changes)' if d.stdout.strip() else '')
    except OSError:
        return 'unknown'


def command():
    args = ['%s=%s' % (k, os.environ[k]) for k in (
        'BENCH_ROUNDS', 'BENCH_SECS', 'BENCH_LAT_SECS', 'BENCH_IDLE',
        'BENCH_IDLE_WAIT', 'BENCH_TWISTED') if os.environ.get(k, '').strip()]
    return ' '.join(['make bench'] + args)


# ---------------------------------------------------------------------------
# make bench

def start(server, rows, what):
    try:
        return server.start(timeout=600)
    except gw.Fail as e:
        for r in rows:
            r.missing[server.label] = 'did not start'
        print('# %s %s: %s' % (server.label, what, e), flush=True)
        return None


def full():
    t_start = time.monotonic()
    missing = dict((label, why()) for label, _, why, _ in PEERS)
    tp_rows = [Row('stanzas/s, %s' % name, num)
               for name, _, _ in THROUGHPUT]
    lat = {rate: lat_rows(rate) for rate in RATES}
    hs_row = Row('handshakes/s, %d in flight' % INFLIGHT, num)
    idle_row = Row('PSS per idle component', lambda v: '%.2f KiB' % (
        v / 1024.0))
    idle_again = Row('the same after traffic, idle again',
                     lambda v: '%.2f KiB' % (v / 1024.0))
    idle_kernel = Row('kernel slab a connection, both ends',
                      lambda v: '%.2f KiB' % (v / 1024.0))
    idle_total = Row('PSS at start, %s configured' % num(IDLE),
                     lambda v: '%.1f MiB' % (v / 1024.0))
    idle_hs = Row('their handshakes/s, 1 in flight', num)
    rows = tp_rows + lat[RATES[0]] + lat[RATES[1]] + [hs_row]
    all_rows = rows + [idle_row, idle_again, idle_kernel, idle_total,
                       idle_hs]
    for label, why in missing.items():
        if why:
            for r in all_rows:
                r.missing[label] = 'not installed'

    def make(what, domains):
        out = [Gatewayd('%s-gatewayd' % what, domains)]
        out += [cls('%s-%s' % (what, label.lower()), domains)
                for label, cls, _, _ in PEERS if not missing[label]]
        return out

    when = datetime.datetime.now(datetime.timezone.utc)
    n = 1 + len([x for x in missing.values() if not x])
    print('# make bench: %d rounds, %s in turns, then %s idle components; '
          'about %d s' % (
              ROUNDS, ', '.join(label for label in LABELS
                                if not missing.get(label)), num(IDLE),
              ROUNDS * n / 2.0 * (8 * (SECS + 0.3) + 4 * (
                  LAT_SECS + 0.2)) + n * IDLE_WAIT + 5 + IDLE * (
                  0.003 + IDLE * 7e-7)), flush=True)
    servers = [x for x in make('bench', PAIR_NAMES + HS_NAMES)
               if start(x, rows, 'with the pairs')]
    for rnd in range(ROUNDS):
        for (name, pairs, size), row in zip(THROUGHPUT, tp_rows):
            for x in servers:
                row.runs[x.label].append(throughput(x, pairs, size))
        for rate in RATES:
            for x in servers:
                run = latency(x, rate)
                for r in lat[rate]:
                    r.runs[x.label].append(run)
        for x in servers:
            hs_row.runs[x.label].append(handshakes(x))
        print('# round %d of %d, 4 pairs x 200 B: %s (%.0f s)' % (
            rnd + 1, ROUNDS, ', '.join('%s %s' % (x.label, tp_rows[0].cell(
                x.label)) for x in servers), time.monotonic() - t_start),
            flush=True)
    stops = [(x.label, x.stop_status()) for x in servers]
    stops += [('%s\'s log' % x.label, '; '.join(x.problems()[:3]))
              for x in servers if not isinstance(x, Gatewayd) and
              x.problems()]

    # Idle components: a fresh server each, one after the other.
    for x in make('idle', idle_names(IDLE)):
        if not start(x, [idle_row, idle_again, idle_kernel, idle_total,
                         idle_hs], 'with %d components' % IDLE):
            continue
        run, again = idle(x, IDLE, IDLE_WAIT)
        idle_row.runs[x.label].append(run)
        idle_again.runs[x.label].append(again)
        idle_kernel.runs[x.label].append(Run(run.extra.get('kernel')))
        idle_total.runs[x.label].append(Run(run.extra.get('base')))
        idle_hs.runs[x.label].append(Run(run.extra.get('hs_rate')))
        stops.append((x.label, x.stop_status()))
        print('# idle, %s: %s (%.0f s)' % (x.label, idle_row.cell(x.label),
                                           time.monotonic() - t_start),
              flush=True)

    took = time.monotonic() - t_start
    versions = ['%s %s' % (pkg, deb_version(pkg) if not missing[label]
                           else '(not installed)')
                for label, _, _, pkg in PEERS]
    about = ('Medians of %d runs, the servers in turns for each; the load '
             'generator shares the cores.  Stanzas/s: %g s runs.  Latency: 1 '
             'pair x 200 B, %g s runs, from write to read.  Handshakes: '
             'each a new connection, closed after.  PSS: whole tree, %s '
             'idle components, %g s after the last handshake, and again as '
             'long after each sent the next %d messages (every fourth of 8 '
             'KB, the others 200 B).  Ratio: '
             'gatewayd / the peer to its left.' % (
                 ROUNDS, SECS, LAT_SECS, num(IDLE), IDLE_WAIT, TALK))
    header = ['make bench, %s, %s' % (when.strftime('%Y-%m-%d %H:%M UTC'),
                                      machine()),
              'gatewayd %s' % commit(),
              'Debian: %s' % ', '.join(versions)]
    header += textwrap.wrap(about, 76)
    header += ['Reproduce: %s (this run took %.0f s)' % (command(), took),
               '']
    text = render(all_rows, header)
    text += verdicts(tp_rows[0], idle_row, idle_again)
    notes = [r.note() for r in all_rows if r.note()]
    bad_stops = ['%s: %s' % (label, w) for label, w in stops if w]
    if not notes:
        text += 'Nothing lost and no error in any run.\n'
    if bad_stops:
        text += 'At the end: %s\n' % '; '.join(bad_stops)
    out = os.path.join(gw.TOP, OBJ, 'bench')
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, 'table.txt'), 'w') as f:
        f.write(text)
    with open(os.path.join(out, 'runs.txt'), 'w') as f:
        f.write('\n'.join(_runs_log) + '\n')
    print()
    sys.stdout.write(text)
    print('(also in %s/bench/table.txt; every run in %s/bench/runs.txt)' %
          (OBJ, OBJ))
    return 0 if not bad_stops else 1


# ---------------------------------------------------------------------------
# --short

def smoke(server):
    """Each measurement once, tiny: a number, nothing lost.  The idle
    components first, while the server is as it started."""
    P = 'bench: %s: ' % server.label

    def check(name, run, show):
        if run.problem:
            gw.notok(P + name, run.problem)
        elif run.lost or run.errors or run.value is None:
            gw.notok(P + name, '%d lost, %d errors' % (run.lost,
                                                       run.errors))
        else:
            gw.ok(P + '%s (%s)' % (name, show(run.value)))

    run, again = idle(server, IDLE, IDLE_WAIT)
    check('%d idle components, all still connected' % IDLE, run,
          lambda v: '%.2f KiB of PSS each' % (v / 1024.0))
    check('they exchange %d messages each, none lost, and rest' % TALK, again,
          lambda v: '%.2f KiB of PSS each' % (v / 1024.0))
    for name, pairs, size in THROUGHPUT:
        check('throughput %s, %s stanzas, none lost' % (
            name, num(SHORT_STANZAS)),
            throughput(server, pairs, size, SHORT_STANZAS, secs=30),
            lambda v: num(v) + '/s')
    for rate in RATES:
        n = SHORT_STANZAS * rate // RATES[0]
        check('latency at %s/s, %s stanzas, none lost' % (num(rate), num(n)),
              latency(server, rate, n, secs=0),
              lambda v: 'p50 %s, p99 %s, p99.9 %s' % tuple(
                  fmt_us(x) for x in v))
    check('%d handshakes, none failed' % SHORT_HANDSHAKES,
          handshakes(server, SHORT_HANDSHAKES), lambda v: num(v) + '/s')


def short():
    names = PAIR_NAMES + HS_NAMES + idle_names(IDLE)
    g = Gatewayd('smoke-gatewayd', names)
    try:
        g.start()
    except gw.Fail as e:
        gw.notok('bench: gatewayd: starts', e)
    else:
        smoke(g)
        gw.check_stop('bench: gatewayd', g)
    for label, cls, why, _ in PEERS:
        absent = why()
        if absent:
            gw.skip('bench: %s' % label, absent)
            continue
        x = cls('smoke-%s' % label.lower(), names)
        try:
            x.start()
        except gw.Fail as e:
            gw.notok('bench: %s: starts' % label, e)
            continue
        smoke(x)
        problems = x.problems()
        gw.check('bench: %s: SIGTERM exits 0, no error in its log' % label,
                 x.stop_status() or '; '.join(problems[:3]))


def main():
    global IDLE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < IDLE + 500:
        print('# the descriptor limit, %d, leaves room for %d idle '
              'components, not %d' % (hard, hard - 500, IDLE))
        IDLE = hard - 500
    if not os.access(LOADGEN, os.X_OK):
        gw.notok('bench: the load generator', '%s not built' % LOADGEN)
        gw.finish()
    if SHORT:
        short()
        gw.finish()
    rc = full()
    gw.cleanup()
    sys.exit(rc)


if __name__ == '__main__':
    main()
