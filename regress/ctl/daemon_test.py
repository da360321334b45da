"""
gatewayctl against a running gatewayd: each command's output checked,
in tables and as JSON; the metrics through promtool where it is
installed; a reload of a broken configuration reports its errors and
keeps the old configuration; a restricted socket answers show commands
and refuses reload, kick and log; a malformed request ends its own
control connection and nothing else; no secret and no digest in any
answer; the socket is root's, mode 0660, and goes when the daemon does.
"""

import json
import os
import re
import shutil
import socket
import stat
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
import gwtest as gw  # noqa: E402
from gwtest import expect, run  # noqa: E402

A, B, NEW = 'a.example.org', 'b.example.org', 'new.example.org'
SECRETS = {A: gw.new_secret('a'), B: gw.new_secret('b'),
           NEW: gw.new_secret('new')}
GATEWAYCTL = os.path.join(os.path.dirname(gw.GATEWAYD), 'gatewayctl')
NS = gw.NS_COMPONENT
# The control protocol's version, every request's peerid (common/ctl.h).
CTL_VERSION = int(re.search(r'#define GW_CTL_VERSION\s+([0-9]+)', open(
    os.path.join(gw.TOP, 'common', 'ctl.h')).read()).group(1))
answers = []		# everything gatewayctl printed, searched for secrets


def ctl(d, *args, sock=None):
    """gatewayctl ARGS: (exit status, stdout, stderr)."""
    p = subprocess.run([GATEWAYCTL, '-s', sock or d.ctlpath] + list(args),
                       capture_output=True, text=True, timeout=30)
    answers.append(p.stdout + p.stderr)
    return p.returncode, p.stdout, p.stderr


def ctl_json(d, *args, sock=None):
    rc, out, err = ctl(d, '-j', *args, sock=sock)
    try:
        doc = json.loads(out)
    except ValueError as e:
        raise gw.Fail('gatewayctl -j %s: not JSON (%s): %r' % (
            ' '.join(args), e, out[:300]))
    return rc, doc


def message(frm, to, body):
    return ("<message from='%s' to='%s' id='m'><body>%s</body></message>" %
            (frm, to, body))


def test_summary(d, st):
    a, b = st['a'], st['b']
    for i in range(3):
        a.send(message(A, B, 'hello %d' % i))
    b.read_until(lambda: len([e for e in b.stream.elements
                              if e.tag == '{%s}message' % NS]) >= 3)
    rc, out, err = ctl(d, 'show', 'summary')
    expect(rc == 0, 'exit %d: %s' % (rc, err))
    rc, doc = ctl_json(d, 'show', 'summary')
    s = doc.get('summary') or {}
    expect(rc == 0 and doc.get('status') == 0, 'status: %r' % doc)
    expect(s.get('authenticated') == 2 and s.get('connections') == 2,
           'connections: %r' % s)
    expect(s.get('stanzas_in') == 3 and s.get('stanzas_out') == 3,
           'stanzas: %r' % s)
    expect(s.get('components') == 2 and s.get('listeners') == 1,
           'components, listeners: %r' % s)
    expect(s.get('uptime', -1) >= 0 and s.get('started', 0) > 0,
           'times: %r' % s)
    for key in ('authenticated', 'stanzas'):
        expect(key in out, 'no %s in the table: %s' % (key, out))


def summary_parsers(d):
    rc, doc = ctl_json(d, 'show', 'summary')
    s = doc.get('summary') or {}
    return s.get('parsers'), s.get('parser_bytes')


def wait_parsers(d, want, timeout=12):
    deadline = time.monotonic() + timeout
    while True:
        got = summary_parsers(d)
        if got[0] == want or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def test_parsers(d, st):
    """Streams between stanzas rest and hold no parser; one that is
    mid-header holds one, with its arena's pages."""
    n, size = wait_parsers(d, 0)
    expect(n == 0 and size == 0, 'resting streams: %r parsers, %r bytes' % (
        n, size))
    c = d.connect()
    c.send("<?xml version='1.0'?><stream:stream xmlns='%s' "
           "xmlns:stream='%s' to='%s'>" % (NS, gw.NS_STREAMS, A))
    c.read_header()
    n, size = wait_parsers(d, 1)
    expect(n == 1 and size >= 4096, 'a stream in its handshake: %r '
           'parsers, %r bytes' % (n, size))
    rc, out, err = ctl(d, 'show', 'summary')
    expect('parsers:' in out and ' KiB)' in out, 'the table: %s' % out)
    c.close()
    n, size = wait_parsers(d, 0)
    expect(n == 0 and size == 0, 'after it closed: %r parsers, %r bytes' % (
        n, size))


def test_components(d, st):
    rc, out, err = ctl(d, 'show', 'components')
    expect(rc == 0, 'exit %d: %s' % (rc, err))
    for name in (A, B, 'a2.example.org', '127.0.0.1'):
        expect(name in out, '%s not in: %s' % (name, out))
    rc, doc = ctl_json(d, 'show', 'components')
    comps = {c['domain']: c for c in doc.get('components', [])}
    expect(set(comps) == {A, B}, 'components: %r' % list(comps))
    a, b = comps[A], comps[B]
    expect(a['connected'] is True and a['peer'] == '127.0.0.1' and
           a['aliases'] == ['a2.example.org'], 'a: %r' % a)
    expect(a['stanzas_in'] == 3 and b['stanzas_out'] == 3,
           'counters: %r %r' % (a, b))
    rc, doc = ctl_json(d, 'show', 'component', B)
    expect(rc == 0 and (doc.get('component') or {}).get('domain') == B,
           'show component: %r' % doc)
    rc, out, err = ctl(d, 'show', 'component', 'nope.example.org')
    expect(rc == 1 and 'no such component' in err,
           'unknown component: %d %r %r' % (rc, out, err))


def test_listeners(d, st):
    rc, doc = ctl_json(d, 'show', 'listeners')
    ls = doc.get('listeners', [])
    expect(rc == 0 and len(ls) == 1 and ls[0]['port'] == d.port and
           ls[0]['address'] == '127.0.0.1' and ls[0]['accepted'] >= 2,
           'listeners: %r' % ls)


def test_upstreams_none(d, st):
    rc, out, err = ctl(d, 'show', 'upstreams')
    expect(rc == 0 and not err and out.split() == [
        'Domain', 'Upstream', 'State', 'Since', 'Reconnects', 'HeldDown',
        'HeldDownBytes', 'HeldUp', 'HeldUpBytes', 'LastError'],
        'exit %d: %r %r' % (rc, out, err))
    rc, doc = ctl_json(d, 'show', 'upstreams')
    expect(rc == 0 and doc.get('status') == 0 and
           doc.get('upstreams') == [], 'upstreams: %r' % doc)


def test_metrics(d, st):
    rc, out, err = ctl(d, 'show', 'metrics')
    expect(rc == 0, 'exit %d: %s' % (rc, err))
    expect('gatewayd_stanzas_received_total 3' in out.splitlines(),
           'no stanza count: %s' % out[:400])
    expect('gatewayd_component_connected{component="%s"} 1' % A in out,
           'no component series: %s' % out[:400])
    if shutil.which('promtool') is None:
        gw.skip('control: promtool check metrics', 'promtool not installed')
        return
    p = subprocess.run(['promtool', 'check', 'metrics'], input=out,
                       capture_output=True, text=True)
    expect(p.returncode == 0, 'promtool: %s %s' % (p.stdout, p.stderr))


def test_reload_broken(d, st):
    with open(d.confpath, 'a') as f:
        f.write('this is not a configuration\n')
    nlines = len(open(d.confpath).read().splitlines())
    rc, out, err = ctl(d, 'reload')
    expect(rc == 1, 'exit %d: %r %r' % (rc, out, err))
    want = '%s:%d: syntax error' % (d.confpath, nlines)
    expect(want in out, 'no %r in %r' % (want, out))
    expect('not reloaded' in err, 'no refusal: %r' % err)
    rc, doc = ctl_json(d, 'show', 'components')
    expect(len(doc.get('components', [])) == 2, 'old one gone: %r' % doc)


def test_reload_good(d, st):
    d.components.append('component "%s"' % NEW)
    d.write_config()
    rc, out, err = ctl(d, 'reload')
    expect(rc == 0 and 'reloaded' in out, 'exit %d: %r %r' % (rc, out, err))
    rc, doc = ctl_json(d, 'show', 'components')
    names = [c['domain'] for c in doc.get('components', [])]
    expect(NEW in names, 'new component missing: %r' % names)
    rc, doc = ctl_json(d, 'reload')
    expect(rc == 0 and doc.get('status') == 0 and doc.get('lines') == [],
           'reload -j: %r' % doc)


def test_kick(d, st):
    rc, out, err = ctl(d, 'kick', B)
    expect(rc == 0 and 'kicked ' + B in out, 'exit %d: %r %r' % (
        rc, out, err))
    p = gw.stream_error_problems(st['b'], 'policy-violation')
    expect(not p, 'the kicked stream: %s' % p)
    rc, doc = ctl_json(d, 'show', 'component', B)
    expect((doc.get('component') or {}).get('connected') is False,
           'still connected: %r' % doc)
    rc, out, err = ctl(d, 'kick', B)
    expect(rc == 1 and 'not connected' in err, 'kick again: %d %r' % (
        rc, err))


def reload_then(d, word):
    """A reload through gatewayctl, then log WORD, which the engine passes
    to the parent after the lines of that reload (on the same pipe): once
    the parent says "logging WORD", those lines are in the log."""
    seen = d.log_count('logging ' + word)
    rc, out, err = ctl(d, 'reload')
    expect(rc == 0, 'reload: %d %r' % (rc, err))
    rc, out, err = ctl(d, 'log', word)
    expect(rc == 0 and 'logging ' + word in out, 'log %s: %d %r' % (
        word, rc, err))
    expect(d.wait_log('logging ' + word, after=seen),
           'the parent did not hear log %s' % word)


def test_verbose(d, st):
    line = 'engine: component %s' % A	# a debug line of each reload
    rc, out, err = ctl(d, 'log', 'brief')
    expect(rc == 0, 'log brief: %d %r' % (rc, err))
    before = d.log_count(line)
    reload_then(d, 'brief')
    expect(d.log_count(line) == before, 'the engine logs debug lines '
           'after log brief')
    rc, out, err = ctl(d, 'log', 'verbose')
    expect(rc == 0, 'log verbose: %d %r' % (rc, err))
    reload_then(d, 'verbose')
    expect(d.log_count(line) == before + 1, 'no debug line after log '
           'verbose')


def test_brief_stop(d, st):
    """authd and the parent log their last debug lines only if verbose."""
    rc, out, err = ctl(d, 'log', 'brief')
    expect(rc == 0, 'log brief: %d %r' % (rc, err))
    expect(d.wait_log('logging brief'), 'the parent did not hear')
    expect(d.stop() == 0, 'exit status')
    for debug in ('authd: parent closed the pipe', 'authd exited'):
        expect(debug not in d.log(), '%r logged after log brief' % debug)


def test_restricted(d, st):
    r = st['restricted']
    rc, doc = ctl_json(d, 'show', 'summary', sock=r)
    expect(rc == 0 and doc.get('summary'), 'show on restricted: %r' % doc)
    rc, doc = ctl_json(d, 'show', 'upstreams', sock=r)
    expect(rc == 0 and doc.get('upstreams') == [],
           'show upstreams on restricted: %r' % doc)
    for args in (('reload',), ('kick', A), ('log', 'verbose')):
        rc, out, err = ctl(d, *args, sock=r)
        expect(rc == 1 and 'restricted' in err,
               '%s on restricted: %d %r %r' % (args, rc, out, err))


def test_malformed(d, st):
    # SHOW_SUMMARY and SHOW_UPSTREAMS with a payload they must not have.
    for request in (100, 107):
        s = socket.socket(socket.AF_UNIX)
        s.connect(d.ctlpath)
        s.sendall(struct.pack('=IIII', request, 16 + 4, CTL_VERSION, 0) +
                  b'junk')
        s.settimeout(5)
        data = b''
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        expect(data == b'', 'an answer to a malformed request %d: %r' % (
            request, data))
    rc, doc = ctl_json(d, 'show', 'summary')
    expect(rc == 0 and d.alive(), 'after a malformed request: %r' % doc)


def test_socket_mode(d, st):
    m = os.stat(d.ctlpath)
    expect(stat.S_ISSOCK(m.st_mode) and stat.S_IMODE(m.st_mode) == 0o660,
           'mode %o' % m.st_mode)
    if gw.is_root():
        expect(m.st_uid == 0, 'owner %d' % m.st_uid)


def test_no_secrets(d, st):
    text = '\n'.join(answers)
    for dom, secret in SECRETS.items():
        expect(secret not in text, 'the secret of %s in an answer' % dom)


def main():
    if not os.access(GATEWAYCTL, os.X_OK):
        gw.notok('control: gatewayctl built', GATEWAYCTL)
        gw.finish()
    d = gw.Daemon('control', list(SECRETS.items()), [],
                  components=['component "%s" { alias "a2.example.org" }'
                              % A, 'component "%s"' % B], ipv6=False)
    restricted = os.path.join(gw.scratch(), 'control-ro.sock')
    d.lines.append('control socket "%s" restricted' % restricted)
    try:
        d.start()
    except gw.Fail as e:
        gw.notok('control: daemon starts', e)
        gw.finish()
    st = {'restricted': restricted}
    st['a'] = d.connect().authenticate(SECRETS[A], A)
    st['b'] = d.connect().authenticate(SECRETS[B], B)
    P = 'control: '
    run(P + 'show summary counts streams and stanzas', test_summary, d, st)
    run(P + 'show summary counts the parsers: none while streams rest',
        test_parsers, d, st)
    run(P + 'show components and show component, table and JSON',
        test_components, d, st)
    run(P + 'show listeners', test_listeners, d, st)
    run(P + 'show upstreams without an upstream: the titles alone, []',
        test_upstreams_none, d, st)
    run(P + 'show metrics: the counters, and promtool check metrics',
        test_metrics, d, st)
    run(P + 'reload of a broken file: its errors by file and line, exit 1, '
        'the old configuration stays', test_reload_broken, d, st)
    run(P + 'reload of a good file: reloaded, the new component known',
        test_reload_good, d, st)
    run(P + 'kick: the stream ends with policy-violation', test_kick, d, st)
    run(P + 'log brief and verbose reach all three processes',
        test_verbose, d, st)
    run(P + 'a restricted socket shows, and refuses reload, kick and log',
        test_restricted, d, st)
    run(P + 'a malformed request ends its connection, nothing else',
        test_malformed, d, st)
    run(P + 'the socket is root\'s, mode 0660', test_socket_mode, d, st)
    run(P + 'no secret in any answer', test_no_secrets, d, st)
    gw.check_stop(P + 'SIGTERM exits 0', d)
    gw.check(P + 'the sockets are gone with the daemon',
             None if not os.path.exists(d.ctlpath) and
             not os.path.exists(restricted) else 'a socket is left')
    for debug in ('authd: parent closed the pipe', 'authd exited'):
        gw.check(P + 'verbose at the end: %s' % debug,
                 None if debug in d.log() else 'not logged')
    d2 = gw.Daemon('control-brief', [(A, SECRETS[A])], [],
                   components=['component "%s"' % A], ipv6=False)
    try:
        d2.start()
        run(P + 'log brief reaches authd and the parent',
            test_brief_stop, d2, {})
    except gw.Fail as e:
        gw.notok(P + 'second daemon starts', e)
    gw.check_logs_clean(P + 'no secret and no digest in any log', [d, d2])
    gw.finish()


if __name__ == '__main__':
    main()
