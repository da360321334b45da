"""
A private ejabberd (Debian's, 23.01) for the uplink tests, beside
prosodylib's Prosody and with the same interface where it makes sense;
the peers are prosodylib's (Client, Component), imported, not copied.

    Ejabberd(components=[(DOMAIN, SECRET), ...], users={'alice': 'pw'})
        .start() .stop() .restart() .kill() .alive() .pid
        .c2s_port .component_port .api_port .host .jid(user)
        .secret(domain) .add_user(user, password)
        .log() .wait_log(text) .mark() .log_count(text) .log_lines(text)
        .problems() (its error, warning and critical lines)
        .bounces(domain) .bounce_count(domain) .wait_bounces(n, domain)
        .component_ups(domain) .wait_component(domain)
        .wait_component_gone(domain) .listening()
        .client(user) -> prosodylib.Client, logged in
        .component(domain, echo=True) -> prosodylib.Component

How it runs without touching the system's instance (/etc/ejabberd,
/var/lib/ejabberd, /var/log/ejabberd, the node ejabberd@localhost, the
ejabberd user): not through ejabberdctl, which as root always su's to
the ejabberd user (whose home, /var/lib/ejabberd, holds its cookie) and
always names a distributed node (registered with an epmd it starts,
unless ERL_DIST_PORT is set), but with erl directly, in the foreground,
as a child of the test, the way "ejabberdctl foreground" runs it:

    erl -noinput -noshell -mnesia dir '"DIR/db"' -ejabberd
        log_rotate_size infinity ... -s ejabberd
    with EJABBERD_CONFIG_PATH=DIR/ejabberd.yml,
    EJABBERD_LOG_PATH=DIR/ejabberd.log (error.log beside it),
    ERL_LIBS=/usr/lib/<multiarch> (ejabberd and its deps), HOME=DIR,
    ERL_CRASH_DUMP=DIR/erl_crash.dump, ERL_INETRC=DIR/inetrc

No -sname/-name: the node is not distributed (nonode@nohost), so there
is no epmd, no cookie, no distribution port, nothing another node could
reach or be confused with.  Accounts are registered through ejabberd's
HTTP API (mod_http_api's register command) on a third loopback port,
allowed from 127.0.0.0/8 only (api_permissions): that needs no second
Erlang VM, no node name and no cookie (ejabberdctl would need all
three).  They are kept in DIR/db (Mnesia) across restarts.

The configuration (ejabberd.yml, see config()): hosts [example.test];
on 127.0.0.1 only: ejabberd_c2s (starttls_required false and no
certificate at all: PLAIN in clear text, which ejabberd then allows
without more), ejabberd_service with per-host passwords (hosts:
{DOMAIN: {password: SECRET}}) and global_routes false, ejabberd_http
with /api; auth_method internal, passwords in plain; s2s_access none: a
stanza for a domain that has no route (a component not connected) is
answered at once with an error (forbidden, "Access denied by service
policy") instead of an outgoing s2s connection and a DNS lookup;
loglevel debug, the burst limit of the log raised so that no line is
dropped.

global_routes false matters with gatewayd: by default (true, ejabberd's
"legacy behaviour") a component that authenticates on an
ejabberd_service listener is given the routes of every domain of that
listener's hosts.  With one listener for several of gatewayd's uplinks
(one stream per domain), the first uplink up would be sent the stanzas
of the other domains too (gatewayd answers them with an error, as not
its domain's), and with several up ejabberd would pick one of them per
sender for each domain.  With false each stream gets the route of its
own domain only, as with Prosody.

ejabberd runs as root here (the tests run as root in CI); it does not
refuse to.  Everything it writes is in DIR (removed at exit with the
scratch directory, kept with GW_KEEP=1).

Run with /usr/bin/python3 (Debian's), as regress/uplink/* do.
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prosodylib as pl  # noqa: E402
from prosodylib import gw, Client, Component  # noqa: E402,F401

HOST = pl.HOST
TIMEOUT = gw.TIMEOUT
ERL = os.environ.get('ERL') or pl._program('erl')


def _ejabberd_lib():
    """The directory that holds ejabberd-VERSION/ebin/ejabberd.app and
    its dependencies (Debian: /usr/lib/<multiarch>, what ejabberdctl
    puts in ERL_LIBS), or None; EJABBERD_LIB says where if set."""
    if os.environ.get('EJABBERD_LIB'):
        bases = [os.environ['EJABBERD_LIB']]
    else:
        try:
            multiarch = sorted(d for d in os.listdir('/usr/lib')
                               if d.endswith('-linux-gnu'))
        except OSError:
            multiarch = []
        bases = ['/usr/lib/' + d for d in multiarch] + \
            ['/usr/lib', '/usr/local/lib']
    for base in bases:
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for n in names:
            if n.startswith('ejabberd-') and os.path.exists(
                    os.path.join(base, n, 'ebin', 'ejabberd.app')):
                return base
    return None


EJABBERD_LIB = _ejabberd_lib()

# What ejabberd logs (the log's lines are "DATE TIME [LEVEL] <PID>@MODULE:
# FUNCTION/ARITY:LINE TEXT"):
# - a component authenticated (info, ejabberd_service), and the route of
#   its domain registered and unregistered (debug, ejabberd_router): it
#   logs nothing else when a component's stream ends;
UP = 'Accepted external component handshake authentication for %s '
ROUTE_UP = 'Route registered: %s'
DOWN = 'Route unregistered: %s'
# - a component refused (warning, ejabberd_service);
REFUSED = 'Failed external component handshake authentication for %s '
# - a stanza for a domain with no route (its component not connected):
#   ejabberd hands it to s2s (debug, ejabberd_s2s), which s2s_access none
#   refuses, and the sender gets an error forbidden ("Access denied by
#   service policy"), unless the stanza was an error or a result.  This
#   is ejabberd's bounce: it logs nothing more specific.
BOUNCE = 'Finding connection for {<<"%s">>,<<"%s">>}'
# - its listeners up, or not.
LISTENING = 'Start accepting TCP connections at 127.0.0.1:%d for %s'
FAILED = ('Failed to open socket at', 'Error starting the ejabberd listener',
          'Failed to start', '[critical]', 'Invalid value',
          'Unknown option', 'Failed to load configuration')

_LINE = re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\S* \[(\w+)\]')


def available():
    """None when ejabberd, erl and slixmpp are there, else why not (the
    reason of a skip line)."""
    if EJABBERD_LIB is None:
        return 'ejabberd not installed (Debian package ejabberd: sh ' \
            'regress/deps.sh ejabberd as root, or make stress)'
    if not os.access(ERL, os.X_OK):
        return '%s not installed (Debian package erlang-base)' % ERL
    try:
        import slixmpp  # noqa: F401
    except ImportError as e:
        return 'slixmpp not installed (python3-slixmpp): %s' % e
    return None


class Atom(str):
    """A string written as a plain YAML scalar, which ejabberd reads as
    an atom (a keyword: all, none, internal, a module's name); other
    strings are written quoted, which it reads as binaries (domains,
    passwords, addresses)."""


_PLAIN = re.compile(r'^[A-Za-z_/][A-Za-z0-9_./-]*$')


def yaml(value, indent=0):
    """A Python value (dict, list, str, Atom, bool, int, None) as YAML
    in block style.  Keys are plain when they can be (option names must
    be atoms), else quoted; strings are quoted in JSON's way (its
    escapes are YAML's), Atoms plain."""
    pad = '  ' * indent

    def item(v):
        if isinstance(v, (dict, list, tuple)) and v:
            return '\n' + yaml(v, indent + 1)
        return ' ' + yaml(v, indent + 1)
    if isinstance(value, dict):
        if not value:
            return '{}'
        return '\n'.join('%s%s:%s' % (pad, k if _PLAIN.match(str(k)) else
                                      json.dumps(str(k)), item(v))
                         for k, v in value.items())
    if isinstance(value, (list, tuple)):
        if not value:
            return '[]'
        out = []
        for v in value:
            if isinstance(v, (dict, list, tuple)) and v:
                out.append('%s- %s' % (pad, yaml(v, indent + 1).lstrip(' ')))
            else:
                out.append('%s- %s' % (pad, yaml(v, indent + 1)))
        return '\n'.join(out)
    if isinstance(value, Atom):
        return str(value)
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    raise TypeError('no YAML for %r' % (value,))


# ---------------------------------------------------------------------------
# The server

class Ejabberd(pl.Server):
    """
    A private ejabberd on 127.0.0.1: c2s, component and HTTP API ports
    chosen free, no s2s, no TLS, PLAIN allowed, accounts in Mnesia
    (internal, in plain), one host (host) with the users given, and the
    components given as (DOMAIN, SECRET) or (DOMAIN, SECRET, {option:
    value}: more options of the domain's entry under the listener's
    hosts) on one ejabberd_service listener, with global_routes false
    unless told (see the module's doc).  Everything lives in
    self.dir: ejabberd.yml, inetrc, db/ (Mnesia), ejabberd.log (the log,
    appended to across restarts), error.log, ejabberd.out (its stdout and
    stderr: the same lines without the module, and the VM's own).
    """

    label = 'ejabberd'	# how the shared scenarios' messages name it

    def __init__(self, components=(), users=None, host=HOST,
                 name='ejabberd', log_level='debug', extra=None,
                 global_routes=False):
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
        self.extra = dict(extra or {})	# more top-level options
        self.global_routes = global_routes
        self.dir = tempfile.mkdtemp(prefix=name + '.', dir=gw.scratch())
        os.chmod(self.dir, 0o750)
        self.confpath = os.path.join(self.dir, 'ejabberd.yml')
        self.inetrc = os.path.join(self.dir, 'inetrc')
        self.spool = os.path.join(self.dir, 'db')
        self.logpath = os.path.join(self.dir, 'ejabberd.log')
        self.outpath = os.path.join(self.dir, 'ejabberd.out')
        self.c2s_port = self.component_port = self.api_port = None
        self.proc = None
        self.starts = 0
        self.start_mark = 0	# the log's length when the last start began
        self.started_in = None	# seconds the last start took
        self._users_made = set()
        self._syncs = 0

    # -- names --

    # -- configuration --

    def config(self):
        """The configuration, as the Python value written as YAML."""
        A = Atom
        lo = '127.0.0.1'
        hosts = {}
        for domain, secret, opts in self.components:
            hosts[domain] = dict({'password': secret}, **opts)
        cfg = {
            'hosts': [self.host],
            'loglevel': A(self.log_level),
            'hide_sensitive_log_data': False,
            'certfiles': [],
            'listen': [
                {'port': self.c2s_port, 'ip': lo,
                 'module': A('ejabberd_c2s'), 'starttls': False,
                 'starttls_required': False, 'access': A('c2s'),
                 'shaper': A('none'), 'max_stanza_size': 262144},
                {'port': self.component_port, 'ip': lo,
                 'module': A('ejabberd_service'), 'access': A('all'),
                 'shaper': A('none'), 'hosts': hosts,
                 'global_routes': self.global_routes},
                {'port': self.api_port, 'ip': lo,
                 'module': A('ejabberd_http'),
                 'request_handlers': {'/api': A('mod_http_api')}},
            ],
            # No s2s: a stanza for a domain without a route is refused at
            # once (forbidden), without a DNS lookup or a connection.
            's2s_access': A('none'),
            'auth_method': [A('internal')],
            'auth_password_format': A('plain'),
            'access_rules': {'c2s': {A('allow'): A('all')},
                             'local': {A('allow'): A('all')}},
            # Of the HTTP API's commands only register (and status), and
            # only from loopback.
            'api_permissions': {
                'loopback register': {
                    'from': [A('mod_http_api')],
                    'who': {'ip': '127.0.0.0/8'},
                    'what': [A('register'), A('status')]}},
            'modules': {'mod_disco': {}, 'mod_ping': {}, 'mod_roster': {},
                        'mod_http_api': {}},
        }
        cfg.update(self.extra)
        return cfg

    def config_text(self):
        return ('# Written by regress/uplink/ejabberdlib.py: a private '
                'ejabberd\n# of a test, on 127.0.0.1 only.\n' +
                yaml(self.config()) + '\n')

    def write_config(self):
        fd = os.open(self.confpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                     0o640)
        with os.fdopen(fd, 'w') as f:
            f.write(self.config_text())
        # Names from /etc/hosts and the loopback only: no resolver is
        # asked (nothing is looked up anyway: no s2s).
        with open(self.inetrc, 'w') as f:
            f.write('{lookup, [file]}.\n'
                    '{host, {127,0,0,1}, ["localhost"]}.\n')

    def env(self):
        env = dict(os.environ)
        env.update({
            'HOME': self.dir,
            'EJABBERD_CONFIG_PATH': self.confpath,
            'EJABBERD_LOG_PATH': self.logpath,
            'ERL_LIBS': EJABBERD_LIB,
            'ERL_INETRC': self.inetrc,
            'ERL_CRASH_DUMP': os.path.join(self.dir, 'erl_crash.dump'),
            'ERL_CRASH_DUMP_BYTES': '0',
        })
        # Nothing of the system's instance or of another node.
        for k in ('EJABBERD_PID_PATH', 'EJABBERDCTL_CONFIG_PATH',
                  'CONTRIB_MODULES_PATH', 'CONTRIB_MODULES_CONF_DIR',
                  'ERL_FLAGS', 'ERL_AFLAGS', 'ERL_ZFLAGS', 'ERL_EPMD_PORT',
                  'ERL_DIST_PORT'):
            env.pop(k, None)
        return env

    def api(self, command, args, timeout=10):
        """POST /api/COMMAND with args (JSON) to the HTTP API; returns
        (status, body text)."""
        req = urllib.request.Request(
            'http://127.0.0.1:%d/api/%s' % (self.api_port, command),
            data=json.dumps(args).encode(),
            headers={'Content-Type': 'application/json'})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=timeout) as r:
                return r.status, r.read().decode('utf-8', 'replace')
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode('utf-8', 'replace')
        except OSError as e:
            return None, str(e)

    def add_user(self, user, password):
        """Creates an account (the API's register, while ejabberd runs;
        else at the next start)."""
        self.users[user] = password
        if not self.alive():
            return
        status, body = self.api('register', {
            'user': user, 'host': self.host, 'password': password})
        if status != 200 and 'already registered' not in body:
            raise gw.Fail('ejabberd register %s@%s failed (%s): %s' % (
                user, self.host, status, body[:200]))
        self._users_made.add(user)

    # -- the process --

    def start(self, timeout=30):
        """Starts ejabberd (on new free ports the first time, on the same
        ones after); returns self once the c2s, component and API ports
        accept connections and the users are registered, or raises
        gw.Fail with the end of the log."""
        first = self.c2s_port is None
        problem = None
        for attempt in range(3):
            if first:
                self.c2s_port, self.component_port, self.api_port = \
                    gw.free_ports(3)
            self.write_config()
            problem = self._spawn(timeout)
            if problem is None:
                for u, p in self.users.items():
                    if u not in self._users_made:
                        self.add_user(u, p)
                return self
            self.kill()
            if not first or 'address already in use' not in problem:
                break
        raise gw.Fail('ejabberd in %s did not start: %s' % (self.dir,
                                                           problem))

    def _spawn(self, timeout):
        self.start_mark = self.mark()
        t0 = time.monotonic()
        out = open(self.outpath, 'a')
        # What ejabberdctl foreground runs, less the node name (no
        # distribution) and the system's paths.
        argv = [ERL, '-noinput', '-noshell',
                '-mnesia', 'dir', '"%s"' % self.spool,
                '-ejabberd', 'log_rotate_size', 'infinity',
                'log_rotate_count', '0', 'log_burst_limit_count', '1000000',
                '-s', 'ejabberd']
        self.proc = subprocess.Popen(argv, cwd=self.dir, env=self.env(),
                                     stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT,
                                     start_new_session=True)
        out.close()
        self.starts += 1
        if self not in gw._daemons:
            gw._daemons.append(self)	# gw.cleanup kills it at exit
        want = [LISTENING % (self.c2s_port, 'ejabberd_c2s'),
                LISTENING % (self.component_port, 'ejabberd_service'),
                LISTENING % (self.api_port, 'ejabberd_http')]
        deadline = t0 + timeout
        while True:
            text = self.log(self.start_mark)
            for bad in FAILED:
                if bad in text:
                    return self._tail(text, out=True)
            if self.proc.poll() is not None:
                return 'exited with status %d: %s' % (
                    self.proc.returncode, self._tail(text, out=True))
            if all(w in text for w in want) and \
                    pl._accepts(self.c2s_port) and \
                    pl._accepts(self.component_port) and \
                    pl._accepts(self.api_port):
                self.started_in = time.monotonic() - t0
                return None
            if time.monotonic() >= deadline:
                return 'not listening after %gs: %s' % (
                    timeout, self._tail(text, out=True))
            time.sleep(0.02)

    def _tail(self, text, n=8, out=False):
        """The last lines of text (a log) but debug ones; and if out,
        of its stdout (where the VM's own errors go)."""
        lines = [ln[:300] for ln in text.splitlines()
                 if _LINE.match(ln) and '[debug]' not in ln]
        more = self.out().strip().splitlines()[-4:] if out else []
        return ' | '.join(lines[-n:] + [m[:300] for m in more])

    def _group_left(self):
        """Kills what is left of the process group of the last start (the
        VM's port programs: erl_child_setup, inet_gethost, memsup)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass

    def stop(self, timeout=15):
        """SIGTERM (the VM calls init:stop: ejabberd stops its listeners
        and closes its streams) and waits for the exit; returns its
        status (None: killed after timeout)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            rc = None
        self._group_left()
        if self in gw._daemons:
            gw._daemons.remove(self)
        return rc

    def kill(self):
        """SIGKILL, as a crash: no stream is closed."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._group_left()
        if self in gw._daemons:
            gw._daemons.remove(self)

    def restart(self, timeout=30, hard=False):
        """stop (or kill, if hard), then start on the same ports with the
        same data and log; returns self."""
        if hard:
            self.kill()
        else:
            rc = self.stop()
            if rc != 0:
                raise gw.Fail('ejabberd %s exited with status %r on SIGTERM'
                              % (self.name, rc))
        return self.start(timeout)

    # -- the log --

    def entries(self, since=0):
        """The log's entries (a line with its continuation lines:
        ejabberd logs a stanza over several), as (level, text)."""
        out = []
        for ln in self.log(since).splitlines():
            m = _LINE.match(ln)
            if m:
                out.append([m.group(1), ln])
            elif out:
                out[-1][1] += '\n' + ln
        return [tuple(e) for e in out]

    def sync(self, timeout=TIMEOUT):
        """Until what ejabberd logged before now is in the file: its
        logger writes with a delay (about 0.1 s), so a count of what is
        not there yet would be too low.  A request for a path of its own
        (answered 404) is logged by ejabberd_http (debug): once that
        line is there, so is every line before it.  True if in time
        (False when ejabberd is not running)."""
        if not self.alive():
            return False
        self._syncs += 1
        path = '/sync-%d-%d' % (os.getpid(), self._syncs)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            opener.open('http://127.0.0.1:%d%s' % (self.api_port, path),
                        timeout=timeout).close()
        except urllib.error.HTTPError:
            pass		# the 404 expected
        except OSError:
            return False
        return self.wait_log("<<\"%s\">>" % path, timeout)

    def log_lines(self, text, since=0, level=None):
        return [t for lv, t in self.entries(since) if text in t and
                (level is None or lv == level)]

    def bounces(self, domain=None, since=0):
        """The log entries of stanzas for domain (or for any component's)
        that ejabberd had no route for: its component was not connected
        (see BOUNCE); until now (sync)."""
        self.sync()
        return self._bounces(domain, since)

    def _bounces(self, domain, since):
        domains = [domain] if domain else [d for d, _, _ in self.components]
        marks = [BOUNCE % (self.host, d) for d in domains]
        return [t for _, t in self.entries(since)
                if any(m in t for m in marks)]

    def wait_bounces(self, count, domain=None, since=0, timeout=TIMEOUT):
        """Polls until count bounces are logged; True if in time."""
        return pl._poll(lambda: len(self._bounces(domain, since)) >= count,
                        timeout)

    def component_ups(self, domain, since=0):
        """How many times a component authenticated as domain, until now
        (sync)."""
        self.sync()
        return self.log_count(UP % domain, since)

    def wait_component(self, domain, since=0, count=1, timeout=TIMEOUT):
        """Polls until a component (gatewayd's uplink, ...) has
        authenticated as domain count times since; True if in time."""
        return self.wait_log(UP % domain, timeout, since, count)

    def wait_component_gone(self, domain, since=0, timeout=TIMEOUT):
        """Polls until ejabberd has dropped the route of domain's
        component (after which it refuses what comes for it)."""
        return self.wait_log(DOWN % domain, timeout, since)

    def problems(self, since=0, allow=()):
        """The log's error, warning and critical entries, but those of
        this setup and those with a text of allow."""
        harmless = ('SIGTERM received', 'No certificate found',
                    'certfile') + tuple(allow)
        return [t for lv, t in self.entries(since)
                if lv in ('error', 'warning', 'critical', 'alert',
                          'emergency') and
                not any(h in t for h in harmless)]

