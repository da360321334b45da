"""
Shared by the stress scenarios (regress/stress/*_test.py): the mode (the
short version that make check runs, or "full" for make stress), figures
as "# ..." lines, memory bounds (printed but not checked under ASan),
what each process of a daemon costs, and asyncio connections for the
scenarios that hold thousands at once.

Run with /usr/bin/python3 (Debian's), as regress/stress/stress.sh does.
"""

import asyncio
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
import gwtest as gw  # noqa: E402

expect = gw.expect

FULL = sys.argv[1:2] == ['full']
MODE = 'full' if FULL else 'short'
ASAN = os.environ.get('OBJ', '').rstrip('/').endswith('asan')
# CPU bounds are multiplied by this under ASan (its code is slower).
ASAN_SLOWDOWN = 4

# The stream error conditions of RFC 6120 4.9.3.
RFC6120_CONDITIONS = frozenset('''
    bad-format bad-namespace-prefix conflict connection-timeout host-gone
    host-unknown improper-addressing internal-server-error invalid-from
    invalid-namespace invalid-xml not-authorized not-well-formed
    policy-violation remote-connection-failed reset resource-constraint
    restricted-xml see-other-host system-shutdown undefined-condition
    unsupported-encoding unsupported-feature unsupported-stanza-type
    unsupported-version'''.split())

ROLES = ('parent', 'engine', 'authd')
_t0 = time.monotonic()


def pick(full, short):
    """The figure of the full version or of the short one."""
    return full if FULL else short


def figure(fmt, *args):
    print('# ' + (fmt % args if args else fmt), flush=True)


def mb(kb):
    return None if kb is None else kb / 1024.0


def fmt_mb(kb):
    return '-' if kb is None else '%.1f MB' % (kb / 1024.0)


def costs(d, what):
    """Prints the RSS, peak RSS and PSS of the daemon's processes and
    the engine's CPU seconds; returns {role: {rss, hwm, pss}, 'cpu':}."""
    out = {}
    parts = []
    for role, pid in d.pids().items():
        c = {'rss': gw.proc_status_kb(pid, 'VmRSS') if pid else None,
             'hwm': gw.proc_status_kb(pid, 'VmHWM') if pid else None,
             'pss': gw.proc_pss_kb(pid) if pid else None}
        out[role] = c
        parts.append('%s RSS %s (peak %s, PSS %s)' % (
            role, fmt_mb(c['rss']), fmt_mb(c['hwm']), fmt_mb(c['pss'])))
    out['cpu'] = engine_cpu(d)
    figure('%s: %s; engine CPU %s s', what, ', '.join(parts),
           '-' if out['cpu'] is None else '%.2f' % out['cpu'])
    return out


def engine_kb(d, field='VmRSS'):
    pid = d.child_pid('engine')
    return gw.proc_status_kb(pid, field) if pid else None


def engine_cpu(d):
    """The engine's CPU seconds, or None when it is gone."""
    pid = d.child_pid('engine')
    try:
        return gw.cpu_seconds(pid) if pid else None
    except OSError:
        return None


def memory_check(name, value, bound, what='engine RSS growth', unit='MB'):
    """A memory bound: checked, except under ASan (its shadow memory and
    quarantine inflate every figure), where it is a skip."""
    if value is None:
        gw.skip(name, '%s could not be read' % what)
    elif ASAN:
        gw.skip(name, 'ASan build, RSS bound not checked (%s %.1f %s)' %
                (what, value, unit))
    else:
        gw.check(name, None if value <= bound else
                 '%s %.1f %s, bound %.1f %s' % (what, value, unit, bound,
                                                unit))


def cpu_bound(seconds):
    return seconds * ASAN_SLOWDOWN if ASAN else seconds


def done(name):
    """The scenario's wall time, then the end of the program."""
    figure('%s (%s): %.1f s', name, MODE, time.monotonic() - _t0)
    gw.finish()


def raise_nofile():
    """Our own open-files limit up to the hard limit."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def message(frm, to, sid, body=''):
    return ("<message from='%s' to='%s' id='%s'><body>%s</body></message>" %
            (frm, to, sid, body))


def stanzas(stream):
    """The top-level elements of a ServerStream that are stanzas."""
    return [e for e in stream.elements if e.tag in (
        '{%s}message' % gw.NS_COMPONENT, '{%s}presence' % gw.NS_COMPONENT,
        '{%s}iq' % gw.NS_COMPONENT)]


# ---------------------------------------------------------------------------
# asyncio connections: thousands at once in one process

class AConn:
    """One connection to gatewayd on an asyncio loop; what comes is fed
    to a ServerStream as it arrives."""

    def __init__(self):
        self.stream = gw.ServerStream()
        self.received = 0
        self.eof = False
        self.reset = False
        self.send_failed = False
        self.reader = self.writer = None
        self.stream_id = None

    @classmethod
    async def open(cls, port, host='127.0.0.1', source=None, timeout=10):
        c = cls()
        local = (source, 0) if source else None
        c.reader, c.writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, local_addr=local,
                                    limit=1 << 20), timeout)
        return c

    async def send(self, data):
        """False if the connection refused the bytes (closed, reset)."""
        if isinstance(data, str):
            data = data.encode()
        try:
            self.writer.write(data)
            await self.writer.drain()
        except (ConnectionError, OSError):
            self.send_failed = True
            return False
        return True

    async def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        try:
            data = await asyncio.wait_for(self.reader.read(65536), remaining)
        except asyncio.TimeoutError:
            return False
        except (ConnectionError, OSError):
            self.reset = self.eof = True
            return True
        if not data:
            self.eof = True
        else:
            self.received += len(data)
            self.stream.feed(data)
        return True

    async def read_until(self, pred, timeout=gw.TIMEOUT):
        deadline = time.monotonic() + timeout
        while not pred():
            if self.eof or not await self._fill(deadline):
                return pred()
        return True

    async def read_to_eof(self, timeout=gw.TIMEOUT):
        return await self.read_until(lambda: self.eof, timeout)

    def answered(self):
        s = self.stream
        return (self.eof or s.error is not None or s.closed or
                bool(s.stream_errors()) or s.handshake_ok())

    async def read_header(self, timeout=gw.TIMEOUT):
        """The server's header: its id, or None (an error, EOF, late)."""
        await self.read_until(lambda: self.stream.header is not None or
                              self.eof or self.stream.error is not None,
                              timeout)
        h = self.stream.header
        if h is None or self.stream.stream_errors() or self.stream.closed:
            return None
        self.stream_id = h.get('id')
        return self.stream_id

    async def authenticate(self, domain, secret, timeout=gw.TIMEOUT):
        """Header and handshake; True once <handshake/> came."""
        if not await self.send(gw.stream_header(domain)):
            return False
        if await self.read_header(timeout) is None:
            return False
        if not await self.send('<handshake>%s</handshake>' %
                               gw.digest(self.stream_id, secret)):
            return False
        await self.read_until(self.answered, timeout)
        return self.stream.handshake_ok()

    def describe(self):
        state = ('then reset' if self.reset else 'then EOF' if self.eof
                 else 'connection still open')
        return '%d bytes received (%s), %s' % (
            self.received, ', '.join(e.tag.split('}')[-1]
                                     for e in self.stream.elements[-3:]),
            state)

    def close(self):
        if self.writer is not None:
            self.writer.close()

    def abort(self):
        """Closes with a reset (SO_LINGER 0)."""
        if self.writer is not None:
            sock = self.writer.get_extra_info('socket')
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                struct.pack('ii', 1, 0))
            except OSError:
                pass
            self.writer.transport.abort()
