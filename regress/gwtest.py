"""
Shared by the Python tests of gatewayd: a scratch directory, the daemon
with its configuration and secrets, XEP-0114 connections, the parsing of
what gatewayd sends (with expat, as a stream), and the "ok - NAME",
"not ok - NAME: why" and "skip - NAME: why" lines regress/run.sh counts.

Run with /usr/bin/python3 (Debian's), as root or as a normal user.
"""

import atexit
import hashlib
import os
import random
import re
import secrets as _secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET
import xml.parsers.expat

TOP = os.environ.get('TOP') or os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))
GATEWAYD = os.environ.get('GATEWAYD') or os.path.join(TOP, 'obj', 'bin',
                                                      'gatewayd')
GW_USER = '_gatewayd'

NS_STREAMS = 'http://etherx.jabber.org/streams'
NS_COMPONENT = 'jabber:component:accept'
NS_ERRORS = 'urn:ietf:params:xml:ns:xmpp-streams'
STREAM_TAG = '{%s}stream' % NS_STREAMS
ERROR_TAG = '{%s}error' % NS_STREAMS
HANDSHAKE_TAG = '{%s}handshake' % NS_COMPONENT

# What a peer sends: the header of XEP-0114 and the end of the stream.
XMLDECL = "<?xml version='1.0'?>"
CLOSE = '</stream:stream>'

TIMEOUT = 3.0		# seconds to wait for an answer that should come

# Every secret and digest a test sent, to look for in the logs.
SENT_SECRETS = set()
SENT_DIGESTS = set()

_counts = {'ok': 0, 'not ok': 0, 'skip': 0}


# ---------------------------------------------------------------------------
# Results

class Fail(Exception):
    """A test found the daemon doing something else than expected."""


class Skip(Exception):
    """A test cannot run here."""


def ok(name):
    _counts['ok'] += 1
    print('ok - %s' % name, flush=True)


def notok(name, why):
    _counts['not ok'] += 1
    why = ' '.join(str(why).split())
    print('not ok - %s: %s' % (name, why), flush=True)


def skip(name, why):
    _counts['skip'] += 1
    print('skip - %s: %s' % (name, why), flush=True)


def check(name, problem):
    """ok when problem is empty or None, else not ok with it as the why."""
    if problem:
        notok(name, problem)
    else:
        ok(name)
    return not problem


def expect(cond, why):
    if not cond:
        raise Fail(why)


def run(name, func, *args, **kwargs):
    """Runs one test: ok unless it raises Fail (or crashes)."""
    try:
        func(*args, **kwargs)
    except Fail as e:
        notok(name, e)
        return False
    except Skip as e:
        skip(name, e)
        return True
    except Exception as e:	# a crash of the test is a failure too
        tb = traceback.extract_tb(sys.exc_info()[2])[-1]
        notok(name, 'test crashed: %r at line %d' % (e, tb.lineno))
        return False
    ok(name)
    return True


def failures():
    return _counts['not ok']


def finish():
    cleanup()
    sys.exit(1 if _counts['not ok'] else 0)


def short(data, limit=300):
    """Bytes for a message: repr, shortened in the middle."""
    if len(data) > limit:
        data = data[:limit // 2] + b'...' + data[-limit // 2:]
    return repr(data)


# ---------------------------------------------------------------------------
# Environment

def is_root():
    return os.geteuid() == 0


def ensure_user():
    """As root, the user the children become, made when missing."""
    if not is_root():
        return
    import pwd
    try:
        pwd.getpwnam(GW_USER)
    except KeyError:
        subprocess.run(['useradd', '--system', '--no-create-home',
                        '--home-dir', '/nonexistent',
                        '--shell', '/usr/sbin/nologin', GW_USER],
                       check=True)


def have_ipv6():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            s.bind(('::1', 0))
        finally:
            s.close()
        return True
    except OSError:
        return False


def _listen_range():
    """
    Ports for the tests' listeners: below the system's ephemeral range,
    so that no outgoing connection (of this test or another running
    beside it) takes one between its choice and the daemon's bind.
    """
    lo = 32768
    try:
        with open('/proc/sys/net/ipv4/ip_local_port_range') as f:
            lo = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return (10000, lo - 1) if lo > 12000 else (lo // 2, lo - 1)


def _bind_free(port, ipv6):
    """The port bound on 127.0.0.1 (and ::1), as sockets to close."""
    held = []
    try:
        s4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        held.append(s4)
        s4.bind(('127.0.0.1', port))
        if ipv6:
            s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            held.append(s6)
            s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s6.bind(('::1', port))
        return held
    except OSError:
        for h in held:
            h.close()
        return None


def free_ports(n, ipv6=False):
    """n distinct TCP ports free on 127.0.0.1 (all held while chosen)."""
    lo, hi = _listen_range()
    held, ports = [], []
    try:
        for _ in range(200 * n):
            if len(ports) == n:
                return ports
            port = random.randint(lo, hi)
            if port in ports:
                continue
            socks = _bind_free(port, ipv6)
            if socks is not None:
                held += socks
                ports.append(port)
        raise RuntimeError('no free port')
    finally:
        for h in held:
            h.close()


def free_port(ipv6):
    """A TCP port free on 127.0.0.1 (and on ::1 when ipv6)."""
    return free_ports(1, ipv6)[0]


def new_secret(prefix):
    """A random secret, remembered so the logs can be searched for it."""
    s = '%s-%s' % (prefix, _secrets.token_hex(12))
    SENT_SECRETS.add(s)
    return s


def digest(stream_id, secret):
    """The handshake of XEP-0114: hex SHA-1 of the id and the secret."""
    d = hashlib.sha1((stream_id + secret).encode()).hexdigest()
    SENT_DIGESTS.add(d)
    return d


_scratch = None
_daemons = []


def scratch():
    """The scratch directory of this program: mode 0755, with empty/."""
    global _scratch
    if _scratch is not None and not os.path.isdir(_scratch):
        print('# scratch directory %s vanished, making a new one' %
              _scratch, flush=True)
        _scratch = None
    if _scratch is None:
        _scratch = tempfile.mkdtemp(prefix='gw-test.', dir='/tmp')
        os.chmod(_scratch, 0o755)
        os.mkdir(os.path.join(_scratch, 'empty'))
        os.chmod(os.path.join(_scratch, 'empty'), 0o755)
    return _scratch


def cleanup():
    global _scratch
    for d in list(_daemons):
        d.kill()
    if _scratch is not None and not os.environ.get('GW_KEEP'):
        shutil.rmtree(_scratch, ignore_errors=True)
        _scratch = None


def _on_signal(signo, frame):
    cleanup()
    sys.exit(128 + signo)


atexit.register(cleanup)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)
signal.signal(signal.SIGHUP, _on_signal)


# ---------------------------------------------------------------------------
# The daemon

DEFAULT_COMPONENTS = [
    'component "irc.example.org" { alias "irc2.example.org" }',
    'component "bridge.example.org"',
]


class Daemon:
    """gatewayd -dv in the foreground, its log in SCRATCH/NAME.log."""

    binary = None		# the program, if not GATEWAYD
    flags = '-dv'

    def __init__(self, name, secrets, lines=(), components=None,
                 ipv6=None, nofile=None):
        self.name = name
        self.nofile = nofile		# its open-files limit, soft and hard
        self.secrets = list(secrets)	# (domain, secret) pairs
        self.lines = list(lines)
        self.components = (DEFAULT_COMPONENTS if components is None
                           else list(components))
        self.ipv6 = have_ipv6() if ipv6 is None else ipv6
        self.proc = None
        self.terminated = False
        self.port = None
        self.dir = scratch()
        self.logpath = os.path.join(self.dir, name + '.log')
        self.confpath = os.path.join(self.dir, name + '.conf')
        self.secretspath = os.path.join(self.dir, name + '.secrets')
        self.ctlpath = os.path.join(self.dir, name + '.sock')
        for _, s in self.secrets:
            SENT_SECRETS.add(s)

    def addresses(self):
        return ['127.0.0.1'] + (['::1'] if self.ipv6 else [])

    def write_config(self):
        fd = os.open(self.secretspath,
                     os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as f:
            for domain, secret in self.secrets:
                f.write('%s %s\n' % (domain, secret))
        os.chmod(self.secretspath, 0o600)
        with open(self.confpath, 'w') as f:
            for a in self.addresses():
                f.write('listen on %s port %d\n' % (a, self.port))
            f.write('control socket "%s"\n' % self.ctlpath)
            f.write('chroot "%s"\n' % os.path.join(self.dir, 'empty'))
            f.write('secrets "%s"\n' % self.secretspath)
            for line in self.lines + self.components:
                f.write(line + '\n')

    def start(self, timeout=10, retried=False):
        """Starts the daemon; raises Fail unless it listens in time."""
        exe = self.binary or GATEWAYD
        if not os.access(exe, os.X_OK):
            raise Fail('%s not built (run make)' % exe)
        ensure_user()
        if not os.path.isdir(self.dir):
            d = scratch()
            for attr in ('logpath', 'confpath', 'secretspath', 'ctlpath'):
                setattr(self, attr, os.path.join(
                    d, os.path.basename(getattr(self, attr))))
            self.dir = d
        self.port = free_port(self.ipv6)
        self.write_config()
        log = open(self.logpath, 'w')
        self.proc = subprocess.Popen([exe, self.flags, '-f', self.confpath],
                                     stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT,
                                     preexec_fn=self._limits)
        log.close()
        _daemons.append(self)
        want = ['engine: listening on %s port %d' % (a, self.port)
                for a in self.addresses()]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log()
            if all(w in text for w in want):
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.kill()
        # The port was free when chosen; another process may have taken
        # it since (ephemeral ports are shared): once more, on another.
        if 'Address already in use' in self.log() and not retried:
            return self.start(timeout, retried=True)
        raise Fail('daemon %s did not start listening: %s' %
                   (self.name, ' | '.join(self.log().splitlines()[-8:])))

    def _limits(self):
        if self.nofile is not None:
            import resource
            resource.setrlimit(resource.RLIMIT_NOFILE,
                               (self.nofile, self.nofile))

    def log(self):
        try:
            with open(self.logpath, errors='replace') as f:
                return f.read()
        except OSError:
            return ''

    def log_count(self, text):
        return self.log().count(text)

    def wait_log(self, text, timeout=TIMEOUT, after=0):
        """Polls the log until it has text (more than after times); True
        if it came in time."""
        deadline = time.monotonic() + timeout
        while True:
            if self.log().count(text) > after:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _children(self):
        try:
            out = subprocess.run(['pgrep', '-P', str(self.proc.pid)],
                                 capture_output=True, text=True).stdout
            return [int(p) for p in out.split()]
        except (OSError, ValueError):
            return []

    def child_pid(self, title):
        """The pid of the child titled "gatewayd: TITLE", or None."""
        for pid in self._children():
            try:
                with open('/proc/%d/cmdline' % pid, 'rb') as f:
                    if f.read().startswith(b'gatewayd: ' + title.encode()):
                        return pid
            except OSError:
                pass
        return None

    def terminate(self):
        """Sends SIGTERM once, without waiting (see stop)."""
        if self.proc is not None and self.proc.poll() is None and \
                not self.terminated:
            self.proc.send_signal(signal.SIGTERM)
            self.terminated = True

    def stop(self, timeout=10):
        """SIGTERM; returns the exit status (None if it did not exit)."""
        if self.proc is None:
            return None
        self.terminate()
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            rc = None
        if self in _daemons:
            _daemons.remove(self)
        return rc

    def kill(self):
        """When a test went wrong: the daemon and its children, by pid."""
        if self.proc is not None and self.proc.poll() is None:
            kids = self._children()
            self.proc.kill()
            for k in kids:
                try:
                    os.kill(k, signal.SIGKILL)
                except OSError:
                    pass
            self.proc.wait()
        if self in _daemons:
            _daemons.remove(self)

    def connect(self, host='127.0.0.1', **kw):
        return Conn(self.port, host, **kw)

    def pids(self):
        """The pids of the parent, the engine and authd, by role (None
        for a child that is not there)."""
        return {'parent': self.proc.pid if self.alive() else None,
                'engine': self.child_pid('engine'),
                'authd': self.child_pid('authd')}


# ---------------------------------------------------------------------------
# What a process costs, from /proc

def proc_status_kb(pid, field='VmRSS'):
    """A field of /proc/PID/status in KiB (VmRSS, VmHWM, ...), or None."""
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except (OSError, ValueError, TypeError):
        pass
    return None


def proc_pss_kb(pid):
    """The Pss of /proc/PID/smaps_rollup in KiB, or None when it cannot
    be read (a process that is not dumpable, to a user without
    CAP_SYS_PTRACE)."""
    try:
        with open('/proc/%d/smaps_rollup' % pid) as f:
            for line in f:
                if line.startswith('Pss:'):
                    return int(line.split()[1])
    except (OSError, ValueError, TypeError):
        pass
    return None


def cpu_seconds(pid):
    """User and system CPU seconds of a process, from /proc/PID/stat."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


SANITIZER_MARKS = ('AddressSanitizer', 'LeakSanitizer', 'runtime error:')


def check_stop(prefix, daemon):
    """A test: SIGTERM ends the daemon with status 0, and no sanitizer
    (of an ASan/UBSan build) complained in its log."""
    rc = daemon.stop()
    bad = [line for line in daemon.log().splitlines()
           if any(m in line for m in SANITIZER_MARKS)]
    if bad:
        why = 'sanitizer: %s' % ' | '.join(bad[:3])
    elif rc != 0:
        why = 'exit status %r; log tail: %s' % (
            rc, ' | '.join(daemon.log().splitlines()[-5:]))
    else:
        why = None
    check('%s: SIGTERM exits 0' % prefix, why)


def check_logs_clean(name, daemons):
    """A test: no secret and no digest sent in any of the daemons' logs."""
    found = []
    for d in daemons:
        text = d.log().lower()
        for s in sorted(SENT_SECRETS):
            if s.lower() in text:
                found.append('secret %s in %s.log' % (s, d.name))
        for h in sorted(SENT_DIGESTS):
            if h.lower() in text:
                found.append('digest %s in %s.log' % (h, d.name))
    if not SENT_SECRETS or not SENT_DIGESTS:
        found.append('nothing was sent to look for')
    check(name, '; '.join(found[:5]))


# ---------------------------------------------------------------------------
# What the server sends, parsed as the stream it is

class ServerStream:
    """
    gatewayd's output fed to expat in namespace mode, as it arrives: the
    header (its attributes and namespace declarations), each complete
    top-level element as an ElementTree element, whether the stream was
    closed, and the parse error if the output is not well-formed.
    """

    def __init__(self):
        p = xml.parsers.expat.ParserCreate(namespace_separator=' ')
        p.StartElementHandler = self._start
        p.EndElementHandler = self._end
        p.CharacterDataHandler = self._text
        p.StartNamespaceDeclHandler = self._nsdecl
        p.XmlDeclHandler = self._xmldecl
        self.parser = p
        self.xmldecl = None
        self.root_tag = None
        self.header = None		# the root's attributes
        self.decls = {}			# prefix -> URI on the root
        self.elements = []		# complete top-level elements
        self.closed = False		# </stream:stream> seen
        self.error = None
        self.junk = []			# text between top-level elements
        self._stack = []

    @staticmethod
    def _name(n):
        if ' ' in n:
            uri, local = n.split(' ', 1)
            return '{%s}%s' % (uri, local)
        return n

    def _nsdecl(self, prefix, uri):
        if self.root_tag is None:
            self.decls[prefix] = uri

    def _xmldecl(self, version, encoding, standalone):
        self.xmldecl = (version, encoding, standalone)

    def _start(self, name, attrs):
        tag = self._name(name)
        attrs = {self._name(k): v for k, v in attrs.items()}
        if self.root_tag is None:
            self.root_tag = tag
            self.header = attrs
            return
        if self._stack:
            el = ET.SubElement(self._stack[-1], tag, attrs)
        else:
            el = ET.Element(tag, attrs)
        self._stack.append(el)

    def _end(self, name):
        if not self._stack:
            self.closed = True
            return
        el = self._stack.pop()
        if not self._stack:
            self.elements.append(el)

    def _text(self, data):
        if self._stack:
            el = self._stack[-1]
            if len(el):
                el[-1].tail = (el[-1].tail or '') + data
            else:
                el.text = (el.text or '') + data
        elif data.strip():
            self.junk.append(data)

    def feed(self, data):
        if self.error is not None:
            return
        try:
            self.parser.Parse(data, False)
        except xml.parsers.expat.ExpatError as e:
            self.error = str(e)

    # -- questions about what came --

    def stream_errors(self):
        return [e for e in self.elements if e.tag == ERROR_TAG]

    def condition(self):
        """The local name of the condition of the first stream error."""
        errs = self.stream_errors()
        if not errs:
            return None
        kids = [c.tag for c in errs[0]]
        for k in kids:
            if k.startswith('{%s}' % NS_ERRORS) and \
                    k != '{%s}text' % NS_ERRORS:
                return k.split('}', 1)[1]
        return '(none: %s)' % ','.join(kids)

    def handshake_ok(self):
        return any(e.tag == HANDSHAKE_TAG and len(e) == 0 and
                   not (e.text or '').strip() and not e.attrib
                   for e in self.elements)

    def header_problems(self, want_from):
        """
        What is wrong with the server's header.  want_from: a name the
        header must have as from, False for none, None for do not care.
        """
        p = []
        if self.header is None:
            return ['no stream header']
        if self.root_tag != STREAM_TAG:
            p.append('root %s' % self.root_tag)
        if self.decls.get(None) != NS_COMPONENT:
            p.append('default namespace %r' % self.decls.get(None))
        if self.decls.get('stream') != NS_STREAMS:
            p.append('stream prefix bound to %r' % self.decls.get('stream'))
        if not self.header.get('id'):
            p.append('header without an id')
        if 'version' in self.header:
            p.append('header has version=%r' % self.header['version'])
        if want_from is False and 'from' in self.header:
            p.append('header has from=%r' % self.header['from'])
        elif want_from and self.header.get('from') != want_from:
            p.append('header from=%r, expected %r' %
                     (self.header.get('from'), want_from))
        return p


# ---------------------------------------------------------------------------
# Connections

def stream_header(to='irc.example.org', attrs='', xmlns=NS_COMPONENT,
                  decl=True):
    """A peer's stream header; to=None leaves to out."""
    a = " to='%s'" % to if to is not None else ''
    return "%s<stream:stream xmlns='%s' xmlns:stream='%s'%s%s>" % (
        XMLDECL if decl else '', xmlns, NS_STREAMS, a,
        ' ' + attrs if attrs else '')


class Conn:
    """One TCP connection to gatewayd, everything received kept."""

    def __init__(self, port, host='127.0.0.1', timeout=TIMEOUT,
                 nodelay=False, rcvbuf=None):
        family = socket.AF_INET6 if ':' in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if nodelay:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect((host, port))
        self.data = b''
        self.eof = False
        self.reset = False
        self.send_failed = None
        self.stream = ServerStream()
        self.stream_id = None

    # -- sending --

    def send(self, data, bytewise=False):
        """Sends str or bytes; one send per byte if bytewise.  A send
        the server refused is noted (it may have closed on purpose)."""
        if isinstance(data, str):
            data = data.encode()
        try:
            if bytewise:
                for i in range(len(data)):
                    self.sock.sendall(data[i:i + 1])
            else:
                self.sock.sendall(data)
        except OSError as e:
            self.send_failed = e
            return False
        return True

    # -- receiving --

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            self.reset = True
            self.eof = True
            return True
        if not data:
            self.eof = True
        else:
            self.data += data
            self.stream.feed(data)
        return True

    def read_until(self, pred, timeout=TIMEOUT):
        """Reads until pred() holds, EOF or timeout; returns pred()."""
        deadline = time.monotonic() + timeout
        while not pred():
            if self.eof or not self._fill(deadline):
                return pred()
        return True

    def read_to_eof(self, timeout=TIMEOUT):
        """Reads until the server closes; True if it did in time."""
        return self.read_until(lambda: self.eof, timeout)

    def describe(self):
        state = ('then reset' if self.reset else 'then EOF' if self.eof
                 else 'connection still open')
        return 'received %s, %s' % (short(self.data), state)

    def answered(self):
        """Something decisive came: an error, a handshake, EOF."""
        s = self.stream
        return (self.eof or s.error is not None or s.closed or
                bool(s.stream_errors()) or s.handshake_ok())

    # -- the protocol --

    header = staticmethod(stream_header)

    def read_header(self, timeout=TIMEOUT):
        """Waits for the server's header; its id, or Fail."""
        self.read_until(lambda: self.stream.header is not None or
                        self.stream.error is not None, timeout)
        if self.stream.header is None:
            raise Fail('no stream header from the server: %s' %
                       self.describe())
        if self.stream.stream_errors() or self.stream.closed:
            raise Fail('stream error instead of a header: %s' %
                       self.describe())
        self.stream_id = self.stream.header.get('id')
        return self.stream.header

    def open(self, to='irc.example.org', attrs='', bytewise=False,
             want_from='irc.example.org'):
        """Our header, then the server's, checked; returns its attributes.
        """
        self.send(self.header(to, attrs), bytewise)
        h = self.read_header()
        p = self.stream.header_problems(want_from)
        if p:
            raise Fail('server header: %s: %s' % ('; '.join(p),
                                                    self.describe()))
        return h

    def handshake(self, secret=None, value=None, bytewise=False,
                  timeout=TIMEOUT):
        """Sends a handshake, the right digest of secret unless value is
        given; waits for the answer; True when it is <handshake/>."""
        if value is None:
            value = digest(self.stream_id, secret)
        self.send('<handshake>%s</handshake>' % value, bytewise)
        self.read_until(self.answered, timeout)
        return self.stream.handshake_ok()

    def authenticate(self, secret, to='irc.example.org', bytewise=False):
        self.open(to, bytewise=bytewise, want_from=to)
        if not self.handshake(secret, bytewise=bytewise):
            raise Fail('handshake refused: %s' % self.describe())
        return self

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self):
        """Closes with a reset (SO_LINGER 0)."""
        import struct
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack('ii', 1, 0))
        self.sock.close()


def _ending_problems(conn, p, timeout):
    """p, plus what is wrong with how the stream ended; None if all is
    well."""
    s = conn.stream
    if s.junk:
        p.append('text between elements: %r' % s.junk[:2])
    if not s.closed:
        p.append('no </stream:stream>')
    if not conn.eof:
        p.append('connection not closed within %gs' % timeout)
    if p:
        return '%s [%s]' % ('; '.join(p), conn.describe())
    return None


def stream_error_problems(conn, conditions, want_from=None,
                          timeout=TIMEOUT):
    """
    Reads until EOF and says what is wrong with the server's output, as
    an error stream: header (checked as header_problems), exactly one
    stream:error holding one condition element of the streams namespace
    from conditions, nothing after it, </stream:stream>, then EOF.
    """
    if isinstance(conditions, str):
        conditions = [conditions]
    conn.read_to_eof(timeout)
    s = conn.stream
    p = []
    if s.error is not None:
        p.append('output not well-formed: %s' % s.error)
    p += s.header_problems(want_from)
    errs = s.stream_errors()
    if not errs:
        p.append('no stream error (expected %s)' % '/'.join(conditions))
    else:
        e = errs[0]
        kids = list(e)
        if e.attrib or (kids and kids[0].attrib):
            p.append('attributes on the stream error')
        if len(kids) != 1:
            p.append('stream error with %d children' % len(kids))
        if kids:
            k = kids[0].tag
            if not k.startswith('{%s}' % NS_ERRORS):
                p.append('condition %s not in %s' % (k, NS_ERRORS))
            elif k.split('}', 1)[1] not in conditions:
                p.append('condition %s, expected %s' %
                         (k.split('}', 1)[1], '/'.join(conditions)))
            if len(kids[0]) or (kids[0].text or '').strip():
                p.append('condition element not empty')
        if s.elements[-1] is not e or len(errs) > 1:
            p.append('elements after the stream error')
    return _ending_problems(conn, p, timeout)


def expect_stream_error(conn, conditions, want_from=None, timeout=TIMEOUT):
    p = stream_error_problems(conn, conditions, want_from, timeout)
    conn.close()
    if p:
        raise Fail(p)


def closing_problems(conn, timeout=TIMEOUT):
    """After our </stream:stream>: only gatewayd's, no error, EOF."""
    conn.read_to_eof(timeout)
    s = conn.stream
    p = []
    if s.error is not None:
        p.append('output not well-formed: %s' % s.error)
    if s.stream_errors():
        p.append('stream error %s' % s.condition())
    return _ending_problems(conn, p, timeout)


def orderly_close(conn, bytewise=False):
    """Ends our stream; Fail unless gatewayd ends its own cleanly."""
    conn.send(CLOSE, bytewise)
    p = closing_problems(conn)
    conn.close()
    if p:
        raise Fail(p)


HEX32 = re.compile(r'[0-9a-f]{32}\Z')
