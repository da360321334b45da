"""
The demonstration that make run prints: gatewayd on etc/demo.conf (on a
port of its own here), and the two demo components of
etc/demo-component.py, the second sending "ping" to the first, which
answers "pong"; gatewayctl then shows both connected.  The commands are
the ones regress/demo.sh prints.
"""

import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
import gwtest as gw  # noqa: E402
from gwtest import expect, run  # noqa: E402

DEMO = os.path.join(gw.TOP, 'etc', 'demo-component.py')
GATEWAYCTL = os.path.join(os.path.dirname(gw.GATEWAYD), 'gatewayctl')


def demo_daemon():
    """etc/demo.conf and etc/demo.secrets, as make run uses them, on a
    free port and a control socket of the test's own."""
    secrets = []
    with open(os.path.join(gw.TOP, 'etc', 'demo.secrets')) as f:
        for line in f:
            if line.strip() and not line.startswith('#'):
                dom, secret = line.split()
                secrets.append((dom, secret))
    comps = []
    with open(os.path.join(gw.TOP, 'etc', 'demo.conf')) as f:
        text = f.read()
    for m in re.finditer(r'^component "[^"]+" \{.*?^\}', text, re.M | re.S):
        comps.append(m.group(0))
    return gw.Daemon('demo', secrets, [], components=comps, ipv6=False)


class Component:
    def __init__(self, d, domain, secret, to=None, send=None):
        env = dict(os.environ)
        if send is not None:
            env['DEMO_SEND'] = send
        args = ['/usr/bin/python3', DEMO, domain, secret, to or '-',
                str(d.port)]
        self.path = os.path.join(d.dir, domain + '.out')
        self.out = open(self.path, 'w')
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=self.out,
                                     stderr=subprocess.STDOUT, env=env)

    def text(self):
        with open(self.path) as f:
            return f.read()

    def wait(self, what, timeout=10):
        deadline = time.monotonic() + timeout
        while what not in self.text():
            if time.monotonic() >= deadline or self.proc.poll() is not None:
                return what in self.text()
            time.sleep(0.05)
        return True

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.out.close()


def test_talk(d, st):
    irc = Component(d, 'irc.localhost', 'demo-irc-secret')
    st['procs'].append(irc)
    expect(irc.wait('irc.localhost: authenticated'),
           'irc.localhost: %s' % irc.text()[-300:])
    bridge = Component(d, 'bridge.localhost', 'demo-bridge-secret',
                       'irc.localhost', 'ping')
    st['procs'].append(bridge)
    expect(bridge.wait('bridge.localhost <- irc.localhost: pong'),
           'no pong: %s | %s' % (bridge.text()[-300:], irc.text()[-300:]))
    expect(irc.wait('irc.localhost <- bridge.localhost'),
           'irc.localhost saw nothing: %s' % irc.text()[-300:])
    p = subprocess.run([GATEWAYCTL, '-j', '-s', d.ctlpath, 'show',
                        'components'], capture_output=True, text=True)
    comps = {c['domain']: c for c in json.loads(p.stdout)['components']}
    expect(comps['irc.localhost']['connected'] and
           comps['bridge.localhost']['connected'] and
           comps['irc.localhost']['stanzas_in'] >= 1 and
           comps['bridge.localhost']['stanzas_in'] >= 1,
           'gatewayctl: %r' % comps)


def main():
    try:
        import slixmpp  # noqa: F401
    except ImportError:
        gw.skip('demo: two components talking', 'python3-slixmpp missing')
        gw.finish()
    d = demo_daemon()
    try:
        d.start()
    except gw.Fail as e:
        gw.notok('demo: daemon starts', e)
        gw.finish()
    st = {'procs': []}
    run('demo: make run\'s two components talk through gatewayd (ping, '
        'pong), gatewayctl shows both', test_talk, d, st)
    for c in st['procs']:
        c.stop()
    gw.check_stop('demo: SIGTERM exits 0', d)
    gw.finish()


if __name__ == '__main__':
    main()
