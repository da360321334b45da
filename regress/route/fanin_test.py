"""
1,000 components send to one that does not read: gatewayd stops reading
the senders (backpressure) and its memory stays bounded; once the reader
reads, every stanza was delivered or bounced, none lost, none twice, in
order per sender.
"""

import os
import re
import resource
import selectors
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
import gwtest as gw			# noqa: E402

SENDERS = int(os.environ.get('FANIN_SENDERS', '1000'))
PER_SENDER = int(os.environ.get('FANIN_STANZAS', '40'))
RSS_BOUND_MB = 256		# the engine's resident memory (ASan too)


def engine_rss_kb(d):
    for pid in d._children():
        try:
            with open('/proc/%d/cmdline' % pid, 'rb') as f:
                if not f.read().startswith(b'gatewayd: engine'):
                    continue
            with open('/proc/%d/status' % pid) as f:
                for line in f:
                    if line.startswith('VmRSS:'):
                        return int(line.split()[1])
        except OSError:
            pass
    return None


def main():
    t0 = time.monotonic()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = SENDERS + 200
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard),
                                                        hard))
        except (ValueError, OSError):
            pass
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < want:
        gw.skip('fanin: 1,000 senders', 'descriptor limit too low')
        gw.finish()
    names = ['s%d.example.org' % i for i in range(SENDERS)]
    secrets = {n: gw.new_secret('s') for n in names}
    secrets['reader.example.org'] = gw.new_secret('r')
    comps = ['component "%s"' % n for n in secrets]
    d = gw.Daemon('fanin', list(secrets.items()),
                  ['max connections %d' % (SENDERS + 100),
                   'max unauthenticated 64 per address 64',
                   'max queue size 64K', 'queue timeout 600'],
                  comps, ipv6=False).start()
    base_kb = engine_rss_kb(d)

    reader = d.connect()
    reader.authenticate(secrets['reader.example.org'],
                        to='reader.example.org')
    senders = []
    for n in names:
        c = d.connect()
        c.authenticate(secrets[n], to=n)
        senders.append(c)
    idle_kb = engine_rss_kb(d)
    # Streams that rest give up their parsers (after 5 seconds).
    d.wait_log('for %s rests' % names[-1], 15)
    rested_kb = engine_rss_kb(d)

    # Everybody sends; nobody receives.  Stop when nothing moves.
    pending = {}
    sel = selectors.DefaultSelector()
    for i, c in enumerate(senders):
        pending[c] = ''.join(
            "<message from='%s' to='reader.example.org' id='%d-%d'>"
            "<body>%s</body></message>" % (names[i], i, k, 'z' * 150)
            for k in range(PER_SENDER)).encode()
        c.sock.setblocking(False)
        sel.register(c.sock, selectors.EVENT_WRITE, c)
    sent_total = len(senders) * PER_SENDER

    def push(timeout):
        moved = False
        for key, _ in sel.select(timeout):
            c = key.data
            try:
                n = c.sock.send(pending[c])
            except BlockingIOError:
                continue
            pending[c] = pending[c][n:]
            moved = True
            if not pending[c]:
                sel.unregister(c.sock)
        return moved

    quiet_since = time.monotonic()
    while sel.get_map() and time.monotonic() - quiet_since < 2:
        if push(0.2):
            quiet_since = time.monotonic()
    blocked = sum(1 for c in senders if pending[c])
    full_kb = engine_rss_kb(d)
    print('# engine RSS: %d KiB at start, %d KiB with %d new streams, '
          '%d KiB once they rest, %d KiB with all sending' % (
              base_kb, idle_kb, SENDERS + 1, rested_kb, full_kb),
          flush=True)
    gw.check('fanin: engine memory stays under %d MiB' % RSS_BOUND_MB,
             None if full_kb < RSS_BOUND_MB * 1024 else
             'RSS %d KiB' % full_kb)

    # Now the reader reads, and the senders send the rest.
    reader.sock.setblocking(False)
    sel.register(reader.sock, selectors.EVENT_READ, reader)
    data = bytearray()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and \
            data.count(b'</message>') < sent_total:
        for key, ev in sel.select(0.5):
            c = key.data
            if c is reader:
                try:
                    chunk = reader.sock.recv(1 << 20)
                except BlockingIOError:
                    continue
                if not chunk:
                    deadline = 0
                    break
                data.extend(chunk)
            else:
                try:
                    n = c.sock.send(pending[c])
                except BlockingIOError:
                    continue
                pending[c] = pending[c][n:]
                if not pending[c]:
                    sel.unregister(c.sock)
    got = re.findall(rb"id='(\d+)-(\d+)'", bytes(data))
    per = {}
    for s, k in got:
        per.setdefault(int(s), []).append(int(k))
    # Bounces would have come back to the senders.
    bounced = 0
    for c in senders:
        c.sock.setblocking(True)
        c.read_until(lambda: False, 0.01)
        bounced += c.data.count(b"type='error'")
    ordered = all(v == sorted(v) for v in per.values())
    dup = len(got) != len(set(got))
    print('# %d sent, %d delivered, %d bounced, %.1fs' %
          (sent_total, len(got), bounced, time.monotonic() - t0),
          flush=True)
    gw.check('fanin: every stanza delivered or bounced',
             None if len(got) + bounced == sent_total else
             '%d delivered + %d bounced of %d' % (len(got), bounced,
                                                   sent_total))
    gw.check('fanin: none twice, in order per sender',
             None if ordered and not dup else 'duplicates or disorder')
    gw.check_stop('fanin', d)
    gw.finish()


if __name__ == '__main__':
    main()
