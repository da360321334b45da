"""
Two real component libraries talking through the daemon (issue 4):
slixmpp's ComponentXMPP as slix.example.org and Twisted Words'
componentFactory as twist.example.org, each in a child process of its own
(its own asyncio loop, its own reactor).  Both ways, a message with
entities, non-ASCII text and foreign-namespace children, presence (plain
and with show and status) and an iq get answered by the other side with
a result: what the receiving library parsed is compared with what was
sent.

The parent drives the children over their stdin with one JSON command a
line ("send this"); the children print one JSON line per event (ready,
each stanza their library delivered, summarised the same way by both,
the results of their iq requests, errors, the end of the stream).
"""

import atexit
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
import gwtest as gw  # noqa: E402
from gwtest import expect, run  # noqa: E402

P = 'exchange: '
SLIX = 'slix.example.org'
TWIST = 'twist.example.org'
NS_C = gw.NS_COMPONENT
NS_X = 'urn:example:x'
NS_Y = 'urn:example:y'
NS_Z = 'urn:example:z'
NS_Q = 'urn:example:q'
NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'

WAIT = 4.0		# seconds for a stanza to cross
READY = 10.0		# seconds for both children to authenticate
CHILD_LIFE = 40		# a child ends itself after this long

# The body as written (predefined entities, a character reference, UTF-8
# of the BMP and beyond) and as it must be parsed.
BODY_XML = ("caf\u00e9 &amp; &lt;tag&gt; &#x263A; \u263a \U0001F600 "
            "&quot;q&quot; \"q\" 'a' &apos;a&apos;")
BODY = "caf\u00e9 & <tag> \u263a \u263a \U0001F600 \"q\" \"q\" 'a' 'a'"
XATTR_XML = "v &amp; &lt;w&gt; \u00e9"
XATTR = "v & <w> \u00e9"
STATUS = "l\u00e0-bas & <ici> \U0001F600"
QUESTION = "qu\u00e9 & <q>"
ANSWER = "r\u00e9ponse & <ok> \U0001F600"


def message_xml(frm, to, sid):
    """The message both libraries send as raw text: a prefix declared on
    the stanza (y), one on the child itself (x), a default namespace (z).
    """
    return ("<message from='%s' to='%s' id='%s' type='chat' "
            "xmlns:y='%s'><body>%s</body>"
            "<x:data xmlns:x='%s' x:attr='%s'>1</x:data>"
            "<y:extra y:n='2'/>"
            "<z xmlns='%s'><zz/></z></message>" %
            (frm, to, sid, NS_Y, BODY_XML, NS_X, XATTR_XML, NS_Z))


# ---------------------------------------------------------------------------
# What a library delivered, summarised the same way on both sides

def summary_et(el):
    """An ElementTree stanza (slixmpp's .xml) as a dict."""
    ns, kind = el.tag[1:].split('}', 1) if el.tag.startswith('{') else \
        ('', el.tag)
    c = '{%s}' % ns
    s = {'kind': kind, 'ns': ns}
    for a in ('from', 'to', 'id', 'type'):
        s[a] = el.get(a)
    for a in ('body', 'show', 'status'):
        s[a] = el.findtext(c + a)
    x = el.find('{%s}data' % NS_X)
    s['x_attr'] = x.get('{%s}attr' % NS_X) if x is not None else None
    s['x_text'] = x.text if x is not None else None
    y = el.find('{%s}extra' % NS_Y)
    s['y_n'] = y.get('{%s}n' % NS_Y) if y is not None else None
    s['zz'] = el.find('{%s}z/{%s}zz' % (NS_Z, NS_Z)) is not None
    s['q_item'] = el.findtext('{%s}query/{%s}item' % (NS_Q, NS_Q))
    e = el.find(c + 'error')
    s['error'] = None if e is None else ' '.join(
        [k.tag.split('}', 1)[1] for k in e
         if k.tag.startswith('{%s}' % NS_STANZAS)] + [e.get('type') or ''])
    return s


def summary_domish(el):
    """A Twisted domish stanza as a dict."""

    def child(parent, uri, name):
        if parent is None:
            return None
        for c in parent.elements():
            if c.uri == uri and c.name == name:
                return c
        return None

    def text(e):
        return str(e) if e is not None else None

    ns = el.uri
    s = {'kind': el.name, 'ns': ns}
    for a in ('from', 'to', 'id', 'type'):
        s[a] = el.getAttribute(a)
    for a in ('body', 'show', 'status'):
        s[a] = text(child(el, ns, a))
    x = child(el, NS_X, 'data')
    s['x_attr'] = x.attributes.get((NS_X, 'attr')) if x is not None \
        else None
    s['x_text'] = text(x)
    y = child(el, NS_Y, 'extra')
    s['y_n'] = y.attributes.get((NS_Y, 'n')) if y is not None else None
    s['zz'] = child(child(el, NS_Z, 'z'), NS_Z, 'zz') is not None
    s['q_item'] = text(child(child(el, NS_Q, 'query'), NS_Q, 'item'))
    e = child(el, ns, 'error')
    s['error'] = None if e is None else ' '.join(
        [k.name for k in e.elements() if k.uri == NS_STANZAS] +
        [e.getAttribute('type') or ''])
    return s


def say(**kw):
    print(json.dumps(kw), flush=True)


def commands(line):
    try:
        return json.loads(line)
    except ValueError:
        say(ev='bad_command', line=repr(line))
        return None


# ---------------------------------------------------------------------------
# The children

def slix_child(port, secret):
    import asyncio
    import logging
    import xml.etree.ElementTree as ET
    from slixmpp.componentxmpp import ComponentXMPP
    from slixmpp.exceptions import IqError, IqTimeout
    from slixmpp.xmlstream.handler import Callback
    from slixmpp.xmlstream.matcher import MatchXPath

    logging.basicConfig(level=logging.CRITICAL)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    done = loop.create_future()

    def finish(*_):
        if not done.done():
            done.set_result(True)

    class Component(ComponentXMPP):
        def start_stream_handler(self, xml):
            say(ev='stream_id', id=xml.get('id', ''))
            ComponentXMPP.start_stream_handler(self, xml)

    xmpp = Component(SLIX, secret, '127.0.0.1', port)

    def on_disconnected(reason):
        say(ev='disconnected', reason=str(reason))
        finish()

    def on_failed(e):
        say(ev='connection_failed', why=str(e))
        finish()

    def incoming(stanza):
        # Every stanza the library parsed: the error ones are reported
        # (a bounce from gatewayd would come this way).
        if stanza.xml.get('type') == 'error':
            say(ev='error_stanza', **summary_et(stanza.xml))
        return stanza

    def on_query(iq):
        if iq['type'] != 'get':
            return
        say(ev='stanza', **summary_et(iq.xml))
        r = iq.reply(clear=True)
        q = ET.SubElement(r.xml, '{%s}query' % NS_Q)
        ET.SubElement(q, '{%s}item' % NS_Q).text = ANSWER
        r.send()

    async def ask(c):
        iq = xmpp.make_iq_get(queryxmlns=NS_Q, ito=c['to'], ifrom=c['from'])
        iq['id'] = c['id']
        q = iq.xml.find('{%s}query' % NS_Q)
        ET.SubElement(q, '{%s}item' % NS_Q).text = QUESTION
        try:
            r = await iq.send(timeout=WAIT)
            say(ev='iq_result', **summary_et(r.xml))
        except IqError as e:
            say(ev='iq_failed', id=c['id'],
                why='error %s' % e.iq['error']['condition'])
        except IqTimeout:
            say(ev='iq_failed', id=c['id'], why='timeout')

    def command(c):
        if c['cmd'] == 'message':
            xmpp.send_raw(message_xml(c['from'], c['to'], c['id']))
        elif c['cmd'] == 'presence':
            p = xmpp.make_presence(pto=c['to'], pfrom=c['from'])
            p['id'] = c['id'] + 'a'
            p.send()
            p = xmpp.make_presence(pshow='away', pstatus=STATUS,
                                   pto=c['to'], pfrom=c['from'])
            p['id'] = c['id'] + 'b'
            p.send()
        elif c['cmd'] == 'iq':
            asyncio.ensure_future(ask(c))
        elif c['cmd'] == 'quit':
            xmpp.disconnect(wait=3)
        say(ev='done', cmd=c['cmd'], id=c.get('id'))

    buf = bytearray()

    def on_stdin():
        data = os.read(0, 65536)
        if not data:		# the parent went away
            loop.remove_reader(0)
            xmpp.abort()
            finish()
            return
        buf.extend(data)
        while b'\n' in buf:
            i = buf.index(b'\n')
            line = bytes(buf[:i]).decode()
            del buf[:i + 1]
            c = commands(line)
            if c is not None:
                command(c)

    xmpp.add_event_handler('session_start', lambda _: say(ev='ready'))
    xmpp.add_event_handler('stream_error',
                           lambda e: say(ev='stream_error',
                                         condition=e['condition']))
    xmpp.add_event_handler('disconnected', on_disconnected)
    xmpp.add_event_handler('connection_failed', on_failed)
    xmpp.add_event_handler('message',
                           lambda m: say(ev='stanza', **summary_et(m.xml)))
    xmpp.add_event_handler('presence',
                           lambda p: say(ev='stanza', **summary_et(p.xml)))
    xmpp.register_handler(Callback(
        'exchange query',
        MatchXPath('{%s}iq/{%s}query' % (xmpp.default_ns, NS_Q)), on_query))
    xmpp.add_filter('in', incoming)
    loop.add_reader(0, on_stdin)
    try:
        xmpp.connect()
        try:
            loop.run_until_complete(asyncio.wait_for(done, CHILD_LIFE))
        except asyncio.TimeoutError:
            say(ev='child_timeout')
    finally:
        loop.remove_reader(0)
        xmpp.abort()
        xmpp.cancel_connection_attempt()
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending,
                                                   return_exceptions=True))
        loop.close()
    say(ev='exit')


def twist_child(port, secret):
    from twisted.internet import reactor, stdio
    from twisted.protocols.basic import LineReceiver
    from twisted.words.protocols.jabber import component, error, xmlstream
    from twisted.words.xish import domish

    factory = component.componentFactory(TWIST, secret)
    state = {'xs': None}

    def stop():
        factory.stopTrying()
        if reactor.running:
            reactor.stop()

    def on_query(el):
        say(ev='stanza', **summary_domish(el))
        r = xmlstream.toResponse(el, 'result')
        q = r.addElement((NS_Q, 'query'))
        q.addElement('item', content=ANSWER)
        state['xs'].send(r)

    def on_error_stanza(el):
        say(ev='error_stanza', **summary_domish(el))

    def connected(xs):
        say(ev='connected')

    def authd(xs):
        state['xs'] = xs
        say(ev='stream_id', id=getattr(xs, 'sid', None))
        xs.addObserver('/message',
                       lambda el: say(ev='stanza', **summary_domish(el)))
        xs.addObserver('/presence',
                       lambda el: say(ev='stanza', **summary_domish(el)))
        xs.addObserver("/iq[@type='get']/query[@xmlns='%s']" % NS_Q,
                       on_query)
        xs.addObserver("/*[@type='error']", on_error_stanza)
        say(ev='ready')

    def stream_error(failure):
        if isinstance(failure.value, error.StreamError):
            say(ev='stream_error', condition=failure.value.condition)
        else:
            say(ev='stream_error', condition='parse error: %r' %
                failure.value)

    def init_failed(failure):
        say(ev='init_failed', why=repr(failure.value))

    def ended(reason):
        say(ev='disconnected', reason=str(reason))
        stop()

    def ask(c):
        iq = xmlstream.IQ(state['xs'], 'get')
        iq['id'] = c['id']
        iq['from'] = c['from']
        q = iq.addElement((NS_Q, 'query'))
        q.addElement('item', content=QUESTION)
        iq.timeout = WAIT
        d = iq.send(c['to'])
        d.addCallbacks(
            lambda r: say(ev='iq_result', **summary_domish(r)),
            lambda f: say(ev='iq_failed', id=c['id'], why=repr(f.value)))

    def presence(c, sid, show=None, status=None):
        p = domish.Element((None, 'presence'))
        p['from'] = c['from']
        p['to'] = c['to']
        p['id'] = sid
        if show:
            p.addElement('show', content=show)
        if status:
            p.addElement('status', content=status)
        state['xs'].send(p)

    def command(c):
        xs = state['xs']
        if c['cmd'] == 'message':
            xs.send(message_xml(c['from'], c['to'], c['id']))
        elif c['cmd'] == 'presence':
            presence(c, c['id'] + 'a')
            presence(c, c['id'] + 'b', 'away', STATUS)
        elif c['cmd'] == 'iq':
            ask(c)
        elif c['cmd'] == 'quit':
            factory.stopTrying()
            xs.sendFooter()
        say(ev='done', cmd=c['cmd'], id=c.get('id'))

    class Commands(LineReceiver):
        delimiter = b'\n'

        def lineReceived(self, line):
            c = commands(line.decode())
            if c is None:
                return
            if state['xs'] is None and c['cmd'] != 'quit':
                say(ev='bad_command', line='not authenticated yet')
                return
            if state['xs'] is None:
                stop()
                return
            command(c)

        def connectionLost(self, reason):	# the parent went away
            stop()

    def too_late():
        say(ev='child_timeout')
        stop()

    factory.addBootstrap(xmlstream.STREAM_CONNECTED_EVENT, connected)
    factory.addBootstrap(xmlstream.STREAM_AUTHD_EVENT, authd)
    factory.addBootstrap(xmlstream.STREAM_ERROR_EVENT, stream_error)
    factory.addBootstrap(xmlstream.INIT_FAILED_EVENT, init_failed)
    factory.addBootstrap(xmlstream.STREAM_END_EVENT, ended)
    stdio.StandardIO(Commands())
    reactor.connectTCP('127.0.0.1', port, factory)
    reactor.callLater(CHILD_LIFE, too_late)
    reactor.run()
    say(ev='exit')


# ---------------------------------------------------------------------------
# The parent's side of a child

_children = []


class Child:
    """A child process: commands to its stdin, its events collected."""

    def __init__(self, which, port, secret):
        self.which = which
        self.errpath = os.path.join(gw.scratch(), 'exchange-%s.stderr' %
                                    which)
        err = open(self.errpath, 'w')
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), '--child', which,
             str(port), secret],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
        err.close()
        _children.append(self)
        self.events = []
        self.eof = False
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                e = json.loads(line.decode())
            except ValueError:
                e = {'ev': 'junk', 'line': line.decode(errors='replace')}
            with self.cond:
                self.events.append(e)
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def send(self, **cmd):
        try:
            self.proc.stdin.write((json.dumps(cmd) + '\n').encode())
            self.proc.stdin.flush()
        except (OSError, ValueError) as e:
            raise gw.Fail('cannot command the %s child: %r (%s)' %
                          (self.which, e, self.describe()))

    def wait(self, pred, timeout=WAIT):
        """The first event for which pred holds, waiting at most timeout;
        None if none came."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for e in self.events:
                    if pred(e):
                        return e
                left = deadline - time.monotonic()
                if left <= 0 or self.eof:
                    return None
                self.cond.wait(left)

    def find(self, pred):
        with self.cond:
            return [e for e in self.events if pred(e)]

    def describe(self):
        with self.cond:
            evs = [e for e in self.events
                   if e.get('ev') not in ('stanza', 'done')][-4:]
        try:
            with open(self.errpath, errors='replace') as f:
                err = ' | '.join(f.read().strip().splitlines()[-3:])
        except OSError:
            err = ''
        rc = self.proc.poll()
        return '%s child %s; last events %s%s' % (
            self.which, 'running' if rc is None else 'exited %d' % rc,
            json.dumps(evs), '; stderr: %s' % err if err else '')

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def quit(self, timeout=6):
        """Asks for an orderly close; the problem, or None."""
        try:
            self.send(cmd='quit')
        except gw.Fail as e:
            self.kill()
            return str(e)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return '%s child did not exit within %gs after quit: %s' % (
                self.which, timeout, self.describe())
        self.reader.join(2)
        if rc != 0:
            return '%s child exited %d: %s' % (self.which, rc,
                                               self.describe())
        if not self.find(lambda e: e.get('ev') == 'disconnected'):
            return '%s child ended without its stream ending: %s' % (
                self.which, self.describe())
        bad = self.find(lambda e: e.get('ev') in (
            'stream_error', 'child_timeout', 'init_failed',
            'connection_failed', 'bad_command', 'junk'))
        if bad:
            return '%s child: %s' % (self.which, json.dumps(bad[:3]))
        return None


def _kill_children():
    for c in _children:
        c.kill()


atexit.register(_kill_children)


# ---------------------------------------------------------------------------
# The tests

def domain_of(child):
    return SLIX if child.which == 'slixmpp' else TWIST


def compare(got, want, what):
    diffs = ['%s %r, expected %r' % (k, got.get(k), v)
             for k, v in want.items() if got.get(k) != v]
    if diffs:
        raise gw.Fail('%s: %s' % (what, '; '.join(diffs)))


def bounces(src, ids):
    return src.find(lambda e: e.get('ev') == 'error_stanza' and
                    e.get('id') in ids)


def no_bounce(src, ids):
    b = bounces(src, ids)
    expect(not b, 'the %s library got an error stanza back: %s' % (
        src.which, '; '.join('%s id=%s from=%s to=%s error=%s' % (
            e['kind'], e['id'], e['from'], e['to'], e['error'])
            for e in b[:2])))


def arrived(dst, src, sid, kind):
    """The stanza sid as dst's library delivered it; Fail at once when
    the sender gets it back as an error, or after WAIT."""
    deadline = time.monotonic() + WAIT
    while True:
        e = dst.wait(lambda e: e.get('ev') == 'stanza' and
                     e.get('id') == sid and e.get('kind') == kind,
                     min(0.05, max(0, deadline - time.monotonic())))
        if e is not None:
            return e
        no_bounce(src, [sid])
        if time.monotonic() >= deadline or dst.eof:
            raise gw.Fail('%s %s did not reach the %s library within '
                          '%gs: %s; %s' % (kind, sid, dst.which, WAIT,
                                           dst.describe(),
                                           src.describe()))


def t_message(src, dst, sid):
    frm = 'alice@%s/desk' % domain_of(src)
    to = 'bob@%s' % domain_of(dst)
    src.send(cmd='message', id=sid, to=to, **{'from': frm})
    e = arrived(dst, src, sid, 'message')
    compare(e, {'ns': NS_C, 'from': frm, 'to': to, 'type': 'chat',
                'body': BODY, 'x_attr': XATTR, 'x_text': '1', 'y_n': '2',
                'zz': True}, 'message as %s parsed it' % dst.which)
    no_bounce(src, [sid])


def t_presence(src, dst, sid):
    frm = 'alice@%s/desk' % domain_of(src)
    to = 'bob@%s' % domain_of(dst)
    src.send(cmd='presence', id=sid, to=to, **{'from': frm})
    a = arrived(dst, src, sid + 'a', 'presence')
    b = arrived(dst, src, sid + 'b', 'presence')
    compare(a, {'ns': NS_C, 'from': frm, 'to': to, 'type': None,
                'show': None, 'status': None},
            'available presence as %s parsed it' % dst.which)
    compare(b, {'ns': NS_C, 'from': frm, 'to': to, 'type': None,
                'show': 'away', 'status': STATUS},
            'presence with show/status as %s parsed it' % dst.which)
    no_bounce(src, [sid + 'a', sid + 'b'])


def t_iq(src, dst, sid):
    frm, to = domain_of(src), domain_of(dst)
    src.send(cmd='iq', id=sid, to=to, **{'from': frm})
    e = arrived(dst, src, sid, 'iq')
    compare(e, {'ns': NS_C, 'from': frm, 'to': to, 'type': 'get',
                'q_item': QUESTION}, 'iq get as %s parsed it' % dst.which)
    r = src.wait(lambda e: e.get('ev') in ('iq_result', 'iq_failed') and
                 e.get('id') == sid, WAIT + 2)
    expect(r is not None, 'the %s library got no answer to its iq: %s; '
           '%s' % (src.which, src.describe(), dst.describe()))
    expect(r['ev'] == 'iq_result', 'the %s library: iq %s' %
           (src.which, r.get('why')))
    compare(r, {'kind': 'iq', 'ns': NS_C, 'from': to, 'to': frm,
                'type': 'result', 'q_item': ANSWER},
            'iq result as %s parsed it' % src.which)


def main():
    try:
        import slixmpp  # noqa: F401
        import twisted.words.protocols.jabber.component  # noqa: F401
    except ImportError as e:
        gw.skip(P + 'slixmpp and twisted', 'not installed (python3-slixmpp,'
                ' python3-twisted): %s' % e)
        gw.finish()
    secrets = {SLIX: gw.new_secret('slix'), TWIST: gw.new_secret('twist')}
    d = gw.Daemon('exchange', list(secrets.items()),
                  components=['component "%s"' % SLIX,
                              'component "%s"' % TWIST], ipv6=False)
    try:
        d.start()
    except gw.Fail as e:
        gw.notok(P + 'daemon starts', e)
        gw.finish()

    slix = Child('slixmpp', d.port, secrets[SLIX])
    twist = Child('twisted', d.port, secrets[TWIST])

    def both_ready():
        deadline = time.monotonic() + READY
        for c in (slix, twist):
            e = c.wait(lambda e: e.get('ev') in (
                'ready', 'disconnected', 'stream_error', 'init_failed',
                'connection_failed'), max(0, deadline - time.monotonic()))
            expect(e is not None and e['ev'] == 'ready',
                   'no session: %s' % c.describe())
        for c in (slix, twist):
            i = c.wait(lambda e: e.get('ev') == 'stream_id', 0)
            if i and i.get('id'):
                gw.digest(i['id'], secrets[domain_of(c)])
        for dom in (SLIX, TWIST):
            expect(d.wait_log('authd: %s authenticated' % dom),
                   '%s not logged as authenticated' % dom)

    if run(P + 'slixmpp and twisted components authenticate', both_ready):
        for name, func, sid in (
                ('message intact', t_message, 'm1'),
                ('presence (available, show/status) intact', t_presence,
                 'p1'),
                ('iq get answered with a result', t_iq, 'q1')):
            run('%sslixmpp -> twisted %s' % (P, name), func, slix, twist,
                sid + 's')
            run('%stwisted -> slixmpp %s' % (P, name), func, twist, slix,
                sid + 't')
    problems = [p for p in (slix.quit(), twist.quit()) if p]
    gw.check(P + 'both libraries close their streams cleanly',
             '; '.join(problems))
    gw.check_stop(P + 'daemon', d)
    gw.check_logs_clean(P + 'no secret and no digest in the log', [d])
    gw.finish()


if __name__ == '__main__':
    if len(sys.argv) == 5 and sys.argv[1] == '--child':
        f = slix_child if sys.argv[2] == 'slixmpp' else twist_child
        f(int(sys.argv[3]), sys.argv[4])
    else:
        main()
