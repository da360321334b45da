"""
What an attacker tried, each as a test that failed before its fix: an
authenticated component must not be able to make another component's
stream ill-formed, nor get more than the limits allow, and whatever it
sends that cannot be delivered is answered.
"""

import os
import resource
import select
import socket
import sys
import threading
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
import gwtest as gw			# noqa: E402
from gwtest import expect		# noqa: E402

NS_C = gw.NS_COMPONENT
SECRETS = {d: gw.new_secret(d.split('.')[0]) for d in
           ('a.example.org', 'b.example.org')}
COMPONENTS = ['component "a.example.org"', 'component "b.example.org"']
MAX_STANZA = 10000
MAX_ATTRS = 16
daemons = []


def daemon(name, lines=()):
    d = gw.Daemon(name, list(SECRETS.items()), list(lines), COMPONENTS,
                  ipv6=False)
    daemons.append(d)
    return d.start()


def comp(d, domain, attrs='', **kw):
    """An authenticated stream; attrs go on its header."""
    c = d.connect(**kw)
    c.send(gw.stream_header(domain, attrs))
    c.read_header()
    expect(c.handshake(SECRETS[domain]), 'handshake: %s' % c.describe())
    return c


def stanzas(c):
    return [e for e in c.stream.elements if e.tag in
            ('{%s}message' % NS_C, '{%s}presence' % NS_C, '{%s}iq' % NS_C)]


def wait_stanzas(c, n):
    c.read_until(lambda: len(stanzas(c)) >= n or c.stream.error is not None)
    expect(c.stream.error is None, 'ill-formed at the receiver: %s: %s' %
           (c.stream.error, c.describe()))
    got = stanzas(c)
    expect(len(got) >= n, '%d stanzas came, expected %d: %s' %
           (len(got), n, c.describe()))
    return got


def message(body, to='b.example.org', sid='m'):
    return ("<message from='a.example.org' to='%s' id='%s'>%s</message>" %
            (to, sid, body))


# ---------------------------------------------------------------------------
# 3. A handshake that redeclares a prefix of its header.

def t_handshake_redeclares(d):
    a = d.connect()
    a.send(gw.stream_header('a.example.org', "xmlns:p='urn:example:p'"))
    a.read_header()
    v = gw.digest(a.stream_id, SECRETS['a.example.org'])
    a.send("<handshake xmlns:p='urn:example:other'>%s</handshake>" % v)
    a.read_until(a.answered)
    expect(a.stream.handshake_ok(), 'handshake: %s' % a.describe())
    b = comp(d, 'b.example.org')
    a.send(message('<p:x/>', sid='r1'))
    m = wait_stanzas(b, 1)[0]
    expect(m.find('{urn:example:p}x') is not None,
           'the header prefix is lost: %s' % b.describe())
    a.close()
    b.close()


# 6. The stanza size limit is exact.

def sized(n):
    """A message of exactly n bytes."""
    s = message('<body>%s</body>', sid='s')
    return s % ('x' * (n - len(s % '')))


def t_limit_exact(d):
    a = comp(d, 'a.example.org')
    b = comp(d, 'b.example.org')
    a.send(sized(MAX_STANZA))
    m = wait_stanzas(b, 1)[0]
    expect(len(m.findtext('{%s}body' % NS_C)) > MAX_STANZA // 2,
           'the stanza at the limit is cut')
    a.send(sized(MAX_STANZA + 1))
    gw.expect_stream_error(a, 'policy-violation', 'a.example.org')
    # Our closing tag to b comes after anything a's stream could send.
    b.send(gw.CLOSE)
    b.read_to_eof()
    got = len(stanzas(b))
    expect(got == 1, '%d stanzas arrived, the one over the limit too' % got)
    b.close()


# 7. A stanza using the header's stream: prefix, undeliverable.

def t_bounce_stream_prefix(d):
    a = comp(d, 'a.example.org')
    a.send(message('<stream:x/>', to='nowhere.example', sid='b1'))
    a.read_until(lambda: len(stanzas(a)) >= 1 or a.eof)
    got = stanzas(a)
    expect(got and got[0].get('type') == 'error' and
           got[0].get('id') == 'b1' and
           got[0].find('{%s}x' % gw.NS_STREAMS) is not None,
           'no bounce: %s' % a.describe())
    a.close()


# A UTF-16 stream (found by stream_fuzz): expat would take it, and its
# stanzas would go as UTF-16 into the receivers' UTF-8 streams.

def t_utf16(d, bom):
    c = d.connect()
    c.send((bom + gw.stream_header('a.example.org')).encode('utf-16-le'))
    gw.expect_stream_error(c, 'unsupported-encoding', False)


# 12. Namespace declarations count as attributes; the header's are bound.

def t_nsdecl_counted(d):
    a = comp(d, 'a.example.org')
    decls = ' '.join("xmlns:p%d='urn:p%d'" % (i, i)
                     for i in range(MAX_ATTRS + 1))
    a.send("<message from='a.example.org' to='b.example.org' %s/>" % decls)
    gw.expect_stream_error(a, 'policy-violation', 'a.example.org')


def t_header_decls_bound(d):
    decls = ' '.join("xmlns:p%d='urn:example:%s'" % (i, 'x' * 40)
                     for i in range(MAX_ATTRS + 1))
    c = d.connect()
    c.send(gw.stream_header('a.example.org', decls))
    gw.expect_stream_error(c, 'policy-violation', False)


# 8. A destination stalled past the queue timeout: its stream error
# comes at a stanza's boundary, after whatever it had half received.

def t_stall_error_boundary(d):
    a = comp(d, 'a.example.org')
    b = comp(d, 'b.example.org')
    n = 6000		# more than the kernel's buffers hold
    data = ''.join(message('<body>%s</body>' % ('z' * 900), sid='%d' % i)
                   for i in range(n)).encode()
    a.sock.settimeout(None)
    sender = threading.Thread(target=a.sock.sendall, args=(data,),
                              daemon=True)
    sender.start()
    expect(d.wait_log('b.example.org: resource-constraint', 15),
           'no resource-constraint: %s' % d.log()[-400:])
    b.read_to_eof(10)
    p = gw.stream_error_problems(b, 'resource-constraint', 'b.example.org')
    expect(not p, 'the receiver: %s' % p)
    sender.join(15)
    a.close()


# 9. A receiver that stops reading while its queue is below the mark:
# nothing it had was acknowledged for the queue timeout, so it ends as
# a stalled one does, long before TCP's user timeout would have cut it
# without a word.  If it reads again within the grace, it gets what was
# written and its stream error; if not, the log says how many bytes it
# never acknowledged.

def not_reading(d):
    """b, with a small receive buffer, reads nothing of 60 KB that a
    sends it (below the queue mark of 64K: they sit in the sockets)."""
    a = comp(d, 'a.example.org')
    b = comp(d, 'b.example.org', rcvbuf=4096)
    n = 60
    a.send(''.join(message('<body>%s</body>' % ('y' * 1000), sid='%d' % i)
                   for i in range(n)))
    return a, b, n


def t_not_reading_error(d):
    start = d.log_count('nothing acknowledged')
    a, b, n = not_reading(d)
    t0 = time.monotonic()
    expect(d.wait_log('nothing acknowledged for 2 seconds', 10,
                      after=start),
           'no stream end for the receiver: %s' % d.log()[-400:])
    took = time.monotonic() - t0
    expect(took < 6, 'it took %.1f s' % took)
    b.read_to_eof(10)
    got = stanzas(b)
    expect(len(got) == n, '%d of %d stanzas came' % (len(got), n))
    p = gw.stream_error_problems(b, 'resource-constraint', 'b.example.org')
    expect(not p, 'the receiver: %s' % p)
    a.close()


def t_not_reading_counted(d):
    def lines():
        return [l for l in d.log().splitlines()
                if 'for b.example.org closed' in l and
                'bytes unacknowledged' in l]
    start = len(lines())
    a, b, n = not_reading(d)
    deadline = time.monotonic() + 15
    while len(lines()) == start and time.monotonic() < deadline:
        time.sleep(0.05)
    expect(len(lines()) > start,
           'no count of what was lost: %s' % d.log()[-400:])
    line = lines()[-1]
    lost = int(line.split(' bytes unacknowledged')[0].rsplit(' ', 1)[1])
    expect(lost > 10000, 'the log says: %s' % line)
    b.abort()
    a.close()


# 1. Lockout by idle connections: attackers that hold every
# unauthenticated slot (idle, or a byte every few seconds), reconnecting
# whenever they lose one, while a component reconnects again and again.

class Attacker(threading.Thread):
    """Keeps n connections to d from 127.0.0.2-9 (and ::1), each idle or
    sending a byte every 2 s; replaces the ones gatewayd closes, at most
    rate a second.  Runs until stop is set."""

    def __init__(self, d, n, slow=False, rate=200):
        super().__init__(daemon=True)
        self.d, self.n, self.slow, self.rate = d, n, slow, rate
        self.stop = threading.Event()
        self.socks = {}
        self.opened = 0
        self.hosts = ['127.0.0.%d' % i for i in range(2, 10)]
        if d.ipv6:
            self.hosts.append('::1')

    def connect(self, i):
        host = self.hosts[i % len(self.hosts)]
        fam = socket.AF_INET6 if ':' in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            if fam == socket.AF_INET:
                s.bind((host, 0))
            s.connect_ex(('127.0.0.1' if fam == socket.AF_INET else '::1',
                          self.d.port))
        except OSError:
            s.close()
            return
        self.socks[s] = time.monotonic()
        self.opened += 1

    def run(self):
        i = 0
        start = last_byte = time.monotonic()
        while not self.stop.is_set():
            allowed = self.n + self.rate * (time.monotonic() - start)
            while len(self.socks) < self.n and self.opened < allowed:
                self.connect(i)
                i += 1
            r, _, _ = select.select(list(self.socks), [], [], 0.1)
            for s in r:
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b''
                if not data:
                    del self.socks[s]
                    s.close()
            if self.slow and time.monotonic() - last_byte >= 2:
                last_byte = time.monotonic()
                for s in list(self.socks):
                    try:
                        s.send(b' ')
                    except OSError:
                        pass
        for s in self.socks:
            s.close()


def attempts(d, n=20):
    """A component reconnecting n times: how many got in within 1 s."""
    good = 0
    for _ in range(n):
        t0 = time.monotonic()
        try:
            c = d.connect()
            c.authenticate(SECRETS['a.example.org'], to='a.example.org')
            if time.monotonic() - t0 <= 1:
                good += 1
            c.close()
        except gw.Fail:
            pass
        time.sleep(0.05)
    return good


def t_lockout(d, n, slow):
    lines = len(d.log().splitlines())
    a = Attacker(d, n, slow)
    a.start()
    deadline = time.monotonic() + 10
    # The attackers hold every slot before the component tries.
    while len(a.socks) < min(n, 128) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    try:
        good = attempts(d)
    finally:
        a.stop.set()
        a.join(10)
    lines = len(d.log().splitlines()) - lines
    print('# %d attackers%s: the component got in %d times of 20; %d '
          'attacker connections opened; %d log lines' % (
              n, ' (slow)' if slow else '', good, a.opened, lines),
          flush=True)
    # 11. Log flooding: lines per source and kind, not per connection
    # (the component's own 20 sessions log about 8 lines each).
    expect(lines < 200 + a.opened // 10,
           '%d log lines for %d attacker connections' % (lines, a.opened))
    expect(good >= 18, 'the component got in %d times of 20 (%d attacker '
           'connections opened)' % (good, a.opened))


# 4. A large start tag sent a byte per segment: no quadratic reparse.

def cpu_seconds(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def t_bytewise_tag(d, size):
    a = comp(d, 'a.example.org')
    b = comp(d, 'b.example.org')
    engine = d.child_pid('engine')
    a.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    head = ("<message from='a.example.org' to='b.example.org' id='big' "
            "x='").encode()
    data = head + b'a' * size + b"'/>"
    cpu0 = cpu_seconds(engine)
    a.sock.setblocking(True)
    # A byte every 20 us: each comes alone, as fast as the engine reads.
    for i in range(len(data)):
        a.sock.send(data[i:i + 1])
        t = time.perf_counter()
        while time.perf_counter() - t < 0.00002:
            pass
    t_end = time.monotonic()
    m = wait_stanzas(b, 1)[0]
    late = time.monotonic() - t_end
    cpu = cpu_seconds(engine) - cpu0
    print('# %d-byte start tag a byte at a time: engine CPU %.2f s, '
          'delivered %.3f s after its last byte' % (size, cpu, late),
          flush=True)
    expect(len(m.get('x') or '') == size, 'the stanza is cut')
    expect(cpu <= 1.0, 'engine CPU %.2f s' % cpu)
    expect(late < 0.5, 'delivered %.2f s after its last byte' % late)
    a.close()
    b.close()


def main():
    t0 = time.monotonic()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    d = daemon('attack', ['max stanza size %d' % MAX_STANZA,
                          'max attributes %d' % MAX_ATTRS])
    P = 'attack: '
    gw.run(P + 'a handshake redeclaring a header prefix leaves the '
           'receiver well-formed', t_handshake_redeclares, d)
    gw.run(P + 'a stanza at the size limit passes, one byte over is '
           'policy-violation', t_limit_exact, d)
    gw.run(P + 'an undeliverable stanza using the stream: prefix is '
           'bounced', t_bounce_stream_prefix, d)
    gw.run(P + 'a UTF-16 stream -> unsupported-encoding', t_utf16, d, '')
    gw.run(P + 'a UTF-16 stream with a byte order mark -> '
           'unsupported-encoding', t_utf16, d, '\ufeff')
    gw.run(P + 'namespace declarations count as attributes',
           t_nsdecl_counted, d)
    gw.run(P + 'a header with more declarations than attributes allowed '
           '-> policy-violation', t_header_decls_bound, d)
    gw.check_stop(P + 'SIGTERM exits 0', d)

    d = daemon('bytewise')
    gw.run(P + 'a 200 KB start tag sent a byte at a time costs the engine '
           'at most 1 s of CPU and is delivered at once', t_bytewise_tag, d,
           200000)
    gw.check_stop(P + 'bytewise: SIGTERM exits 0', d)

    d = daemon('lockout')
    for n, slow in ((128, False), (128, True), (1000, False), (1000, True)):
        gw.run(P + '%d attacker connections%s: a reconnecting component '
               'gets in 18 times of 20, each within 1 s' % (
                   n, ', a byte every 2 s' if slow else ''),
               t_lockout, d, n, slow)
    gw.check_stop(P + 'lockout: SIGTERM exits 0', d)

    d = daemon('stall', ['queue timeout 2', 'max queue size 64K'])
    gw.run(P + 'a stalled destination gets its stream error at a stanza '
           'boundary', t_stall_error_boundary, d)
    gw.run(P + 'a receiver that reads nothing below the queue mark ends '
           'within the queue timeout, with its stream error when it reads',
           t_not_reading_error, d)
    gw.run(P + 'a receiver that never reads again: the log counts what it '
           'never acknowledged', t_not_reading_counted, d)
    gw.check_stop(P + 'stall: SIGTERM exits 0', d)
    gw.check_logs_clean(P + 'no secret and no digest in any log', daemons)
    print('# %s: %.1fs' % (os.path.basename(__file__),
                           time.monotonic() - t0), flush=True)
    gw.finish()


if __name__ == '__main__':
    main()
