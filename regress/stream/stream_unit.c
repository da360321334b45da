/*
 * Copyright (c) 2026 The gatewayd developers
 *
 * Permission to use, copy, modify, and distribute this software for any
 * purpose with or without fee is hereby granted, provided that the above
 * copyright notice and this permission notice appear in all copies.
 *
 * THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
 * WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
 * MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
 * ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
 * WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
 * ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
 * OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
 */

/*
 * The stream layer (gatewayd/stream.c) without a socket or a daemon: the
 * inputs of stream_test.py and some more, each fed whole, a byte at a
 * time and in random splits, through a harness that keeps the input as
 * the connection layer does (from the offset stream_input returns) and
 * answers for authd and the router.  Every way must give the same
 * outcome and the same stanza bytes, also when stanzas are held, when
 * the stream pauses after each, and when it rests whenever it can.  The
 * cases marked F_INIT are of a stream gatewayd initiates (stream_initiate,
 * to a server, for irc.example.org): the harness answers for authd with
 * stream_digest and plays the router of an uplink.  One "ok" or "not ok"
 * line a check; -v leaves the stream's log on stderr.
 */

#include <sys/types.h>

#include <err.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <openssl/evp.h>

#include "log.h"
#include "stream.h"

#define NS_C		"jabber:component:accept"
#define NS_S		"http://etherx.jabber.org/streams"
#define NS_E		"urn:ietf:params:xml:ns:xmpp-streams"
#define IRC		"irc.example.org"
#define BRIDGE		"bridge.example.org"
#define STREAMID	"0123456789abcdef0123456789abcdef"

/* The peer's side, as in stream_test.py. */
#define XD		"<?xml version='1.0'?>"
#define SS		"<stream:stream xmlns='" NS_C "' " \
			"xmlns:stream='" NS_S "'"
#define HDRN		SS " to='" IRC "'>"
#define HDR		XD HDRN
#define AUTH		HDR "{K1}"
#define FT		"from='a@irc.example.org' to='u@example.net'"
#define MSG		"<message " FT ">"
#define EM		"</message>"
#define CL		"</stream:stream>"
#define PERR		"<stream:error><undefined-condition xmlns='" NS_E \
			"'/></stream:error>"
#define S1		"<message to='u@example.net' " \
			"from='a@irc.example.org'>" \
			"<body>caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac " \
			"\xf0\x9f\x98\x80 &amp;&lt;&gt;&quot;&apos; " \
			"&#x41;&#66;</body></message>"
#define S2		"<presence from='a@irc.example.org' " \
			"to='u@example.net'>" \
			"<status>\xc3\xbc" "ber</status></presence>"
#define S3		"<iq type='result' id='x' from='irc.example.org' " \
			"to='example.net'/>"
#define X10(s)		s s s s s s s s s s
#define LOLS		"<!ENTITY lol \"lol\"><!ENTITY lol1 \"" X10("&lol;") \
			"\"><!ENTITY lol2 \"" X10("&lol1;") \
			"\"><!ENTITY lol3 \"" X10("&lol2;") \
			"\"><!ENTITY lol4 \"" X10("&lol3;") \
			"\"><!ENTITY lol5 \"" X10("&lol4;") \
			"\"><!ENTITY lol6 \"" X10("&lol5;") \
			"\"><!ENTITY lol7 \"" X10("&lol6;") \
			"\"><!ENTITY lol8 \"" X10("&lol7;") \
			"\"><!ENTITY lol9 \"" X10("&lol8;") "\">"
#define A6		" a0='0' a1='1' a2='2' a3='3' a4='4' a5='5'"
#define IQ		"<iq type='get' id='q1' to='example.net' from='" IRC \
			"'><query xmlns='jabber:iq:version'/></iq>"
#define ENTS		"<body>&amp; &lt; &gt; &quot; &apos; &#x41; &#65; " \
			"<![CDATA[<b>&not-an-entity;</b>]]></body>"
#define FOO		" xmlns:foo='urn:x'"
#define PFX		XD SS FOO " to='" IRC "'>{K1}"
#define SDECL		" xmlns:s='" NS_S "'"
#define SROOT		XD "<s:stream xmlns='" NS_C "'" SDECL " to='" IRC \
			"'>{K1}"

/* A server's side of a stream we initiate (F_INIT): its header, id SID. */
#define SID		"c2a9-41f7 server id"
#define SFI		" from='" IRC "' id='" SID "'"
#define SHDRN		SS SFI ">"
#define SHDR		XD SHDRN
#define SAUTH		SHDR "<handshake/>"
#define UFT		"from='u@example.net/r' to='a@irc.example.org'"
#define UMSG		"<message " UFT ">"
#define UPRES		"<presence from='v@example.net' to='" IRC "'/>"
#define UIQ		"<iq type='get' id='q2' from='example.net' to='a@" IRC \
			"/r'><query xmlns='jabber:iq:version'/></iq>"
#define SERR		"<stream:error><not-authorized xmlns='" NS_E "'/>" \
			"<text xmlns='" NS_E "'>bad secret</text>" \
			"</stream:error>"
#define X16		"0123456789abcdef"
#define X64		X16 X16 X16 X16
#define ID255		X64 X64 X64 X16 X16 X16 "0123456789abcde"
#define L16		"abcdefghijklmno."
#define L64		L16 L16 L16 L16
#define LONGNAME	L64 L64 L64 L16 L16 L16 IRC	/* 255 octets */
#define UPSECRET	"upstream-e41b9d"

/* Outcomes: from, auth, cond, closed, stanzas, hdr_decls. */
#define NOST		{ NULL }, NULL
#define OK		IRC, 1, NULL, 1, NOST	/* open, closed by the peer */
#define ERRH(c)		NULL, 0, c, 1, NOST	/* error on the header */
#define ERRP(c)		IRC, 0, c, 1, NOST	/* before authentication */
#define ERRA(c)		IRC, 1, c, 1, NOST	/* after */
/* F_INIT: the id server_id got, the server's <handshake/> taken. */
#define IOK		SID, 1, NULL, 1, NOST	/* open, closed by the server */
#define IERRP(c)	SID, 0, c, 1, NOST	/* before its <handshake/> */
#define IERRA(c)	SID, 1, c, 1, NOST	/* after */

/* Ours. */
#define OUR_HDR		XD SS
#define ERR_HEAD	"<stream:error><"
#define ERR_TAIL	" xmlns='" NS_E "'/></stream:error>"
/* Ours to a server, spelled out. */
#define OUR_INIT	"<?xml version='1.0'?><stream:stream " \
			"xmlns='jabber:component:accept' " \
			"xmlns:stream='http://etherx.jabber.org/streams' " \
			"to='irc.example.org'>"

#define F_PEERCLOSE	0x001	/* then stream_peer_closed */
#define F_TIMEOUT	0x002	/* then stream_error connection-timeout */
#define F_KEEPALIVE	0x004	/* then stream_keepalive: a space */
#define F_NOECHO	0x008	/* unknown.example.org never in the output */
#define F_IDFAIL	0x010	/* want_id fails */
#define F_HSFAIL	0x020	/* handshake fails */
#define F_MAXST		0x040	/* stream_set_max_stanza 200 once open */
#define F_SMALL		0x080	/* the limits group's limits */
#define F_INIT		0x100	/* stream_initiate IRC first */

#define M_HOLD		0x01	/* every stanza STANZA_HOLD first */
#define M_PAUSE		0x02	/* every stanza STANZA_DONE_PAUSE */
#define M_REST		0x04	/* stream_rest whenever the engine would */

#define NSEEDS		20
#define MAXMARKS	8
#define MAXSTANZAS	6
#define SEP		'\036'	/* between recorded stanzas */
#define PHASE		((size_t)1 << (sizeof(size_t) * 8 - 1))

enum { P_NONE, P_ID, P_VERDICT, P_GO, P_DIGEST };

struct tcase {
	const char	*name;
	int		 flags;
	const char	*in;		/* a template: see expand */
	const char	*from;		/* our header's; NULL: none */
					/* F_INIT: what server_id got */
	int		 auth;		/* <handshake/> sent */
					/* F_INIT: the server's taken */
	const char	*cond;		/* "a|b"; NULL: no stream error */
	int		 closed;	/* our closing tag (implied by cond) */
	const char	*st[MAXSTANZAS];	/* as forwarded: with decls */
	const char	*hdr;		/* every stanza's hdr_decls */
};

struct buf {
	char	*p;
	size_t	 len, cap;
};

struct input {
	struct buf	 b;
	size_t		 marks[MAXMARKS];	/* offsets, | PHASE */
	size_t		 nmarks;
	struct buf	 exp[MAXSTANZAS];
	size_t		 nexp;
};

struct outcome {
	int	 header, auth, closed;
	char	 from[GW_SERVER_ID_MAX];
	char	 cond[64];
};

struct run {
	const struct tcase	*tc;
	int			 mode;
	struct stream		*st;
	struct buf		 out, stanzas, heads, held, kept, log;
	uint64_t		 kbase;		/* offset of kept.p[0] */
	char			 domain[GW_NAME_MAX];
	char			 why[768];	/* the first problem */
	int			 pend, verdict, resting;
	int			 want_id, hs, nst, closing, holding, started;
	/* Initiating: server_id calls, digests given, accepted calls. */
	int			 sids, digests, accepted;
	char			 sid[GW_SERVER_ID_MAX];
	char			 hex[2 * GW_DIGEST_LEN + 1];
	enum stanza_kind	 kind;
	struct outcome		 o;
	char			 sum[512];
};

static void	problem(struct run *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	report(const char *, const char *, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));

static const struct stream_limits lim_main = { 4096, 10000, 32, 64 };
static const struct stream_limits lim_small = { 1024, 10000, 4, 8 };

static const char *secrets[][2] = {
	{ IRC, "irc-one-7f3a9c" },
	{ IRC, "irc-two-b41d0e" },
	{ BRIDGE, "bridge-5c2e81" },
	{ "", "wrong-93be0a" }
};

static struct {
	const char	*name;
	char		*value;
} tokens[12];
static size_t		 ntokens;
static int		 nchecks, nfailed, finished;
static unsigned int	 pauses, pauses_unseen;
static const char	*current = "start";
static FILE		*logfp, *errfp;

static const struct tcase cases[] = {
	/* Headers and secrets. */
	{ "header and auth: right secret authenticates", 0, AUTH CL, OK },
	{ "secrets: second secret of a domain authenticates (rotation)", 0,
	  HDR "{K2}" CL, OK },
	{ "secrets: another component with its own secret", 0,
	  XD SS " to='" BRIDGE "'>{KB}" CL, BRIDGE, 1, NULL, 1, NOST },
	{ "secrets: wrong secret -> not-authorized", 0, HDR "{KW}",
	  ERRP("not-authorized") },
	{ "secrets: secret of another component -> not-authorized", 0,
	  HDR "{KB}", ERRP("not-authorized") },
	{ "header: stream root in another namespace -> invalid-namespace", 0,
	  XD "<stream:stream xmlns='" NS_C "' xmlns:stream='http://example."
	  "com/streams' to='" IRC "'>", ERRH("invalid-namespace") },
	{ "header: root other than stream -> invalid-namespace", 0,
	  XD "<stream:foo xmlns='" NS_C "' xmlns:stream='" NS_S "' to='" IRC
	  "'>", ERRH("invalid-namespace") },
	{ "header: unprefixed root other than stream -> invalid-namespace",
	  0, XD "<component xmlns='" NS_C "' to='" IRC "'>",
	  ERRH("invalid-namespace") },
	{ "header: default namespace jabber:client -> invalid-namespace", 0,
	  XD "<stream:stream xmlns='jabber:client' xmlns:stream='" NS_S
	  "' to='" IRC "'>", ERRH("invalid-namespace") },
	{ "header: no default namespace -> invalid-namespace", 0,
	  XD "<stream:stream xmlns:stream='" NS_S "' to='" IRC "'>",
	  ERRH("invalid-namespace") },
	{ "header: no to -> improper-addressing", 0, XD SS ">",
	  ERRH("improper-addressing") },
	{ "header: empty to -> improper-addressing", 0, XD SS " to=''>",
	  ERRH("improper-addressing") },
	{ "header: to with a localpart -> improper-addressing", 0,
	  XD SS " to='a@" IRC "'>", ERRH("improper-addressing") },
	{ "header: to with a resource -> improper-addressing", 0,
	  XD SS " to='" IRC "/x'>", ERRH("improper-addressing") },
	{ "header: to not a domain (bad..name) -> improper-addressing", 0,
	  XD SS " to='bad..name'>", ERRH("improper-addressing") },
	{ "header: to not configured -> host-unknown, name not echoed",
	  F_NOECHO, XD SS " to='unknown.example.org'>",
	  ERRH("host-unknown") },
	{ "header: an alias is no stream name -> host-unknown", 0,
	  XD SS " to='irc2.example.org'>", ERRH("host-unknown") },
	{ "header: to in other case with a trailing dot is accepted", 0,
	  XD SS " to='IRC.Example.ORG.'>{K1}" CL, OK },
	{ "header: version='2.0' -> unsupported-version", 0,
	  XD SS " to='" IRC "' version='2.0'>", ERRH("unsupported-version") },
	{ "header: version='1.0' accepted, no version in the reply", 0,
	  XD SS " to='" IRC "' version='1.0'>{K1}" CL, OK },
	{ "header: encoding='utf-8' accepted", 0,
	  "<?xml version='1.0' encoding='utf-8'?>" HDRN "{K1}" CL, OK },
	{ "header: no XML declaration accepted", 0, HDRN "{K1}" CL, OK },
	{ "header: want_id fails -> internal-server-error", F_IDFAIL, HDR,
	  ERRH("internal-server-error") },

	/* Handshakes. */
	{ "handshake: a message first -> not-authorized", 0,
	  HDR "<message to='u@example.net'><body>hi</body></message>",
	  ERRP("not-authorized") },
	{ "handshake: with a child element -> not-authorized", 0,
	  HDR "<handshake>{D1}<x/></handshake>", ERRP("not-authorized") },
	{ "handshake: 39 hex digits -> not-authorized", 0,
	  HDR "<handshake>{d1}</handshake>", ERRP("not-authorized") },
	{ "handshake: 41 hex digits -> not-authorized", 0,
	  HDR "<handshake>{D1}0</handshake>", ERRP("not-authorized") },
	{ "handshake: not hex -> not-authorized", 0,
	  HDR "<handshake>{G1}</handshake>", ERRP("not-authorized") },
	{ "handshake: white space around the digits -> not-authorized", 0,
	  HDR "<handshake> {D1}\n</handshake>", ERRP("not-authorized") },
	{ "handshake: empty -> not-authorized", 0, HDR "<handshake/>",
	  ERRP("not-authorized") },
	{ "handshake: uppercase hex digest authenticates", 0,
	  HDR "<handshake>{U1}</handshake>" CL, OK },
	{ "handshake: a second one after success -> bad-format", 0,
	  AUTH "{K1}", ERRA("bad-format") },
	{ "handshake: the handshake op fails -> internal-server-error",
	  F_HSFAIL, AUTH, ERRP("internal-server-error") },

	/* Stanzas. */
	{ "stanzas: other element after auth -> unsupported-stanza-type", 0,
	  AUTH "<foo to='u@example.net'/>", ERRA("unsupported-stanza-type") },
	{ "stanzas: message, presence and iq accepted, stream stays open", 0,
	  AUTH "<message " FT " type='chat'><body>hello</body></message>"
	  "<presence " FT "/>" IQ " " MSG "<body>last</body>" EM CL, IRC, 1,
	  NULL, 1, { "<message " FT " type='chat'><body>hello</body>" EM,
	  "<presence " FT "/>", IQ, MSG "<body>last</body>" EM }, NULL },
	{ "stanzas: from another component -> invalid-from", 0,
	  AUTH "<message from='a@bridge.example.org' to='u@example.net'/>",
	  ERRA("invalid-from") },
	{ "stanzas: no from -> improper-addressing", 0,
	  AUTH "<message to='u@example.net'/>", ERRA("improper-addressing") },
	{ "stanzas: no to -> improper-addressing", 0,
	  AUTH "<message from='a@irc.example.org'/>",
	  ERRA("improper-addressing") },
	{ "stanzas: text between stanzas -> bad-format", 0,
	  AUTH MSG EM "hello", IRC, 1, "bad-format", 1, { MSG EM }, NULL },
	{ "stanzas: text before the handshake -> bad-format", 0,
	  HDR "hello", ERRP("bad-format") },
	{ "stanzas: stream_set_max_stanza 200: a 377-byte stanza -> "
	  "policy-violation", F_MAXST, AUTH MSG "<body>{*100x}</body>" EM
	  MSG "<body>{*300x}</body>" EM, IRC, 1, "policy-violation", 1,
	  { MSG "<body>{*100x}</body>" EM }, NULL },

	/* RFC 6120 11.1 restricted XML. */
	{ "restricted: DOCTYPE before the root -> restricted-xml", 0,
	  XD "<!DOCTYPE stream:stream>" HDRN, ERRH("restricted-xml") },
	{ "restricted: DOCTYPE with an entity declaration -> restricted-xml",
	  0, XD "<!DOCTYPE stream:stream [<!ENTITY x \"expanded\">]>" HDRN
	  MSG "&x;" EM, ERRH("restricted-xml") },
	{ "restricted: comment before authentication -> restricted-xml", 0,
	  HDR "<!-- a comment -->", ERRP("restricted-xml") },
	{ "restricted: comment after authentication -> restricted-xml", 0,
	  AUTH MSG "<!-- a comment -->" EM, ERRA("restricted-xml") },
	{ "restricted: processing instruction -> restricted-xml", 0,
	  AUTH "<?foo bar?>" MSG EM, ERRA("restricted-xml") },
	{ "restricted: processing instruction before the root -> "
	  "restricted-xml", 0, XD "<?foo bar?>" HDRN, ERRH("restricted-xml") },
	{ "restricted: undefined entity &foo; -> restricted-xml", 0,
	  AUTH MSG "<body>&foo;</body>" EM, ERRA("restricted-xml") },
	{ "restricted: predefined entities, character references and CDATA "
	  "are fine", 0, AUTH MSG ENTS EM CL, IRC, 1, NULL, 1,
	  { MSG ENTS EM }, NULL },
	{ "restricted: billion laughs -> restricted-xml", 0,
	  XD "<!DOCTYPE stream:stream [" LOLS "]>" HDRN "<message><body>&lol9;"
	  "</body></message>", ERRH("restricted-xml") },

	/* Malformed. */
	{ "xml: mismatched tags -> not-well-formed", 0,
	  AUTH MSG "<body>" EM, ERRA("not-well-formed") },
	{ "xml: unbound prefix -> bad-namespace-prefix", 0,
	  AUTH "<foo:bar/>", ERRA("bad-namespace-prefix") },
	{ "xml: unbound prefix inside a stanza -> bad-namespace-prefix", 0,
	  AUTH MSG "<foo:bar/>" EM, ERRA("bad-namespace-prefix") },
	{ "xml: encoding='ISO-8859-1' -> unsupported-encoding", 0,
	  "<?xml version='1.0' encoding='ISO-8859-1'?>" HDRN,
	  ERRH("unsupported-encoding") },
	{ "xml: invalid UTF-8 -> not-well-formed or unsupported-encoding", 0,
	  AUTH MSG "<body>\xff\xfe\xc3(</body>" EM,
	  ERRA("not-well-formed|unsupported-encoding") },

	/* Closing. */
	{ "close: peer's </stream:stream> answered with ours", 0, AUTH CL,
	  OK },
	{ "close: peer's closing tag right after its header", 0, HDR CL, IRC,
	  0, NULL, 1, NOST },
	{ "close: peer's stream error after auth gets our closing tag", 0,
	  AUTH PERR, OK },
	{ "close: peer's stream error before the handshake gets our closing "
	  "tag", 0, HDR PERR, IRC, 0, NULL, 1, NOST },
	{ "close: reset mid-handshake", 0, HDR "<handshake>0123456789", IRC,
	  0, NULL, 0, NOST },
	{ "close: half-close mid-handshake", F_PEERCLOSE,
	  HDR "<handshake>0123456789", IRC, 0, NULL, 1, NOST },
	{ "close: peer closes before sending anything", F_PEERCLOSE, "", NULL,
	  0, NULL, 1, NOST },
	{ "close: input after the closing tag is ignored", 0,
	  AUTH MSG "<body>1</body>" EM CL MSG "<body>2</body>" EM "junk<<",
	  IRC, 1, NULL, 1, { MSG "<body>1</body>" EM }, NULL },
	{ "close: connection-timeout after the header", F_TIMEOUT, HDR,
	  ERRP("connection-timeout") },
	{ "close: connection-timeout with nothing sent", F_TIMEOUT, "",
	  ERRH("connection-timeout") },
	{ "close: keepalive on an open stream is a space", F_KEEPALIVE, AUTH,
	  IRC, 1, NULL, 0, NOST },

	/* The bytewise session: UTF-8 text split everywhere. */
	{ "bytewise: whole session authenticates and closes cleanly", 0,
	  AUTH S1 S2 "\n" S3 CL, IRC, 1, NULL, 1, { S1, S2, S3 }, NULL },

	/*
	 * The limits group.  Where a big stanza follows the handshake the
	 * peer waits for <handshake/> ({|}) as stream_test.py does: bytes
	 * sent before authentication count against max_preauth.
	 */
	{ "preauth: 2000-byte attribute in the header -> policy-violation",
	  F_SMALL, XD SS " to='" IRC "' x='{*2000a}'>",
	  ERRH("policy-violation") },
	{ "preauth: white space run before the handshake -> "
	  "policy-violation", F_SMALL, HDR "{*2000 }",
	  ERRP("policy-violation") },
	{ "stanza size: 20000-byte body -> policy-violation", F_SMALL,
	  AUTH "{|}" MSG "<body>{*20000x}</body>" EM,
	  ERRA("policy-violation") },
	{ "stanza size: a 10200-byte stanza in one read -> policy-violation",
	  F_SMALL, AUTH "{|}" MSG "<body>{*10124x}</body>" EM CL,
	  ERRA("policy-violation") },
	{ "stanza size: a 9000-byte stanza passes", F_SMALL,
	  AUTH "{|}" MSG "<body>{*8900x}</body>" EM CL, IRC, 1, NULL, 1,
	  { MSG "<body>{*8900x}</body>" EM }, NULL },
	{ "stanza size: 20000-byte attribute in an unfinished start tag -> "
	  "policy-violation", F_SMALL, AUTH "{|}<message to='{*20000a}",
	  ERRA("policy-violation") },
	{ "depth: 5 levels counting the stanza -> policy-violation", F_SMALL,
	  AUTH MSG "<e2><e3><e4><e5></e5></e4></e3></e2>" EM,
	  ERRA("policy-violation") },
	{ "depth: 4 levels counting the stanza are fine", F_SMALL,
	  AUTH MSG "<e2><e3><e4></e4></e3></e2>" EM CL, IRC, 1, NULL, 1,
	  { MSG "<e2><e3><e4></e4></e3></e2>" EM }, NULL },
	{ "attributes: 9 on an element -> policy-violation", F_SMALL,
	  AUTH "<message " FT A6 " a6='6'/>", ERRA("policy-violation") },
	{ "attributes: 8 on an element are fine", F_SMALL,
	  AUTH "<message " FT A6 "/>" CL, IRC, 1, NULL, 1,
	  { "<message " FT A6 "/>" }, NULL },
	{ "attributes: 9 on a child element -> policy-violation", F_SMALL,
	  AUTH MSG "<x" A6 " a6='6' a7='7' a8='8'/>" EM,
	  ERRA("policy-violation") },

	/* Declarations of the peer's header, added to its stanzas. */
	{ "decls: a header prefix is added to the stanza", 0,
	  PFX MSG "<foo:x/>" EM CL, IRC, 1, NULL, 1,
	  { "<message" FOO " " FT "><foo:x/>" EM }, FOO },
	{ "decls: a stanza redeclaring the prefix gets none", 0,
	  PFX "<message xmlns:foo='urn:y' " FT "><foo:x/>" EM CL, IRC, 1, NULL,
	  1, { "<message xmlns:foo='urn:y' " FT "><foo:x/>" EM }, FOO },
	{ "decls: one of two redeclared, for that stanza only", 0,
	  XD SS FOO " xmlns:bar='urn:b' to='" IRC "'>{K1}<message "
	  "xmlns:foo='urn:y' " FT "><bar:x/>" EM MSG "<foo:x/>" EM CL, IRC, 1,
	  NULL, 1, { "<message xmlns:bar='urn:b' xmlns:foo='urn:y' " FT
	  "><bar:x/>" EM, "<message" FOO " xmlns:bar='urn:b' " FT "><foo:x/>"
	  EM }, FOO " xmlns:bar='urn:b'" },
	{ "decls: a child redeclaring the prefix does not count", 0,
	  PFX MSG "<x xmlns:foo='urn:y'><foo:y/></x>" EM CL, IRC, 1, NULL, 1,
	  { "<message" FOO " " FT "><x xmlns:foo='urn:y'><foo:y/></x>" EM },
	  FOO },
	{ "decls: xml:lang of the header, not for a stanza with its own", 0,
	  XD SS " xml:lang='en' to='" IRC "'>{K1}" MSG "<body>hi</body>" EM
	  "<message xml:lang='de' " FT "><body>hallo</body>" EM CL, IRC, 1,
	  NULL, 1, { "<message xml:lang='en' " FT "><body>hi</body>" EM,
	  "<message xml:lang='de' " FT "><body>hallo</body>" EM },
	  " xml:lang='en'" },
	{ "decls: the namespace is escaped again", 0,
	  XD SS " xmlns:q=\"a&amp;b&lt;c'd\" to='" IRC "'>{K1}" MSG EM CL,
	  IRC, 1, NULL, 1, { "<message xmlns:q='a&amp;b&lt;c&apos;d' " FT
	  ">" EM }, " xmlns:q='a&amp;b&lt;c&apos;d'" },
	{ "decls: a stanza in a prefixed component namespace", 0,
	  XD SS " xmlns:c='" NS_C "' to='" IRC "'>{K1}<c:message " FT
	  "><c:body>hi</c:body></c:message>" CL, IRC, 1, NULL, 1,
	  { "<c:message xmlns:c='" NS_C "' " FT "><c:body>hi</c:body>"
	  "</c:message>" }, " xmlns:c='" NS_C "'" },
	{ "decls: root prefix other than stream, closed by </s:stream>", 0,
	  SROOT MSG EM "</s:stream>", IRC, 1, NULL, 1,
	  { "<message" SDECL " " FT ">" EM }, SDECL },

	/* stream_rest at each {~}: a parser made anew takes over. */
	{ "rest: between stanzas, then more stanzas", 0,
	  AUTH "{~}" MSG "<body>1</body>" EM "{~}" MSG "<body>2</body>" EM
	  " {~}" S1 "{~}" CL, IRC, 1, NULL, 1, { MSG "<body>1</body>" EM,
	  MSG "<body>2</body>" EM, S1 }, NULL },
	{ "rest: header prefixes and xml:lang survive", 0,
	  XD SS FOO " xml:lang='en' to='" IRC "'>{K1}{~}" MSG "<foo:x/>" EM
	  "{~}<message xmlns:foo='urn:y' " FT "><foo:x/>" EM "{~}<message "
	  "xml:lang='de' " FT "/>{~}" MSG "<foo:z/>" EM "{~}" CL, IRC, 1, NULL,
	  1, { "<message" FOO " xml:lang='en' " FT "><foo:x/>" EM,
	  "<message xml:lang='en' xmlns:foo='urn:y' " FT "><foo:x/>" EM,
	  "<message" FOO " xml:lang='de' " FT "/>",
	  "<message" FOO " xml:lang='en' " FT "><foo:z/>" EM },
	  FOO " xml:lang='en'" },
	{ "rest: root prefix s, then </s:stream> closes", 0,
	  SROOT "{~}" MSG EM "{~}</s:stream>", IRC, 1, NULL, 1,
	  { "<message" SDECL " " FT ">" EM }, SDECL },
	{ "rest: then the peer's stream error", 0, AUTH "{~}" PERR, OK },
	{ "rest: then mismatched tags -> not-well-formed", 0,
	  AUTH "{~}" MSG "<body>" EM, ERRA("not-well-formed") },
	{ "rest: then a stanza too big -> policy-violation", F_SMALL,
	  AUTH "{|}{~}" MSG "<body>{*12000x}</body>" EM,
	  ERRA("policy-violation") },

	/*
	 * Initiating: our header is out before the server's comes; its id
	 * goes to server_id, our digest out, its <handshake/> opens.
	 */
	{ "initiate: header, id, digest, <handshake/>, the server closes",
	  F_INIT, SAUTH CL, IOK },
	{ "initiate: then stanzas from anyone offered, stream stays open",
	  F_INIT, SAUTH UMSG "<body>hi</body>" EM UPRES " " UIQ "\n" CL, SID,
	  1, NULL, 1, { UMSG "<body>hi</body>" EM, UPRES, UIQ }, NULL },
	{ "initiate: server's root in another namespace -> "
	  "invalid-namespace", F_INIT, XD "<stream:stream xmlns='" NS_C "' "
	  "xmlns:stream='http://example.com/streams'" SFI ">",
	  ERRH("invalid-namespace") },
	{ "initiate: server's root other than stream -> invalid-namespace",
	  F_INIT, XD "<stream:features xmlns='" NS_C "' xmlns:stream='" NS_S
	  "'" SFI ">", ERRH("invalid-namespace") },
	{ "initiate: server's default namespace jabber:client -> "
	  "invalid-namespace", F_INIT, XD "<stream:stream "
	  "xmlns='jabber:client' xmlns:stream='" NS_S "'" SFI ">",
	  ERRH("invalid-namespace") },
	{ "initiate: server's header without a default namespace -> "
	  "invalid-namespace", F_INIT, XD "<stream:stream xmlns:stream='" NS_S
	  "'" SFI ">", ERRH("invalid-namespace") },
	{ "initiate: from another component -> invalid-from", F_INIT,
	  XD SS " from='" BRIDGE "' id='" SID "'>", ERRH("invalid-from") },
	{ "initiate: from with a localpart -> invalid-from", F_INIT,
	  XD SS " from='a@" IRC "' id='" SID "'>", ERRH("invalid-from") },
	{ "initiate: from with a resource -> invalid-from", F_INIT,
	  XD SS " from='" IRC "/x' id='" SID "'>", ERRH("invalid-from") },
	{ "initiate: empty from -> invalid-from", F_INIT,
	  XD SS " from='' id='" SID "'>", ERRH("invalid-from") },
	{ "initiate: from not a domain (irc..example.org) -> invalid-from",
	  F_INIT, XD SS " from='irc..example.org' id='" SID "'>",
	  ERRH("invalid-from") },
	{ "initiate: from of 255 octets ending in ours -> invalid-from",
	  F_INIT, XD SS " from='" LONGNAME "' id='" SID "'>",
	  ERRH("invalid-from") },
	{ "initiate: from before the id: wrong from, no id -> invalid-from",
	  F_INIT, XD SS " from='" BRIDGE "'>", ERRH("invalid-from") },
	{ "initiate: from in other case with a trailing dot is ours", F_INIT,
	  XD SS " from='IRC.Example.ORG.' id='" SID "'><handshake/>" CL, IOK },
	{ "initiate: no from in the server's header is fine", F_INIT,
	  XD SS " id='" SID "'><handshake/>" CL, IOK },
	{ "initiate: no id -> bad-format", F_INIT,
	  XD SS " from='" IRC "'>", ERRH("bad-format") },
	{ "initiate: empty id -> bad-format", F_INIT,
	  XD SS " from='" IRC "' id=''>", ERRH("bad-format") },
	{ "initiate: an id of 256 octets -> bad-format", F_INIT,
	  XD SS " from='" IRC "' id='" ID255 "f'>", ERRH("bad-format") },
	{ "initiate: an id of 255 octets goes to server_id whole", F_INIT,
	  XD SS " from='" IRC "' id='" ID255 "'><handshake/>" CL, ID255, 1,
	  NULL, 1, NOST },
	{ "initiate: the id to server_id as expat decodes its entities",
	  F_INIT, XD SS " from='" IRC "' id='a&amp;b&lt;c&gt;d&quot;e&apos;f"
	  "&#x41;&#66;'><handshake/>" CL, "a&b<c>d\"e'fAB", 1, NULL, 1,
	  NOST },
	{ "initiate: the id to server_id with UTF-8 and white space as parsed",
	  F_INIT, XD SS " from='" IRC "' id=\"caf\xc3\xa9\ta&#9;b &#x27;\">"
	  "<handshake/>" CL, "caf\xc3\xa9 a\tb '", 1, NULL, 1, NOST },
	{ "initiate: version='2.0' -> unsupported-version", F_INIT,
	  XD SS SFI " version='2.0'>", ERRH("unsupported-version") },
	{ "initiate: version='1.0' accepted", F_INIT,
	  XD SS SFI " version='1.0'><handshake/>" CL, IOK },
	{ "initiate: server_id fails -> internal-server-error",
	  F_INIT | F_IDFAIL, SHDR "<handshake/>",
	  IERRP("internal-server-error") },
	{ "initiate: DOCTYPE before the server's root -> restricted-xml",
	  F_INIT, XD "<!DOCTYPE stream:stream>" SHDRN, ERRH("restricted-xml") },
	{ "initiate: 2000-byte attribute in the server's header -> "
	  "policy-violation", F_INIT | F_SMALL, XD SS SFI " x='{*2000a}'>",
	  ERRH("policy-violation") },

	/* Initiating: what may come before the server's <handshake/>. */
	{ "initiate: a message before <handshake/> -> bad-format", F_INIT,
	  SHDR UMSG "<body>hi</body>" EM, IERRP("bad-format") },
	{ "initiate: stream features before <handshake/> -> bad-format",
	  F_INIT, SHDR "<stream:features/>", IERRP("bad-format") },
	{ "initiate: <handshake/> in another namespace -> bad-format", F_INIT,
	  SHDR "<handshake xmlns='jabber:client'/>", IERRP("bad-format") },
	{ "initiate: <handshake> with a child element -> bad-format", F_INIT,
	  SHDR "<handshake><x/></handshake>", IERRP("bad-format") },
	{ "initiate: text before <handshake/> -> bad-format", F_INIT,
	  SHDR "hello", IERRP("bad-format") },
	{ "initiate: comment before <handshake/> -> restricted-xml", F_INIT,
	  SHDR "<!-- x -->", IERRP("restricted-xml") },
	{ "initiate: white space before <handshake/> is fine", F_INIT,
	  SHDR " \n\t<handshake/>" CL, IOK },
	{ "initiate: text in the server's handshake is not looked at",
	  F_INIT, SHDR "<handshake>ok</handshake>" CL, IOK },
	{ "initiate: 2000 bytes of white space before <handshake/> -> "
	  "policy-violation", F_INIT | F_SMALL, SHDR "{*2000 }",
	  IERRP("policy-violation") },
	{ "initiate: a second <handshake/> -> bad-format", F_INIT,
	  SAUTH UMSG EM "<handshake/>", SID, 1, "bad-format", 1, { UMSG EM },
	  NULL },

	/* Initiating: the server's errors, its end, ours. */
	{ "initiate: the server's stream error for our handshake gets our "
	  "closing tag", F_INIT, SHDR SERR, SID, 0, NULL, 1, NOST },
	{ "initiate: the server's stream error once open gets our closing "
	  "tag", F_INIT, SAUTH UMSG EM PERR UMSG EM, SID, 1, NULL, 1,
	  { UMSG EM }, NULL },
	{ "initiate: the server closes before <handshake/>", F_INIT,
	  SHDR CL, SID, 0, NULL, 1, NOST },
	{ "initiate: the server closes before its header", F_INIT | F_PEERCLOSE,
	  "", NULL, 0, NULL, 1, NOST },
	{ "initiate: half-close waiting for <handshake/>", F_INIT | F_PEERCLOSE,
	  SHDR, SID, 0, NULL, 1, NOST },
	{ "initiate: connection-timeout waiting for <handshake/>",
	  F_INIT | F_TIMEOUT, SHDR, IERRP("connection-timeout") },
	{ "initiate: keepalive on an open stream is a space",
	  F_INIT | F_KEEPALIVE, SAUTH, SID, 1, NULL, 0, NOST },

	/* Initiating: the server's stanzas as a component's are. */
	{ "initiate: stanza without from -> improper-addressing", F_INIT,
	  SAUTH "<message to='" IRC "'/>", IERRA("improper-addressing") },
	{ "initiate: other element once open -> unsupported-stanza-type",
	  F_INIT, SAUTH "<foo from='u@example.net' to='" IRC "'/>",
	  IERRA("unsupported-stanza-type") },
	{ "initiate: text between stanzas -> bad-format", F_INIT,
	  SAUTH UMSG EM "hello", SID, 1, "bad-format", 1, { UMSG EM }, NULL },
	{ "initiate: mismatched tags -> not-well-formed", F_INIT,
	  SAUTH UMSG "<body>" EM, IERRA("not-well-formed") },
	{ "initiate: a 20000-byte stanza -> policy-violation",
	  F_INIT | F_SMALL, SAUTH "{|}" UMSG "<body>{*20000x}</body>" EM,
	  IERRA("policy-violation") },
	{ "initiate: UTF-8 and entities split everywhere", F_INIT,
	  SAUTH S1 S2 "\n" S3 CL, SID, 1, NULL, 1, { S1, S2, S3 }, NULL },
	{ "initiate: the server header's prefix is added to its stanzas",
	  F_INIT, XD SS FOO SFI "><handshake/>" UMSG "<foo:x/>" EM CL, SID, 1,
	  NULL, 1, { "<message" FOO " " UFT "><foo:x/>" EM }, FOO },
	{ "initiate: a stanza redeclaring the prefix gets none", F_INIT,
	  XD SS FOO SFI "><handshake/><message xmlns:foo='urn:y' " UFT
	  "><foo:x/>" EM CL, SID, 1, NULL, 1, { "<message xmlns:foo='urn:y' "
	  UFT "><foo:x/>" EM }, FOO },
	{ "initiate: a prefix redeclared on <handshake/> is not the next "
	  "stanza's", F_INIT, XD SS FOO SFI "><handshake xmlns:foo='urn:h'/>"
	  UMSG "<foo:x/>" EM CL, SID, 1, NULL, 1, { "<message" FOO " " UFT
	  "><foo:x/>" EM }, FOO },
	{ "initiate: xml:lang of the server's header, not for a stanza with "
	  "its own", F_INIT, XD SS " xml:lang='en'" SFI "><handshake/>" UMSG
	  "<body>hi</body>" EM "<message xml:lang='de' " UFT "><body>hallo"
	  "</body>" EM CL, SID, 1, NULL, 1, { "<message xml:lang='en' " UFT
	  "><body>hi</body>" EM, "<message xml:lang='de' " UFT "><body>hallo"
	  "</body>" EM }, " xml:lang='en'" },
	{ "initiate: root prefix other than stream, closed by </s:stream>",
	  F_INIT, XD "<s:stream xmlns='" NS_C "'" SDECL SFI "><handshake/>"
	  UMSG EM "</s:stream>", SID, 1, NULL, 1,
	  { "<message" SDECL " " UFT ">" EM }, SDECL },
	{ "initiate: rest after <handshake/> and between stanzas, prefixes "
	  "survive", F_INIT, XD SS FOO " xml:lang='en'" SFI "><handshake/>{~}"
	  UMSG "<foo:x/>" EM "{~}" UMSG EM "{~}" CL, SID, 1, NULL, 1,
	  { "<message" FOO " xml:lang='en' " UFT "><foo:x/>" EM,
	  "<message" FOO " xml:lang='en' " UFT ">" EM }, FOO " xml:lang='en'" }
};

static void
buf_add(struct buf *b, const void *p, size_t len)
{
	char	*np;
	size_t	 cap;

	if (b->p == NULL || b->len + len + 1 > b->cap) {
		for (cap = b->cap ? b->cap : 256; b->len + len + 1 > cap;)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL)
			err(1, NULL);
		b->p = np;
		b->cap = cap;
	}
	if (len > 0)
		memcpy(b->p + b->len, p, len);
	b->len += len;
	b->p[b->len] = '\0';
}

static void
buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Bytes for a message on one line: escaped, cut. */
static const char *
shown(const char *p, size_t len, size_t max)
{
	static char	 ring[4][512];
	static int	 next;
	char		*s = ring[next++ % 4];
	size_t		 i, n = 0;

	for (i = 0; i < len && i < max && n < sizeof(ring[0]) - 8; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			s[n++] = p[i];
		else
			n += snprintf(s + n, 5, "\\x%02x", (unsigned char)p[i]);
	}
	snprintf(s + n, 4, "%s", i < len ? "..." : "");
	return (s);
}

static void
problem(struct run *r, const char *fmt, ...)
{
	va_list	ap;

	if (r->why[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
}

static void
report(const char *name, const char *sub, const char *fmt, ...)
{
	char	why[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	nchecks++;
	if (why[0] != '\0')
		nfailed++;
	printf("%sok - stream unit: %s%s%s%s%s\n", why[0] ? "not " : "", name,
	    sub ? ": " : "", sub ? sub : "", why[0] ? ": " : "", why);
	fflush(stdout);
}

static void
sha1_id(const char *secret, uint8_t md[GW_DIGEST_LEN])
{
	char		buf[GW_STREAMID_LEN + GW_SECRET_MAX];
	unsigned int	len = 0;

	snprintf(buf, sizeof(buf), "%s%s", STREAMID, secret);
	if (EVP_Digest(buf, strlen(buf), md, &len, EVP_sha1(), NULL) != 1 ||
	    len != GW_DIGEST_LEN)
		errx(1, "EVP_Digest failed");
}

/* The handshake for a server's id and our upstream secret, in hex. */
static void
digest_hex(const char *id, char hex[2 * GW_DIGEST_LEN + 1])
{
	char		buf[GW_SERVER_ID_MAX + sizeof(UPSECRET)];
	uint8_t		md[GW_DIGEST_LEN];
	unsigned int	len = 0;
	size_t		i;

	snprintf(buf, sizeof(buf), "%s%s", id, UPSECRET);
	if (EVP_Digest(buf, strlen(buf), md, &len, EVP_sha1(), NULL) != 1 ||
	    len != GW_DIGEST_LEN)
		errx(1, "EVP_Digest failed");
	for (i = 0; i < GW_DIGEST_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void
token_add(const char *name, const char *value)
{
	if (ntokens == sizeof(tokens) / sizeof(tokens[0]))
		errx(1, "too many tokens");
	tokens[ntokens].name = name;
	if ((tokens[ntokens++].value = strdup(value)) == NULL)
		err(1, NULL);
}

/*
 * K1, K2, KB, KW: the handshakes of the secrets; D1 the first digest, d1
 * one digit short, G1 not hex, U1 in upper case.
 */
static void
tokens_init(void)
{
	static const char	*hs[] = { "K1", "K2", "KB", "KW" };
	uint8_t			 md[GW_DIGEST_LEN];
	char			 hex[4][2 * GW_DIGEST_LEN + 1], s[256];
	size_t			 i, j;

	for (i = 0; i < 4; i++) {
		sha1_id(secrets[i][1], md);
		for (j = 0; j < GW_DIGEST_LEN; j++)
			snprintf(hex[i] + 2 * j, 3, "%02x", md[j]);
		snprintf(s, sizeof(s), "<handshake>%s</handshake>", hex[i]);
		token_add(hs[i], s);
	}
	token_add("D1", hex[0]);
	snprintf(s, sizeof(s), "%.39s", hex[0]);
	token_add("d1", s);
	snprintf(s, sizeof(s), "g%s", hex[0] + 1);
	token_add("G1", s);
	for (j = 0; hex[0][j] != '\0'; j++)
		if (hex[0][j] >= 'a' && hex[0][j] <= 'f')
			hex[0][j] -= 'a' - 'A';
	token_add("U1", hex[0]);
}

/*
 * A template into bytes: {NAME} a token, {*Nc} N times c, {~} where the
 * stream must be able to rest, {|} where the peer waits for our answer
 * (marks may be NULL).
 */
static void
expand(const char *t, struct buf *out, size_t *marks, size_t *nmarks)
{
	const char	*q;
	char		*end;
	unsigned long	 n;
	size_t		 i, len;

	buf_add(out, "", 0);
	for (; *t != '\0'; t = q + 1) {
		if (*t != '{') {
			q = t;
			buf_add(out, t, 1);
		} else if ((q = strchr(t, '}')) == NULL) {
			errx(1, "unterminated token in %s", t);
		} else if (t[1] == '~' || t[1] == '|') {
			if (marks != NULL && *nmarks < MAXMARKS)
				marks[(*nmarks)++] = out->len |
				    (t[1] == '|' ? PHASE : 0);
		} else if (t[1] == '*') {
			n = strtoul(t + 2, &end, 10);
			for (i = 0; i < n; i++)
				buf_add(out, end, 1);
			q = end + 1;
		} else {
			len = q - t - 1;
			for (i = 0; i < ntokens; i++)
				if (strlen(tokens[i].name) == len &&
				    strncmp(tokens[i].name, t + 1, len) == 0)
					break;
			if (i == ntokens)
				errx(1, "unknown token in %s", t);
			buf_add(out, tokens[i].value, strlen(tokens[i].value));
		}
	}
}

static void
cb_output(void *arg, const char *p, size_t len)
{
	struct run	*r = arg;

	if (r->closing)
		problem(r, "output after closing: %s", shown(p, len, 60));
	buf_add(&r->out, p, len);
}

static const char *
cb_domain(void *arg, const char *to)
{
	(void)arg;
	if (strcmp(to, IRC) == 0 || strcmp(to, BRIDGE) == 0)
		return (NULL);
	return ("host-unknown");
}

static int
cb_want_id(void *arg, const char *domain)
{
	struct run	*r = arg;

	if (r->pend != P_NONE)
		problem(r, "want_id while paused (%d)", r->pend);
	if (r->tc->flags & F_INIT)
		problem(r, "want_id on a stream we initiated");
	r->want_id++;
	snprintf(r->domain, sizeof(r->domain), "%s", domain);
	if (r->tc->flags & F_IDFAIL)
		return (-1);
	r->pend = P_ID;
	return (0);
}

/* authd: the digest of one of the domain's secrets. */
static int
cb_handshake(void *arg, const uint8_t digest[GW_DIGEST_LEN])
{
	struct run	*r = arg;
	uint8_t		 md[GW_DIGEST_LEN];
	size_t		 i;

	if (r->pend != P_NONE)
		problem(r, "handshake while paused (%d)", r->pend);
	if (r->tc->flags & F_INIT)
		problem(r, "handshake op on a stream we initiated");
	r->hs++;
	if (r->tc->flags & F_HSFAIL)
		return (-1);
	r->verdict = AUTH_DENIED;
	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		sha1_id(secrets[i][1], md);
		if (strcmp(secrets[i][0], r->domain) == 0 &&
		    memcmp(md, digest, sizeof(md)) == 0)
			r->verdict = AUTH_OK;
	}
	r->pend = P_VERDICT;
	return (0);
}

/*
 * The router: from one of the stream's names, and a to.  On a stream we
 * initiated (an uplink) the server's stanzas may be from anyone.
 */
static const char *
cb_stanza_start(void *arg, const struct stanza_head *h, const char **why)
{
	struct run	*r = arg;
	const char	*d;
	char		 line[600];
	size_t		 n = strlen(r->domain);

	if (r->pend != P_NONE)
		problem(r, "stanza_start while paused (%d)", r->pend);
	if (r->started && !r->holding)
		problem(r, "stanza_start twice for one stanza");
	snprintf(line, sizeof(line), "%c %s %s\n", h->kind == STANZA_MESSAGE ?
	    'm' : h->kind == STANZA_PRESENCE ? 'p' : h->kind == STANZA_IQ ?
	    'i' : '?', h->from ? h->from : "-", h->to ? h->to : "-");
	buf_add(&r->heads, line, strlen(line));
	r->kind = h->kind;
	*why = "from or to missing";
	if (h->from == NULL || h->from[0] == '\0')
		return ("improper-addressing");
	d = strchr(h->from, '@') ? strchr(h->from, '@') + 1 : h->from;
	if (!(r->tc->flags & F_INIT) && (strncmp(d, r->domain, n) != 0 ||
	    (d[n] != '\0' && d[n] != '/'))) {
		*why = "from is not one of the stream's names";
		return ("invalid-from");
	}
	if (h->to == NULL || h->to[0] == '\0')
		return ("improper-addressing");
	r->started = 1;
	return (NULL);
}

/* Recorded as forwarded: the decls right behind the element's name. */
static enum stanza_verdict
cb_stanza(void *arg, const struct stanza *s)
{
	struct run	*r = arg;
	struct buf	 f = { NULL, 0, 0 };
	const char	*local, *want, *hdr = r->tc->hdr;
	size_t		 n = s->name_len;

	if (r->pend != P_NONE)
		problem(r, "stanza offered while paused (%d)", r->pend);
	if (!r->started)
		problem(r, "stanza without stanza_start");
	if (s->len < n + 2 || s->raw[0] != '<' ||
	    strchr(" \t\r\n/>", s->raw[n + 1]) == NULL) {
		problem(r, "name_len %zu in %s", n, shown(s->raw, s->len, 60));
		n = 0;
	}
	if (strcmp(s->hdr_decls ? s->hdr_decls : "", hdr ? hdr : "") != 0)
		problem(r, "hdr_decls \"%s\", expected \"%s\"", s->hdr_decls ?
		    s->hdr_decls : "(null)", hdr ? hdr : "(null)");
	local = memchr(s->raw, ':', n + 1);
	local = local != NULL ? local + 1 : s->raw + 1;
	want = r->kind == STANZA_MESSAGE ? "message" :
	    r->kind == STANZA_PRESENCE ? "presence" : "iq";
	if (strncmp(local, want, strlen(want)) != 0)
		problem(r, "stanza_start said %s for %s", want,
		    shown(s->raw, s->len, 40));
	buf_add(&f, s->raw, n + 1);
	if (s->decls != NULL)
		buf_add(&f, s->decls, s->decls_len);
	buf_add(&f, s->raw + n + 1, s->len - n - 1);
	if (r->holding) {
		if (f.len != r->held.len || memcmp(f.p, r->held.p, f.len) != 0)
			problem(r, "held stanza %s offered again as %s",
			    shown(r->held.p, r->held.len, 60),
			    shown(f.p, f.len, 60));
		r->holding = 0;
	} else if (r->mode & M_HOLD) {
		buf_free(&r->held);
		r->held = f;
		r->holding = 1;
		r->pend = P_GO;
		return (STANZA_HOLD);
	}
	if (r->nst++ > 0)
		buf_add(&r->stanzas, "\036", 1);
	buf_add(&r->stanzas, f.p, f.len);
	buf_free(&f);
	r->started = 0;
	if (r->mode & M_PAUSE) {
		r->pend = P_GO;
		return (STANZA_DONE_PAUSE);
	}
	return (STANZA_DONE);
}

static void
cb_closing(void *arg)
{
	struct run	*r = arg;

	if (r->closing++)
		problem(r, "closing reported twice");
}

static const char *
cb_label(void *arg)
{
	(void)arg;
	return ("connection 1 from 127.0.0.1");
}

/* Initiating: the server's id, as the stream parsed it, for authd. */
static int
cb_server_id(void *arg, const char *id)
{
	struct run	*r = arg;

	if (r->pend != P_NONE)
		problem(r, "server_id while paused (%d)", r->pend);
	if (!(r->tc->flags & F_INIT))
		problem(r, "server_id on a component's stream");
	if (r->sids++ > 0)
		problem(r, "server_id twice");
	if (stream_state(r->st) != STREAM_STREAMID)
		problem(r, "server_id in state %d", stream_state(r->st));
	if (strlen(id) >= sizeof(r->sid))
		problem(r, "server_id: %zu bytes", strlen(id));
	snprintf(r->sid, sizeof(r->sid), "%s", id);
	digest_hex(r->sid, r->hex);
	if (r->tc->flags & F_IDFAIL)
		return (-1);
	r->pend = P_DIGEST;
	return (0);
}

static void
cb_accepted(void *arg)
{
	struct run	*r = arg;

	if (r->pend != P_NONE)
		problem(r, "accepted while paused (%d)", r->pend);
	if (!(r->tc->flags & F_INIT))
		problem(r, "accepted on a component's stream");
	if (r->digests == 0)
		problem(r, "accepted before our digest");
	if (r->accepted++ > 0)
		problem(r, "accepted twice");
	if (stream_state(r->st) != STREAM_OPEN)
		problem(r, "accepted in state %d", stream_state(r->st));
}

/* The stream's log, kept for the checks, then as without it. */
static void
cb_log(void *arg, const char *line)
{
	struct run	*r = arg;

	buf_add(&r->log, line, strlen(line));
	buf_add(&r->log, "\n", 1);
	log_info("%s", line);
}

static const struct stream_ops ops = {
	cb_output, cb_domain, cb_want_id, cb_handshake, cb_stanza_start,
	cb_stanza, cb_closing, cb_label, NULL, cb_server_id, cb_accepted
};

static const struct stream_ops ops_log = {
	cb_output, cb_domain, cb_want_id, cb_handshake, cb_stanza_start,
	cb_stanza, cb_closing, cb_label, cb_log, cb_server_id, cb_accepted
};

/*
 * The connection's part: the kept bytes handed over in a buffer of
 * their own, freed at once (the stream may not hold on to them); then
 * only those from the offset returned are kept.
 */
static void
conn_input(struct run *r)
{
	uint64_t	 off, end = r->kbase + r->kept.len;
	char		*copy;

	if ((copy = malloc(r->kept.len + 1)) == NULL)
		err(1, NULL);
	if (r->kept.len > 0)
		r->resting = 0;
	memcpy(copy, r->kept.p, r->kept.len);
	off = stream_input(r->st, copy, r->kbase, r->kept.len);
	free(copy);
	if (off < r->kbase || off > end) {
		problem(r, "stream_input returned %llu for %llu to %llu",
		    (unsigned long long)off, (unsigned long long)r->kbase,
		    (unsigned long long)end);
		off = off < r->kbase ? r->kbase : end;
	}
	memmove(r->kept.p, r->kept.p + (off - r->kbase), end - off);
	r->kept.len = end - off;
	r->kbase = off;
}

/* authd or the router answers: the pause is over. */
static int
lift(struct run *r)
{
	int	pend = r->pend;

	if (pend == P_NONE || r->closing)
		return (0);
	pauses++;
	if (!stream_waiting(r->st))
		pauses_unseen++;
	r->pend = P_NONE;
	if (pend == P_ID)
		stream_streamid(r->st, STREAMID);
	else if (pend == P_DIGEST) {
		r->digests++;
		stream_digest(r->st, r->hex);
	} else if (pend == P_VERDICT) {
		stream_verdict(r->st, r->verdict);
		if (r->verdict == AUTH_OK && (r->tc->flags & F_MAXST))
			stream_set_max_stanza(r->st, 200);
	} else
		stream_go(r->st);
	return (1);
}

/* Input, and again after each pause lifted. */
static void
pump(struct run *r)
{
	int	i;

	for (i = 0; i < 100000; i++) {
		conn_input(r);
		if (lift(r))
			continue;
		/* As the engine does: only with nothing kept. */
		if ((r->mode & M_REST) && !r->closing && r->kept.len == 0 &&
		    stream_can_rest(r->st)) {
			stream_rest(r->st);
			r->resting = 1;
		}
		return;
	}
	problem(r, "no end to pauses");
}

/*
 * What our output says: our header, <handshake/>, an error, the end.
 * Initiating: our header at once, our digest if it was given, and the
 * id server_id got as from.
 */
static void
parse_output(struct run *r, const char *p, size_t len, struct outcome *o)
{
	const char	*q, *end = p + len;
	char		 hs[64];
	size_t		 i;
	int		 init = r->tc->flags & F_INIT;

	memset(o, 0, sizeof(*o));
	if (init) {
		if (strncmp(p, OUR_INIT, strlen(OUR_INIT)) != 0) {
			problem(r, "output not our header to a server: %s",
			    shown(p, len, 80));
			return;
		}
		o->header = 1;
		p += strlen(OUR_INIT);
		snprintf(o->from, sizeof(o->from), "%s", r->sid);
		o->auth = r->accepted > 0;
		snprintf(hs, sizeof(hs), "<handshake>%s</handshake>", r->hex);
		if (r->digests > 0 && strncmp(p, hs, strlen(hs)) != 0) {
			problem(r, "not our digest %s after our header: %s", hs,
			    shown(p, end - p, 80));
			return;
		}
		if (r->digests > 0)
			p += strlen(hs);
		goto tail;
	}
	if (len == 0)
		return;
	if (strncmp(p, OUR_HDR, strlen(OUR_HDR)) != 0) {
		problem(r, "output not our header: %s", shown(p, len, 80));
		return;
	}
	o->header = 1;
	p += strlen(OUR_HDR);
	if (strncmp(p, " from='", 7) == 0) {
		if ((q = strchr(p + 7, '\'')) == NULL ||
		    (size_t)(q - p - 7) >= sizeof(o->from)) {
			problem(r, "our from: %s", shown(p, end - p, 60));
			return;
		}
		memcpy(o->from, p + 7, q - p - 7);
		p = q + 1;
	}
	for (i = 0; i < 32 && strncmp(p, " id='", 5) == 0 &&
	    strchr("0123456789abcdef", p[5 + i]) != NULL && p[5 + i]; i++)
		;
	if (i != 32 || strncmp(p + 37, "'>", 2) != 0) {
		problem(r, "our header's id: %s", shown(p, end - p, 60));
		return;
	}
	if (o->from[0] != '\0' && strncmp(p + 5, STREAMID, 32) != 0)
		problem(r, "our header's id is not the stream id");
	p += 39;
 tail:
	while (p < end) {
		if (*p == ' ')
			p++;
		else if (o->closed) {
			problem(r, "output after our closing tag: %s",
			    shown(p, end - p, 60));
			return;
		} else if (!init && strncmp(p, "<handshake/>", 12) == 0 &&
		    !o->auth && o->cond[0] == '\0') {
			o->auth = 1;
			p += 12;
		} else if (strncmp(p, ERR_HEAD, strlen(ERR_HEAD)) == 0 &&
		    o->cond[0] == '\0' && (q = strstr(p, ERR_TAIL)) != NULL &&
		    (size_t)(q - p) < sizeof(o->cond)) {
			p += strlen(ERR_HEAD);
			memcpy(o->cond, p, q - p);
			p = q + strlen(ERR_TAIL);
			if (strncmp(p, CL, strlen(CL)) != 0)
				problem(r, "no closing tag after the error");
		} else if (strncmp(p, CL, strlen(CL)) == 0) {
			o->closed = 1;
			p += strlen(CL);
		} else {
			problem(r, "unexpected output: %s",
			    shown(p, end - p, 60));
			return;
		}
	}
}

static uint32_t
rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return (*s);
}

static void
run_init(struct run *r, const struct tcase *tc, int mode)
{
	memset(r, 0, sizeof(*r));
	r->tc = tc;
	r->mode = mode;
	buf_add(&r->out, "", 0);
	buf_add(&r->stanzas, "", 0);
	buf_add(&r->heads, "", 0);
	buf_add(&r->kept, "", 0);
	buf_add(&r->log, "", 0);
	if ((r->st = stream_new(tc->flags & F_INIT ? &ops_log : &ops, r,
	    tc->flags & F_SMALL ? &lim_small : &lim_main)) == NULL)
		errx(1, "stream_new failed");
	if (tc->flags & F_INIT)
		stream_initiate(r->st, IRC);
}

static void
run_free(struct run *r)
{
	stream_free(r->st);
	buf_free(&r->out);
	buf_free(&r->stanzas);
	buf_free(&r->heads);
	buf_free(&r->held);
	buf_free(&r->kept);
	buf_free(&r->log);
}

/*
 * One feeding of a case's input: way 0 whole, 1 a byte at a time, from 2
 * on random lengths of 1 to 64 (seed way - 1); cut at every mark.
 */
static void
run_one(const struct tcase *tc, const struct input *in, int way, int mode,
    struct run *r)
{
	size_t		 pos = 0, mi = 0, n, mark;
	uint32_t	 s = 0x9e3779b9U * (uint32_t)way;

	run_init(r, tc, mode);
	for (;;) {
		for (; mi < in->nmarks &&
		    (in->marks[mi] & ~PHASE) == pos; mi++) {
			if (r->closing || r->resting || (in->marks[mi] & PHASE))
				continue;
			if (!stream_can_rest(r->st) || r->kept.len != 0)
				problem(r, "cannot rest at byte %zu (%zu kept)",
				    pos, r->kept.len);
			stream_rest(r->st);
			r->resting = 1;
		}
		if (pos == in->b.len || r->closing)
			break;
		n = way == 0 ? in->b.len - pos : way == 1 ? 1 :
		    1 + rnd(&s) % 64;
		if (n > in->b.len - pos)
			n = in->b.len - pos;
		mark = mi < in->nmarks ? in->marks[mi] & ~PHASE : in->b.len;
		if (pos + n > mark)
			n = mark - pos;
		buf_add(&r->kept, in->b.p + pos, n);
		pos += n;
		pump(r);
	}
	if (!r->closing && (tc->flags & F_TIMEOUT))
		stream_error(r->st, "connection-timeout", "handshake timeout");
	if (!r->closing && (tc->flags & F_PEERCLOSE))
		stream_peer_closed(r->st);
	if (tc->flags & F_KEEPALIVE)
		stream_keepalive(r->st);
	if (r->holding && !r->closing)
		problem(r, "a held stanza was never offered again");
	parse_output(r, r->out.p, r->out.len, &r->o);
	snprintf(r->sum, sizeof(r->sum), "%s=%s auth=%d error=%s closed=%d "
	    "closing=%d want_id=%d handshake=%d stanzas=%d",
	    (tc->flags & F_INIT) ? "id" : "from",
	    !r->o.header ? "(no header)" : r->o.from[0] ? r->o.from : "(none)",
	    r->o.auth, r->o.cond[0] ? r->o.cond : "(none)", r->o.closed,
	    r->closing, r->want_id, r->hs, r->nst);
}

/* Is got one of the conditions in want ("a|b"), or none if want is? */
static int
cond_ok(const char *want, const char *got)
{
	size_t	n = strlen(got);

	if (want == NULL || n == 0)
		return (want == NULL && n == 0);
	for (;; want++) {
		if (strncmp(want, got, n) == 0 &&
		    (want[n] == '\0' || want[n] == '|'))
			return (1);
		if ((want = strchr(want, '|')) == NULL)
			return (0);
	}
}

/* The run against the case, and against the whole-input run if given. */
static void
verify(const struct tcase *tc, const struct input *in, const struct run *r,
    const struct run *ref, int heads, char *why, size_t size)
{
	const struct outcome	*o = &r->o;
	const char		*p = r->stanzas.p, *q;
	size_t			 i, k, len;
	int			 closed = tc->cond != NULL || tc->closed;

	why[0] = '\0';
	if (r->why[0] != '\0')
		snprintf(why, size, "%.400s [%.400s]", r->why, r->sum);
	else if (!o->header || strcmp(o->from, tc->from ? tc->from : "") ||
	    o->auth != tc->auth || !cond_ok(tc->cond, o->cond) ||
	    o->closed != closed || r->closing != closed ||
	    (size_t)r->nst != in->nexp)
		snprintf(why, size, "got %s, expected from=%s auth=%d error=%s "
		    "closed=%d stanzas=%zu", r->sum, tc->from ? tc->from :
		    "(none)", tc->auth, tc->cond ? tc->cond : "(none)", closed,
		    in->nexp);
	else if ((tc->flags & F_NOECHO) && strstr(r->out.p, "unknown."))
		snprintf(why, size, "the unknown name is echoed");
	else if ((tc->flags & F_KEEPALIVE) &&
	    r->out.p[r->out.len - 1] != ' ')
		snprintf(why, size, "no space after stream_keepalive");
	for (i = 0; i < in->nexp && why[0] == '\0'; i++, p += len + 1) {
		len = (q = strchr(p, SEP)) != NULL ? (size_t)(q - p) :
		    strlen(p);
		if (len == in->exp[i].len && memcmp(p, in->exp[i].p, len) == 0)
			continue;
		for (k = 0; k < len && p[k] == in->exp[i].p[k]; k++)
			;
		k = k > 20 ? k - 20 : 0;
		snprintf(why, size, "stanza %zu from byte %zu: got %s, "
		    "expected %s", i + 1, k, shown(p + k, len - k, 90),
		    shown(in->exp[i].p + k, in->exp[i].len - k, 90));
	}
	if (why[0] != '\0' || ref == NULL)
		return;
	if (strcmp(r->sum, ref->sum) != 0)
		snprintf(why, size, "%.400s, whole input %.400s", r->sum,
		    ref->sum);
	else if (heads && strcmp(r->heads.p, ref->heads.p) != 0)
		snprintf(why, size, "stanza heads %s, whole input %s",
		    shown(r->heads.p, r->heads.len, 80),
		    shown(ref->heads.p, ref->heads.len, 80));
}

/* Ways first to last in one mode: one check, its first failure. */
static void
check_ways(const struct tcase *tc, const struct input *in,
    const struct run *ref, const char *sub, int mode, int first, int last)
{
	struct run	 r;
	char		 why[1024] = "";
	int		 way;

	for (way = first; way <= last && why[0] == '\0'; way++) {
		run_one(tc, in, way, mode, &r);
		verify(tc, in, &r, ref, mode != M_HOLD, why, sizeof(why));
		run_free(&r);
	}
	if (why[0] == '\0')
		report(tc->name, sub, "%s", "");
	else if (first == last)
		report(tc->name, sub, "%s", why);
	else
		report(tc->name, sub, "%s: %s", way - 1 == 0 ? "whole" :
		    way - 1 == 1 ? "a byte at a time" : "a random split", why);
}

static void
test_case(const struct tcase *tc)
{
	struct input	 in;
	struct run	 whole;
	char		 why[1024];
	size_t		 i;

	current = tc->name;
	memset(&in, 0, sizeof(in));
	expand(tc->in, &in.b, in.marks, &in.nmarks);
	for (i = 0; i < MAXSTANZAS && tc->st[i] != NULL; i++)
		expand(tc->st[i], &in.exp[in.nexp++], NULL, NULL);

	run_one(tc, &in, 0, 0, &whole);
	verify(tc, &in, &whole, NULL, 1, why, sizeof(why));
	report(tc->name, "whole", "%s", why);
	/* A wrong whole run is no reference; the others say what they got. */
	check_ways(tc, &in, why[0] ? NULL : &whole, "a byte at a time", 0, 1,
	    1);
	check_ways(tc, &in, why[0] ? NULL : &whole, "20 random splits", 0, 2,
	    NSEEDS + 1);
	if (tc->auth) {
		check_ways(tc, &in, why[0] ? NULL : &whole,
		    "STANZA_HOLD, offered again after stream_go", M_HOLD, 0, 6);
		check_ways(tc, &in, why[0] ? NULL : &whole,
		    "STANZA_DONE_PAUSE", M_PAUSE, 0, 4);
		check_ways(tc, &in, why[0] ? NULL : &whole,
		    "stream_rest whenever nothing is kept", M_REST, 0,
		    NSEEDS + 1);
	}
	run_free(&whole);
	buf_free(&in.b);
	for (i = 0; i < in.nexp; i++)
		buf_free(&in.exp[i]);
}

/* Feeds a template at once, no pause lifted. */
static void
feed(struct run *r, const char *t)
{
	struct buf	b = { NULL, 0, 0 };

	expand(t, &b, NULL, NULL);
	buf_add(&r->kept, b.p, b.len);
	buf_free(&b);
	conn_input(r);
}

static void
state_is(struct run *r, const char *when, enum stream_state state,
    int waiting, int can_rest)
{
	if (stream_state(r->st) != state ||
	    !stream_waiting(r->st) != !waiting ||
	    !stream_can_rest(r->st) != !can_rest)
		problem(r, "%s: state %d waiting %d can rest %d, expected "
		    "%d %d %d", when, stream_state(r->st),
		    stream_waiting(r->st), stream_can_rest(r->st), state,
		    waiting, can_rest);
}

static void
test_states(void)
{
	static const struct tcase	 tc = { "", 0, "", NULL, 0, NULL, 0,
					    NOST };
	struct run			 r;
	size_t				 n;

	current = "states";
	run_init(&r, &tc, 0);
	state_is(&r, "new", STREAM_HEADER, 0, 0);
	feed(&r, XD SS " to='IRC.Example.ORG.'>");
	state_is(&r, "after the header", STREAM_STREAMID, 1, 0);
	if (r.want_id != 1 || r.out.len != 0 ||
	    strcmp(stream_domain(r.st), IRC) != 0)
		problem(&r, "after the header: want_id %d (%s), output %zu, "
		    "stream_domain %s", r.want_id, r.domain, r.out.len,
		    stream_domain(r.st));
	r.pend = P_NONE;
	stream_streamid(r.st, STREAMID);
	state_is(&r, "after stream_streamid", STREAM_HANDSHAKE, 0, 0);
	n = r.out.len;
	feed(&r, "{K1}");
	state_is(&r, "after the handshake", STREAM_AUTHWAIT, 1, 0);
	r.pend = P_NONE;
	stream_verdict(r.st, AUTH_OK);
	conn_input(&r);
	state_is(&r, "after the verdict", STREAM_OPEN, 0, 1);
	if (r.hs != 1 || strcmp(r.out.p + n, "<handshake/>") != 0)
		problem(&r, "after the verdict: handshake %d, output %s", r.hs,
		    shown(r.out.p + n, r.out.len - n, 40));
	feed(&r, MSG "<body>");
	state_is(&r, "inside a stanza", STREAM_OPEN, 0, 0);
	feed(&r, "x</body>" EM);
	state_is(&r, "after it", STREAM_OPEN, 0, 1);
	feed(&r, CL);
	state_is(&r, "after the closing tag", STREAM_CLOSING, 0, 0);
	if (r.nst != 1 || r.closing != 1)
		problem(&r, "stanzas %d, closing %d", r.nst, r.closing);
	report("stream_state, stream_waiting, stream_can_rest, stream_domain "
	    "from the header to the end", NULL, "%s", r.why);

	/* Once closed, nothing the caller does makes it say more. */
	r.why[0] = '\0';
	n = r.out.len;
	feed(&r, MSG EM "junk<<<" "{K1}" PERR);
	feed(&r, "");
	stream_error(r.st, "connection-timeout", "late");
	stream_peer_closed(r.st);
	stream_keepalive(r.st);
	stream_streamid(r.st, STREAMID);
	stream_verdict(r.st, AUTH_OK);
	stream_go(r.st);
	feed(&r, MSG EM);
	if (r.out.len != n || r.nst != 1 || r.closing != 1 ||
	    stream_state(r.st) != STREAM_CLOSING)
		problem(&r, "output %s, stanzas %d, closing %d", shown(r.out.p +
		    n, r.out.len - n, 60), r.nst, r.closing);
	report("input, stream_error, stream_peer_closed, stream_keepalive and "
	    "the answers after the closing tag do nothing", NULL, "%s", r.why);
	run_free(&r);
}

/* Feeds a template, the pauses lifted as they come. */
static void
feed_all(struct run *r, const char *t)
{
	struct buf	b = { NULL, 0, 0 };

	expand(t, &b, NULL, NULL);
	buf_add(&r->kept, b.p, b.len);
	buf_free(&b);
	pump(r);
}

static const struct tcase	 tc_init = { "", F_INIT, "", NULL, 0, NULL, 0,
				    NOST };
static const struct tcase	 tc_plain = { "", 0, "", NULL, 0, NULL, 0,
				    NOST };

/* A stream to a server, step by step, and what it does meanwhile. */
static void
test_initiate(void)
{
	struct run	 r;
	char		 hs[64];
	size_t		 n, kept;

	current = "initiate";
	run_init(&r, &tc_init, 0);
	if (r.out.len != strlen(OUR_INIT) || strcmp(r.out.p, OUR_INIT) != 0)
		problem(&r, "output %s", shown(r.out.p, r.out.len, 200));
	state_is(&r, "initiated", STREAM_HEADER, 0, 0);
	if (!stream_initiating(r.st) || strcmp(stream_domain(r.st), IRC) != 0)
		problem(&r, "stream_initiating %d, stream_domain %s",
		    stream_initiating(r.st), stream_domain(r.st));
	report("initiate: our header goes out at once, to the domain", NULL,
	    "%s", r.why);

	/* Too early, or not ours: nothing said, nothing changed. */
	r.why[0] = '\0';
	n = r.out.len;
	stream_digest(r.st, "0123456789abcdef0123456789abcdef01234567");
	stream_streamid(r.st, STREAMID);
	stream_verdict(r.st, AUTH_OK);
	stream_keepalive(r.st);
	state_is(&r, "after stream_digest too early", STREAM_HEADER, 0, 0);
	if (r.out.len != n)
		problem(&r, "output %s", shown(r.out.p + n, r.out.len - n, 80));
	report("initiate: stream_digest, stream_streamid, stream_verdict and "
	    "stream_keepalive before the server's header do nothing", NULL,
	    "%s", r.why);

	/* Its header: server_id, then nothing is parsed until the digest. */
	r.why[0] = '\0';
	feed(&r, SHDR "<handshake/>" UMSG EM);
	state_is(&r, "after the server's header", STREAM_STREAMID, 1, 0);
	if (r.sids != 1 || strcmp(r.sid, SID) != 0 || r.pend != P_DIGEST)
		problem(&r, "server_id %d times, id %s", r.sids, r.sid);
	feed(&r, UPRES);
	conn_input(&r);
	stream_streamid(r.st, STREAMID);
	stream_verdict(r.st, AUTH_OK);
	stream_go(r.st);
	stream_keepalive(r.st);
	conn_input(&r);
	kept = strlen("<handshake/>" UMSG EM UPRES);
	state_is(&r, "waiting for the digest", STREAM_STREAMID, 1, 0);
	if (r.out.len != n || r.accepted != 0 || r.nst != 0 ||
	    r.heads.len != 0 || r.sids != 1 || r.kbase != strlen(SHDR) ||
	    r.kept.len != kept)
		problem(&r, "output %s, accepted %d, stanzas %d, heads %s, "
		    "server_id %d, kept %zu from %llu (want %zu from %zu)",
		    shown(r.out.p + n, r.out.len - n, 60), r.accepted, r.nst,
		    shown(r.heads.p, r.heads.len, 60), r.sids, r.kept.len,
		    (unsigned long long)r.kbase, kept, strlen(SHDR));
	report("initiate: nothing parsed while waiting for the digest, the "
	    "input kept from the end of the server's header", NULL, "%s",
	    r.why);

	/* Our digest: out as given, once. */
	r.why[0] = '\0';
	r.pend = P_NONE;
	r.digests++;
	stream_digest(r.st, r.hex);
	snprintf(hs, sizeof(hs), "<handshake>%s</handshake>", r.hex);
	if (strcmp(r.out.p + n, hs) != 0)
		problem(&r, "output %s, want %s", shown(r.out.p + n,
		    r.out.len - n, 80), hs);
	state_is(&r, "after stream_digest", STREAM_HANDSHAKE, 0, 0);
	n = r.out.len;
	stream_digest(r.st, r.hex);
	if (r.out.len != n)
		problem(&r, "a second stream_digest: %s", shown(r.out.p + n,
		    r.out.len - n, 80));
	if (r.accepted != 0 || r.nst != 0)
		problem(&r, "accepted %d, stanzas %d before any input",
		    r.accepted, r.nst);
	report("initiate: stream_digest sends <handshake>HEX</handshake>, "
	    "once", NULL, "%s", r.why);

	/* The server's <handshake/>: accepted, then the stanzas kept. */
	r.why[0] = '\0';
	conn_input(&r);
	state_is(&r, "after the server's <handshake/>", STREAM_OPEN, 0, 1);
	if (r.accepted != 1 || r.nst != 2 || strcmp(r.stanzas.p,
	    UMSG EM "\036" UPRES) != 0 || r.out.len != n)
		problem(&r, "accepted %d, stanzas %d: %s, output %s",
		    r.accepted, r.nst, shown(r.stanzas.p, r.stanzas.len, 80),
		    shown(r.out.p + n, r.out.len - n, 40));
	stream_digest(r.st, r.hex);
	stream_streamid(r.st, STREAMID);
	if (r.out.len != n)
		problem(&r, "output once open: %s", shown(r.out.p + n,
		    r.out.len - n, 80));
	stream_keepalive(r.st);
	if (strcmp(r.out.p + n, " ") != 0)
		problem(&r, "keepalive: %s", shown(r.out.p + n, r.out.len - n,
		    40));
	report("initiate: the server's <handshake/> calls accepted, the "
	    "stanzas kept are offered", NULL, "%s", r.why);
	run_free(&r);

	/* A component's stream is not initiating, and takes no digest. */
	run_init(&r, &tc_plain, 0);
	feed(&r, HDR);
	r.pend = P_NONE;
	n = r.out.len;
	stream_digest(r.st, "0123456789abcdef0123456789abcdef01234567");
	if (stream_initiating(r.st) || r.sids != 0 || r.want_id != 1 ||
	    r.out.len != n || stream_state(r.st) != STREAM_STREAMID)
		problem(&r, "stream_initiating %d, server_id %d, want_id %d, "
		    "output %s, state %d", stream_initiating(r.st), r.sids,
		    r.want_id, shown(r.out.p, r.out.len, 60),
		    stream_state(r.st));
	report("initiate: a component's stream is not initiating and "
	    "ignores stream_digest", NULL, "%s", r.why);
	run_free(&r);
}

/* How an initiated stream ends: what goes out, what is logged. */
static void
test_initiate_end(void)
{
	struct run	 r;
	size_t		 n;

	current = "initiate: the end";
	run_init(&r, &tc_init, 0);
	feed_all(&r, SHDR SERR UMSG EM);
	n = strlen(OUR_INIT) + strlen("<handshake></handshake>") +
	    2 * GW_DIGEST_LEN;
	if (strstr(r.log.p, "the peer sent the stream error not-authorized") ==
	    NULL || strstr(r.log.p, "the peer sent a stream error") == NULL)
		problem(&r, "log: %s", shown(r.log.p, r.log.len, 200));
	if (r.accepted != 0 || r.closing != 1 || r.nst != 0 ||
	    r.out.len < n || strcmp(r.out.p + n, CL) != 0)
		problem(&r, "accepted %d, closing %d, stanzas %d, output %s",
		    r.accepted, r.closing, r.nst, shown(r.out.p, r.out.len,
		    300));
	report("initiate: the server's stream error before <handshake/>: "
	    "logged with its condition, our closing tag, not accepted", NULL,
	    "%s", r.why);
	run_free(&r);

	run_init(&r, &tc_init, 0);
	feed_all(&r, SAUTH UMSG EM "<stream:error><system-shutdown xmlns='"
	    NS_E "'/></stream:error>");
	if (strstr(r.log.p, "the peer sent the stream error system-shutdown")
	    == NULL || r.accepted != 1 || r.nst != 1 || r.closing != 1 ||
	    strcmp(r.out.p + r.out.len - strlen(CL), CL) != 0 ||
	    strstr(r.out.p, "<stream:error") != NULL)
		problem(&r, "accepted %d, stanzas %d, closing %d, log %s, "
		    "output %s", r.accepted, r.nst, r.closing,
		    shown(r.log.p, r.log.len, 200), shown(r.out.p, r.out.len,
		    300));
	report("initiate: the server's stream error once open: logged, our "
	    "closing tag", NULL, "%s", r.why);
	run_free(&r);

	/* stream_finish: open, then again, then anything else. */
	run_init(&r, &tc_init, 0);
	feed_all(&r, SAUTH);
	state_is(&r, "open", STREAM_OPEN, 0, 1);
	n = r.out.len;
	stream_finish(r.st, "upstream removed");
	if (strcmp(r.out.p + n, CL) != 0 || r.closing != 1 ||
	    stream_state(r.st) != STREAM_CLOSING ||
	    strstr(r.log.p, "upstream removed") == NULL)
		problem(&r, "output %s, closing %d, state %d, log %s",
		    shown(r.out.p + n, r.out.len - n, 80), r.closing,
		    stream_state(r.st), shown(r.log.p, r.log.len, 200));
	n = r.out.len;
	stream_finish(r.st, "again");
	stream_error(r.st, "connection-timeout", "late");
	stream_peer_closed(r.st);
	stream_keepalive(r.st);
	stream_digest(r.st, r.hex);
	feed(&r, UMSG EM);
	if (r.out.len != n || r.nst != 0 || r.closing != 1 ||
	    strstr(r.log.p, "again") != NULL)
		problem(&r, "then output %s, stanzas %d, closing %d",
		    shown(r.out.p + n, r.out.len - n, 80), r.nst, r.closing);
	report("stream_finish: an open stream to a server gets our closing "
	    "tag, no error, once; why is logged", NULL, "%s", r.why);
	run_free(&r);

	/* Waiting for the digest (authd has no secret). */
	run_init(&r, &tc_init, 0);
	feed(&r, SHDR "<handshake/>");
	n = r.out.len;
	r.pend = P_NONE;
	stream_finish(r.st, "no upstream secret");
	stream_digest(r.st, r.hex);
	conn_input(&r);
	if (n != strlen(OUR_INIT) || strcmp(r.out.p + n, CL) != 0 ||
	    r.closing != 1 || stream_waiting(r.st) || r.accepted != 0 ||
	    stream_state(r.st) != STREAM_CLOSING)
		problem(&r, "output %s, closing %d, waiting %d, accepted %d",
		    shown(r.out.p + n, r.out.len - n, 80), r.closing,
		    stream_waiting(r.st), r.accepted);
	report("stream_finish: waiting for the digest: our closing tag only, "
	    "stream_digest then does nothing", NULL, "%s", r.why);
	run_free(&r);

	/* Before the server said anything. */
	run_init(&r, &tc_init, 0);
	stream_finish(r.st, "shutting down");
	if (strcmp(r.out.p, OUR_INIT CL) != 0 || r.closing != 1)
		problem(&r, "output %s, closing %d", shown(r.out.p, r.out.len,
		    200), r.closing);
	report("stream_finish: before the server's header: our header and "
	    "closing tag, no second header", NULL, "%s", r.why);
	run_free(&r);

	/* A component's open stream. */
	run_init(&r, &tc_plain, 0);
	feed_all(&r, AUTH);
	state_is(&r, "a component's, open", STREAM_OPEN, 0, 1);
	n = r.out.len;
	stream_finish(r.st, "kicked");
	if (strcmp(r.out.p + n, CL) != 0 || r.closing != 1)
		problem(&r, "output %s, closing %d", shown(r.out.p + n,
		    r.out.len - n, 80), r.closing);
	report("stream_finish: a component's open stream: our closing tag, "
	    "no error", NULL, "%s", r.why);
	run_free(&r);
}

/* A fatalx of the stream's exits: a failure, with the last of its log. */
static void
last_words(void)
{
	char	buf[512], *p;
	long	end;
	size_t	n = 0;

	if (finished)
		return;
	if (logfp != NULL && fflush(logfp) == 0 && (end = ftell(logfp)) > 0 &&
	    fseek(logfp, end > 511 ? end - 511 : 0, SEEK_SET) == 0)
		n = fread(buf, 1, sizeof(buf) - 1, logfp);
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	p = strrchr(buf, '\n') != NULL ? strrchr(buf, '\n') + 1 : buf;
	printf("not ok - stream unit: %s: exited: %s\n", current, p);
	if (errfp != NULL)
		fprintf(errfp, "%s\n", buf);	/* the log's last lines */
}

int
main(int argc, char *argv[])
{
	size_t	i;

	log_init(1, LOG_DAEMON);
	log_setverbose(0);
	if (atexit(last_words) == -1)
		err(1, "atexit");
#ifdef __GLIBC__
	/* Every stream error is logged; the sanitizers write to fd 2. */
	if (argc < 2 || strcmp(argv[1], "-v") != 0) {
		if ((logfp = tmpfile()) == NULL)
			err(1, "tmpfile");
		errfp = stderr;
		stderr = logfp;
	}
#else
	(void)argc;
	(void)argv;
#endif
	tokens_init();
	report("stream_preinit", NULL, "%s", stream_preinit() == 0 ? "" :
	    "failed");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		test_case(&cases[i]);
	test_states();
	test_initiate();
	test_initiate_end();
	if (pauses_unseen != 0)
		report("stream_waiting at every pause", NULL, "not at %u of %u",
		    pauses_unseen, pauses);
	else
		report("stream_waiting at every pause", NULL, "%s", "");
	for (i = 0; i < ntokens; i++)
		free(tokens[i].value);
	printf("# stream unit: %d checks, %d failed\n", nchecks, nfailed);
	finished = 1;
	return (nfailed != 0);
}
