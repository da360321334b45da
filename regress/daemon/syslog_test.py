"""
Logging survives a restart of the log daemon.  The children cannot open
a new socket to /dev/log once sandboxed, so they send their lines to the
parent, which writes them with syslog(3) and reconnects like any
program.  Run in a mount namespace of its own (syslog.sh): /dev is a
fresh tmpfs there, with the few devices the daemon needs and a /dev/log
that this test serves, then replaces, as a restarted syslogd would.
"""

import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
import gwtest as gw  # noqa: E402
from gwtest import expect, run  # noqa: E402

IRC = 'irc.example.org'
SECRET = gw.new_secret('irc')
DEVICES = {'null': 3, 'zero': 5, 'random': 8, 'urandom': 9}


def private_dev():
    """A tmpfs on /dev (in this namespace only) with a few devices."""
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'mode=0755', 'gw-dev',
                    '/dev'], check=True)
    for name, minor in DEVICES.items():
        path = '/dev/' + name
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
        os.chmod(path, 0o666)


class LogDaemon(threading.Thread):
    """A syslogd of sorts: every datagram to /dev/log, kept."""

    def __init__(self):
        super().__init__(daemon=True)
        if os.path.exists('/dev/log'):
            os.unlink('/dev/log')
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind('/dev/log')
        os.chmod('/dev/log', 0o666)
        self.lines = []
        self.lock = threading.Lock()
        self.stopped = False
        self.start()

    def run(self):
        while not self.stopped:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            with self.lock:
                self.lines.append(data.decode(errors='replace'))

    def stop(self):
        """As a syslogd that exits: its socket goes."""
        self.stopped = True
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        os.unlink('/dev/log')

    def wait(self, pattern, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                for line in self.lines:
                    if re.search(pattern, line):
                        return line
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    def text(self):
        with self.lock:
            return ' | '.join(self.lines[-6:])


def start(d):
    """gatewayd without -d: it daemonizes and logs to syslog."""
    d.port = gw.free_port(False)
    d.write_config()
    subprocess.run([gw.GATEWAYD, '-v', '-f', d.confpath], check=True,
                   stdin=subprocess.DEVNULL)


def test_restart(d, state):
    first = state['first']
    line = first.wait(r'gatewayd\[\d+\]: startup')
    expect(line is not None, 'no startup line: %s' % first.text())
    state['pid'] = int(re.search(r'gatewayd\[(\d+)\]', line).group(1))
    expect(first.wait('listening on 127.0.0.1 port %d' % d.port),
           'no engine line before the restart: %s' % first.text())
    first.stop()
    second = LogDaemon()
    state['second'] = second
    c = d.connect()
    c.authenticate(SECRET, IRC)
    gw.orderly_close(c)
    # (The process's name, in front, is new with the lines through the
    # parent: this passes without it, so that it can fail on the lines.)
    for who, what in (('engine', 'connection \\d+ from 127.0.0.1'),
                      ('authd', IRC + ' authenticated')):
        expect(second.wait(what),
               'no %s line after the restart: %s' % (who, second.text()))
        expect(second.wait('%s: %s' % (who, what), 0),
               'the %s line does not say whose it is: %s' % (
                   who, second.text()))


def main():
    private_dev()
    d = gw.Daemon('syslog', [(IRC, SECRET)], [],
                  components=['component "%s"' % IRC], ipv6=False)
    gw.ensure_user()
    state = {'first': LogDaemon()}
    start(d)
    run('syslog restart: the children log through the parent to the new '
        'log socket', test_restart, d, state)
    pid = state.get('pid')
    if pid is None:
        gw.notok('syslog restart: SIGTERM exits', 'no pid')
    else:
        os.kill(pid, signal.SIGTERM)
        log = state.get('second') or state['first']
        gw.check('syslog restart: SIGTERM: the engine says it exits',
                 None if log.wait('exiting: ') else
                 'no exiting line: %s' % log.text())
    gw.finish()


if __name__ == '__main__':
    main()
