"""
Stress 1: slowloris.  1,000 attacker connections (200 short) from
127.0.0.2-9, each sending a stream header one byte every 2 s (never
finishing it), reconnecting whenever gatewayd sheds one, for 60 s (10 s
short), under the default limits (128 unauthenticated, 16 per address).
Meanwhile a real component reconnects every 0.5 s: at least 90% of its
attempts get in, each within 1 s.  The engine's RSS and CPU stay within
bounds; the daemon lives.  The attackers run in a process of their own,
so that they do not take the component's interpreter.
"""

import collections
import multiprocessing
import os
import re
import selectors
import signal
import socket
import sys
import time

sys.dont_write_bytecode = True	# no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stresslib as st  # noqa: E402
from stresslib import gw  # noqa: E402

# Attacker connections held at once (full, short).
CONNS = st.pick(1000, 200)
# Seconds of attack (full, short).
DURATION = st.pick(60, 10)
# Seconds between an attacker's header bytes.
BYTE_EVERY = 2.0
# Attacker connections opened a second at most, reconnections included.
RECONNECT_RATE = 500
# Seconds between the component's attempts.
ATTEMPT_EVERY = 0.5
# Bound: the share of its attempts that get in ...
GOT_IN_SHARE = 0.90
# ... each within this many seconds (measured: all, the slowest in 0.01 s).
GOT_IN_WITHIN = 1.0
# Bound: engine RSS during the attack (measured 5 MB short, 9 MB full).
ENGINE_RSS_MAX_MB = 16
# Bound: engine CPU seconds over the attack (measured 0.22 s, 1.2 s full).
ENGINE_CPU_MAX = st.pick(12, 3)

P = 'stress: slowloris: '
IRC = 'irc.example.org'
IRC_1 = gw.new_secret('irc')
HEADER = gw.stream_header(IRC).encode()
COND = re.compile(rb"<([a-z-]+) xmlns='urn:ietf:params:xml:ns:xmpp-streams'")


def attackers(port, stop, filled, pipe):
    """Keeps CONNS connections, each sending a header byte every
    BYTE_EVERY seconds; replaces the ones gatewayd closes, at most
    RECONNECT_RATE a second.  Sends its counts when stop is set."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    st.raise_nofile()
    sel = selectors.DefaultSelector()
    hosts = ['127.0.0.%d' % i for i in range(2, 10)]
    socks = {}			# socket -> [bytes sent, next byte time]
    n = {'opened': 0, 'shed': 0, 'bytes': 0, 'connect failed': 0,
         'most': 0}
    conds = collections.Counter()
    start = last_pass = time.monotonic()
    i = 0
    while not stop.is_set():
        now = time.monotonic()
        allowed = CONNS + RECONNECT_RATE * (now - start)
        while len(socks) < CONNS and n['opened'] < allowed:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.bind((hosts[i % len(hosts)], 0))
                s.connect_ex(('127.0.0.1', port))
            except OSError:
                s.close()
                n['connect failed'] += 1
                break
            i += 1
            socks[s] = [0, now + BYTE_EVERY * (i % 20) / 20.0]
            sel.register(s, selectors.EVENT_READ)
            n['opened'] += 1
        if len(socks) >= CONNS:
            filled.set()
        n['most'] = max(n['most'], len(socks))
        for key, _ in sel.select(0.05):
            s = key.fileobj
            try:
                data = s.recv(65536)
            except OSError:
                data = b''
            if data:
                conds.update(m.decode() for m in COND.findall(data))
                continue
            sel.unregister(s)
            del socks[s]
            s.close()
            n['shed'] += 1
        now = time.monotonic()
        if now - last_pass >= 0.1:
            last_pass = now
            for s, state in socks.items():
                if now >= state[1] and state[0] < len(HEADER) - 1:
                    try:
                        if s.send(HEADER[state[0]:state[0] + 1]) == 1:
                            state[0] += 1
                            n['bytes'] += 1
                    except OSError:
                        pass
                    state[1] = now + BYTE_EVERY
    for s in socks:
        s.close()
    n['conditions'] = dict(conds)
    pipe.send(n)
    pipe.close()


def attempt(d):
    """The component connects and authenticates: seconds it took, or
    None if it did not get in."""
    t0 = time.monotonic()
    try:
        c = d.connect()
        try:
            c.authenticate(IRC_1, to=IRC)
        finally:
            c.close()
    except (gw.Fail, OSError):
        return None
    return time.monotonic() - t0


def main():
    st.raise_nofile()
    d = gw.Daemon('slowloris', [(IRC, IRC_1)], [],
                  components=['component "%s"' % IRC], ipv6=False)
    try:
        d.start()
    except gw.Fail as e:
        gw.notok(P + 'daemon starts', e)
        st.done('slowloris')
    st.costs(d, 'before')
    gw.check(P + 'the component gets in before the attack',
             None if attempt(d) is not None else 'refused')
    lines0 = len(d.log().splitlines())
    ctx = multiprocessing.get_context('fork')
    stop, filled = ctx.Event(), ctx.Event()
    a, b = ctx.Pipe()
    proc = ctx.Process(target=attackers, args=(d.port, stop, filled, b),
                       daemon=True)
    proc.start()
    times = []
    rss_max = 0
    if not filled.wait(20):
        gw.notok(P + 'attackers', 'did not open %d connections' % CONNS)
    t0 = time.monotonic()
    cpu0 = st.engine_cpu(d)
    while time.monotonic() - t0 < DURATION:
        start = time.monotonic()
        times.append(attempt(d))
        rss_max = max(rss_max, st.engine_kb(d) or 0)
        wait = ATTEMPT_EVERY - (time.monotonic() - start)
        if wait > 0:
            time.sleep(wait)
    cpu1 = st.engine_cpu(d)
    cpu = None if None in (cpu0, cpu1) else cpu1 - cpu0
    st.costs(d, 'at the end of the attack')
    stop.set()
    n = a.recv() if a.poll(30) else {}
    proc.join(30)
    lines = len(d.log().splitlines()) - lines0
    good = [t for t in times if t is not None and t <= GOT_IN_WITHIN]
    got_in = [t for t in times if t is not None]
    st.figure('%d attackers for %d s: %s connections opened, %s shed, %s '
              'header bytes sent, at most %s open; stream errors: %s',
              CONNS, DURATION, n.get('opened'), n.get('shed'),
              n.get('bytes'), n.get('most'), ', '.join(
                  '%s %d' % kv for kv in sorted(
                      n.get('conditions', {}).items())) or 'none')
    st.figure('the component: %d attempts, %d got in, %d within %.1f s; '
              'slowest %s', len(times), len(got_in), len(good),
              GOT_IN_WITHIN, '%.3f s' % max(got_in) if got_in else '-')
    st.figure('engine CPU %s s over %d s, RSS at most %s; %d log lines',
              '-' if cpu is None else '%.2f' % cpu, DURATION,
              st.fmt_mb(rss_max), lines)
    need = int(GOT_IN_SHARE * len(times) + 0.999)
    gw.check(P + '%d slow attackers: the component gets in %d%% of its '
             'attempts, each within %.0f s' % (
                 CONNS, GOT_IN_SHARE * 100, GOT_IN_WITHIN),
             None if times and len(good) >= need else
             '%d of %d attempts got in within %.1f s (%d at all)' % (
                 len(good), len(times), GOT_IN_WITHIN, len(got_in)))
    gw.check(P + 'the attack went on: its connections were ended and '
             'replaced', None if n.get('shed', 0) > CONNS else
             'only %s ended' % n.get('shed'))
    st.memory_check(P + 'engine RSS at most %d MB' % ENGINE_RSS_MAX_MB,
                    st.mb(rss_max), ENGINE_RSS_MAX_MB, 'engine RSS')
    bound = st.cpu_bound(ENGINE_CPU_MAX)
    gw.check(P + 'engine CPU at most %g s over the attack' % bound,
             'no engine' if cpu is None else None if cpu <= bound else
             'engine CPU %.2f s' % cpu)
    gw.check(P + 'the daemon lives', None if d.alive() else
             'daemon died: %s' % d.log().splitlines()[-3:])
    gw.check_stop(P.rstrip(': '), d)
    gw.check_logs_clean(P + 'no secret and no digest in the log', [d])
    st.done('slowloris')


if __name__ == '__main__':
    main()
