#!/usr/bin/env python3
# Writes the seed corpora of the fuzz targets: python3 mkcorpus.py DIR
# makes DIR/stream, DIR/router and DIR/config (regress/fuzz/corpus is
# its output, kept in the tree).  Each seed is one real session, one
# sequence of router operations or one configuration file.
import os
import sys

NS_C = "jabber:component:accept"
NS_S = "http://etherx.jabber.org/streams"
NS_E = "urn:ietf:params:xml:ns:xmpp-streams"
XD = "<?xml version='1.0'?>"
SS = "<stream:stream xmlns='%s' xmlns:stream='%s'" % (NS_C, NS_S)
HDR = XD + SS + " to='irc.example.org'>"
HS = "<handshake>" + "0123456789abcdef0123" * 2 + "</handshake>"
FT = "from='a@irc.example.org' to='u@example.net'"
CL = "</stream:stream>"

# stream: 4 bytes of PRNG seed (a first byte of 0x80 or more lets the
# engine act from outside; 0x04 in it makes the stream an uplink, one
# gatewayd initiates, to a server; the low 2 bits of the last say how
# the connection ends: 1 the peer closes, 2 a timeout or, on an open
# uplink, stream_finish, 3 a keepalive), then the peer's bytes.
STREAM = {
    "session": "s001" + HDR + HS
    + "<message " + FT + " type='chat'><body>hello</body></message>"
    + "<presence " + FT + "/>"
    + "<iq type='get' id='q1' to='example.net' from='irc.example.org'>"
    "<query xmlns='jabber:iq:version'/></iq> \n" + CL,
    "prefixes": "s002" + XD + SS + " xmlns:foo='urn:x' xml:lang='en'"
    " to='irc.example.org'>" + HS
    + "<message " + FT + "><foo:x/></message>"
    "<message xmlns:foo='urn:y' " + FT + "><foo:x/></message>"
    "<message xml:lang='de' " + FT + "><body>hallo</body></message>" + CL,
    "root-prefix": "s003" + XD + "<s:stream xmlns='" + NS_C
    + "' xmlns:s='" + NS_S + "' to='irc.example.org'>" + HS
    + "<message " + FT + "/></s:stream>",
    "component-prefix": "s004" + XD + SS + " xmlns:c='" + NS_C
    + "' to='irc.example.org'>" + HS + "<c:message " + FT
    + "><c:body>hi</c:body></c:message>" + CL,
    "text": "s005" + HDR + HS + "<message " + FT + "><body>caf\u00e9 "
    "\u65e5\u672c &amp;&lt;&gt;&quot;&apos; &#x41;&#66; "
    "<![CDATA[<b>x</b>]]></body></message>" + CL,
    "invalid-from": "s006" + HDR + HS
    + "<message from='a@bridge.example.org' to='u@example.net'/>",
    "peer-error": "s007" + HDR + HS + "<stream:error><undefined-condition"
    " xmlns='" + NS_E + "'/></stream:error>",
    "bad-header": "s008" + XD + "<stream:stream xmlns='jabber:client' "
    "xmlns:stream='" + NS_S + "' to='irc.example.org'>",
    "restricted": "s009" + HDR + HS + "<message " + FT
    + "><!-- c --></message>",
    "doctype": "s00:" + XD + "<!DOCTYPE stream:stream [<!ENTITY x 'y'>]>"
    + SS + " to='irc.example.org'>",
    "deep": "s00;" + HDR + HS + "<message " + FT + ">" + "<e>" * 31
    + "</e>" * 31 + "</message>" + "<message " + FT + "><body>"
    + "x" * 2000 + "</body></message>" + CL,
    "handshake-bad": "s00<" + HDR + "<handshake>xyz</handshake>",
    "events": "\x80\x00\x00\x01" + HDR + HS + (("<message " + FT
    + "><body>%d</body></message> ") * 8) % tuple(range(8)) + CL,
    "unknown-host": "s00=" + XD + SS + " to='unknown.example.org'>",
    "big-stanza": "s00>" + HDR + HS + "<message " + FT + "><body>"
    + "x" * 9900 + "</body></message>" + CL,
    "big-header": "s00?" + XD + SS + " to='irc.example.org' x='"
    + "y" * 4100 + "'>" + HS,
}

# stream, uplinks (first byte 'u': 0x04 set): the server's side, which
# answers our header with its own (an id, from if it says our name),
# takes our handshake with <handshake/>, then sends stanzas from anyone.
SS_P = ("<stream:stream xmlns:stream='%s' xmlns='%s'" % (NS_S, NS_C))
ID_P = "5a1f0e0b-9c3d-4b7e-8f21-6d4c3b2a1908"
# Prosody: its header with id and from, in its attribute order.
SHDR = XD + SS_P + " id='" + ID_P + "' from='irc.example.org'>"
# ejabberd: xml:lang and a numeric id.
SHDR_E = (XD + SS + " xml:lang='en' id='12843698756045453063'"
          " from='irc.example.org'>")
SOK = "<handshake/>"
UFT = "from='u@example.net/r' to='a@irc.example.org'"
SERR = ("<stream:error><not-authorized xmlns='%s'/><text xmlns='%s'>"
        "bad secret</text></stream:error>" % (NS_E, NS_E))
STREAM.update({
    "uplink-prosody": "u011" + SHDR + SOK
    + "<message " + UFT + " type='chat' id='m1'><body>hi</body></message>"
    "<presence from='v@[2001:db8::1]/x' to='irc.example.org'/> "
    "<iq type='get' id='q2' from='example.net' to='a@irc.example.org/r'>"
    "<query xmlns='jabber:iq:version'/></iq>\n"
    "<message from='w@xn--caf-dma.example' to='b@irc.example.org'>"
    "<body>caf\u00e9 &amp;&lt;</body></message>" + CL,
    "uplink-ejabberd": "u012" + SHDR_E + " " + SOK
    + "<message " + UFT + "><body>hi</body></message>"
    "<message xml:lang='de' " + UFT + "><body>hallo</body></message>"
    "<presence from='192.0.2.7' to='irc.example.org' type='probe'/>",
    "uplink-prefixes": "u013" + XD + "<s:stream xmlns='" + NS_C
    + "' xmlns:s='" + NS_S + "' xmlns:foo='urn:x' id='p1'"
    " from='IRC.Example.ORG.'><handshake xmlns:foo='urn:h'/>"
    "<message " + UFT + "><foo:x/></message>"
    "<message xmlns:foo='urn:y' " + UFT + "><foo:x/></message></s:stream>",
    "uplink-events": "\x84\x00\x00\x01" + SHDR + SOK + (("<message "
    + UFT + "><body>%d</body></message> ") * 8) % tuple(range(8)) + CL,
    "uplink-long-id": "u014" + XD + SS + " id='" + "0123456789abcdef" * 15
    + "a&amp;&#x42;" + "x" * 12 + "'>" + SOK + CL,
    "uplink-big-stanza": "u015" + SHDR + SOK + "<message " + UFT
    + "><body>" + "x" * 9900 + "</body></message>" + CL,
    "uplink-error": "u010" + SHDR + SERR + CL,
    "uplink-no-id": "u011" + XD + SS + " from='irc.example.org'>" + SOK,
    "uplink-empty-id": "u011" + XD + SS + " id='' from='irc.example.org'>"
    + SOK,
    "uplink-id-too-long": "u011" + XD + SS + " id='" + "0123456789abcdef"
    * 16 + "'>" + SOK,
    "uplink-wrong-from": "u011" + XD + SS
    + " from='bridge.example.org' id='x1'>" + SOK,
    "uplink-early-stanza": "u011" + SHDR + "<message " + UFT
    + "><body>hi</body></message>" + SOK,
    "uplink-second-handshake": "u011" + SHDR + SOK + "<message " + UFT
    + "/>" + SOK,
})

# router: operations, one byte each and their arguments; see op_one in
# router_fuzz.c.  The helpers find bytes that decode as wanted.
BINDS = ["a.example", "b.example", "c.example", "d.example",
         "def.example", "alias-a.example", "nope.example"]
HDRS = ["", "foo", "lang", "foo lang", "c", "q"]
DOMS = ["a.example", "alias-a.example", "a2.example", "b.example",
        "alias-b.example", "c.example", "d.example", "alias-d.example",
        "def.example", "nope.example", "A.EXAMPLE.", "Alias-B.Example",
        "192.0.2.1", "[2001:db8::1]", "b..example", "x.nope.example"]
LOCALS = [None, "u", "user", "a&b", "x<y", "q'"]
RES = [None, "r", "r/x", "\"q\""]
TYPES = [None, "chat", "error", "result", "get", "set", "unavailable"]
EXTRAS = ["", "lang", "foo", "other", "c"]


def find(pred):
    return next(b for b in range(256) if pred(b))


def connect(slot, bind, hdr=""):
    b = find(lambda b: b % 7 == BINDS.index(bind) and
             (b // 8) % 6 == HDRS.index(hdr))
    return bytes([0, slot, b])


def jid(dom, local="u", res=None, mine=False):
    b = find(lambda b: b >= 12 and b % 6 == LOCALS.index(local) and
             (b // 8) % 4 == RES.index(res))
    # Mine: the stream's own name, whatever the table says.
    d = find(lambda d: d % 16 == DOMS.index(dom) and
             bool(d & 0x80) == mine)
    return bytes([b, d])


def string(s):
    s = s.encode()
    return bytes([len(s)]) + s


def stanza(slot, frm, to, kind=0, type_=None, extra="", payload="",
           c=False, ident=False):
    k = find(lambda k: k % 3 == kind and bool(k & 0x10) == c and
             not k & 0x60)
    t = find(lambda t: t % 7 == TYPES.index(type_) and
             bool(t & 0x80) == ident and (t // 8) % 5 == EXTRAS.index(extra))
    return bytes([2, slot, k, t]) + frm + to + string(payload)


def raw(slot, s):
    return bytes([5, slot]) + string(s)


def op(code, *args):
    return bytes([code] + list(args))


A = jid("a.example", mine=True)
B = jid("b.example", mine=True)
BODY = "<body>hi</body>"
ROUTER = {
    "deliver": connect(0, "a.example") + connect(1, "b.example")
    + stanza(0, A, jid("b.example", "user", "r"), type_="chat", payload=BODY)
    + stanza(1, B, jid("alias-a.example", "user"), kind=2, type_="get",
             payload="<q xmlns='urn:q'/>", ident=True)
    + op(10, 0) + op(10, 1),
    "bounces": connect(0, "a.example", "foo") + connect(4, "def.example")
    + stanza(0, A, jid("d.example"), payload="<foo:x/>", ident=True)
    + stanza(0, A, jid("nope.example"), payload=BODY)
    + stanza(0, A, jid("b..example"), kind=1)
    + stanza(0, A, jid("192.0.2.1"), type_="error")
    + stanza(0, A, jid("d.example"), kind=2, type_="result"),
    "backpressure": connect(0, "a.example") + connect(1, "b.example")
    + op(6, 1, 6) + stanza(0, A, jid("b.example"), payload=BODY)
    + op(7, 1) + stanza(0, A, jid("b.example"), payload=BODY),
    "stalled": connect(0, "a.example") + connect(1, "b.example")
    + connect(2, "c.example") + stanza(0, A, jid("b.example"), payload=BODY)
    + op(6, 1, 6) + stanza(2, jid("c.example", mine=True),
                           jid("b.example"), payload=BODY) + op(9, 1),
    "takeover": connect(0, "a.example") + connect(1, "a.example")
    + connect(2, "a.example") + connect(3, "a.example") + op(13, 200)
    + connect(4, "a.example") + connect(5, "c.example")
    + op(10, 5) + connect(5, "c.example"),
    "reload": connect(0, "a.example") + connect(1, "b.example")
    + connect(2, "c.example") + op(12, 0x1d, 0x00, 0x0c)
    + stanza(0, A, jid("b.example"), payload=BODY)
    + op(12, 0x1f, 0x04, 0x04) + connect(1, "b.example")
    + stanza(0, A, jid("alias-b.example"), payload=BODY),
    "raw": connect(0, "a.example") + connect(3, "d.example", "lang")
    + raw(3, "<iq type='set' id='x' from='d.example' to='u@a.example'>"
          "<q xmlns='urn:q'>x</q></iq>")
    + raw(0, "<presence from='u@a.example/r' to='v@c.example'/>"),
    "prefixed": connect(0, "a.example", "c") + connect(1, "b.example")
    + stanza(0, A, jid("b.example"), c=True, payload="<c:body>x</c:body>")
    + stanza(0, A, jid("d.example"), c=True, payload="<c:body>x</c:body>"),
    "self-full": connect(0, "a.example") + op(6, 0, 6)
    + stanza(0, A, jid("d.example"), payload=BODY) + op(8, 0)
    + stanza(0, A, jid("a.example"), payload=BODY) + op(11, 0),
}

SECRETS = 'secrets "/tmp/fuzz-secrets"\n'
CONFIG = {
    "minimal": SECRETS + 'component "a.example.org"\n',
    "example": "# gatewayd.conf(5)\nlisten on 127.0.0.1 port 5347\n"
    "listen on ::1 port 5347\nuser \"_gatewayd\"\nchroot \"/var/empty\"\n"
    + SECRETS + 'component "a.example.org" {\n\talias "a2.example.org"\n'
    '\tdefault route\n\ton conflict reject\n\tmax stanza size 64K\n}\n',
    "macros": 'addr = "127.0.0.1"\nport_no = 5400\n'
    'cname = "A.Example.ORG."\nlisten on $addr port $port_no\n'
    'listen on [::1] \\\n\tport 5401\n' + SECRETS + "component $cname\n",
    "limits": SECRETS + "max connections 50\nmax stanza size 64K\n"
    "handshake timeout 5\nidle timeout 600\n"
    "max unauthenticated 10 per address 2\nmax preauth size 2048\n"
    "max depth 8\nmax attributes 16\nname \"GW.Example.ORG\"\n"
    "max queue size 256K\nqueue timeout 10\n"
    "max takeovers 3 per 20 holddown 30\n"
    "handshake failures 3 per 30 holddown 120\n"
    'component "a.example.org" { alias "b.example.org" on conflict '
    'replace }\n',
    "include": SECRETS + 'include "inc.conf"\ncomponent "a.example.org"\n',
    "errors": "listen on 127.0.0.1 port 99999\nfrobnicate\nuser \"\"\n"
    "max stanza size 12Q\nlisten on $undefined\n"
    'component "Bad..Name" {\n\talias "a.example.org"\n\tunknown option\n'
    '}\ncomponent "a.example.org"\ninclude "missing.inc"\n'
    'secrets "open.secrets"\nname "not a name"\n',
    "bad-secrets": 'secrets "open.secrets"\ncomponent "a.example.org"\n',
    "quoting": SECRETS + "x = \"a.example.org\"\n"
    "component 'a.example.org' { }\ncomponent \"q\\\"x\" \n# comment\n",
}


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else "corpus"
    for name, seeds in (("stream", STREAM), ("router", ROUTER),
                        ("config", CONFIG)):
        d = os.path.join(top, name)
        os.makedirs(d, exist_ok=True)
        for seed, data in seeds.items():
            if isinstance(data, str):
                data = data.encode("latin-1" if name == "stream" and
                                   ord(data[0]) >= 0x80 else "utf-8")
            with open(os.path.join(d, seed), "wb") as f:
                f.write(data)


main()
