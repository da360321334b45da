"""
Shared by the uplink tests (regress/uplink/*_test.py): a private Prosody
(Debian's, 0.12) started by the test on loopback, and XMPP peers made
with slixmpp, each running its own asyncio loop in a thread so that a
test stays a plain sequence of calls and waits.

    Prosody(components=[(DOMAIN, SECRET), ...], users={'alice': 'pw'})
        .start() .stop() .restart() .kill() .alive() .pid
        .c2s_port .component_port .host .jid(user) .secret(domain)
        .log() .wait_log(text) .mark() (a log offset: the "since" of
        the counts and waits) .problems() (its error and warn lines)
        .bounces(domain) .bounce_count(domain) .wait_bounces(n, domain)
        .wait_component(domain) .wait_component_gone(domain)
        .client(user) -> Client, logged in
        .component(domain, echo=True) -> Component, connected to it
    Client(jid, password, port)      a c2s user (slixmpp's ClientXMPP):
        PLAIN without TLS on loopback; send_message, send_iq, send_raw,
        received (Got), wait, expect, wait_id, wait_gone, disconnect
    Component(domain, secret, port)  an XEP-0114 component (slixmpp's
        ComponentXMPP), to Prosody or to gatewayd, echoing or collecting;
        the same sends and waits

start() checks that the ports accept connections: each start logs one
component stream and one c2s connection that end at once ("component
disconnected: (nil) ((nil))", "Client disconnected").

Every wait polls, or waits on a condition, until a deadline: no sleeps.
Prosody runs in the foreground (prosody -F) as a child of the test, with
run_as_root = true: the tests run as root in CI, and Prosody's mod_posix
refuses root without it ("Danger, Will Robinson!").  It is not switched
to the prosody user: the data and log stay the test's own, in its
scratch directory, removed at exit (GW_KEEP=1 keeps them).

lua-unbound, lua-event and lua-readline are not needed here: without
lua-unbound Prosody prints a warning on stdout and uses its older DNS
resolver (never asked: s2s is off and every peer is on 127.0.0.1);
lua-event only serves use_libevent (0.12 uses its own epoll backend);
lua-readline only prosodyctl shell.

Run with /usr/bin/python3 (Debian's), as regress/uplink/*.sh do.
"""

import asyncio
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
import gwtest as gw  # noqa: E402


def _program(name):
    """Debian's /usr/bin/NAME, else NAME on PATH (OpenBSD's package
    puts it in /usr/local/bin), else the Debian path (to say missing)."""
    path = '/usr/bin/' + name
    if os.access(path, os.X_OK):
        return path
    return shutil.which(name) or path


PROSODY = os.environ.get('PROSODY') or _program('prosody')
PROSODYCTL = os.environ.get('PROSODYCTL') or _program('prosodyctl')
HOST = 'example.test'
TIMEOUT = gw.TIMEOUT

# What Prosody 0.12's mod_component logs (warn, on the logger
# "DOMAIN:component") for each stanza to a component that is not
# connected; it then answers an error of type wait, remote-server-timeout
# ("Component unavailable", with <not-connected
# xmlns='xmpp:prosody.im/protocol/component'/>), unless the stanza was
# itself an error or a result.
BOUNCE = 'Component not connected, bouncing error for: '

# Its info lines for a component's stream: authenticated (on the logger
# "DOMAIN:component"), and gone (on the stream's logger, "jcp...").
UP = 'External component successfully authenticated'
DOWN = 'component disconnected: %s ('

NS_CLIENT = 'jabber:client'
NS_COMPONENT = 'jabber:component:accept'
NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'
NS_PING = 'urn:xmpp:ping'

_ids = itertools.count(1)


def next_id(prefix='pl'):
    return '%s-%d' % (prefix, next(_ids))


def available():
    """None when Prosody and slixmpp are there, else why not (the reason
    of a skip line)."""
    for path, pkg in ((PROSODY, 'prosody'), (PROSODYCTL, 'prosody')):
        if not os.access(path, os.X_OK):
            return '%s not installed (Debian package %s: sh ' \
                'regress/deps.sh %s as root)' % (path, pkg, pkg)
    try:
        import slixmpp  # noqa: F401
    except ImportError as e:
        return 'slixmpp not installed (python3-slixmpp): %s' % e
    return None


def lua(value):
    """A Python value as a Lua literal: str, bool, int, float, None,
    list or tuple (a sequence), dict (a table)."""
    if value is None:
        return 'nil'
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        out = []
        for ch in value:
            if ch in '\\"':
                out.append('\\' + ch)
            elif ch == '\n':
                out.append('\\n')
            elif ord(ch) < 32 or ord(ch) == 127:
                out.append('\\%03d' % ord(ch))
            else:
                out.append(ch)
        return '"%s"' % ''.join(out)
    if isinstance(value, (list, tuple)):
        return '{ %s }' % '; '.join(lua(v) for v in value)
    if isinstance(value, dict):
        return '{ %s }' % '; '.join('[%s] = %s' % (lua(k), lua(v))
                                    for k, v in value.items())
    raise TypeError('no Lua literal for %r' % (value,))


def _accepts(port, timeout=0.5):
    try:
        s = socket.create_connection(('127.0.0.1', port), timeout)
    except OSError:
        return False
    s.close()
    return True


def listening(pid):
    """The (address, port) pairs process pid listens on (TCP), from
    /proc: its socket inodes, looked up in /proc/net/tcp and tcp6."""
    inodes = set()
    fds = '/proc/%d/fd' % pid
    try:
        names = os.listdir(fds)
    except OSError:
        return []
    for fd in names:
        try:
            target = os.readlink(os.path.join(fds, fd))
        except OSError:
            continue
        if target.startswith('socket:['):
            inodes.add(target[8:-1])
    out = []
    for path, family in (('/proc/net/tcp', socket.AF_INET),
                         ('/proc/net/tcp6', socket.AF_INET6)):
        try:
            with open(path) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) < 10 or fields[3] != '0A' or \
                    fields[9] not in inodes:
                continue
            addr, port = fields[1].split(':')
            raw = bytes.fromhex(addr)
            if sys.byteorder == 'little':	# 32-bit words, host order
                raw = b''.join(raw[i:i + 4][::-1]
                               for i in range(0, len(raw), 4))
            out.append((socket.inet_ntop(family, raw), int(port, 16)))
    return sorted(out)


# ---------------------------------------------------------------------------
# The server

class Server:
    """What Prosody's and ejabberd's harnesses share: the names
    (components, users, host), the process (proc), the peers that
    connect to it (c2s_port, component_port), its log (logpath), read
    from a byte offset (mark) and polled, and what it wrote on stdout
    and stderr (outpath)."""

    def jid(self, user='alice'):
        return '%s@%s' % (user, self.host)

    def secret(self, domain):
        for d, s, _ in self.components:
            if d == domain:
                return s
        raise KeyError(domain)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid if self.alive() else None

    def listening(self):
        """The (address, port) pairs the server listens on (TCP)."""
        return listening(self.proc.pid) if self.alive() else []

    def client(self, user='alice', **kw):
        """A Client of user, logged in (see Client)."""
        c = Client(self.jid(user), self.users[user], self.c2s_port, **kw)
        return c.start()

    def component(self, domain, **kw):
        """A Component connected directly to the server."""
        c = Component(domain, self.secret(domain), self.component_port,
                      **kw)
        return c.start()

    def bounce_count(self, domain=None, since=0):
        return len(self.bounces(domain, since))

    def log(self, since=0):
        """The log text (of every run; from the byte offset since, a
        mark())."""
        try:
            with open(self.logpath, 'rb') as f:
                if since:
                    f.seek(since)
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    def out(self):
        """What the server wrote on stdout and stderr (its warnings)."""
        try:
            with open(self.outpath, errors='replace') as f:
                return f.read()
        except OSError:
            return ''

    def mark(self):
        """The log's current length: pass as since to count only what
        comes after."""
        try:
            return os.path.getsize(self.logpath)
        except OSError:
            return 0

    def log_count(self, text, since=0):
        return self.log(since).count(text)

    def wait_log(self, text, timeout=TIMEOUT, since=0, count=1):
        """Polls the log until text is there count times (after since);
        True if in time."""
        return _poll(lambda: self.log_count(text, since) >= count, timeout)


class Prosody(Server):
    """
    A private Prosody on 127.0.0.1: c2s and component ports chosen free,
    no s2s, no HTTP, no TLS, PLAIN allowed, accounts in plain text
    (internal_plain), one VirtualHost (host) with the users given, and
    the components given as (DOMAIN, SECRET) or (DOMAIN, SECRET,
    {option: value}) each a Component section with component_secret.
    Everything lives in self.dir: prosody.cfg.lua, data/, certs/ (empty),
    prosody.pid, prosody.log (the log, appended to across restarts) and
    prosody.out (its stdout and stderr).
    """

    def __init__(self, components=(), users=None, host=HOST,
                 name='prosody', log_level='debug', extra=()):
        self.name = name
        self.host = host
        self.components = []
        for c in components:
            domain, secret = c[0], c[1]
            opts = dict(c[2]) if len(c) > 2 else {}
            self.components.append((domain, secret, opts))
            gw.SENT_SECRETS.add(secret)
        self.users = dict({'alice': 'alice-pw'} if users is None else users)
        self.log_level = log_level
        self.extra = list(extra)	# lines of the global section
        self.dir = tempfile.mkdtemp(prefix=name + '.', dir=gw.scratch())
        os.chmod(self.dir, 0o755)
        self.confpath = os.path.join(self.dir, 'prosody.cfg.lua')
        self.datadir = os.path.join(self.dir, 'data')
        self.certdir = os.path.join(self.dir, 'certs')
        self.pidpath = os.path.join(self.dir, 'prosody.pid')
        self.logpath = os.path.join(self.dir, 'prosody.log')
        self.outpath = os.path.join(self.dir, 'prosody.out')
        for d in (self.datadir, self.certdir):
            os.mkdir(d)
            os.chmod(d, 0o750)
        self.c2s_port = self.component_port = None
        self.proc = None
        self.starts = 0
        self.start_mark = 0	# the log's length when the last start began
        self._users_made = set()

    # -- names --

    # -- configuration --

    def config_text(self):
        lines = [
            '-- Written by regress/uplink/prosodylib.py: a private Prosody',
            '-- of a test, on 127.0.0.1 only.',
            'run_as_root = true',
            'data_path = %s' % lua(self.datadir),
            'pidfile = %s' % lua(self.pidpath),
            'certificates = %s' % lua(self.certdir),
            'plugin_paths = { }',
            'interfaces = { "127.0.0.1" }',
            'local_interfaces = { "127.0.0.1" }',
            'c2s_interfaces = { "127.0.0.1" }',
            'c2s_ports = { %d }' % self.c2s_port,
            'c2s_direct_tls_ports = { }',
            'legacy_ssl_ports = { }',
            'component_interfaces = { "127.0.0.1" }',
            'component_ports = { %d }' % self.component_port,
            # No s2s (a stanza for another domain is answered not-allowed
            # at once, without DNS), no offline storage, no HTTP.
            'modules_enabled = { "roster"; "saslauth"; "disco"; "ping" }',
            'modules_disabled = { "s2s"; "s2s_auth_certs"; "offline" }',
            'c2s_require_encryption = false',
            's2s_require_encryption = false',
            'allow_unencrypted_plain_auth = true',
            'authentication = "internal_plain"',
            'storage = "internal"',
            'log = { { levels = { min = %s }; to = "file"; filename = %s } }'
            % (lua(self.log_level), lua(self.logpath)),
        ]
        lines += self.extra
        lines += ['', 'VirtualHost %s' % lua(self.host)]
        for domain, secret, opts in self.components:
            lines += ['', 'Component %s' % lua(domain),
                      '\tcomponent_secret = %s' % lua(secret)]
            lines += ['\t%s = %s' % (k, lua(v)) for k, v in opts.items()]
        return '\n'.join(lines) + '\n'

    def write_config(self):
        fd = os.open(self.confpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                     0o640)
        with os.fdopen(fd, 'w') as f:
            f.write(self.config_text())

    def prosodyctl(self, *args, timeout=20):
        """prosodyctl --config OURS ARGS; its CompletedProcess."""
        return subprocess.run([PROSODYCTL, '--config', self.confpath] +
                              list(args), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True,
                              timeout=timeout)

    def add_user(self, user, password):
        """Creates (or changes) an account with prosodyctl register; it
        works whether Prosody runs or not (accounts are read from data/
        at each login)."""
        self.users[user] = password
        if self.c2s_port is None:	# no config yet: start makes it
            return
        r = self.prosodyctl('register', user, self.host, password)
        path = os.path.join(self.datadir, self.host.replace('.', '%2e'),
                            'accounts', user.lower() + '.dat')
        if r.returncode != 0 or not os.path.exists(path):
            raise gw.Fail('prosodyctl register %s %s failed (%d): %s' % (
                user, self.host, r.returncode,
                ' | '.join((r.stdout + r.stderr).splitlines()[-6:])))
        self._users_made.add(user)

    # -- the process --

    def start(self, timeout=10):
        """Starts Prosody (on new free ports the first time, on the same
        ones after); returns self once the c2s and component ports accept
        connections, or raises gw.Fail with the end of the log."""
        first = self.c2s_port is None
        for attempt in range(3):
            if first:
                self.c2s_port, self.component_port = gw.free_ports(2)
            self.write_config()
            for u, p in self.users.items():
                if u not in self._users_made:
                    self.add_user(u, p)
            problem = self._spawn(timeout)
            if problem is None:
                return self
            self.kill()
            if not first or 'in use' not in problem:
                break
            # Another process took a port since it was chosen: others,
            # and a log without that attempt's error.
            open(self.logpath, 'w').close()
        raise gw.Fail('prosody %s did not start: %s' % (self.name, problem))

    def _spawn(self, timeout):
        self.start_mark = self.mark()
        out = open(self.outpath, 'a')
        self.proc = subprocess.Popen([PROSODY, '--config', self.confpath,
                                      '-F'], cwd=self.dir,
                                     stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT)
        out.close()
        self.starts += 1
        if self not in gw._daemons:
            gw._daemons.append(self)	# gw.cleanup kills it at exit
        want = ["Activated service 'c2s' on [127.0.0.1]:%d" % self.c2s_port,
                "Activated service 'component' on [127.0.0.1]:%d" %
                self.component_port]
        deadline = time.monotonic() + timeout
        while True:
            text = self.log(self.start_mark)
            for bad in ('Failed to open server port', 'Refusing to run',
                        'Prosody already running', 'Unable to load module',
                        'Error initializing module'):
                if bad in text:
                    return self._tail(text)
            if self.proc.poll() is not None:
                return 'exited with status %d: %s' % (
                    self.proc.returncode, self._tail(text, out=True))
            if all(w in text for w in want) and \
                    _accepts(self.c2s_port) and \
                    _accepts(self.component_port):
                return None
            if time.monotonic() >= deadline:
                return 'not listening after %gs: %s' % (timeout,
                                                       self._tail(text))
            time.sleep(0.02)

    def _tail(self, text, n=8, out=False):
        """The last lines of text (a log) but debug ones; and if out,
        of its stdout (where a config error goes)."""
        lines = [ln for ln in text.splitlines() if '\tdebug\t' not in ln]
        more = self.out().strip().splitlines()[-4:] if out else []
        return ' | '.join(lines[-n:] + more)

    def stop(self, timeout=10):
        """SIGTERM (Prosody closes its streams, system-shutdown) and waits
        for the exit; returns its status (None: killed after timeout)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            rc = None
        if self in gw._daemons:
            gw._daemons.remove(self)
        return rc

    def kill(self):
        """SIGKILL, as a crash: no stream is closed."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self in gw._daemons:
            gw._daemons.remove(self)

    def restart(self, timeout=10, hard=False):
        """stop (or kill, if hard), then start on the same ports with the
        same data and log; returns self."""
        if hard:
            self.kill()
        else:
            rc = self.stop(timeout)
            if rc != 0:
                raise gw.Fail('prosody %s exited with status %r on SIGTERM'
                              % (self.name, rc))
        return self.start(timeout)

    def reload(self):
        """Rewrites the config and sends SIGHUP (Prosody rereads it, but
        applies only part: adding a Component needs a restart)."""
        self.write_config()
        self.proc.send_signal(signal.SIGHUP)

    # -- the log --

    def log_lines(self, text, since=0, level=None):
        return [ln for ln in self.log(since).splitlines() if text in ln and
                (level is None or '\t%s\t' % level in ln)]

    def bounces(self, domain=None, since=0):
        """The log lines of stanzas Prosody bounced because the component
        (domain, or any) was not connected."""
        logger = '%s:component\t' % domain if domain else ''
        return [ln for ln in self.log(since).splitlines()
                if BOUNCE in ln and logger in ln]

    def wait_bounces(self, count, domain=None, since=0, timeout=TIMEOUT):
        """Polls until count bounces are logged; True if in time."""
        return _poll(lambda: self.bounce_count(domain, since) >= count,
                     timeout)

    def component_ups(self, domain, since=0):
        """How many times a component authenticated as domain."""
        return len([ln for ln in self.log(since).splitlines()
                    if ln.split('\t')[0].endswith(' %s:component' % domain)
                    and UP in ln])

    def wait_component(self, domain, since=0, count=1, timeout=TIMEOUT):
        """Polls until a component (gatewayd's uplink, ...) has
        authenticated as domain count times since; True if in time."""
        return _poll(lambda: self.component_ups(domain, since) >= count,
                     timeout)

    def wait_component_gone(self, domain, since=0, timeout=TIMEOUT):
        """Polls until Prosody has dropped a stream of domain's
        component (after which it bounces); True if in time."""
        return self.wait_log(DOWN % domain, timeout, since)

    def problems(self, since=0, allow=()):
        """The log's error and warn lines, but bounces, signals, those
        of this setup (no certificates, no TLS) and those with a text of
        allow (the test's own doing)."""
        harmless = (BOUNCE, 'certificate', 'Received SIGTERM',
                    'Received SIGINT', 'Received SIGHUP', 'TLS') + \
            tuple(allow)
        return [ln for ln in self.log(since).splitlines()
                if ('\terror\t' in ln or '\twarn\t' in ln) and
                not any(h in ln for h in harmless)]



def _poll(cond, timeout):
    deadline = time.monotonic() + timeout
    while True:
        if cond():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


# ---------------------------------------------------------------------------
# What a peer received

class Got:
    """One stanza received: kind (message, iq, presence), type, id, frm,
    to, body, error_type and condition (of an <error/>, else None),
    error_text, children (the tags of the other child elements), xml (the
    text) and at (time.monotonic() when it came)."""

    __slots__ = ('kind', 'type', 'id', 'frm', 'to', 'body', 'error_type',
                 'condition', 'error_text', 'children', 'xml', 'at')

    def __init__(self, elem):
        ns, _, self.kind = elem.tag[1:].partition('}')
        self.type = elem.get('type')
        self.id = elem.get('id')
        self.frm = elem.get('from')
        self.to = elem.get('to')
        self.body = None
        self.error_type = self.condition = self.error_text = None
        self.children = []
        for child in elem:
            if child.tag == '{%s}body' % ns:
                self.body = child.text or ''
            elif child.tag == '{%s}error' % ns:
                self.error_type = child.get('type')
                for c in child:
                    if not c.tag.startswith('{%s}' % NS_STANZAS):
                        continue
                    if c.tag.endswith('}text'):
                        self.error_text = c.text
                    elif self.condition is None:
                        self.condition = c.tag.split('}', 1)[1]
            else:
                self.children.append(child.tag)
        self.xml = ET.tostring(elem, encoding='unicode')
        self.at = time.monotonic()

    def is_error(self):
        return self.type == 'error'

    def __repr__(self):
        s = '<%s type=%s id=%s from=%s to=%s' % (
            self.kind, self.type, self.id, self.frm, self.to)
        if self.body is not None:
            s += ' body=%r' % self.body
        if self.condition:
            s += ' error=%s/%s' % (self.error_type, self.condition)
        return s + '>'


def message_xml(to, body, mtype='chat', mid=None, frm=None, extra=''):
    a = ' to=%s' % quoteattr(to)
    if frm:
        a += ' from=%s' % quoteattr(frm)
    if mtype:
        a += ' type=%s' % quoteattr(mtype)
    if mid:
        a += ' id=%s' % quoteattr(mid)
    return '<message%s><body>%s</body>%s</message>' % (a, escape(body),
                                                       extra)


def iq_xml(to, itype='get', payload="<ping xmlns='%s'/>" % NS_PING,
           iid=None, frm=None):
    a = ' to=%s type=%s id=%s' % (quoteattr(to), quoteattr(itype),
                                  quoteattr(iid))
    if frm:
        a += ' from=%s' % quoteattr(frm)
    return '<iq%s>%s</iq>' % (a, payload or '')


# ---------------------------------------------------------------------------
# Peers: a slixmpp stream on its own loop, in its own thread

class _Peer:
    """What Client and Component share: the thread and loop, the sends,
    and what came, with waits on a condition until a deadline."""

    kind = 'peer'

    def __init__(self, jid, port, host='127.0.0.1', echo=False,
                 handler=None):
        self.jid = jid		# the full JID once bound (Client)
        self.echo = echo
        self.handler = handler
        self.port = port
        self.server = host
        self.received = []	# Got, in arrival order
        self.stream_errors = []	# conditions of stream errors received
        self.failure = None	# why it could not start
        self.cond = threading.Condition()
        self.started = threading.Event()	# session_start
        self.gone = threading.Event()	# disconnected after start
        self.xmpp = None
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name='%s %s' % (self.kind, jid))
        self.thread.start()

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, fn, *args, timeout=TIMEOUT):
        """fn(*args) on the loop's thread; its result, or its exception
        raised here."""
        if self.loop.is_closed():
            raise gw.Fail('%s %s: closed' % (self.kind, self.jid))

        async def run():
            return fn(*args)
        f = asyncio.run_coroutine_threadsafe(run(), self.loop)
        return f.result(timeout)

    # -- the stream: set up by the subclass, on the loop --

    def _setup(self, xmpp):
        from slixmpp.xmlstream.handler import Callback
        from slixmpp.xmlstream.matcher import MatchXPath

        self.xmpp = xmpp
        ns = xmpp.default_ns
        for kind in ('message', 'iq', 'presence'):
            xmpp.register_handler(Callback(
                'prosodylib ' + kind, MatchXPath('{%s}%s' % (ns, kind)),
                self._on_stanza))
        xmpp.add_event_handler('session_start', self._on_session)
        xmpp.add_event_handler('stream_error', self._on_stream_error)
        xmpp.add_event_handler('disconnected', self._on_disconnected)
        xmpp.add_event_handler('connection_failed', self._on_failed)
        xmpp.add_event_handler('failed_auth', self._on_failed_auth)

        # Every peer is on an address: no DNS (slixmpp would resolve the
        # JID's domain, which here does not exist).
        async def records(domain, port=None):
            return [(domain, self.server, self.port)]
        xmpp.get_dns_records = records

    def _on_stanza(self, stanza):
        if not self.started.is_set():
            return		# the negotiation's (bind): not the test's
        got = Got(stanza.xml)
        with self.cond:
            self.received.append(got)
            self.cond.notify_all()
        self.handle(got)

    def handle(self, got):
        """On the loop thread, for each stanza once recorded: handler,
        or the echo, or nothing."""
        if self.handler is not None:
            self.handler(self, got)
        elif self.echo:
            echo(self, got)

    def reply_raw(self, text):
        """send_raw for a handler (already on the loop thread)."""
        if self.xmpp is not None and self.xmpp.transport is not None:
            self.xmpp.send_raw(text)

    def _on_session(self, _):
        self.started.set()
        with self.cond:
            self.cond.notify_all()

    def _on_stream_error(self, err):
        with self.cond:
            self.stream_errors.append(err['condition'])
            self.cond.notify_all()

    def _on_disconnected(self, reason):
        with self.cond:
            if self.failure is None and not self.started.is_set():
                self.failure = 'disconnected before the session'
                if reason and not self.stream_errors:
                    self.failure += ': %s' % reason
            if self.started.is_set():
                self.gone.set()
            self.cond.notify_all()

    def _on_failed(self, err):
        # slixmpp would retry, with a backoff: stop it, say why.
        self.xmpp.cancel_connection_attempt()
        with self.cond:
            if self.failure is None:
                self.failure = 'connection failed: %s' % err
            self.cond.notify_all()

    def _on_failed_auth(self, _):
        with self.cond:
            if self.failure is None:
                self.failure = 'authentication failed'
            self.cond.notify_all()

    def _wait_started(self, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not self.started.is_set() and self.failure is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
        if self.started.is_set():
            return self
        why = self.failure or 'no session after %gs' % timeout
        if self.stream_errors:
            why += ' (stream error %s)' % ', '.join(self.stream_errors)
        self.close()
        raise gw.Fail('%s %s: %s' % (self.kind, self.jid, why))

    def connected(self):
        return self.started.is_set() and not self.gone.is_set()

    # -- sending --

    def send_raw(self, text):
        """Sends XML text as is on the stream (in order with the other
        sends of this peer); gw.Fail when not connected."""
        def send():
            if self.xmpp is None or self.xmpp.transport is None:
                return False
            self.xmpp.send_raw(text)
            return True
        if not self.call(send):
            raise gw.Fail('%s %s: not connected, cannot send %s' % (
                self.kind, self.jid, text[:80]))

    def send_message(self, to, body, mtype='chat', mid=None, frm=None,
                     extra=''):
        """A <message/> with a body; returns its id."""
        mid = mid or next_id('m')
        self.send_raw(message_xml(to, body, mtype, mid, frm, extra))
        return mid

    def send_iq(self, to, itype='get', payload="<ping xmlns='%s'/>" %
                NS_PING, iid=None, frm=None):
        """An <iq/> (a ping by default); returns its id: wait_id(id) has
        the answer."""
        iid = iid or next_id('iq')
        self.send_raw(iq_xml(to, itype, payload, iid, frm))
        return iid

    # -- what came --

    def select(self, pred=None, kind=None):
        with self.cond:
            return [g for g in self.received if (kind is None or
                    g.kind == kind) and (pred is None or pred(g))]

    def messages(self, pred=None):
        return self.select(pred, 'message')

    def wait(self, pred=None, count=1, timeout=TIMEOUT, kind=None):
        """Waits until count stanzas received match pred (and kind);
        returns those that do, fewer if the deadline passed first."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                got = [g for g in self.received if (kind is None or
                       g.kind == kind) and (pred is None or pred(g))]
                left = deadline - time.monotonic()
                if len(got) >= count or left <= 0:
                    return got
                self.cond.wait(left)

    def expect(self, pred=None, count=1, timeout=TIMEOUT, kind=None,
               what='stanzas'):
        """wait, or gw.Fail saying what came."""
        got = self.wait(pred, count, timeout, kind)
        if len(got) < count:
            raise gw.Fail('%s %s: %d of %d %s after %gs; received %s' % (
                self.kind, self.jid, len(got), count, what, timeout,
                self.describe()))
        return got

    def wait_id(self, sid, timeout=TIMEOUT, kind=None):
        """The stanza with id sid (a reply, an error), or None."""
        got = self.wait(lambda g: g.id == sid, 1, timeout, kind)
        return got[0] if got else None

    def wait_gone(self, timeout=TIMEOUT):
        """Until the stream is lost (Prosody stopped, ...); True if so."""
        return self.gone.wait(timeout)

    def describe(self, n=6):
        with self.cond:
            r = self.received
            s = '%d stanzas' % len(r)
            if r:
                s += ', the last: %s' % ', '.join(repr(g) for g in r[-n:])
            if self.stream_errors:
                s += '; stream errors %s' % ', '.join(self.stream_errors)
        return s

    def clear(self):
        with self.cond:
            del self.received[:]

    # -- the end --

    def disconnect(self, timeout=TIMEOUT):
        """An orderly close (our </stream:stream>, then the server's);
        True if the stream ended in time."""
        if self.xmpp is None or not self.connected():
            return True

        def bye():
            self.xmpp.disconnect(wait=timeout)
        try:
            self.call(bye)
        except Exception:
            return False
        return self.gone.wait(timeout + 1)

    def close(self):
        """Ends everything at once (abort) and stops the thread; safe to
        call more than once."""
        if self.loop.is_closed():
            return

        def end():
            if self.xmpp is not None:
                self.xmpp.cancel_connection_attempt()
                self.xmpp.abort()
        try:
            self.call(end)
        except Exception:
            pass

        async def cancel_all():
            me = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not me]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        try:
            asyncio.run_coroutine_threadsafe(cancel_all(),
                                             self.loop).result(TIMEOUT)
        except Exception:
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(TIMEOUT)
        if not self.thread.is_alive():
            self.loop.close()


class Client(_Peer):
    """
    A c2s user: slixmpp's ClientXMPP, SASL PLAIN without TLS (on
    loopback only), a resource bound; with presence=True (the default)
    it sends its initial presence, so that messages to its bare JID are
    delivered.  start() returns once the session is up, or raises
    gw.Fail (failed auth, stream error, timeout).  After start, jid is
    the full JID and bare the bare one.
    """

    kind = 'client'

    def __init__(self, jid, password, port, host='127.0.0.1',
                 presence=True, resource='test', echo=False, handler=None):
        self.password = password
        self.presence = presence
        self.bare = jid.split('/', 1)[0]
        self.resource = resource
        _Peer.__init__(self, jid, port, host, echo, handler)

    def start(self, timeout=10):
        self.call(self._make)
        return self._wait_started(timeout)

    def _make(self):
        from slixmpp import ClientXMPP
        jid = self.bare + ('/' + self.resource if self.resource else '')
        xmpp = ClientXMPP(jid, self.password, sasl_mech='PLAIN',
                          plugin_config={'feature_mechanisms': {
                              'unencrypted_plain': True}})
        self._setup(xmpp)
        xmpp.connect((self.server, self.port), use_ssl=False,
                     force_starttls=False, disable_starttls=True)

    def _on_session(self, ev):
        self.jid = str(self.xmpp.boundjid)
        if self.presence:
            self.xmpp.send_presence()
        _Peer._on_session(self, ev)


class Component(_Peer):
    """
    An XEP-0114 component: slixmpp's ComponentXMPP for domain with
    secret, to 127.0.0.1:port (Prosody's component port, or gatewayd's).
    echo=True answers every message (but errors) with the same body, id
    and type, from its 'to' to its 'from', and every iq get or set with
    a result carrying the same payload.  handler, if given, is called on
    the loop thread with (component, Got) for each stanza instead.
    start() returns once the handshake is accepted, or raises gw.Fail
    (stream error such as not-authorized or conflict, refused, timeout).
    """

    kind = 'component'

    def __init__(self, domain, secret, port, host='127.0.0.1', echo=False,
                 handler=None):
        self.domain = domain
        self.secret = secret
        gw.SENT_SECRETS.add(secret)
        _Peer.__init__(self, domain, port, host, echo, handler)

    def start(self, timeout=10):
        self.call(self._make)
        return self._wait_started(timeout)

    def _make(self):
        from slixmpp.componentxmpp import ComponentXMPP
        xmpp = ComponentXMPP(self.domain, self.secret, self.server,
                             self.port)
        self._setup(xmpp)
        xmpp.connect()


def echo(peer, got):
    """The echo of a peer: a message (not an error) back to its sender,
    with the same body, id and type; a result for an iq get or set, with
    its payload.  A component sends from the stanza's 'to'; a client
    leaves 'from' to the server."""
    frm = got.to if isinstance(peer, Component) else None
    if got.kind == 'message' and got.type != 'error':
        body = got.body if got.body is not None else ''
        peer.reply_raw(message_xml(got.frm, body, got.type, got.id, frm))
    elif got.kind == 'iq' and got.type in ('get', 'set'):
        elem = ET.fromstring(got.xml)
        payload = ''.join(ET.tostring(c, encoding='unicode') for c in elem)
        peer.reply_raw(iq_xml(got.frm, 'result', payload, got.id, frm))
