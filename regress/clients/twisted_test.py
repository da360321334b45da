"""
Twisted Words' XEP-0114 component factory against the daemon: the right
secret fires STREAM_AUTHD_EVENT, a wrong one ends in a not-authorized
stream error without it.  Each attempt runs its own reactor in a child
process (a reactor cannot be restarted), which reports as JSON.
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
import gwtest as gw  # noqa: E402
from gwtest import expect, run  # noqa: E402

P = 'twisted '
IRC = 'irc.example.org'


def child(port, jid, secret, timeout=8):
    """In the child: one connection with componentFactory; prints what
    happened as one JSON line."""
    from twisted.internet import reactor
    from twisted.words.protocols.jabber import component, error, xmlstream

    res = {'authd': False, 'error': None, 'init_failed': None,
           'ended': False, 'timeout': False, 'id': None,
           'closed_after_auth': False}
    factory = component.componentFactory(jid, secret)

    def stop():
        factory.stopTrying()
        if reactor.running:
            reactor.stop()

    streams = []

    def connected(xs):
        streams.append(xs)

    def authd(xs):
        res['authd'] = True
        # An orderly end: our closing tag; gatewayd answers and closes.
        xs.sendFooter()

    def stream_error(failure):
        if isinstance(failure.value, error.StreamError):
            res['error'] = failure.value.condition
        else:
            res['error'] = 'parse error: %r' % failure.value

    def init_failed(failure):
        res['init_failed'] = repr(failure.value)

    def ended(reason):
        res['id'] = getattr(streams[0], 'sid', None) if streams else None
        res['ended'] = True
        res['closed_after_auth'] = res['authd']
        stop()

    def too_late():
        res['timeout'] = True
        stop()

    factory.addBootstrap(xmlstream.STREAM_CONNECTED_EVENT, connected)
    factory.addBootstrap(xmlstream.STREAM_AUTHD_EVENT, authd)
    factory.addBootstrap(xmlstream.STREAM_ERROR_EVENT, stream_error)
    factory.addBootstrap(xmlstream.INIT_FAILED_EVENT, init_failed)
    factory.addBootstrap(xmlstream.STREAM_END_EVENT, ended)
    reactor.connectTCP('127.0.0.1', port, factory)
    reactor.callLater(timeout, too_late)
    reactor.run()
    print(json.dumps(res), flush=True)


def attempt(port, jid, secret):
    try:
        out = subprocess.run([sys.executable, os.path.abspath(__file__),
                              '--child', str(port), jid, secret],
                             capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        raise gw.Fail('the Twisted child did not finish')
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        raise gw.Fail('the Twisted child failed (status %d): %s' %
                      (out.returncode, out.stderr.strip()[-300:]))
    res = json.loads(lines[-1])
    if res.get('id'):
        gw.digest(res['id'], secret)	# the digest it sent
    return res


def test_right(d, secret, which):
    res = attempt(d.port, IRC, secret)
    expect(res['authd'], 'STREAM_AUTHD_EVENT did not fire: %r' % res)
    expect(gw.HEX32.match(res.get('id') or ''), 'stream id %r' %
           res.get('id'))
    expect(res['error'] is None, 'stream error %s' % res['error'])
    expect(d.wait_log('authd: %s authenticated from 127.0.0.1 (secret %d)'
                      % (IRC, which)), 'not logged as authenticated')
    expect(res['closed_after_auth'] and not res['timeout'],
           'no orderly close: %r' % res)


def test_wrong(d, secret):
    t0 = time.monotonic()
    res = attempt(d.port, IRC, secret)
    expect(not res['authd'], 'STREAM_AUTHD_EVENT fired with a wrong secret')
    expect(res['error'] == 'not-authorized',
           'stream error %r, expected not-authorized: %r' %
           (res['error'], res))
    expect(res['ended'] and not res['timeout'], 'not closed: %r' % res)
    expect(time.monotonic() - t0 < 6, 'refusal took %.1fs' %
           (time.monotonic() - t0))
    expect(d.wait_log('authd: handshake for %s from 127.0.0.1 failed: '
                      'wrong secret' % IRC), 'failure not logged')


def main():
    try:
        import twisted.words.protocols.jabber.component  # noqa: F401
    except ImportError as e:
        gw.skip(P + 'component', 'Twisted Words not installed '
                '(python3-twisted): %s' % e)
        gw.finish()
    one = gw.new_secret('irc-one')
    two = gw.new_secret('irc-two')
    other = gw.new_secret('bridge')
    d = gw.Daemon('twisted', [(IRC, one), (IRC, two),
                              ('bridge.example.org', other)],
                  ['handshake failures 1000 per 60 holddown 60'], ipv6=False)
    try:
        d.start()
    except gw.Fail as e:
        gw.notok(P + 'daemon starts', e)
        gw.finish()
    # Refusals first: gatewayd may hold a refused stream's socket until
    # its close grace ends, delaying its exit; this overlaps the waits.
    run(P + 'componentFactory with a wrong secret: not-authorized, no '
        'STREAM_AUTHD_EVENT', test_wrong, d, gw.new_secret('wrong'))
    run(P + "componentFactory with another component's secret: "
        "not-authorized", test_wrong, d, other)
    run(P + 'componentFactory authenticates with the right secret',
        test_right, d, one, 1)
    run(P + 'componentFactory authenticates with the second secret',
        test_right, d, two, 2)
    gw.check_stop(P + 'daemon', d)
    gw.check_logs_clean(P + 'no secret and no digest in the log', [d])
    gw.finish()


if __name__ == '__main__':
    if len(sys.argv) == 5 and sys.argv[1] == '--child':
        child(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        main()
