#!/usr/bin/python3
"""
The uplink (issue 14) against a server of our own making: a socket
server on loopback that speaks the accepting side of XEP-0114 as a real
server does (its header with an id, the handshake checked with the
component's secret, <handshake/>), so that the tests see every byte
gatewayd sends and can make the server misbehave.  Prosody itself is
uplink_prosody_test.py's.
"""

import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
import gwtest as gw  # noqa: E402

COMP = 'irc.example.org'
COMP_SECRET = gw.new_secret('comp')
UP_SECRET = gw.new_secret('upstream')
NS = "xmlns='jabber:component:accept' " \
     "xmlns:stream='http://etherx.jabber.org/streams'"


class FakeStream:
    """One stream gatewayd opened to the fake server."""

    def __init__(self, server, sock):
        self.server = server
        self.sock = sock
        self.stream = gw.ServerStream()	# parses what gatewayd sends
        self.id = None
        self.handshake = None
        self.accepted = False
        self.closed = False
        self.closing = False
        self.lock = threading.Lock()
        self.reading = threading.Event()	# cleared: the server stalls
        self.reading.set()

    def send(self, data):
        try:
            self.sock.sendall(data.encode())
        except OSError:
            pass

    def stanzas(self):
        with self.lock:
            return [e for e in self.stream.elements
                    if not e.tag.endswith('}handshake')]

    def run(self):
        s = self.server
        while True:
            self.reading.wait()
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b''
            if not data:
                break
            with self.lock:
                self.stream.feed(data)
            self.step()
        self.closed = True

    def step(self):
        st = self.stream
        s = self.server
        if st.closed and not self.closing:
            # Our closing tag: the server answers with its own, as a
            # real one does.
            self.closing = True
            self.send('</stream:stream>')
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        if self.id is None and st.header is not None:
            self.id = s.make_id()
            self.send("<?xml version='1.0'?><stream:stream %s id='%s'%s>" %
                      (NS, self.id, " from='%s'" % st.header.get('to')
                       if s.send_from else ''))
        if self.handshake is None:
            for e in st.elements:
                if e.tag.endswith('}handshake'):
                    self.handshake = (e.text or '').strip()
                    want = gw.digest(self.id, s.secret)
                    if self.handshake == want and s.accept:
                        self.accepted = True
                        self.send('<handshake/>')
                    else:
                        self.send("<stream:error><not-authorized xmlns="
                                  "'urn:ietf:params:xml:ns:xmpp-streams'/>"
                                  "</stream:error></stream:stream>")
                        try:
                            self.sock.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass


class FakeServer:
    """An XMPP server's component port, for one component's secret."""

    def __init__(self, secret, port=None, accept=True, send_from=True):
        self.secret = secret
        self.accept = accept
        self.send_from = send_from
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(('127.0.0.1', port or 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.streams = []
        self.connects = []		# monotonic time of each
        self.n = 0
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def make_id(self):
        self.n += 1
        return 'srv-%d-%s' % (self.n, os.urandom(6).hex())

    def _accept(self):
        while not self.stopped:
            try:
                sock, _ = self.lsock.accept()
            except OSError:
                return
            self.connects.append(time.monotonic())
            fs = FakeStream(self, sock)
            self.streams.append(fs)
            threading.Thread(target=fs.run, daemon=True).start()

    def wait(self, pred, timeout=gw.TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return True
            time.sleep(0.01)
        return pred()

    def current(self):
        """The last stream that was accepted, waited for."""
        self.wait(lambda: self.streams and self.streams[-1].accepted)
        return self.streams[-1] if self.streams else None

    def stop(self):
        self.stopped = True
        try:
            # Wakes the thread in accept(2), which close alone does not.
            self.lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.lsock.close()
        for fs in self.streams:
            try:
                fs.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            fs.sock.close()


def daemon(name, server, extra=()):
    up = os.path.join(gw.scratch(), name + '.upsecrets')
    fd = os.open(up, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        f.write('%s %s\n' % (COMP, UP_SECRET))
    gw.SENT_SECRETS.add(UP_SECRET)
    d = gw.Daemon(name, [(COMP, COMP_SECRET),
                         ('bridge.example.org', gw.new_secret('bridge'))],
                  lines=['upstream "xmpp" {',
                         '\tconnect to 127.0.0.1 port %d' % server.port,
                         '\tsecrets "%s"' % up] + list(extra) + ['}'],
                  components=['component "%s" { upstream "xmpp" }' % COMP,
                              'component "bridge.example.org"'])
    return d.start()


def comp(d, name=COMP, secret=COMP_SECRET):
    c = d.connect()
    c.authenticate(secret, to=name)
    gw.expect(c.stream.handshake_ok(), '%s not authenticated: %s' %
              (name, c.describe()))
    return c


def t_up(d, server):
    fs = server.current()
    gw.expect(fs is not None and fs.accepted,
              'no uplink accepted by the server')
    h = fs.stream.header
    gw.expect(h.get('to') == COMP, 'header to=%r' % h.get('to'))
    gw.expect('id' not in h and 'from' not in h,
              'our header has id or from: %r' % h)
    gw.expect(d.wait_log('uplink of %s: up' % COMP), 'no "up" in the log')


def t_server_to_component(d, server):
    fs = server.current()
    c = comp(d)
    for i in range(20):
        fs.send("<message from='alice@xmpp.test/r' to='%s' id='s%d'>"
                "<body>%d</body></message>" % (COMP if i % 2 else
                                               'room@' + COMP, i, i))
    got = c.read_until(lambda: len(c.stream.elements) >= 21)
    ids = [e.get('id') for e in c.stream.elements[1:]]
    gw.expect(got and ids == ['s%d' % i for i in range(20)],
              'component got %r' % ids)
    c.close()


def t_component_to_server(d, server):
    fs = server.current()
    c = comp(d)
    before = len(fs.stanzas())
    for i in range(20):
        c.send("<message from='bot@%s' to='alice@xmpp.test' id='c%d'>"
               "<body>%d</body></message>" % (COMP, i, i))
    server.wait(lambda: len(fs.stanzas()) >= before + 20)
    ids = [e.get('id') for e in fs.stanzas()[before:]]
    gw.expect(ids == ['c%d' % i for i in range(20)],
              'server got %r' % ids)
    gw.expect(fs.stream.error is None, 'our stream to the server is not '
              'well-formed: %s' % fs.stream.error)
    c.close()


def t_local_stays_local(d, server):
    fs = server.current()
    a, b = comp(d), comp(d, 'bridge.example.org',
                         d.secrets[1][1])
    before = len(fs.stanzas())
    a.send("<message from='%s' to='bridge.example.org' id='l1'/>" % COMP)
    got = b.read_until(lambda: len(b.stream.elements) >= 2)
    gw.expect(got and b.stream.elements[1].get('id') == 'l1',
              'local stanza not delivered locally')
    # bridge has no upstream: beyond us it is bounced as before.
    b.send("<message from='bridge.example.org' to='x@xmpp.test' id='l2'/>")
    got = b.read_until(lambda: len(b.stream.elements) >= 3)
    gw.expect(got and b.stream.elements[2].get('type') == 'error',
              'a component without an upstream was not bounced')
    gw.expect(len(fs.stanzas()) == before, 'a local stanza went up')
    a.close()
    b.close()


def t_wrong_to_from_server(d, server):
    fs = server.current()
    c = comp(d)
    before = len(fs.stanzas())
    fs.send("<message from='alice@xmpp.test' to='other.example.org' "
            "id='w1'/>")
    server.wait(lambda: len(fs.stanzas()) > before)
    got = fs.stanzas()[before:]
    gw.expect(got and got[0].get('type') == 'error' and
              got[0].get('id') == 'w1',
              'no error to the server for a stanza to another domain')
    gw.expect(len(c.stream.elements) == 1, 'the component got it')
    c.close()


def errors_for(fs, ids):
    """The error stanzas the server got for these ids: {id: condition}."""
    got = {}
    for e in fs.stanzas():
        if e.get('type') == 'error' and e.get('id') in ids:
            conds = [c.tag.split('}', 1)[1] for err in e
                     if err.tag.endswith('}error') for c in err]
            got[e.get('id')] = conds[0] if conds else None
    return got


def t_grace_delivered(d, server):
    """Gone and back within the grace: it gets all, the server no error."""
    fs = server.current()
    c = comp(d)
    closed = d.log_count('%s closed' % COMP)
    held = d.log_count('holding stanzas')
    gw.orderly_close(c)		# our closing tag is not held back
    d.wait_log('%s closed' % COMP, after=closed)
    ids = ['g%d' % i for i in range(30)]
    for i in ids:
        fs.send("<message from='alice@xmpp.test/r' to='%s' id='%s'>"
                "<body>%s</body></message>" % (COMP, i, i))
    gw.expect(d.wait_log('holding stanzas', after=held), 'nothing held')
    c = comp(d)
    got = c.read_until(lambda: len(c.stream.elements) >= 31)
    have = [e.get('id') for e in c.stream.elements[1:]]
    gw.expect(got and have == ids, 'component got %r' % have)
    gw.expect(not errors_for(fs, ids), 'the server got errors: %r' %
              errors_for(fs, ids))
    c.close()


def t_grace_expired(d, server):
    """Not back within the grace: each held stanza is answered."""
    fs = server.current()
    ids = ['x%d' % i for i in range(5)]
    t0 = time.monotonic()
    for i in ids:
        fs.send("<iq from='alice@xmpp.test/r' to='%s' id='%s' type='get'>"
                "<query xmlns='jabber:iq:version'/></iq>" % (COMP, i))
    server.wait(lambda: len(errors_for(fs, ids)) == len(ids), 10)
    took = time.monotonic() - t0
    errs = errors_for(fs, ids)
    gw.expect(sorted(errs) == sorted(ids) and
              set(errs.values()) == {'remote-server-timeout'},
              'errors %r' % errs)
    gw.expect(took <= 2 + 1.5, 'answered after %.1f s (grace 2)' % took)
    # Past the grace, what comes is answered at once.
    t0 = time.monotonic()
    fs.send("<message from='alice@xmpp.test/r' to='%s' id='late'/>" % COMP)
    server.wait(lambda: 'late' in errors_for(fs, ['late']))
    gw.expect('late' in errors_for(fs, ['late']) and
              time.monotonic() - t0 < 1, 'a later stanza not answered at once')


def t_grace_size(d, server):
    """Over the bound: what is held is answered, not kept."""
    fs = server.current()
    c = comp(d)
    closed = d.log_count('%s closed' % COMP)
    c.close()
    d.wait_log('%s closed' % COMP, after=closed)
    ids = ['z%d' % i for i in range(8)]
    body = 'b' * 1000
    for i in ids:
        fs.send("<message from='alice@xmpp.test/r' to='%s' id='%s'>"
                "<body>%s</body></message>" % (COMP, i, body))
    server.wait(lambda: len(errors_for(fs, ids)) == len(ids), 5)
    errs = errors_for(fs, ids)
    gw.expect(sorted(errs) == sorted(ids), 'errors for %r only' %
              sorted(errs))
    gw.expect(d.wait_log('grace size reached'), 'not logged')


def t_uplink_down_held(d, server):
    """The uplink is down: the component's stanzas wait for it."""
    c = comp(d)
    port = server.port
    down = d.log_count('uplink of %s: down' % COMP)
    held = d.log_count('uplink away, holding')
    server.stop()
    d.wait_log('uplink of %s: down' % COMP, after=down)
    ids = ['u%d' % i for i in range(10)]
    for i in ids:
        c.send("<message from='%s' to='alice@xmpp.test' id='%s'/>" %
               (COMP, i))
    gw.expect(d.wait_log('uplink away, holding', after=held),
              'nothing held')
    server2 = FakeServer(UP_SECRET, port=port)
    fs = server2.current()
    server2.wait(lambda: len(fs.stanzas()) >= len(ids), 10)
    have = [e.get('id') for e in fs.stanzas()]
    gw.expect(have == ids, 'server got %r' % have)
    gw.expect(len(c.stream.elements) == 1, 'the component got errors')
    c.close()
    return server2


def t_server_restart(d, server):
    fs = server.current()
    n = len(server.streams)
    fs.send('</stream:stream>')
    server.wait(lambda: len(server.streams) > n and
                server.streams[-1].accepted, 10)
    gw.expect(len(server.streams) > n and server.streams[-1].accepted,
              'the uplink did not come back')
    c = comp(d)
    c.send("<message from='%s' to='alice@xmpp.test' id='again'/>" % COMP)
    fs2 = server.streams[-1]
    server.wait(lambda: any(e.get('id') == 'again' for e in fs2.stanzas()))
    gw.expect(any(e.get('id') == 'again' for e in fs2.stanzas()),
              'traffic did not resume')
    c.close()


def t_backoff():
    """A wrong upstream secret: refused, logged, tried again later."""
    server = FakeServer(UP_SECRET, accept=False)
    d = daemon('uplink-backoff', server)
    server.wait(lambda: len(server.connects) >= 4, 15)
    t = server.connects
    gw.expect(len(t) >= 4, 'only %d tries in 15 s' % len(t))
    gaps = [b - a for a, b in zip(t, t[1:])]
    gw.expect(gaps[0] < 1.5 and gaps[2] > gaps[0],
              'tries not backing off: gaps %r' % gaps)
    gw.expect(d.log_count('not-authorized') >= 2,
              'the server\'s reason is not logged')
    # Nothing else is disturbed: local components still route.
    a, b = comp(d), comp(d, 'bridge.example.org', d.secrets[1][1])
    a.send("<message from='%s' to='bridge.example.org' id='x'/>" % COMP)
    got = b.read_until(lambda: len(b.stream.elements) >= 2)
    gw.expect(got, 'local routing disturbed')
    a.close()
    b.close()
    gw.expect(d.stop() == 0, 'exit status')
    server.stop()


def t_backpressure(d, server):
    """A server that stops reading holds the component back: no bounce."""
    fs = server.current()
    c = comp(d)
    before = len(fs.stanzas())
    fs.reading.clear()
    body = 'p' * 2000
    n = 16000			# 32 MB: past the queue and the sockets
    data = ''.join("<message from='%s' to='alice@xmpp.test' id='p%d'>"
                   "<body>%s</body></message>" % (COMP, i, body)
                   for i in range(n))
    sender = threading.Thread(target=c.send, args=(data,), daemon=True)
    sender.start()
    sender.join(2)
    blocked = sender.is_alive()
    fs.reading.set()
    sender.join(30)
    server.wait(lambda: len(fs.stanzas()) >= before + n, 30)
    ids = [e.get('id') for e in fs.stanzas()[before:]]
    gw.expect(blocked, 'the component was never held back')
    gw.expect(ids == ['p%d' % i for i in range(n)], 'server got %d, '
              'in order: %s' % (len(ids), ids == sorted(ids)))
    gw.expect(len(c.stream.elements) == 1, 'the component got %d errors' %
              (len(c.stream.elements) - 1))
    c.close()


def t_backpressure_down(d, server):
    """A component that does not read holds the server back, no bounce."""
    fs = server.current()
    c = d.connect(rcvbuf=4096)
    c.authenticate(COMP_SECRET, to=COMP)
    gw.expect(c.stream.handshake_ok(), 'not authenticated')
    before = len(fs.stanzas())
    body = 'q' * 2000
    n = 16000			# 32 MB, as above
    data = ''.join("<message from='alice@xmpp.test' to='%s' id='q%d'>"
                   "<body>%s</body></message>" % (COMP, i, body)
                   for i in range(n))
    sender = threading.Thread(target=fs.send, args=(data,), daemon=True)
    sender.start()
    sender.join(2)
    blocked = sender.is_alive()
    got = c.read_until(lambda: len(c.stream.elements) >= n + 1, 30)
    ids = [e.get('id') for e in c.stream.elements[1:]]
    gw.expect(blocked, 'the server was never held back')
    gw.expect(got and ids == ['q%d' % i for i in range(n)],
              'component got %d' % len(ids))
    gw.expect(not [e for e in fs.stanzas()[before:]
                   if e.get('type') == 'error'], 'errors to the server')
    c.close()


def t_reload():
    """A reload adds, changes and removes uplinks, the others untouched."""
    a, b, b2 = (FakeServer(UP_SECRET), FakeServer(UP_SECRET),
                FakeServer(UP_SECRET))
    up = os.path.join(gw.scratch(), 'uplink-reload.upsecrets')
    fd = os.open(up, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        for dom in (COMP, 'bridge.example.org', 'new.example.org'):
            f.write('%s %s\n' % (dom, UP_SECRET))

    def lines(b_port):
        return ['upstream "xmpp" {', '\tconnect to 127.0.0.1 port %d' %
                a.port, '\tsecrets "%s"' % up, '}',
                'upstream "two" {', '\tconnect to 127.0.0.1 port %d' %
                b_port, '\tsecrets "%s"' % up, '}']
    d = gw.Daemon('uplink-reload', [(COMP, COMP_SECRET),
                                    ('bridge.example.org', 'b' * 20),
                                    ('new.example.org', 'n' * 20)],
                  lines=lines(b.port),
                  components=['component "%s" { upstream "xmpp" }' % COMP,
                              'component "bridge.example.org" { '
                              'upstream "two" }']).start()
    gw.expect(a.wait(lambda: len(a.streams) == 1 and a.streams[0].accepted)
              and b.wait(lambda: b.streams and b.streams[0].accepted),
              'uplinks not up')
    # "two" moves to b2, new.example.org joins "xmpp".
    d.lines = lines(b2.port)
    d.components = ['component "%s" { upstream "xmpp" }' % COMP,
                    'component "bridge.example.org" { upstream "two" }',
                    'component "new.example.org" { upstream "xmpp" }']
    d.write_config()
    d.proc.send_signal(signal.SIGHUP)
    gw.expect(b2.wait(lambda: b2.streams and b2.streams[0].accepted),
              'the changed upstream did not move')
    gw.expect(a.wait(lambda: len(a.streams) == 2 and a.streams[1].accepted)
              and a.streams[1].stream.header.get('to') == 'new.example.org',
              'the new component has no uplink')
    gw.expect(b.wait(lambda: b.streams[0].closed), 'the old uplink of '
              'the changed upstream did not end')
    gw.expect(not a.streams[0].closed and len(a.connects) == 2,
              'the unchanged uplink was touched')
    # new.example.org goes again.
    d.components = d.components[:2]
    d.write_config()
    d.proc.send_signal(signal.SIGHUP)
    gw.expect(a.wait(lambda: a.streams[1].closed), 'the removed '
              'component\'s uplink did not end')
    gw.expect(not a.streams[0].closed, 'the unchanged uplink was touched')
    gw.expect(d.stop() == 0, 'exit status')
    for s in (a, b, b2):
        s.stop()


def process_has(pid, needle):
    """
    Whether the bytes appear in the process's writable memory, read a
    MiB at a time; mappings of 1 GiB or more (ASan's shadow) are not
    read, they hold no copy of anything.
    """
    step = 1 << 20
    with open('/proc/%d/maps' % pid) as maps, \
            open('/proc/%d/mem' % pid, 'rb', 0) as mem:
        for line in maps:
            f = line.split()
            if 'w' not in f[1]:
                continue
            lo, hi = (int(x, 16) for x in f[0].split('-'))
            if hi - lo >= 1 << 30:
                continue
            tail = b''
            for off in range(lo, hi, step):
                try:
                    mem.seek(off)
                    chunk = mem.read(min(step, hi - off))
                except (OSError, ValueError, OverflowError):
                    tail = b''
                    continue
                if needle in tail + chunk:
                    return True
                tail = chunk[-(len(needle) - 1):]
    return False


def t_secret_where(d, server):
    if not gw.is_root():
        raise gw.Skip('reading another process\'s memory needs root')
    pids = d.pids()
    secret = UP_SECRET.encode()
    gw.expect(process_has(pids['authd'], secret),
              'the scan does not find the secret in authd')
    gw.expect(not process_has(pids['engine'], secret),
              'the upstream secret is in the engine\'s memory')
    gw.expect(not process_has(pids['parent'], secret),
              'the upstream secret is in the parent\'s memory')


def t_uplink_down_expired(d, server):
    """The uplink stays down past the grace: the component is answered."""
    c = comp(d)
    down = d.log_count('uplink of %s: down' % COMP)
    server.stop()
    d.wait_log('uplink of %s: down' % COMP, after=down)
    ids = ['e%d' % i for i in range(3)]
    t0 = time.monotonic()
    for i in ids:
        c.send("<iq from='%s' to='alice@xmpp.test' id='%s' type='get'>"
               "<ping xmlns='urn:xmpp:ping'/></iq>" % (COMP, i))
    got = c.read_until(lambda: len(c.stream.elements) >= 4, 10)
    took = time.monotonic() - t0
    errs = [(e.get('id'), e.get('type')) for e in c.stream.elements[1:]]
    gw.expect(got and errs == [(i, 'error') for i in ids],
              'component got %r' % errs)
    gw.expect(all('remote-server-timeout' in gw.ET.tostring(e).decode()
                  for e in c.stream.elements[1:]), 'not remote-server-timeout')
    gw.expect(took <= 2 + 1.5, 'answered after %.1f s (grace 2)' % took)
    c.close()


def grace_tests():
    server = FakeServer(UP_SECRET)
    d = daemon('uplink-grace', server, ['\tgrace 2', '\tgrace size 4096'])
    for name, fn in (
            ('uplink grace: back within it, everything delivered in order',
             t_grace_delivered),
            ('uplink grace: over, each held stanza answered',
             t_grace_expired),
            ('uplink grace: over its size, held stanzas answered',
             t_grace_size)):
        gw.run(name, fn, d, server)
    box = [server]
    gw.run('uplink grace: the component\'s stanzas wait for the uplink',
           lambda: box.append(t_uplink_down_held(d, server)))
    gw.run('uplink grace: the uplink down past it, the component answered',
           t_uplink_down_expired, d, box[-1])
    gw.run('uplink grace: SIGTERM exits 0', lambda: gw.expect(
        d.stop() == 0, 'exit status'))
    for s in box:
        s.stop()
    return d


def main():
    t0 = time.monotonic()
    server = FakeServer(UP_SECRET)
    d = daemon('uplink', server)
    for name, fn in (
            ('uplink: the server takes our header and handshake', t_up),
            ('uplink: server to component, in order', t_server_to_component),
            ('uplink: component to server, in order', t_component_to_server),
            ('uplink: local stanzas stay local', t_local_stays_local),
            ('uplink: a stanza for another domain is answered',
             t_wrong_to_from_server),
            ('uplink: the upstream secret is in authd only', t_secret_where),
            ('uplink: a server that stops reading holds the component '
             'back, nothing bounced', t_backpressure),
            ('uplink: a component that stops reading holds the server '
             'back, nothing bounced', t_backpressure_down),
            ('uplink: the server ends the stream, it comes back',
             t_server_restart)):
        gw.run(name, fn, d, server)
    gw.run('uplink: SIGTERM exits 0', lambda: gw.expect(d.stop() == 0,
                                                       'exit status'))
    server.stop()
    gw.run('uplink: a wrong secret is retried with backoff', t_backoff)
    gw.run('uplink: a reload adds, moves and removes uplinks, the others '
           'untouched', t_reload)
    g = grace_tests()
    gw.check_logs_clean('uplink', [d, g])
    print('# uplink_test.py: %.1fs' % (time.monotonic() - t0))
    return gw.finish()


if __name__ == '__main__':
    sys.exit(main())
