"""
Stanza routing between authenticated components: the route table, the
from and to checks, bounces (and no bounce for an error), aliases, the
default route, both conflict policies and the takeover damping, reload,
shutdown, backpressure and what is bounced when a stream closes.
"""

import os
import re
import signal
import socket
import sys
import threading
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
import gwtest as gw			# noqa: E402

NS_C = gw.NS_COMPONENT
NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'
GW_NAME = 'gw.example.net'

SECRETS = {d: gw.new_secret(d.split('.')[0]) for d in
           ('a.example.org', 'b.example.org', 'c.example.org',
            'd.example.org')}
COMPONENTS = [
    'component "a.example.org" { alias "a2.example.org" }',
    'component "b.example.org"',
    'component "c.example.org"',
    'component "d.example.org" { on conflict reject }',
]
daemons = []


def daemon(name, lines=(), components=COMPONENTS, secrets=None):
    d = gw.Daemon(name, list((secrets or SECRETS).items()),
                  ['name "%s"' % GW_NAME] + list(lines), components,
                  ipv6=False)
    daemons.append(d)
    return d.start()


def comp(d, domain, **kw):
    c = d.connect(**kw)
    c.authenticate(SECRETS[domain], to=domain)
    return c


def tag(local):
    return '{%s}%s' % (NS_C, local)


def stanzas(c):
    """Top-level stanzas received so far (not handshake, not errors)."""
    return [e for e in c.stream.elements
            if e.tag in (tag('message'), tag('presence'), tag('iq'))]


def wait_stanzas(c, n, timeout=gw.TIMEOUT):
    c.read_until(lambda: len(stanzas(c)) >= n, timeout)
    got = stanzas(c)
    if len(got) < n:
        raise gw.Fail('%d stanzas came, expected %d: %s' %
                      (len(got), n, c.describe()))
    return got


def quiet(c, seconds=0.5):
    """Nothing more arrives within seconds (a bounded wait for silence)."""
    before = len(c.data)
    c.read_until(lambda: len(c.data) > before or c.eof, seconds)
    return len(c.data) == before and not c.eof


def stanza_error(el):
    """(type, by, condition) of a bounce."""
    errs = [e for e in el if e.tag == tag('error')]
    if len(errs) != 1:
        raise gw.Fail('bounce with %d error children: %s' %
                      (len(errs), ET.tostring(el)))
    e = errs[0]
    conds = [k.tag.split('}', 1)[1] for k in e
             if k.tag.startswith('{%s}' % NS_STANZAS)]
    return e.get('type'), e.get('by'), conds


def expect_bounce(el, frm, to, sid, etype, cond, payload=None):
    gw.expect(el.get('type') == 'error', 'type %r' % el.get('type'))
    gw.expect(el.get('from') == frm and el.get('to') == to,
              'from %r to %r, expected %r %r' % (el.get('from'),
                                                el.get('to'), frm, to))
    gw.expect(el.get('id') == sid, 'id %r' % el.get('id'))
    t, by, conds = stanza_error(el)
    gw.expect((t, by, conds) == (etype, GW_NAME, [cond]),
              'error %r by %r %r, expected %r %r' % (t, by, conds, etype,
                                                    cond))
    if payload is not None:
        gw.expect(el.find(payload) is not None,
                  'payload %s not echoed: %s' % (payload, ET.tostring(el)))


# ---------------------------------------------------------------------------

def t_message_both_ways(d):
    a, b = comp(d, 'a.example.org'), comp(d, 'b.example.org')
    a.send("<message from='alice@a.example.org/r' to='bob@b.example.org' "
           "id='m1' type='chat'><body>hi</body></message>")
    m = wait_stanzas(b, 1)[0]
    gw.expect(m.tag == tag('message') and m.get('id') == 'm1' and
              m.get('from') == 'alice@a.example.org/r' and
              m.findtext(tag('body')) == 'hi', ET.tostring(m))
    b.send("<presence from='bob@b.example.org' to='alice@a.example.org'/>")
    b.send("<iq from='bob@b.example.org' to='a.example.org' type='get' "
           "id='q1'><query xmlns='jabber:iq:version'/></iq>")
    got = wait_stanzas(a, 2)
    gw.expect(got[0].tag == tag('presence') and got[1].tag == tag('iq'),
              [e.tag for e in got])
    a.send("<iq from='a.example.org' to='bob@b.example.org' type='result' "
           "id='q1'><query xmlns='jabber:iq:version'><name>x</name>"
           "</query></iq>")
    r = wait_stanzas(b, 2)[1]
    gw.expect(r.get('type') == 'result' and r.find(
        '{jabber:iq:version}query/{jabber:iq:version}name').text == 'x',
        ET.tostring(r))
    a.close()
    b.close()


def t_payload_intact(d):
    a = d.connect()
    # A prefix declared on the header and used in stanzas, xml:lang too.
    a.send(gw.stream_header('a.example.org',
                            "xmlns:h='urn:example:header' xml:lang='de'"))
    a.read_header()
    gw.expect(a.handshake(SECRETS['a.example.org']), 'handshake')
    b = comp(d, 'b.example.org')
    body = ('<body>caf\u00e9 &amp; &lt;tag&gt; &#x263A; '
            '\U0001F600 "q" \'a\'</body>')
    a.send(("<message from='a.example.org' to='b.example.org' id='p1' "
            "xmlns:x='urn:example:x'>%s<x:data x:attr='v'>1</x:data>"
            "<h:hdr>2</h:hdr><z xmlns='urn:example:z'><zz/></z>"
            "<![CDATA[<raw>]]></message>") % body)
    m = wait_stanzas(b, 1)[0]
    gw.expect(b.stream.error is None, 'not well-formed at the receiver: %s'
              % b.stream.error)
    gw.expect(m.findtext(tag('body')) ==
              'caf\u00e9 & <tag> \u263A \U0001F600 "q" \'a\'',
              'body %r' % m.findtext(tag('body')))
    x = m.find('{urn:example:x}data')
    gw.expect(x is not None and x.get('{urn:example:x}attr') == 'v',
              'x:data %s' % ET.tostring(m))
    gw.expect(m.find('{urn:example:header}hdr') is not None,
              'header prefix lost: %s' % b.describe())
    gw.expect(m.find('{urn:example:z}z/{urn:example:z}zz') is not None,
              'namespaced child lost')
    gw.expect('<raw>' in (m.text or '') + ''.join(
        (e.tail or '') for e in m), 'CDATA lost')
    gw.expect(m.get('{http://www.w3.org/XML/1998/namespace}lang') == 'de',
              'stream xml:lang not carried: %s' % b.describe())
    # A stanza with its own xml:lang and its own declaration of h.
    a.send("<message from='a.example.org' to='b.example.org' id='p2' "
           "xml:lang='fr' xmlns:h='urn:example:other'><h:o/></message>")
    m = wait_stanzas(b, 2)[1]
    gw.expect(b.stream.error is None, 'not well-formed: %s' %
              b.stream.error)
    gw.expect(m.find('{urn:example:other}o') is not None and
              m.get('{http://www.w3.org/XML/1998/namespace}lang') == 'fr',
              ET.tostring(m))
    # A bounce of such a stanza keeps the header's prefix bound.
    a.send("<message from='a.example.org' to='nowhere.example' id='p3'>"
           "<h:back/></message>")
    e = wait_stanzas(a, 1)[0]
    gw.expect(a.stream.error is None and
              e.find('{urn:example:header}back') is not None,
              'bounce lost the header prefix: %s' % a.describe())
    a.close()
    b.close()


class Reader(threading.Thread):
    """Reads a connection's raw bytes as fast as they come."""

    def __init__(self, conn, until):
        super().__init__(daemon=True)
        self.conn, self.until = conn, until
        self.data = bytearray()

    def run(self):
        self.conn.sock.settimeout(30)
        try:
            while self.data.count(b'</message>') < self.until:
                d = self.conn.sock.recv(1 << 20)
                if not d:
                    break
                self.data.extend(d)
        except OSError:
            pass


def t_order_and_count(d, n=100000):
    a, b = comp(d, 'a.example.org'), comp(d, 'b.example.org')
    r = Reader(b, n)
    r.start()
    a.sock.settimeout(None)
    t0 = time.monotonic()
    for i in range(0, n, 1000):
        a.sock.sendall(''.join(
            "<message from='a.example.org' to='b.example.org' id='%d'>"
            "<body>%s</body></message>" % (j, 'x' * 120)
            for j in range(i, min(i + 1000, n))).encode())
    r.join(60)
    dt = time.monotonic() - t0
    ids = [int(x) for x in re.findall(rb"id='(\d+)'", bytes(r.data))]
    gw.expect(len(ids) == n, '%d of %d arrived' % (len(ids), n))
    gw.expect(ids == list(range(n)), 'out of order')
    print('# %d stanzas in %.2fs: %d/s (the python client is the bound)' %
          (n, dt, n / dt), flush=True)
    a.close()
    b.close()


def t_from_checks(d):
    cases = [
        ("<message to='b.example.org'><body/></message>",
         'improper-addressing'),
        ("<message from='' to='b.example.org'/>", 'improper-addressing'),
        ("<message from='x@b.example.org' to='b.example.org'/>",
         'invalid-from'),
        ("<message from='x@evil.example.org' to='b.example.org'/>",
         'invalid-from'),
        ("<message from='@a.example.org' to='b.example.org'/>",
         'invalid-from'),
        ("<message from='a.example.org/' to='b.example.org'/>",
         'invalid-from'),
        ("<message from='a.example.org'/>", 'improper-addressing'),
        ("<message from='a.example.org' to=''/>", 'improper-addressing'),
        ("<foo from='a.example.org' to='b.example.org'/>",
         'unsupported-stanza-type'),
        ("<message xmlns='jabber:client' from='a.example.org' "
         "to='b.example.org'/>", 'unsupported-stanza-type'),
    ]
    for stanza, cond in cases:
        a = comp(d, 'a.example.org')
        a.send(stanza)
        p = gw.stream_error_problems(a, cond)
        if p:
            raise gw.Fail('%s: %s' % (stanza, p))


def t_from_alias_and_case(d):
    a, b = comp(d, 'a.example.org'), comp(d, 'b.example.org')
    a.send("<message from='x@A2.Example.ORG/res' to='y@B.EXAMPLE.org' "
           "id='al'/>")
    m = wait_stanzas(b, 1)[0]
    gw.expect(m.get('from') == 'x@A2.Example.ORG/res',
              'from rewritten: %r' % m.get('from'))
    # To an alias: the component behind it gets it.
    b.send("<message from='b.example.org' to='z@a2.example.org' id='to-al'/>")
    m = wait_stanzas(a, 1)[0]
    gw.expect(m.get('id') == 'to-al', ET.tostring(m))
    a.close()
    b.close()


def t_bounces(d):
    a = comp(d, 'a.example.org')
    a.send("<message from='u@a.example.org/r' to='v@nowhere.example' "
           "id='nf' type='chat'><body>lost</body></message>")
    expect_bounce(wait_stanzas(a, 1)[0], 'v@nowhere.example',
                  'u@a.example.org/r', 'nf', 'cancel',
                  'remote-server-not-found', tag('body'))
    a.send("<iq from='a.example.org' to='c.example.org' type='get' "
           "id='off'><ping xmlns='urn:xmpp:ping'/></iq>")
    expect_bounce(wait_stanzas(a, 2)[1], 'c.example.org', 'a.example.org',
                  'off', 'wait', 'remote-server-timeout',
                  '{urn:xmpp:ping}ping')
    a.send("<message from='a.example.org' to='bad@@x' id='jm'/>")
    expect_bounce(wait_stanzas(a, 3)[2], 'bad@@x', 'a.example.org', 'jm',
                  'modify', 'jid-malformed')
    a.send("<message from='a.example.org' to='u@[::1]' id='ip'/>")
    expect_bounce(wait_stanzas(a, 4)[3], 'u@[::1]', 'a.example.org', 'ip',
                  'cancel', 'remote-server-not-found')
    # Values that need escaping come back escaped, and intact.
    a.send("<message from='a.example.org' to='x@nowhere.example' "
           "id='&lt;&amp;&apos;&quot;'/>")
    el = wait_stanzas(a, 5)[4]
    gw.expect(el.get('id') == '<&\'"', 'id %r' % el.get('id'))
    gw.expect(a.stream.error is None, 'bounce not well-formed')
    a.close()


def t_no_error_for_errors(d):
    a = comp(d, 'a.example.org')
    for s in ("<message from='a.example.org' to='c.example.org' "
              "type='error' id='e1'/>",
              "<iq from='a.example.org' to='c.example.org' type='result' "
              "id='e2'/>",
              "<iq from='a.example.org' to='nowhere.example' type='error' "
              "id='e3'/>",
              "<presence from='a.example.org' to='c.example.org' "
              "type='unavailable'/>"):
        a.send(s)
    a.send("<message from='a.example.org' to='c.example.org' id='last'/>")
    got = wait_stanzas(a, 1)
    gw.expect(len(got) == 1 and got[0].get('id') == 'last',
              'bounced an error, a result or unavailable: %s' %
              [e.get('id') for e in got])
    gw.expect(quiet(a), 'more came: %s' % a.describe())
    a.close()


def t_loop_ends(d):
    """
    Bots that send every stanza they get on to a component that is not
    connected, type and all: the bounce comes back as an error, and an
    error is never bounced, so it ends.
    """
    a, b = comp(d, 'a.example.org'), comp(d, 'b.example.org')
    a.send("<message from='a.example.org' to='c.example.org' id='L1'/>")
    a.send("<message from='a.example.org' to='b.example.org' id='L2'/>")
    seen = {id(a): 0, id(b): 0}
    total = 0
    for rounds in range(10):
        progress = False
        for me in (a, b):
            me.read_until(lambda: False, 0.2)
            got = stanzas(me)
            for el in got[seen[id(me)]:]:
                progress = True
                total += 1
                me.send("<message from='%s' to='c.example.org' id='%s'%s/>"
                        % (me.stream.header.get('from'), el.get('id'),
                           " type='%s'" % el.get('type')
                           if el.get('type') else ''))
            seen[id(me)] = len(got)
        if not progress:
            break
    gw.expect(not progress, 'still going after 10 rounds')
    # L1 bounced to a; L2 reached b, b's copy bounced to b: then silence.
    gw.expect(total == 3, '%d stanzas went around' % total)
    a.close()
    b.close()


def t_conflict_replace(d):
    a1 = comp(d, 'a.example.org')
    a2 = comp(d, 'a.example.org')
    p = gw.stream_error_problems(a1, 'conflict')
    if p:
        raise gw.Fail('old stream: %s' % p)
    b = comp(d, 'b.example.org')
    b.send("<message from='b.example.org' to='a.example.org' id='r'/>")
    gw.expect(wait_stanzas(a2, 1)[0].get('id') == 'r', 'new stream')
    a2.close()
    b.close()


def t_conflict_reject(d):
    d1 = comp(d, 'd.example.org')
    d2 = d.connect()
    d2.open('d.example.org', want_from='d.example.org')
    d2.handshake(SECRETS['d.example.org'])
    p = gw.stream_error_problems(d2, 'conflict', want_from='d.example.org')
    if p:
        raise gw.Fail('new stream: %s' % p)
    b = comp(d, 'b.example.org')
    b.send("<message from='b.example.org' to='d.example.org' id='k'/>")
    gw.expect(wait_stanzas(d1, 1)[0].get('id') == 'k', 'old stream kept')
    d1.close()
    b.close()


def t_flap_damping(d):
    first = comp(d, 'a.example.org')
    conns = [first]
    # max takeovers 2: the third takeover within the window is refused.
    for i in range(2):
        conns.append(comp(d, 'a.example.org'))
    c = d.connect()
    c.open('a.example.org', want_from='a.example.org')
    c.handshake(SECRETS['a.example.org'])
    p = gw.stream_error_problems(c, 'conflict', want_from='a.example.org')
    if p:
        raise gw.Fail('third takeover: %s' % p)
    c = d.connect()
    c.open('a.example.org', want_from='a.example.org')
    c.handshake(SECRETS['a.example.org'])
    p = gw.stream_error_problems(c, 'conflict', want_from='a.example.org')
    if p:
        raise gw.Fail('fourth takeover: %s' % p)
    gw.expect(d.log_count('takeovers in 60 seconds') == 1,
              'hold-down logged %d times' %
              d.log_count('takeovers in 60 seconds'))
    # The stream that holds the name still works.
    b = comp(d, 'b.example.org')
    b.send("<message from='b.example.org' to='a.example.org' id='f'/>")
    gw.expect(wait_stanzas(conns[-1], 1)[0].get('id') == 'f', 'holder')


def t_default_route(d):
    a, b = comp(d, 'a.example.org'), comp(d, 'b.example.org')
    a.send("<message from='a.example.org' to='u@elsewhere.example' "
           "id='dr'/>")
    gw.expect(wait_stanzas(b, 1)[0].get('id') == 'dr', 'default route')
    # Configured but not connected: a bounce, not the default route.
    a.send("<message from='a.example.org' to='c.example.org' id='cc'/>")
    expect_bounce(wait_stanzas(a, 1)[0], 'c.example.org', 'a.example.org',
                  'cc', 'wait', 'remote-server-timeout')
    gw.expect(quiet(b, 0.3), 'default route got a configured name')
    b.close()
    a.send("<message from='a.example.org' to='u@elsewhere.example' "
           "id='dr2'/>")
    expect_bounce(wait_stanzas(a, 2)[1], 'u@elsewhere.example',
                  'a.example.org', 'dr2', 'cancel',
                  'remote-server-not-found')
    a.close()


def t_reload(d):
    a, b = comp(d, 'a.example.org'), comp(d, 'b.example.org')
    # b removed, a new alias for a.
    d.components = [
        'component "a.example.org" { alias "a2.example.org" '
        'alias "a3.example.org" }',
        'component "c.example.org"',
        'component "d.example.org" { on conflict reject }',
    ]
    d.secrets = [(k, v) for k, v in SECRETS.items() if k != 'b.example.org']
    d.write_config()
    d.proc.send_signal(signal.SIGHUP)
    p = gw.stream_error_problems(b, 'host-gone', want_from='b.example.org')
    if p:
        raise gw.Fail('removed component: %s' % p)
    c = comp(d, 'c.example.org')
    c.send("<message from='c.example.org' to='x@a3.example.org' id='n'/>")
    gw.expect(wait_stanzas(a, 1)[0].get('id') == 'n', 'new alias')
    a.send("<message from='a.example.org' to='b.example.org' id='g'/>")
    expect_bounce(wait_stanzas(a, 2)[1], 'b.example.org', 'a.example.org',
                  'g', 'cancel', 'remote-server-not-found')
    a.close()
    c.close()


def t_shutdown(d):
    """
    Every stream gets system-shutdown; while the engine waits for its
    peers to close, it accepts nobody new.
    """
    conns = [comp(d, x) for x in ('a.example.org', 'c.example.org')]
    d.terminate()
    for c in conns:
        p = gw.stream_error_problems(c, 'system-shutdown',
                                     want_from=c.stream.header['from'])
        if p:
            raise gw.Fail(p)
    gw.expect(d.alive(), 'the daemon did not wait for its peers to close')
    try:
        late = d.connect()
    except ConnectionRefusedError:
        late = None
    gw.expect(late is None, 'a connection accepted while shutting down: %s'
              % (late and late.describe()))
    for c in conns:
        c.close()
    rc = d.stop()
    gw.expect(rc == 0, 'exit status %r' % rc)


def t_keepalive(d):
    a = comp(d, 'a.example.org')
    got = a.read_until(lambda: a.data.endswith(b' '), 4)
    gw.expect(got and not a.eof, 'no whitespace keepalive: %s' %
              a.describe())
    a.close()


def t_rest_and_wake(d):
    """
    A stream that rests gives up its parser; what it sends next means
    what it meant, header prefixes, xml:lang and its root's name too.
    """
    a = d.connect()
    a.send("<?xml version='1.0'?><s:stream xmlns='%s' xmlns:s='%s' "
           "xmlns:h='urn:example:header' xml:lang='de' "
           "to='a.example.org'>" % (NS_C, gw.NS_STREAMS))
    a.read_header()
    gw.expect(a.handshake(SECRETS['a.example.org']), 'handshake')
    b = comp(d, 'b.example.org')
    gw.expect(d.wait_log('for a.example.org rests', 12),
              'the parser of a resting stream was not released')
    b.send("<message from='b.example.org' to='a.example.org' id='in'/>")
    gw.expect(wait_stanzas(a, 1)[0].get('id') == 'in', 'to a resting one')
    a.send("<message from='a.example.org' to='b.example.org' id='out'>"
           "<h:x>1</h:x></message>")
    m = wait_stanzas(b, 1)[0]
    gw.expect(b.stream.error is None and
              m.find('{urn:example:header}x') is not None and
              m.get('{http://www.w3.org/XML/1998/namespace}lang') == 'de',
              'after waking: %s' % b.describe())
    a.send('</s:stream>')
    gw.expect(a.read_to_eof() and a.stream.closed and
              not a.stream.stream_errors(),
              'closing after waking: %s' % a.describe())
    b.close()


def t_reset_removes_route(d):
    a, b = comp(d, 'a.example.org'), comp(d, 'b.example.org')
    b.abort()
    gw.expect(d.wait_log('for b.example.org closed'), 'close not logged')
    a.send("<message from='a.example.org' to='b.example.org' id='gone'/>")
    expect_bounce(wait_stanzas(a, 1)[0], 'b.example.org', 'a.example.org',
                  'gone', 'wait', 'remote-server-timeout')
    a.close()


def t_queue_timeout(d):
    """A destination that does not read: closed, its queue bounced."""
    a = comp(d, 'a.example.org')
    b = comp(d, 'b.example.org')
    n = 30000	# more than the kernel's buffers hold
    data = ''.join("<message from='a.example.org' to='b.example.org' "
                   "id='%d'><body>%s</body></message>" % (i, 'y' * 200)
                   for i in range(n)).encode()
    a.sock.settimeout(None)
    sender = threading.Thread(target=a.sock.sendall, args=(data,),
                              daemon=True)
    sender.start()
    # queue timeout 2: b gets resource-constraint once it has stalled.
    gw.expect(d.wait_log('b.example.org: resource-constraint', 15),
              'no resource-constraint: %s' % d.log()[-400:])
    sender.join(15)
    got = []
    a.sock.settimeout(gw.TIMEOUT)
    a.read_until(lambda: len(stanzas(a)) > 0 and quiet(a, 0.5), 15)
    for el in stanzas(a):
        t, by, conds = stanza_error(el)
        if conds != ['remote-server-timeout']:
            raise gw.Fail('bounce %s' % conds)
        got.append(int(el.get('id')))
    gw.expect(len(got) > 0, 'nothing bounced')
    gw.expect(len(set(got)) == len(got), 'bounced twice')
    b.read_to_eof(5)
    delivered = [int(x) for x in re.findall(rb"id='(\d+)'", b.data)]
    # Whatever b did not get before it was closed came back to a,
    # except what the kernel had already taken for b.
    lost = set(range(n)) - set(delivered) - set(got)
    gw.expect(len(lost) < n // 2, '%d of %d neither delivered nor bounced'
              % (len(lost), n))
    print('# queue timeout: %d read by b, %d bounced, %d in kernel '
          'buffers' % (len(delivered), len(got), len(lost)), flush=True)
    a.close()


def t_secret_rotation(d):
    """A reload that drops a secret: the stream that used it stays."""
    old = gw.new_secret('old')
    d.secrets = list(SECRETS.items()) + [('a.example.org', old)]
    d.write_config()
    d.proc.send_signal(signal.SIGHUP)
    gw.expect(d.wait_log('authd: 5 secrets for 4 components'),
              'reload with the second secret not seen')
    a = d.connect()
    a.authenticate(old, to='a.example.org')
    b = comp(d, 'b.example.org')
    before = d.log_count('authd: 4 secrets for 4 components')
    d.secrets = list(SECRETS.items())
    d.write_config()
    d.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + gw.TIMEOUT
    while d.log_count('authd: 4 secrets for 4 components') == before and \
            time.monotonic() < deadline:
        time.sleep(0.02)
    gw.expect(d.log_count('authd: 4 secrets for 4 components') > before,
              'reload without it not seen')
    b.send("<message from='b.example.org' to='a.example.org' id='still'/>")
    gw.expect(wait_stanzas(a, 1)[0].get('id') == 'still',
              'the established stream went away')
    n = d.connect()
    n.open('a.example.org', want_from='a.example.org')
    gw.expect(not n.handshake(old), 'the removed secret still works')
    a.close()
    b.close()


def main():
    t0 = time.monotonic()
    d = daemon('route')
    for name, fn in (
            ('route: message, presence, iq both ways', t_message_both_ways),
            ('route: payload intact (namespaces, prefixes of the header, '
             'entities, non-ASCII, CDATA)', t_payload_intact),
            ('route: from checks (improper-addressing, invalid-from, '
             'unsupported-stanza-type)', t_from_checks),
            ('route: from an alias, names in any case, to an alias',
             t_from_alias_and_case),
            ('route: bounces (not found, not connected, jid-malformed, '
             'IP literal, escaping)', t_bounces),
            ('route: no error for an error, a result or unavailable',
             t_no_error_for_errors),
            ('route: two components sending back all they get stop',
             t_loop_ends),
            ('route: on conflict replace', t_conflict_replace),
            ('route: on conflict reject', t_conflict_reject),
            ('route: a dead stream leaves its route', t_reset_removes_route),
            ('route: 100,000 stanzas arrive complete and in order',
             t_order_and_count)):
        gw.run(name, fn, d)
    gw.run('route: reload (host-gone, new alias)', t_reload, d)
    gw.run('route: SIGTERM sends system-shutdown', t_shutdown, d)

    d = daemon('rotation')
    gw.run('route: a removed secret fails new handshakes, established '
           'streams stay', t_secret_rotation, d)
    gw.check_stop('route rotation', d)

    d = daemon('damping', ['max takeovers 2 per 60 holddown 60'])
    gw.run('route: takeover damping', t_flap_damping, d)
    gw.check_stop('route damping', d)

    d = daemon('default', components=[
        'component "a.example.org"',
        'component "b.example.org" { default route }',
        'component "c.example.org"', 'component "d.example.org"'])
    gw.run('route: default route', t_default_route, d)
    gw.check_stop('route default', d)

    d = daemon('keepalive', ['idle timeout 1', 'queue timeout 2',
                             'max queue size 64K'])
    gw.run('route: whitespace keepalive', t_keepalive, d)
    gw.run('route: a resting stream gives up its parser and wakes intact',
           t_rest_and_wake, d)
    gw.run('route: a destination that does not read is closed, its queue '
           'bounced', t_queue_timeout, d)
    gw.check_stop('route keepalive', d)

    gw.check_logs_clean('route: no secret and no digest in any log',
                        daemons)
    print('# %s: %.1fs' % (os.path.basename(__file__),
                           time.monotonic() - t0), flush=True)
    gw.finish()


if __name__ == '__main__':
    main()
