"""
slixmpp's ComponentXMPP, a real XEP-0114 component library, against the
daemon: the right secret starts a session, a wrong one is refused with a
not-authorized stream error and never reaches session_start.
"""

import asyncio
import logging
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
import gwtest as gw  # noqa: E402
from gwtest import expect, run  # noqa: E402

P = 'slixmpp '
IRC = 'irc.example.org'


def attempt(port, jid, secret, timeout=8):
    """One connection of ComponentXMPP on a fresh asyncio loop; what
    happened, as a dict."""
    from slixmpp.componentxmpp import ComponentXMPP

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    res = {'session': False, 'error': None, 'disconnected': False,
           'failed': None, 'timeout': False, 'closed': False}
    done = loop.create_future()

    def finish(*_):
        if not done.done():
            done.set_result(True)

    def on_session(_):
        res['session'] = True
        finish()

    def on_error(err):
        res['error'] = err['condition']

    def on_disconnected(_):
        res['disconnected'] = True
        finish()

    def on_failed(e):
        res['failed'] = str(e)
        finish()

    class Component(ComponentXMPP):
        def start_stream_handler(self, xml):
            # The digest it is about to send, to look for in the log.
            res['id'] = xml.get('id', '')
            gw.digest(res['id'], secret)
            ComponentXMPP.start_stream_handler(self, xml)

    xmpp = Component(jid, secret, '127.0.0.1', port)
    xmpp.add_event_handler('session_start', on_session)
    xmpp.add_event_handler('stream_error', on_error)
    xmpp.add_event_handler('disconnected', on_disconnected)
    xmpp.add_event_handler('connection_failed', on_failed)
    try:
        xmpp.connect()
        try:
            loop.run_until_complete(asyncio.wait_for(done, timeout))
        except asyncio.TimeoutError:
            res['timeout'] = True
        if res['session']:
            # An orderly end: our closing tag, gatewayd's, the close.
            gone = loop.create_future()
            xmpp.add_event_handler(
                'disconnected',
                lambda _: gone.done() or gone.set_result(True))
            xmpp.disconnect(wait=3)
            try:
                loop.run_until_complete(asyncio.wait_for(gone, 5))
                res['closed'] = True
            except asyncio.TimeoutError:
                pass
    finally:
        xmpp.abort()
        xmpp.cancel_connection_attempt()
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending,
                                                   return_exceptions=True))
        loop.close()
    return res


def test_right(d, secret, which):
    res = attempt(d.port, IRC, secret)
    expect(res['session'], 'no session_start: %r' % res)
    expect(gw.HEX32.match(res.get('id') or ''), 'stream id %r' %
           res.get('id'))
    expect(res['error'] is None, 'stream error %s' % res['error'])
    expect(d.wait_log('authd: %s authenticated from 127.0.0.1 (secret %d)'
                      % (IRC, which)), 'not logged as authenticated')
    expect(res['closed'], 'no orderly close: %r' % res)


def test_wrong(d, secret):
    t0 = time.monotonic()
    res = attempt(d.port, IRC, secret)
    expect(not res['session'], 'session_start fired with a wrong secret')
    expect(res['error'] == 'not-authorized',
           'stream error %r, expected not-authorized: %r' %
           (res['error'], res))
    expect(res['disconnected'], 'not disconnected: %r' % res)
    expect(time.monotonic() - t0 < 5, 'refusal took %.1fs' %
           (time.monotonic() - t0))
    expect(d.wait_log('authd: handshake for %s from 127.0.0.1 failed: '
                      'wrong secret' % IRC), 'failure not logged')


def main():
    try:
        import slixmpp  # noqa: F401
    except ImportError as e:
        gw.skip(P + 'component', 'slixmpp not installed (python3-slixmpp): '
                '%s' % e)
        gw.finish()
    logging.basicConfig(level=logging.CRITICAL)
    one = gw.new_secret('irc-one')
    two = gw.new_secret('irc-two')
    other = gw.new_secret('bridge')
    d = gw.Daemon('slixmpp', [(IRC, one), (IRC, two),
                              ('bridge.example.org', other)],
                  ['handshake failures 1000 per 60 holddown 60'], ipv6=False)
    try:
        d.start()
    except gw.Fail as e:
        gw.notok(P + 'daemon starts', e)
        gw.finish()
    # Refusals first: gatewayd may hold a refused stream's socket until
    # its close grace ends, delaying its exit; this overlaps the waits.
    run(P + 'ComponentXMPP with a wrong secret: not-authorized, no session',
        test_wrong, d, gw.new_secret('wrong'))
    run(P + "ComponentXMPP with another component's secret: not-authorized",
        test_wrong, d, other)
    run(P + 'ComponentXMPP authenticates with the right secret', test_right,
        d, one, 1)
    run(P + 'ComponentXMPP authenticates with the second secret', test_right,
        d, two, 2)
    gw.check_stop(P + 'daemon', d)
    gw.check_logs_clean(P + 'no secret and no digest in the log', [d])
    gw.finish()


if __name__ == '__main__':
    main()
