"""
gatewayctl show upstreams against a running gatewayd with an upstream,
the server being regress/uplink/uplink_test.py's FakeServer: the uplink
of the component with an upstream, and it alone, shown up once the
server took the handshake; what the server sends while the component is
away shown held, stanzas and bytes, and gone once it is delivered; with
the server stopped, the uplink waiting or connecting, its reconnects
counted and its last error shown, and the component's stanzas held for
the server; up again, and nothing held, once the server is back.  Each
in the table, in JSON and in the metrics (promtool check metrics where
it is installed); the restricted socket answers it; no secret and no
digest in any answer.
"""

import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True	# no __pycache__ in the tree of another test
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'uplink'))
import gwtest as gw  # noqa: E402
from gwtest import expect, run  # noqa: E402
from uplink_test import FakeServer  # noqa: E402

COMP, LOCAL = 'irc.example.org', 'bridge.example.org'
SECRETS = {COMP: gw.new_secret('comp'), LOCAL: gw.new_secret('local')}
UP_SECRET = gw.new_secret('upstream')
GATEWAYCTL = os.path.join(os.path.dirname(gw.GATEWAYD), 'gatewayctl')
WAIT = 15		# seconds for the uplink to change, backoff included
answers = []		# everything gatewayctl printed, searched for secrets


def ctl(d, *args, sock=None):
    """gatewayctl ARGS: (exit status, stdout, stderr)."""
    p = subprocess.run([GATEWAYCTL, '-s', sock or d.ctlpath] + list(args),
                       capture_output=True, text=True, timeout=30)
    answers.append(p.stdout + p.stderr)
    return p.returncode, p.stdout, p.stderr


def uplinks(d, sock=None):
    """The uplinks as gatewayctl -j show upstreams gives them."""
    rc, out, err = ctl(d, '-j', 'show', 'upstreams', sock=sock)
    try:
        doc = json.loads(out)
    except ValueError as e:
        raise gw.Fail('gatewayctl -j show upstreams: not JSON (%s): %r' %
                      (e, out[:300]))
    expect(rc == 0 and doc.get('status') == 0 and
           doc.get('command') == 'show upstreams', 'answer: %r' % doc)
    return doc.get('upstreams', [])


def uplink(d, pred=None, timeout=WAIT):
    """The uplink of COMP, once pred holds for it (or the last seen)."""
    deadline = time.monotonic() + timeout
    while True:
        us = [u for u in uplinks(d) if u['domain'] == COMP]
        u = us[0] if us else None
        if u is not None and (pred is None or pred(u)):
            return u
        if time.monotonic() >= deadline:
            raise gw.Fail('the uplink of %s is not as wanted after %d s: '
                          '%r' % (COMP, timeout, u))
        time.sleep(0.05)


def table_row(d):
    """The words of COMP's line of show upstreams, and the whole text."""
    rc, out, err = ctl(d, 'show', 'upstreams')
    expect(rc == 0 and not err, 'exit %d: %r' % (rc, err))
    lines = out.splitlines()
    expect(lines and lines[0].split() == [
        'Domain', 'Upstream', 'State', 'Since', 'Reconnects', 'HeldDown',
        'HeldDownBytes', 'HeldUp', 'HeldUpBytes', 'LastError'],
        'titles: %r' % out)
    rows = [ln.split(None, 9) for ln in lines[1:]]
    expect(len(rows) == 1 and rows[0][0] == COMP, 'rows: %r' % out)
    return rows[0], out


def metrics(d):
    """show metrics: {(name, direction or None): value} for COMP."""
    rc, out, err = ctl(d, 'show', 'metrics')
    expect(rc == 0, 'show metrics: exit %d: %s' % (rc, err))
    if shutil.which('promtool') is not None:
        p = subprocess.run(['promtool', 'check', 'metrics'], input=out,
                           capture_output=True, text=True)
        expect(p.returncode == 0, 'promtool: %s %s' % (p.stdout, p.stderr))
    got = {}
    labels = '{component="%s",upstream="xmpp"' % COMP
    for line in out.splitlines():
        if not line.startswith('gatewayd_upstream_'):
            continue
        name, rest = line.split('{', 1)
        expect(('{' + rest).startswith(labels), 'series %r' % line)
        direction = None
        if ',direction="' in rest:
            direction = rest.split(',direction="', 1)[1].split('"', 1)[0]
        got[(name, direction)] = int(line.rsplit(' ', 1)[1])
    return got


def comp(d):
    c = d.connect()
    c.authenticate(SECRETS[COMP], to=COMP)
    return c


def t_up(d, st):
    server, t0 = st['server'], st['t0']
    fs = server.current()
    expect(fs is not None and fs.accepted, 'the server took no handshake')
    u = uplink(d, lambda u: u['state'] == 'up')
    expect([x['domain'] for x in uplinks(d)] == [COMP],
           'not the component with an upstream alone: %r' % uplinks(d))
    expect(u['upstream'] == 'xmpp' and u['reconnects'] == 0 and
           u['last_error'] is None, 'uplink: %r' % u)
    expect(type(u['since']) is int and t0 - 1 <= u['since'] <=
           time.time() + 1, 'since %r, started at %d' % (u['since'], t0))
    expect([u[k] for k in ('held_down_stanzas', 'held_down_bytes',
                           'held_up_stanzas', 'held_up_bytes')] ==
           [0, 0, 0, 0], 'held: %r' % u)
    row, out = table_row(d)
    expect(row[1:3] == ['xmpp', 'up'] and row[4:9] == ['0'] * 5 and
           row[9] == '-', 'table: %r' % out)
    m = metrics(d)
    expect(m.get(('gatewayd_upstream_up', None)) == 1 and
           m.get(('gatewayd_upstream_reconnects_total', None)) == 0 and
           m.get(('gatewayd_upstream_state_since_seconds', None)) ==
           u['since'], 'metrics: %r' % m)
    st['up_since'] = u['since']


def t_held_down(d, st):
    """The component away, the server sending: held for it, then not."""
    fs = st['server'].current()
    c = comp(d)
    closed = d.log_count('%s closed' % COMP)
    c.close()
    expect(d.wait_log('%s closed' % COMP, after=closed),
           'the component did not go')
    sent = ["<message from='alice@xmpp.test/r' to='%s' id='d%d'>"
            "<body>%s</body></message>" % (COMP, i, 'x' * (10 * i))
            for i in range(5)]
    for s in sent:
        fs.send(s)
    u = uplink(d, lambda u: u['held_down_stanzas'] == 5)
    nbytes = sum(len(s) for s in sent)
    expect(u['state'] == 'up' and u['held_up_stanzas'] == 0 and
           nbytes <= u['held_down_bytes'] <= 2 * nbytes,
           '%d bytes sent, uplink %r' % (nbytes, u))
    row, out = table_row(d)
    expect(row[5:7] == ['5', str(u['held_down_bytes'])] and
           row[7:9] == ['0', '0'], 'table: %r' % out)
    m = metrics(d)
    expect(m.get(('gatewayd_upstream_held_stanzas', 'down')) == 5 and
           m.get(('gatewayd_upstream_held_bytes', 'down')) ==
           u['held_down_bytes'] and
           m.get(('gatewayd_upstream_held_stanzas', 'up')) == 0 and
           m.get(('gatewayd_upstream_held_bytes', 'up')) == 0,
           'metrics: %r' % m)
    c = comp(d)
    got = c.read_until(lambda: len(c.stream.elements) >= 6)
    expect(got, 'the held stanzas did not come: %s' % c.describe())
    u = uplink(d, lambda u: u['held_down_stanzas'] == 0)
    expect(u['held_down_bytes'] == 0, 'still held: %r' % u)
    st['comp'] = c


def t_server_stopped(d, st):
    """No server: waiting or connecting, reconnects, the last error; the
    component's stanzas held for the server."""
    c = st['comp']
    st['server'].stop()
    u = uplink(d, lambda u: u['state'] in ('waiting', 'connecting') and
               u['reconnects'] >= 1 and u['last_error'])
    expect(u['since'] >= st['up_since'], 'since went back: %r' % u)
    sent = ["<message from='%s' to='alice@xmpp.test' id='u%d'/>" %
            (COMP, i) for i in range(4)]
    for s in sent:
        c.send(s)
    u = uplink(d, lambda u: u['held_up_stanzas'] == 4)
    nbytes = sum(len(s) for s in sent)
    expect(nbytes <= u['held_up_bytes'] <= 2 * nbytes and
           u['held_down_stanzas'] == 0,
           '%d bytes sent, uplink %r' % (nbytes, u))
    row, out = table_row(d)
    expect(row[2] in ('waiting', 'connecting', 'handshake') and
           int(row[4]) >= 1 and row[7] == '4' and row[9] != '-',
           'table: %r' % out)
    m = metrics(d)
    expect(m.get(('gatewayd_upstream_up', None)) == 0 and
           m.get(('gatewayd_upstream_reconnects_total', None), 0) >= 1 and
           m.get(('gatewayd_upstream_held_stanzas', 'up')) == 4,
           'metrics: %r' % m)
    rc, out, err = ctl(d, 'show', 'upstreams', sock=st['restricted'])
    expect(rc == 0 and COMP in out, 'restricted socket: %d %r %r' % (
        rc, out, err))
    st['reconnects'] = u['reconnects']


def t_server_back(d, st):
    """The server back: up, the held stanzas gone to it, no last error."""
    server = FakeServer(UP_SECRET, port=st['port'])
    st['servers'].append(server)
    u = uplink(d, lambda u: u['state'] == 'up' and
               u['held_up_stanzas'] == 0)
    expect(u['reconnects'] >= st['reconnects'] and u['last_error'] is None
           and u['held_up_bytes'] == 0, 'uplink: %r' % u)
    fs = server.current()
    server.wait(lambda: len(fs.stanzas()) >= 4)
    ids = [e.get('id') for e in fs.stanzas()]
    expect(ids == ['u%d' % i for i in range(4)], 'the server got %r' % ids)
    st['comp'].close()


def t_no_secrets(d, st):
    text = '\n'.join(answers).lower()
    expect(answers, 'nothing was asked')
    for s in sorted(gw.SENT_SECRETS):
        expect(s.lower() not in text, 'a secret in an answer: %s' % s)
    expect(gw.SENT_DIGESTS, 'no digest to look for')
    for h in sorted(gw.SENT_DIGESTS):
        expect(h.lower() not in text, 'a digest in an answer: %s' % h)


def daemon(server):
    up = os.path.join(gw.scratch(), 'ctl-upstreams.upsecrets')
    fd = os.open(up, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        f.write('%s %s\n' % (COMP, UP_SECRET))
    restricted = os.path.join(gw.scratch(), 'ctl-upstreams-ro.sock')
    d = gw.Daemon('ctl-upstreams', list(SECRETS.items()),
                  lines=['control socket "%s" restricted' % restricted,
                         'upstream "xmpp" {',
                         '\tconnect to 127.0.0.1 port %d' % server.port,
                         '\tsecrets "%s"' % up,
                         '\tgrace 60',
                         '}'],
                  components=['component "%s" { upstream "xmpp" }' % COMP,
                              'component "%s"' % LOCAL], ipv6=False)
    return d, restricted


def main():
    if not os.access(GATEWAYCTL, os.X_OK):
        gw.notok('control upstreams: gatewayctl built', GATEWAYCTL)
        gw.finish()
    server = FakeServer(UP_SECRET)
    d, restricted = daemon(server)
    st = {'server': server, 'servers': [server], 'port': server.port,
          'restricted': restricted, 't0': int(time.time())}
    try:
        d.start()
    except gw.Fail as e:
        gw.notok('control upstreams: daemon starts', e)
        server.stop()
        gw.finish()
    P = 'control upstreams: '
    run(P + 'up once the server took the handshake, the component with an '
        'upstream alone, nothing held', t_up, d, st)
    run(P + 'the component away, the server sending: stanzas and bytes '
        'held down, none once delivered', t_held_down, d, st)
    run(P + 'the server stopped: waiting or connecting, reconnects, the '
        'last error, stanzas held up', t_server_stopped, d, st)
    run(P + 'the server back: up, nothing held, no last error',
        t_server_back, d, st)
    run(P + 'no secret and no digest in any answer', t_no_secrets, d, st)
    gw.check_stop('control upstreams', d)
    for s in st['servers']:
        s.stop()
    gw.check_logs_clean(P + 'no secret and no digest in the log', [d])
    gw.finish()


if __name__ == '__main__':
    main()
