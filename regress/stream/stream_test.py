"""
XEP-0114 streams against the real daemon: headers, stream ids, handshakes
and secrets, stanzas, the restricted XML of RFC 6120 11.1, stream errors
(RFC 6120 4.9), limits, connection limits, closing, input split into
single bytes, the handshake-failure throttle, and secrets kept out of the
log.  Tests are grouped by the configuration they need; each group has a
daemon of its own.
"""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
import gwtest as gw  # noqa: E402
from gwtest import Fail, Skip, expect, expect_stream_error, run  # noqa: E402

IRC = 'irc.example.org'
BRIDGE = 'bridge.example.org'

IRC_1 = gw.new_secret('irc-one')
IRC_2 = gw.new_secret('irc-two')
BRIDGE_1 = gw.new_secret('bridge')
WRONG = gw.new_secret('wrong')
SECRETS = [(IRC, IRC_1), (IRC, IRC_2), (BRIDGE, BRIDGE_1)]

# Stanzas must say who they are from (a name of the stream) and where they
# go; example.net is no component, so what goes there is bounced to us.
FROM_TO = "from='a@irc.example.org' to='u@example.net'"
MSG = '<message %s>' % FROM_TO

ERR_ELEMENT = "<stream:error><%s xmlns='" + gw.NS_ERRORS + "'/></stream:error>"
NOT_FROM = False		# the error header of a refused stream: no from

daemons = []
stops = []


def start(name, lines, secrets=SECRETS, **kw):
    d = gw.Daemon(name, secrets, lines, **kw)
    daemons.append(d)
    try:
        d.start()
    except Fail as e:
        gw.notok('stream %s: daemon starts' % name, e)
        return None
    return d


def stopping(name, d):
    """SIGTERM now; whether it exits 0 is checked at the end, so that
    daemons wind down (streams get their grace) meanwhile."""
    d.terminate()
    stops.append((name, d))


def need_ipv6(d):
    if not d.ipv6:
        raise Skip('no IPv6 loopback here')


def healthy(d, secret=IRC_1):
    """The daemon still runs and a new stream authenticates."""
    expect(d.alive(), 'daemon died: %s' % d.log().splitlines()[-3:])
    c = d.connect()
    c.authenticate(secret)
    gw.orderly_close(c)


def raw_error(d, data, conditions, want_from=NOT_FROM, bytewise=False):
    """Sends data as the first bytes of a connection; a stream error."""
    c = d.connect(nodelay=bytewise)
    c.send(data, bytewise)
    expect_stream_error(c, conditions, want_from)
    return c


def header_error(d, conditions, bytewise=False, **kw):
    return raw_error(d, gw.stream_header(**kw), conditions,
                     bytewise=bytewise)


def preauth_error(d, data, conditions, bytewise=False):
    """After the headers, before the handshake."""
    c = d.connect(nodelay=bytewise)
    c.open(bytewise=bytewise)
    c.send(data, bytewise)
    expect_stream_error(c, conditions, IRC)


def postauth_error(d, data, conditions, bytewise=False):
    """After a successful handshake."""
    c = d.connect(nodelay=bytewise)
    c.authenticate(IRC_1, bytewise=bytewise)
    c.send(data, bytewise)
    expect_stream_error(c, conditions, IRC)


def postauth_fine(d, data, bytewise=False):
    """After a successful handshake data is accepted: the stream is still
    open, and our closing tag gets only gatewayd's back."""
    c = d.connect(nodelay=bytewise)
    c.authenticate(IRC_1, bytewise=bytewise)
    c.send(data, bytewise)
    c.send(MSG + "<body>still there</body></message>", bytewise)
    gw.orderly_close(c, bytewise)


# ---------------------------------------------------------------------------
# The main configuration: two components, one with two secrets (rotation);
# limits on unauthenticated streams and failures high enough for the many
# short streams below.

def test_header_and_auth(d):
    c = d.connect()
    h = c.open()
    p = c.stream.header_problems(IRC)
    expect(not p, '; '.join(p))
    expect(c.stream.xmldecl is not None and c.stream.xmldecl[0] == '1.0',
           'no XML declaration: %s' % c.describe())
    expect(gw.HEX32.match(h['id']), 'id %r is not 32 lowercase hex' %
           h['id'])
    expect(c.handshake(IRC_1), 'not authenticated: %s' % c.describe())
    expect(d.wait_log('authd: %s authenticated from 127.0.0.1 (secret 1)' %
                      IRC), 'no "authenticated ... (secret 1)" in the log')
    gw.orderly_close(c)


def test_rotation(d):
    c = d.connect()
    c.open()
    expect(c.handshake(IRC_2), 'second secret refused: %s' % c.describe())
    expect(d.wait_log('authd: %s authenticated from 127.0.0.1 (secret 2)' %
                      IRC), 'no "authenticated ... (secret 2)" in the log')
    gw.orderly_close(c)


def test_other_component(d):
    c = d.connect()
    c.authenticate(BRIDGE_1, to=BRIDGE)
    gw.orderly_close(c)


def test_wrong_secret(d, secret):
    n = d.log_count('authd: handshake for %s from 127.0.0.1 failed: '
                    'wrong secret' % IRC)
    c = d.connect()
    c.open()
    c.handshake(secret)
    expect_stream_error(c, 'not-authorized', IRC)
    expect(d.wait_log('authd: handshake for %s from 127.0.0.1 failed: '
                      'wrong secret' % IRC) and
           d.log_count('authd: handshake for %s from 127.0.0.1 failed: '
                       'wrong secret' % IRC) == n + 1,
           'failure not logged by authd')


def test_ids(d, n=50):
    ids = []
    for _ in range(n):
        c = d.connect()
        ids.append(c.open()['id'])
        gw.orderly_close(c)
    bad = [i for i in ids if not gw.HEX32.match(i)]
    expect(not bad, 'ids not 32 lowercase hex: %r' % bad[:3])
    expect(len(set(ids)) == n, '%d distinct ids in %d streams' %
           (len(set(ids)), n))


def test_host_unknown(d):
    c = header_error(d, 'host-unknown', to='unknown.example.org')
    expect(b'unknown.example.org' not in c.data,
           'the unknown name is echoed: %s' % c.describe())


def test_case_and_dot(d):
    c = d.connect()
    c.open(to='IRC.Example.ORG.', want_from=IRC)
    expect(c.handshake(IRC_1), 'not authenticated: %s' % c.describe())
    gw.orderly_close(c)


def test_version_1(d):
    c = d.connect()
    c.open(attrs="version='1.0'")	# open() checks: no version in reply
    expect(c.handshake(IRC_1), 'not authenticated: %s' % c.describe())
    gw.orderly_close(c)


def test_handshake_value(d, make):
    """A handshake with the right digest, mangled by make: refused."""
    c = d.connect()
    c.open()
    right = gw.digest(c.stream_id, IRC_1)
    value = make(right)
    gw.SENT_DIGESTS.add(value.strip())
    c.send('<handshake>%s</handshake>' % value)
    expect_stream_error(c, 'not-authorized', IRC)


def test_uppercase(d):
    c = d.connect()
    c.open()
    value = gw.digest(c.stream_id, IRC_1).upper()
    expect(c.handshake(value=value), 'uppercase digest refused: %s' %
           c.describe())
    gw.orderly_close(c)


def test_second_handshake(d):
    c = d.connect()
    c.authenticate(IRC_1)
    c.send('<handshake>%s</handshake>' % gw.digest(c.stream_id, IRC_1))
    expect_stream_error(c, 'bad-format', IRC)


def test_stanzas(d):
    c = d.connect()
    c.authenticate(IRC_1)
    c.send("<message %s type='chat'><body>hello</body></message>" %
           FROM_TO)
    c.send("<presence %s/>" % FROM_TO)
    c.send("<iq type='get' id='q1' to='example.net' from='irc.example.org'>"
           "<query xmlns='jabber:iq:version'/></iq>")
    # The stream is still open: white space, one more stanza, and our
    # closing tag gets only gatewayd's, no stream error.
    c.send(' ')
    c.send(MSG + "<body>last</body></message>")
    gw.orderly_close(c)


def test_billion_laughs(d):
    ents = ['<!ENTITY lol "lol">']
    for i in range(1, 10):
        prev = 'lol' if i == 1 else 'lol%d' % (i - 1)
        ents.append('<!ENTITY lol%d "%s">' % (i, ('&%s;' % prev) * 10))
    doc = ("<?xml version='1.0'?><!DOCTYPE stream:stream [%s]>"
           "<stream:stream xmlns='jabber:component:accept' "
           "xmlns:stream='http://etherx.jabber.org/streams' "
           "to='irc.example.org'><message><body>&lol9;</body></message>"
           % ''.join(ents))
    t0 = time.monotonic()
    raw_error(d, doc, 'restricted-xml')
    expect(time.monotonic() - t0 < 2, 'took %.1fs' % (time.monotonic() - t0))
    healthy(d)


def test_peer_close(d):
    c = d.connect()
    c.authenticate(IRC_1)
    before = len(c.data)
    c.send(gw.CLOSE)
    p = gw.closing_problems(c)
    expect(not p, p)
    expect(c.data[before:] == b'</stream:stream>',
           'after our closing tag: %s' % gw.short(c.data[before:]))


def test_peer_error(d, authenticated):
    c = d.connect()
    if authenticated:
        c.authenticate(IRC_1)
    else:
        c.open()
    before = len(c.data)
    c.send(ERR_ELEMENT % 'undefined-condition')
    p = gw.closing_problems(c)
    c.close()
    expect(not p, p)
    expect(c.data[before:] == b'</stream:stream>',
           'after our stream error: %s' % gw.short(c.data[before:]))


def test_reset(d):
    c = d.connect()
    c.open()
    c.send('<handshake>0123456789')
    c.abort()
    healthy(d)


def test_half_close(d):
    c = d.connect()
    c.open()
    c.send('<handshake>0123456789')
    c.sock.shutdown(socket.SHUT_WR)
    closed = c.read_to_eof()
    c.close()
    expect(closed, 'daemon did not close: %s' % c.describe())
    healthy(d)


SESSION_STANZAS = (
    "<message to='u@example.net' from='a@irc.example.org'>"
    "<body>caf\u00e9 \u65e5\u672c \U0001f600 &amp;&lt;&gt;&quot;&apos; "
    "&#x41;&#66;</body></message>"
    "<presence from='a@irc.example.org' to='u@example.net'>"
    "<status>\u00fcber</status></presence>"
    "\n<iq type='result' id='x' from='irc.example.org' to='example.net'/>")


def test_bytewise_session(d):
    c = d.connect(nodelay=True)
    c.authenticate(IRC_1, bytewise=True)
    c.send(SESSION_STANZAS, bytewise=True)
    gw.orderly_close(c, bytewise=True)


def test_bytewise_wrong(d):
    c = d.connect(nodelay=True)
    c.open(bytewise=True)
    c.handshake(WRONG, bytewise=True)
    expect_stream_error(c, 'not-authorized', IRC)


def group_main():
    d = start('main', [
        'handshake timeout 10',
        'max unauthenticated 128 per address 64',
        'handshake failures 1000 per 60 holddown 60',
    ])
    if d is None:
        return
    P = 'stream '

    # Headers, ids, secrets.
    run(P + 'header: namespaces, from, 32-hex id, no version; right secret '
        'authenticates', test_header_and_auth, d)
    run(P + 'secrets: second secret of a domain authenticates (rotation)',
        test_rotation, d)
    run(P + 'secrets: another component with its own secret',
        test_other_component, d)
    run(P + 'secrets: wrong secret -> not-authorized', test_wrong_secret, d,
        WRONG)
    run(P + 'secrets: secret of another component -> not-authorized',
        test_wrong_secret, d, BRIDGE_1)
    run(P + 'ids: 50 streams get 32-hex ids, all different', test_ids, d)

    # The peer's header.
    run(P + 'header: stream root in another namespace -> invalid-namespace',
        raw_error, d, gw.XMLDECL + "<stream:stream xmlns='" +
        gw.NS_COMPONENT + "' xmlns:stream='http://example.com/streams' "
        "to='irc.example.org'>", 'invalid-namespace')
    run(P + 'header: root other than stream -> invalid-namespace',
        raw_error, d, gw.XMLDECL + "<stream:foo xmlns='" + gw.NS_COMPONENT +
        "' xmlns:stream='" + gw.NS_STREAMS + "' to='irc.example.org'>",
        'invalid-namespace')
    run(P + 'header: unprefixed root other than stream -> invalid-namespace',
        raw_error, d, gw.XMLDECL + "<component xmlns='" + gw.NS_COMPONENT +
        "' to='irc.example.org'>", 'invalid-namespace')
    run(P + 'header: default namespace jabber:client -> invalid-namespace',
        header_error, d, 'invalid-namespace', to=IRC, xmlns='jabber:client')
    run(P + 'header: no default namespace -> invalid-namespace',
        raw_error, d, gw.XMLDECL + "<stream:stream xmlns:stream='" +
        gw.NS_STREAMS + "' to='irc.example.org'>", 'invalid-namespace')
    run(P + 'header: no to -> improper-addressing', header_error, d,
        'improper-addressing', to=None)
    run(P + 'header: empty to -> improper-addressing', header_error, d,
        'improper-addressing', to='')
    run(P + 'header: to with a localpart -> improper-addressing',
        header_error, d, 'improper-addressing', to='a@irc.example.org')
    run(P + 'header: to with a resource -> improper-addressing',
        header_error, d, 'improper-addressing', to='irc.example.org/x')
    run(P + 'header: to not a domain (bad..name) -> improper-addressing',
        header_error, d, 'improper-addressing', to='bad..name')
    run(P + 'header: to not configured -> host-unknown, name not echoed',
        test_host_unknown, d)
    run(P + 'header: an alias is no stream name -> host-unknown',
        header_error, d, 'host-unknown', to='irc2.example.org')
    run(P + 'header: to in other case with a trailing dot is accepted',
        test_case_and_dot, d)
    run(P + "header: version='2.0' -> unsupported-version", header_error, d,
        'unsupported-version', to=IRC, attrs="version='2.0'")
    run(P + "header: version='1.0' accepted, no version in the reply",
        test_version_1, d)

    # Handshakes.
    run(P + 'handshake: a message first -> not-authorized', preauth_error,
        d, "<message to='u@example.net'><body>hi</body></message>",
        'not-authorized')
    run(P + 'handshake: with a child element -> not-authorized',
        test_handshake_value, d, lambda r: r + '<x/>')
    run(P + 'handshake: 39 hex digits -> not-authorized',
        test_handshake_value, d, lambda r: r[:39])
    run(P + 'handshake: 41 hex digits -> not-authorized',
        test_handshake_value, d, lambda r: r + '0')
    run(P + 'handshake: not hex -> not-authorized',
        test_handshake_value, d, lambda r: 'g' + r[1:])
    run(P + 'handshake: white space around the digits -> not-authorized',
        test_handshake_value, d, lambda r: ' ' + r + '\n')
    run(P + 'handshake: uppercase hex digest authenticates',
        test_uppercase, d)
    run(P + 'handshake: a second one after success -> bad-format',
        test_second_handshake, d)

    # Stanzas.
    run(P + 'stanzas: other element after auth -> unsupported-stanza-type',
        postauth_error, d, "<foo to='u@example.net'/>",
        'unsupported-stanza-type')
    run(P + 'stanzas: message, presence and iq accepted, stream stays open',
        test_stanzas, d)

    # RFC 6120 11.1 restricted XML.
    run(P + 'restricted: DOCTYPE before the root -> restricted-xml',
        raw_error, d, gw.XMLDECL + '<!DOCTYPE stream:stream>' +
        gw.stream_header(IRC, decl=False), 'restricted-xml')
    run(P + 'restricted: DOCTYPE with an entity declaration -> '
        'restricted-xml', raw_error, d, gw.XMLDECL +
        '<!DOCTYPE stream:stream [<!ENTITY x "expanded">]>' +
        gw.stream_header(IRC, decl=False) + MSG + '&x;</message>',
        'restricted-xml')
    run(P + 'restricted: comment before authentication -> restricted-xml',
        preauth_error, d, '<!-- a comment -->', 'restricted-xml')
    run(P + 'restricted: comment after authentication -> restricted-xml',
        postauth_error, d, MSG + '<!-- a comment --></message>',
        'restricted-xml')
    run(P + 'restricted: processing instruction -> restricted-xml',
        postauth_error, d, "<?foo bar?>" + MSG + "</message>",
        'restricted-xml')
    run(P + 'restricted: processing instruction before the root -> '
        'restricted-xml', raw_error, d, gw.XMLDECL + '<?foo bar?>' +
        gw.stream_header(IRC, decl=False), 'restricted-xml')
    run(P + 'restricted: undefined entity &foo; -> restricted-xml',
        postauth_error, d, MSG + '<body>&foo;</body></message>',
        'restricted-xml')
    run(P + 'restricted: predefined entities, character references and '
        'CDATA are fine', postauth_fine, d,
        MSG + "<body>&amp; &lt; &gt; &quot; &apos; &#x41; &#65; "
        "<![CDATA[<b>&not-an-entity;</b>]]></body></message>")

    # Malformed.
    run(P + 'xml: mismatched tags -> not-well-formed', postauth_error, d,
        MSG + '<body></message>', 'not-well-formed')
    run(P + 'xml: unbound prefix -> bad-namespace-prefix', postauth_error, d,
        '<foo:bar/>', 'bad-namespace-prefix')
    run(P + "xml: encoding='ISO-8859-1' -> unsupported-encoding", raw_error,
        d, "<?xml version='1.0' encoding='ISO-8859-1'?>" +
        gw.stream_header(IRC, decl=False), 'unsupported-encoding')
    run(P + 'xml: invalid UTF-8 -> not-well-formed or unsupported-encoding',
        postauth_error, d,
        MSG.encode() + b'<body>\xff\xfe\xc3(</body></message>',
        ['not-well-formed', 'unsupported-encoding'])
    run(P + 'xml: billion laughs -> restricted-xml, daemon stays healthy',
        test_billion_laughs, d)

    # Closing.
    run(P + "close: peer's </stream:stream> answered with ours, closed",
        test_peer_close, d)
    run(P + "close: peer's stream error after auth gets our closing tag",
        test_peer_error, d, True)
    run(P + "close: peer's stream error before the handshake gets our "
        "closing tag", test_peer_error, d, False)
    run(P + 'close: reset mid-handshake leaves the daemon working',
        test_reset, d)
    run(P + 'close: half-close mid-handshake leaves the daemon working',
        test_half_close, d)

    # Input one byte at a time.
    run(P + 'bytewise: whole session authenticates and closes cleanly',
        test_bytewise_session, d)
    run(P + 'bytewise: default namespace jabber:client -> invalid-namespace',
        header_error, d, 'invalid-namespace', bytewise=True, to=IRC,
        xmlns='jabber:client')
    run(P + 'bytewise: to not configured -> host-unknown', header_error, d,
        'host-unknown', bytewise=True, to='unknown.example.org')
    run(P + 'bytewise: wrong secret -> not-authorized', test_bytewise_wrong,
        d)
    run(P + 'bytewise: comment before authentication -> restricted-xml',
        preauth_error, d, '<!-- a comment -->', 'restricted-xml', True)
    run(P + 'bytewise: undefined entity -> restricted-xml', postauth_error,
        d, MSG + '<body>&foo;</body></message>', 'restricted-xml', True)
    run(P + 'bytewise: mismatched tags -> not-well-formed', postauth_error,
        d, MSG + '<body></message>', 'not-well-formed', True)
    run(P + 'bytewise: unbound prefix -> bad-namespace-prefix',
        postauth_error, d, MSG + '<foo:bar/></message>',
        'bad-namespace-prefix', True)
    run(P + 'bytewise: other element -> unsupported-stanza-type',
        postauth_error, d, '<foo/>', 'unsupported-stanza-type', True)

    run(P + 'main: daemon still healthy after all of this', healthy, d)
    stopping(P + 'main', d)


# ---------------------------------------------------------------------------
# Size limits and the handshake timeout

def test_timeouts(d):
    quiet = d.connect()			# sends nothing at all
    header_only = d.connect()		# sends its header only
    header_only.open()
    t0 = time.monotonic()
    p1 = gw.stream_error_problems(header_only, 'connection-timeout', IRC)
    p2 = gw.stream_error_problems(quiet, 'connection-timeout', NOT_FROM)
    took = time.monotonic() - t0
    quiet.close()
    header_only.close()
    expect(not p1, 'header only: %s' % p1)
    expect(not p2, 'nothing sent: %s' % p2)
    expect(0.5 <= took < 2.5, 'timeout after %.2fs with handshake timeout 1'
           % took)


def test_quick_enough(d):
    """With handshake timeout 1 a prompt component still gets in."""
    healthy(d)


def test_long_attr_unfinished(d):
    c = d.connect()
    c.authenticate(IRC_1)
    c.send("<message to='" + 'a' * 20000)
    expect_stream_error(c, 'policy-violation', IRC)


def nested(levels):
    """A message with levels of elements counting the message itself."""
    inner = ''.join('<e%d>' % i for i in range(2, levels + 1))
    outer = ''.join('</e%d>' % i for i in range(levels, 1, -1))
    return '%s%s%s</message>' % (MSG, inner, outer)


def attributes(n, name='message'):
    """An element with n attributes; a stanza's include from and to."""
    if name == 'message':
        return '<message %s %s/>' % (FROM_TO, ' '.join(
            "a%d='%d'" % (i, i) for i in range(n - 2)))
    return '<%s %s/>' % (name, ' '.join("a%d='%d'" % (i, i)
                                        for i in range(n)))


def group_limits():
    d = start('limits', [
        'handshake timeout 1',
        'max preauth size 1024',
        'max stanza size 10000',
        'max depth 4',
        'max attributes 8',
        'handshake failures 1000 per 60 holddown 60',
    ])
    if d is None:
        return
    P = 'stream '
    run(P + 'timeout: header then silence -> connection-timeout; nothing '
        'sent -> header and connection-timeout', test_timeouts, d)
    run(P + 'timeout: a prompt handshake still authenticates',
        test_quick_enough, d)
    run(P + 'preauth: 2000-byte attribute in the header -> policy-violation',
        header_error, d, 'policy-violation', to=IRC,
        attrs="x='%s'" % ('a' * 2000))
    run(P + 'preauth: white space run before the handshake -> '
        'policy-violation', preauth_error, d, ' ' * 2000,
        'policy-violation')
    body = MSG + "<body>%s</body></message>"
    run(P + 'stanza size: 20000-byte body -> policy-violation',
        postauth_error, d, body % ('x' * 20000), 'policy-violation')
    run(P + 'stanza size: a 9000-byte stanza passes', postauth_fine, d,
        body % ('x' * (9000 - len(body % ''))))
    run(P + 'stanza size: a whole 10010-byte stanza in one write -> '
        'policy-violation', postauth_error, d,
        body % ('x' * (10010 - len(body % ''))), 'policy-violation')
    run(P + 'stanza size: 20000-byte attribute in an unfinished start tag '
        '-> policy-violation', test_long_attr_unfinished, d)
    run(P + 'depth: 5 levels counting the stanza -> policy-violation',
        postauth_error, d, nested(5), 'policy-violation')
    run(P + 'depth: 4 levels counting the stanza are fine', postauth_fine, d,
        nested(4))
    run(P + 'attributes: 9 on an element -> policy-violation',
        postauth_error, d, attributes(9), 'policy-violation')
    run(P + 'attributes: 8 on an element are fine', postauth_fine, d,
        attributes(8))
    run(P + 'attributes: 9 on a child element -> policy-violation',
        postauth_error, d, MSG + '%s</message>' %
        attributes(9, 'x'), 'policy-violation')
    run(P + 'limits: daemon still healthy', healthy, d)
    stopping(P + 'limits', d)


# ---------------------------------------------------------------------------
# Connection limits.  Streams authenticated at the same time each use a
# name of their own: two for one name would be a takeover (conflict).

C3 = 'c3.example.org'
C3_1 = gw.new_secret('c3')
LIMIT_SECRETS = SECRETS + [(C3, C3_1)]
LIMIT_COMPONENTS = gw.DEFAULT_COMPONENTS + ['component "%s"' % C3]
NAMES = [(IRC, IRC_1), (BRIDGE, BRIDGE_1), (C3, C3_1)]


def start_limits(name, lines):
    return start(name, lines, secrets=LIMIT_SECRETS,
                 components=LIMIT_COMPONENTS)


def refused(d, host, condition):
    """A connection that sends nothing gets header + condition at once."""
    t0 = time.monotonic()
    c = d.connect(host)
    expect_stream_error(c, condition, NOT_FROM)
    took = time.monotonic() - t0
    expect(took < 1, 'refusal came after %.2fs' % took)
    expect(d.wait_log('connection from %s refused: %s' % (host, condition)),
           'refusal not logged')


def shed(c, domain):
    """c was shed to make room: resource-constraint, from its domain."""
    p = gw.stream_error_problems(c, 'resource-constraint', domain)
    c.close()
    expect(not p, 'the oldest was not shed: %s' % p)


def test_per_address(d, state):
    """Two from one address (2 allowed) wait for their handshakes: a third
    gets in, and the oldest of the two makes room."""
    conns = []
    for name, _ in NAMES[:2]:
        c = d.connect()
        c.open(name, want_from=name)
        conns.append(c)
    c = d.connect()
    c.open(NAMES[2][0], want_from=NAMES[2][0])
    shed(conns[0], NAMES[0][0])
    state['ab'] = [(conns[1], NAMES[1][1]), (c, NAMES[2][1])]
    expect(d.wait_log('room made for a newcomer'), 'shedding not logged')


def test_per_address_v6(d, state):
    need_ipv6(d)
    c = d.connect('::1')
    c.open()
    state['v6'] = c


def test_first_two(d, state):
    expect(len(state.get('ab', ())) == 2, 'the first two did not connect')
    for c, secret in state['ab']:
        expect(c.handshake(secret), 'not authenticated: %s' % c.describe())


def test_unauth_count_drops(d, state):
    c = d.connect()
    c.authenticate(IRC_1, to=IRC)
    gw.orderly_close(c)
    for c, _ in state.get('ab', ()):
        gw.orderly_close(c)
    if 'v6' in state:
        gw.orderly_close(state['v6'])


def test_failed_frees_slot(d, make):
    """Two streams from 127.0.0.1 (2 allowed) refused not-authorized, each
    closed by us once gatewayd has closed: both slots are free again, a
    new stream is accepted (well within the 5 s close grace)."""
    for _ in range(2):
        c = d.connect()
        c.open()
        c.send('<handshake>%s</handshake>' % make(c.stream_id))
        p = gw.stream_error_problems(c, 'not-authorized', IRC)
        c.close()
        expect(not p, p)
    c = accepted_within(d, 1.5)
    expect(c.handshake(IRC_1), 'not authenticated: %s' % c.describe())
    gw.orderly_close(c)


def bad_digest(stream_id):
    v = gw.digest(stream_id, IRC_1)[:39]
    gw.SENT_DIGESTS.add(v)
    return v


def group_per_address():
    d = start_limits('peraddr', ['max unauthenticated 4 per address 2'])
    if d is None:
        return
    P = 'stream '
    state = {}
    run(P + 'limits: 3rd unauthenticated from one address gets in, the '
        'oldest of that address is shed (resource-constraint)',
        test_per_address, d, state)
    run(P + 'limits: per-address count: ::1 accepted meanwhile',
        test_per_address_v6, d, state)
    run(P + 'limits: the other two still authenticate', test_first_two, d,
        state)
    run(P + 'limits: authenticated streams leave the per-address count',
        test_unauth_count_drops, d, state)
    run(P + 'limits: streams refused for a malformed handshake free their '
        'slots once closed', test_failed_frees_slot, d, bad_digest)
    run(P + 'limits: streams refused for a wrong secret free their slots '
        'once closed', test_failed_frees_slot, d,
        lambda i: gw.digest(i, WRONG))
    stopping(P + 'peraddr', d)


def test_total_unauth(d):
    """Four wait for their handshakes (4 allowed): a fifth gets in, the
    oldest makes room."""
    hosts = ['127.0.0.1', '127.0.0.1'] + (['::1', '::1'] if d.ipv6 else
                                          ['127.0.0.1', '127.0.0.1'])
    conns = []
    for h in hosts:
        c = d.connect(h)
        c.open()
        conns.append(c)
    c = d.connect()
    c.open()
    shed(conns.pop(0), IRC)
    expect(c.handshake(IRC_1), 'the newcomer: %s' % c.describe())
    gw.orderly_close(c)
    for c in conns:
        gw.orderly_close(c)


def group_total_unauth():
    d = start_limits('unauth', ['max unauthenticated 4 per address 10'])
    if d is None:
        return
    run('stream limits: 5th unauthenticated (4 allowed) gets in, the '
        'oldest is shed (resource-constraint)', test_total_unauth, d)
    stopping('stream unauth', d)


def test_max_conns(d, state):
    state['conns'] = [d.connect().authenticate(secret, to=name)
                      for name, secret in NAMES]
    refused(d, '127.0.0.1', 'resource-constraint')


def accepted_within(d, seconds, host='127.0.0.1', to=IRC):
    """Polls (bounded) until a new stream is accepted rather than refused
    at once; returns it with the server's header read, or Fail."""
    deadline = time.monotonic() + seconds
    while True:
        c = d.connect(host)
        c.send(c.header(to))
        c.read_until(lambda: c.stream.header is not None and
                     ('from' in c.stream.header or c.eof))
        if c.stream.header is not None and 'from' in c.stream.header:
            c.stream_id = c.stream.header['id']
            return c
        c.close()
        if time.monotonic() >= deadline:
            raise Fail('still refused after %gs: %s' % (seconds,
                                                         c.describe()))
        time.sleep(0.05)


def test_after_close(d, state):
    expect(len(state.get('conns', ())) == 3,
           'the first three did not authenticate')
    conns = state['conns']
    gw.orderly_close(conns.pop(0))		# IRC's
    # The daemon frees the slot when it reads our close.
    c = accepted_within(d, gw.TIMEOUT)
    expect(c.handshake(IRC_1), 'not authenticated: %s' % c.describe())
    conns.append(c)
    for c in conns:
        gw.orderly_close(c)


def group_max_conns():
    d = start_limits('maxconns', ['max connections 3'])
    if d is None:
        return
    state = {}
    run('stream limits: 4th connection with 3 authenticated -> '
        'resource-constraint', test_max_conns, d, state)
    run('stream limits: once one closes a new one is accepted',
        test_after_close, d, state)
    stopping('stream maxconns', d)


# ---------------------------------------------------------------------------
# The handshake-failure throttle

def timed_handshake(d, host, secret, timeout=6):
    c = d.connect(host)
    c.open()
    t0 = time.monotonic()
    good = c.handshake(secret, timeout=timeout)
    took = time.monotonic() - t0
    if good:
        gw.orderly_close(c)
    else:
        p = gw.stream_error_problems(c, 'not-authorized', IRC)
        c.close()
        if p:
            raise Fail('wrong secret: %s' % p)
    return good, took


HOLD = 'authd: 3 failed handshakes from 127.0.0.1: answers to it are ' \
    'delayed for 60 seconds'
HOLD_DOMAIN = 'authd: 3 failed handshakes for irc.example.org from ' \
    '127.0.0.1: answers are delayed for 60 seconds'


def test_before_holddown(d):
    for i in range(2):
        good, took = timed_handshake(d, '127.0.0.1', WRONG)
        expect(not good, 'wrong secret accepted')
        expect(took < 0.5, 'failure %d answered after %.2fs' % (i + 1, took))
    expect(HOLD not in d.log(), 'hold-down after 2 failures')
    good, took = timed_handshake(d, '127.0.0.1', WRONG)
    expect(not good, 'wrong secret accepted')


def test_delayed_wrong(d):
    good, took = timed_handshake(d, '127.0.0.1', WRONG)
    expect(not good, 'wrong secret accepted')
    expect(took >= 0.9, 'answered after %.2fs, not delayed' % took)


def test_logged_once(d):
    expect(d.wait_log(HOLD), 'no "%s"' % HOLD)
    n = d.log_count(HOLD)
    expect(n == 1, 'logged %d times' % n)
    n = d.log_count(HOLD_DOMAIN)
    expect(n == 1, 'per-domain line logged %d times' % n)


def test_delayed_right(d):
    good, took = timed_handshake(d, '127.0.0.1', IRC_2)
    expect(good, 'right secret refused while held down')
    expect(took >= 0.9, 'answered after %.2fs, not delayed' % took)


def test_other_address(d):
    need_ipv6(d)
    good, took = timed_handshake(d, '::1', IRC_1)
    expect(good, 'refused from ::1')
    expect(took < 0.5, '::1 answered after %.2fs' % took)
    good, took = timed_handshake(d, '::1', WRONG)
    expect(not good, 'wrong secret accepted from ::1')
    expect(took < 0.5, 'failure from ::1 answered after %.2fs' % took)


def group_throttle():
    d = start('throttle', ['handshake failures 3 per 60 holddown 60'])
    if d is None:
        return
    P = 'stream throttle: '
    run(P + 'first failures answered at once (< 0.5s)', test_before_holddown,
        d)
    run(P + 'after 3 failures a wrong handshake is answered late (>= 0.9s)',
        test_delayed_wrong, d)
    run(P + 'the hold-down is logged once', test_logged_once, d)
    run(P + 'the right secret still authenticates, late (>= 0.9s)',
        test_delayed_right, d)
    run(P + 'handshakes from ::1 are not delayed', test_other_address, d)
    stopping('stream throttle', d)


def main():
    t0 = time.monotonic()
    # The throttle first: its daemon winds down while the others run.
    group_throttle()
    group_main()
    group_limits()
    group_per_address()
    group_total_unauth()
    group_max_conns()
    for name, d in stops:
        gw.check_stop(name, d)
    gw.check_logs_clean('stream logs: no secret and no digest in any log',
                        daemons)
    print('# %s: %.1fs' % (os.path.basename(__file__),
                           time.monotonic() - t0), flush=True)
    gw.finish()


if __name__ == '__main__':
    main()
