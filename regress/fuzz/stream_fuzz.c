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
 * libFuzzer target: the stream layer (gatewayd/stream*.c, splice.c)
 * alone.  The input is 4 bytes of PRNG seed, then the peer's bytes.
 * The seed's low 2 bits say how the connection ends, its top bit lets
 * the engine act from outside, and bit 26 (0x04 of the first byte)
 * makes the stream one gatewayd initiates, an uplink to a server for
 * irc.example.org: stream_initiate first, the peer is the server.
 * The PRNG splits those bytes into reads, picks the verdicts (DONE,
 * HOLD then stream_go, DONE_PAUSE), when a pause is lifted, when the
 * stream rests and, in some runs, what the engine does to a stream from
 * outside (keepalives, stream_set_max_stanza, stream_error and, on an
 * uplink, stream_finish, stray calls of the component's side, a failing
 * server_id), and when input the stream holds back (stream_deferred) is
 * flushed, as the engine does when the peer pauses.  The harness keeps
 * the input from the offset stream_input returns, as the connection
 * layer does, and answers for authd (a fixed stream id, every handshake
 * AUTH_OK; on an uplink, stream_digest of a fixed hex for the server's
 * id) and the router (from must be irc.example.org; on an uplink any
 * from, the server answers for its users).  An uplink that is open ends
 * with stream_finish where a component's would end with nothing.
 *
 * It aborts when
 *  - a stanza, with its decls spliced in behind its name as the router
 *    does, is not exactly one well-formed element in a receiver's
 *    stream, or it has no from there, or (but on an uplink) one not of
 *    irc.example.org, or its from, to or name differ from what
 *    stanza_start was told, or it is longer than the stanza limit, or
 *    nested deeper or with more attributes than the limits allow;
 *  - what the stream writes is not a well-formed prefix of a document,
 *    or is not a whole document once closing() is reported, or has an
 *    element other than <handshake> and <stream:error> in its root;
 *  - any callback comes after closing(), or while the stream should be
 *    waiting, or a held stanza comes back different;
 *  - input is still held back (stream_deferred) after stream_flush;
 *  - on an uplink: our output does not start with exactly our header to
 *    irc.example.org; it has a <handshake> other than one, after our
 *    stream_digest, written by it, saying the hex given (never an empty
 *    <handshake/> of ours); server_id is called twice, with an empty id
 *    or one of GW_SERVER_ID_MAX bytes or more, or other than the id of
 *    the server's header as a parser of its own reads it, or for a
 *    header from another name; accepted() comes twice, before our
 *    digest, or not for a stream that is open; a stanza comes before
 *    accepted(); want_id, handshake or domain are called; stream_finish
 *    writes an error or does not close; a failing server_id does not
 *    end in internal-server-error; stray stream_streamid,
 *    stream_verdict or stream_digest calls change anything; and on a
 *    component's stream server_id or accepted() are called;
 *  - a run without outside events ends differently from the same input
 *    fed whole without pauses or rests: other stanzas, another outcome
 *    (on an uplink, another id for server_id).
 *    Limits are checked per read, so a run with policy-violation before
 *    authentication is not compared; and which of two errors is found
 *    first may depend on the reads (expat holds text back until the
 *    next markup), so only that there was one must be the same.
 *
 * FUZZ_VERBOSE=1 in the environment keeps the stream's log on stderr,
 * and a line on how each run ended.
 */

#include <sys/types.h>

#include <ctype.h>
#include <expat.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "log.h"
#include "stream.h"
#include "xml.h"
#include "xmlmem.h"

#define IRC		"irc.example.org"
#define STREAMID	"0123456789abcdef0123456789abcdef"
#define RECV_HDR	"<stream:stream xmlns='" NS_COMPONENT "' " \
			"xmlns:stream='" NS_STREAMS "'>"
#define MAX_STANZA	10000
#define MAX_DEPTH	32
#define MAX_ATTRS	64
#define MAX_PUMPS	100000
#define MAX_HOLDS	3
/* An uplink: our header to the server, the hex of our handshake. */
#define OUR_INIT	"<?xml version='1.0'?><stream:stream xmlns='" \
			NS_COMPONENT "' xmlns:stream='" NS_STREAMS "' " \
			"to='" IRC "'>"
#define HEX		"0123456789abcdef0123456789abcdef01234567"
#define OUR_HS		"<handshake>" HEX "</handshake>"
#define SEED_EVENTS	0x80000000U
#define SEED_CLIENT	0x04000000U

XML_Bool XML_SetReparseDeferralEnabled(XML_Parser, XML_Bool)
    __attribute__((__weak__));
/* Input held back, where the stream layer has them (engine: quiet). */
int	stream_deferred(const struct stream *) __attribute__((__weak__));
void	stream_flush(struct stream *) __attribute__((__weak__));

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

enum { P_NONE, P_ID, P_VERDICT, P_GO, P_DIGEST };

struct buf {
	char	*p;
	size_t	 len, cap;
};

/* What the output said, read by expat as it came. */
struct outcome {
	int	 depth, in_error, auth, closed;
	int	 hs, in_hs;	/* an uplink: our <handshake>s */
	char	 cond[64];
};

struct run {
	struct stream		*st;
	uint32_t		 rnd;
	int			 plain;		/* the reference: no PRNG */
	int			 events;	/* outside events: no compare */
	struct buf		 kept;
	uint64_t		 kbase;
	XML_Parser		 outp;
	struct outcome		 o;
	struct buf		 stanzas;	/* len, bytes; len, bytes... */
	int			 nst;
	struct buf		 held;
	int			 holding, holds;
	struct buf		 from, to;	/* the current stanza_start's */
	int			 has_from, has_to;
	enum stanza_kind	 kind;
	int			 pend, started, closing;
	uint32_t		 max_stanza;	/* stream_set_max_stanza's */
	/* An uplink. */
	int			 client;
	int			 sids, digested, accepted, id_failed;
	struct buf		 sid;		/* what server_id got */
	struct buf		 out;		/* all we wrote */
	struct buf		 hstext;	/* our <handshake>'s text */
	const char		*data;		/* the server's bytes */
	size_t			 size;
};

/* The server's header, as a parser of its own reads it. */
struct hdr {
	XML_Parser	 p;
	int		 found, has_from, has_id;
	struct buf	 from, id;
};

/* A receiver reading a forwarded stanza. */
struct recv {
	XML_Parser	 p;
	int		 depth, tops, ends, maxdepth, attrs_bad;
	uint64_t	 end;
	char		 name[64];
	struct buf	 from, to;
	int		 has_from, has_to;
};

static void	breach(const char *, ...)
		    __attribute__((__format__ (printf, 1, 2)))
		    __attribute__((__noreturn__));

static const struct stream_limits limits = {
	4096, MAX_STANZA, MAX_DEPTH, MAX_ATTRS
};
static FILE	*errfp;
static int	 verbose;
/* Ids near the limit: an edge of their own, for the fuzzer to work on. */
static volatile unsigned long long_ids;

static void
buf_add(struct buf *b, const void *p, size_t len)
{
	char	*np;
	size_t	 cap;

	if (b->p == NULL || b->len + len + 1 > b->cap) {
		for (cap = b->cap ? b->cap : 256; b->len + len + 1 > cap;)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL)
			abort();
		b->p = np;
		b->cap = cap;
	}
	if (len > 0)
		memcpy(b->p + b->len, p, len);
	b->len += len;
	b->p[b->len] = '\0';
}

static void
buf_set(struct buf *b, const char *s)
{
	b->len = 0;
	buf_add(b, s, strlen(s));
}

static void
buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Bytes for a message on one line: escaped, cut. */
static const char *
shown(const char *p, size_t len)
{
	static char	 ring[4][700];
	static int	 next;
	char		*s = ring[next++ % 4];
	size_t		 i, n = 0;

	for (i = 0; i < len && n < sizeof(ring[0]) - 8; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			s[n++] = p[i];
		else
			n += snprintf(s + n, 5, "\\x%02x", (unsigned char)p[i]);
	}
	snprintf(s + n, 4, "%s", i < len ? "..." : "");
	return (s);
}

static void
breach(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fprintf(errfp, "stream_fuzz: ORACLE: ");
	vfprintf(errfp, fmt, ap);
	fprintf(errfp, "\n");
	va_end(ap);
	fflush(errfp);
	abort();
}

static uint32_t
rnd(struct run *r)
{
	r->rnd ^= r->rnd << 13;
	r->rnd ^= r->rnd >> 17;
	r->rnd ^= r->rnd << 5;
	return (r->rnd);
}

/* One chance in n, never in the reference run. */
static int
chance(struct run *r, uint32_t n)
{
	return (!r->plain && rnd(r) % n == 0);
}

/* d[0..len) as domain_normalize has it: in any case, maybe a dot. */
static int
domain_is_n(const char *d, size_t len, const char *want)
{
	size_t	i;

	if (len > 0 && d[len - 1] == '.')
		len--;
	if (len != strlen(want))
		return (0);
	for (i = 0; i < len; i++)
		if (tolower((unsigned char)d[i]) != want[i])
			return (0);
	return (1);
}

/* [local@]domain[/resource]: is domain want? */
static int
jid_domain_is(const char *jid, const char *want)
{
	const char	*slash, *at, *d;

	if ((slash = strchr(jid, '/')) == NULL)
		slash = jid + strlen(jid);
	at = memchr(jid, '@', slash - jid);
	d = at != NULL ? at + 1 : jid;
	return (domain_is_n(d, slash - d, want));
}

static void
parser_init(XML_Parser p, void *arg)
{
	if (XML_SetReparseDeferralEnabled != NULL)
		XML_SetReparseDeferralEnabled(p, XML_FALSE);
	XML_SetUserData(p, arg);
}

/* The receiver. */

static void XMLCALL
recv_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct recv	*rv = arg;
	const char	*v;
	int		 n;

	if (++rv->depth == 1)
		return;
	if (rv->depth - 1 > rv->maxdepth)
		rv->maxdepth = rv->depth - 1;
	for (n = 0; attrs[2 * n] != NULL; n++)
		;
	/* The stanza may get the header's xml:lang as one more. */
	if (n > MAX_ATTRS + (rv->depth == 2))
		rv->attrs_bad = 1;
	if (rv->depth != 2)
		return;
	if (rv->tops++ > 0)
		return;
	strlcpy(rv->name, name, sizeof(rv->name));
	if ((v = xml_attr(attrs, "from")) != NULL) {
		rv->has_from = 1;
		buf_set(&rv->from, v);
	}
	if ((v = xml_attr(attrs, "to")) != NULL) {
		rv->has_to = 1;
		buf_set(&rv->to, v);
	}
}

static void XMLCALL
recv_end(void *arg, const XML_Char *name)
{
	struct recv	*rv = arg;

	(void)name;
	if (rv->depth-- != 2)
		return;
	if (rv->ends++ == 0)
		rv->end = XML_GetCurrentByteIndex(rv->p) +
		    XML_GetCurrentByteCount(rv->p);
}

static const char *
kind_name(enum stanza_kind kind)
{
	switch (kind) {
	case STANZA_MESSAGE:
		return (NS_COMPONENT " message");
	case STANZA_PRESENCE:
		return (NS_COMPONENT " presence");
	case STANZA_IQ:
		return (NS_COMPONENT " iq");
	}
	return ("?");
}

/* Oracles (a) and (b): the stanza as a receiver reads it. */
static void
recv_check(struct run *r, const char *f, size_t len)
{
	struct recv	rv;
	enum XML_Status	s1, s2;
	const size_t	hlen = sizeof(RECV_HDR) - 1;

	memset(&rv, 0, sizeof(rv));
	if ((rv.p = XML_ParserCreateNS("UTF-8", NS_SEP)) == NULL)
		abort();
	parser_init(rv.p, &rv);
	XML_SetElementHandler(rv.p, recv_start, recv_end);
	s1 = XML_Parse(rv.p, RECV_HDR, hlen, XML_FALSE);
	s2 = XML_Parse(rv.p, f, len, XML_FALSE);
	if (s1 != XML_STATUS_OK || s2 != XML_STATUS_OK)
		breach("stanza not well-formed for a receiver (%s at byte "
		    "%lld): %s", XML_ErrorString(XML_GetErrorCode(rv.p)),
		    (long long)XML_GetCurrentByteIndex(rv.p) - (long long)hlen,
		    shown(f, len));
	if (rv.tops != 1 || rv.ends != 1 || rv.depth != 1 ||
	    rv.end != hlen + len)
		breach("stanza not one element (%d starts, %d ends, depth %d, "
		    "ends at %llu of %zu): %s", rv.tops, rv.ends, rv.depth,
		    (unsigned long long)(rv.end - hlen), len, shown(f, len));
	if (rv.maxdepth > MAX_DEPTH || rv.attrs_bad)
		breach("stanza over the limits (depth %d): %s", rv.maxdepth,
		    shown(f, len));
	if (strcmp(rv.name, kind_name(r->kind)) != 0)
		breach("stanza_start said %s, the receiver reads %s: %s",
		    kind_name(r->kind), rv.name, shown(f, len));
	if (!rv.has_from || (!r->client && !jid_domain_is(rv.from.p, IRC)))
		breach("the receiver reads from='%s': %s", rv.has_from ?
		    rv.from.p : "(none)", shown(f, len));
	if (rv.has_from != r->has_from || strcmp(rv.from.p, r->from.p) != 0 ||
	    rv.has_to != r->has_to || (rv.has_to &&
	    strcmp(rv.to.p, r->to.p) != 0))
		breach("stanza_start had from '%s' to '%s', the receiver reads "
		    "from '%s' to '%s': %s", r->from.p, r->has_to ? r->to.p :
		    "(none)", rv.from.p, rv.has_to ? rv.to.p : "(none)",
		    shown(f, len));
	XML_ParserFree(rv.p);
	buf_free(&rv.from);
	buf_free(&rv.to);
}

/* Oracle (c): the output, read as it comes. */

static void XMLCALL
out_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct run	*r = arg;
	struct outcome	*o = &r->o;
	const char	*local;

	(void)attrs;
	o->depth++;
	if (o->in_hs)
		breach("an element <%s> in our handshake", name);
	if (o->depth == 2 && strcmp(name, NS_COMPONENT " handshake") == 0) {
		if (!r->client) {
			o->auth = 1;
			return;
		}
		/* Ours to a server: once, after stream_digest, by it. */
		if (!r->digested)
			breach("our <handshake> before stream_digest "
			    "(server_id %d)", r->sids);
		if (o->hs++ > 0)
			breach("a second <handshake> of ours");
		o->in_hs = 1;
		buf_set(&r->hstext, "");
	} else if (o->depth == 2 && strcmp(name, NS_STREAMS " error") == 0)
		o->in_error = 1;
	else if (o->depth == 2)
		breach("our output has <%s> in its root", name);
	else if (o->depth == 3 && o->in_error && o->cond[0] == '\0' &&
	    (local = strrchr(name, NS_SEP)) != NULL)
		strlcpy(o->cond, local + 1, sizeof(o->cond));
}

static void XMLCALL
out_end(void *arg, const XML_Char *name)
{
	struct run	*r = arg;
	struct outcome	*o = &r->o;

	(void)name;
	if (o->in_hs && o->depth == 2) {
		o->in_hs = 0;
		if (r->hstext.len == 0)
			breach("our <handshake/> on a stream we initiated");
		if (strcmp(r->hstext.p, HEX) != 0)
			breach("our handshake says '%s', stream_digest had "
			    "'%s'", shown(r->hstext.p, r->hstext.len), HEX);
	}
	if (--o->depth == 0)
		o->closed = 1;
}

static void XMLCALL
out_text(void *arg, const XML_Char *s, int len)
{
	struct run	*r = arg;

	if (r->o.in_hs)
		buf_add(&r->hstext, s, len);
}

static void
cb_output(void *arg, const char *p, size_t len)
{
	struct run	*r = arg;

	if (r->closing)
		breach("output after closing: %s", shown(p, len));
	buf_add(&r->out, p, len);
	if (XML_Parse(r->outp, p, len, XML_FALSE) != XML_STATUS_OK)
		breach("output not well-formed (%s): %s",
		    XML_ErrorString(XML_GetErrorCode(r->outp)), shown(p, len));
}

static const char *
cb_domain(void *arg, const char *to)
{
	struct run	*r = arg;

	if (r->closing)
		breach("domain after closing");
	if (r->client)
		breach("domain on a stream we initiated");
	return (strcmp(to, IRC) == 0 ? NULL : "host-unknown");
}

static void
not_waiting(struct run *r, const char *what)
{
	if (r->closing)
		breach("%s after closing", what);
	if (r->pend != P_NONE)
		breach("%s while waiting (%d)", what, r->pend);
}

static int
cb_want_id(void *arg, const char *domain)
{
	struct run	*r = arg;

	not_waiting(r, "want_id");
	if (r->client)
		breach("want_id on a stream we initiated");
	if (strcmp(domain, IRC) != 0)
		breach("want_id for %s", domain);
	r->pend = P_ID;
	return (0);
}

static int
cb_handshake(void *arg, const uint8_t digest[GW_DIGEST_LEN])
{
	struct run	*r = arg;

	(void)digest;
	not_waiting(r, "handshake");
	if (r->client)
		breach("handshake op on a stream we initiated");
	r->pend = P_VERDICT;
	return (0);
}

/* As the router: from of the stream's name (an uplink's: any), a to. */
static const char *
cb_stanza_start(void *arg, const struct stanza_head *h, const char **why)
{
	struct run	*r = arg;

	not_waiting(r, "stanza_start");
	if (r->client && !r->accepted)
		breach("stanza_start before accepted");
	if (r->started)
		breach("stanza_start twice for one stanza");
	if (h->kind != STANZA_MESSAGE && h->kind != STANZA_PRESENCE &&
	    h->kind != STANZA_IQ)
		breach("stanza_start of kind %d", h->kind);
	*why = "from or to missing";
	if (h->from == NULL || h->from[0] == '\0')
		return ("improper-addressing");
	if (!r->client && !jid_domain_is(h->from, IRC)) {
		*why = "from is not one of the stream's names";
		return ("invalid-from");
	}
	if (h->to == NULL || h->to[0] == '\0')
		return ("improper-addressing");
	r->kind = h->kind;
	r->has_from = 1;
	buf_set(&r->from, h->from);
	r->has_to = 1;
	buf_set(&r->to, h->to);
	r->started = 1;
	return (NULL);
}

static enum stanza_verdict
verdict(struct run *r)
{
	uint32_t	x;

	if (r->plain)
		return (STANZA_DONE);
	x = rnd(r) % 8;
	if (x == 0 && r->holds < MAX_HOLDS)
		return (STANZA_HOLD);
	if (x == 1)
		return (STANZA_DONE_PAUSE);
	return (STANZA_DONE);
}

static enum stanza_verdict
cb_stanza(void *arg, const struct stanza *s)
{
	struct run		*r = arg;
	struct buf		 f = { NULL, 0, 0 };
	enum stanza_verdict	 v;
	size_t			 n = s->name_len, max;

	not_waiting(r, "stanza");
	if (r->client && !r->accepted)
		breach("stanza before accepted");
	if (!r->started)
		breach("stanza without stanza_start");
	if (s->len < n + 2 || s->raw[0] != '<' ||
	    strchr(" \t\r\n/>", s->raw[n + 1]) == NULL)
		breach("name_len %zu in %s", n, shown(s->raw, s->len));
	buf_add(&f, s->raw, n + 1);
	if (s->decls != NULL)
		buf_add(&f, s->decls, s->decls_len);
	buf_add(&f, s->raw + n + 1, s->len - n - 1);
	if (r->holding) {
		if (f.len != r->held.len || memcmp(f.p, r->held.p, f.len))
			breach("held stanza %s offered again as %s",
			    shown(r->held.p, r->held.len), shown(f.p, f.len));
	} else {
		max = r->max_stanza != 0 ? r->max_stanza : MAX_STANZA;
		if (s->len > max)
			breach("a stanza of %zu bytes, the limit %zu", s->len,
			    max);
		recv_check(r, f.p, f.len);
	}
	if ((v = verdict(r)) == STANZA_HOLD) {
		buf_free(&r->held);
		r->held = f;
		r->holding = 1;
		r->holds++;
		r->pend = P_GO;
		return (v);
	}
	buf_add(&r->stanzas, &f.len, sizeof(f.len));
	buf_add(&r->stanzas, f.p, f.len);
	buf_free(&f);
	r->nst++;
	r->holding = r->holds = r->started = 0;
	if (v == STANZA_DONE_PAUSE)
		r->pend = P_GO;
	return (v);
}

static void
cb_closing(void *arg)
{
	struct run	*r = arg;

	if (r->closing++)
		breach("closing reported twice");
	if (XML_Parse(r->outp, "", 0, XML_TRUE) != XML_STATUS_OK ||
	    !r->o.closed)
		breach("output at closing not a whole document (%s)",
		    XML_ErrorString(XML_GetErrorCode(r->outp)));
}

static const char *
cb_label(void *arg)
{
	(void)arg;
	return ("connection 1 from 192.0.2.1");
}

static void XMLCALL
hdr_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct hdr	*h = arg;
	const char	*v;

	(void)name;
	if (h->found++ > 0)
		return;
	if ((v = xml_attr(attrs, "from")) != NULL) {
		h->has_from = 1;
		buf_set(&h->from, v);
	}
	if ((v = xml_attr(attrs, "id")) != NULL) {
		h->has_id = 1;
		buf_set(&h->id, v);
	}
	XML_StopParser(h->p, XML_FALSE);
}

static int
domain_is(const char *d, const char *want)
{
	return (domain_is_n(d, strlen(d), want));
}

/* server_id's id is the header's, and the header is from us if at all. */
static void
server_header(struct run *r, const char *id)
{
	struct hdr	h;

	memset(&h, 0, sizeof(h));
	buf_set(&h.from, "");
	buf_set(&h.id, "");
	if ((h.p = XML_ParserCreateNS("UTF-8", NS_SEP)) == NULL)
		abort();
	parser_init(h.p, &h);
	XML_SetStartElementHandler(h.p, hdr_start);
	(void)XML_Parse(h.p, r->data, r->size, XML_FALSE);
	if (!h.found)
		breach("server_id '%s', but no header in %s", id,
		    shown(r->data, r->size));
	if (!h.has_id || strcmp(h.id.p, id) != 0)
		breach("server_id '%s', the header's id is '%s'", id,
		    h.has_id ? h.id.p : "(none)");
	if (h.has_from && !domain_is(h.from.p, IRC))
		breach("server_id for a header from '%s'", h.from.p);
	XML_ParserFree(h.p);
	buf_free(&h.from);
	buf_free(&h.id);
}

/* An uplink: authd gets the server's id for our handshake. */
static int
cb_server_id(void *arg, const char *id)
{
	struct run	*r = arg;
	size_t		 len = strlen(id);

	not_waiting(r, "server_id");
	if (!r->client)
		breach("server_id on a component's stream");
	if (r->sids++ > 0)
		breach("server_id twice");
	if (stream_state(r->st) != STREAM_STREAMID)
		breach("server_id in state %d", stream_state(r->st));
	if (len == 0 || len >= GW_SERVER_ID_MAX)
		breach("server_id got %zu bytes: %s", len, shown(id, len));
	if (len > GW_SERVER_ID_MAX - 16)
		long_ids++;
	server_header(r, id);
	buf_set(&r->sid, id);
	/* authd unreachable, in a run that is not compared. */
	if (r->events && chance(r, 32)) {
		r->id_failed = 1;
		return (-1);
	}
	r->pend = P_DIGEST;
	return (0);
}

static void
cb_accepted(void *arg)
{
	struct run	*r = arg;

	not_waiting(r, "accepted");
	if (!r->client)
		breach("accepted on a component's stream");
	if (!r->digested)
		breach("accepted before our digest");
	if (r->accepted++ > 0)
		breach("accepted twice");
	if (stream_state(r->st) != STREAM_OPEN)
		breach("accepted in state %d", stream_state(r->st));
	r->o.auth = 1;
}

static const struct stream_ops ops = {
	.output = cb_output,
	.domain = cb_domain,
	.want_id = cb_want_id,
	.handshake = cb_handshake,
	.stanza_start = cb_stanza_start,
	.stanza = cb_stanza,
	.closing = cb_closing,
	.label = cb_label,
	.server_id = cb_server_id,
	.accepted = cb_accepted
};

/*
 * The connection's part: the kept bytes in a buffer of their own, freed
 * at once; then only those from the offset returned are kept.
 */
static void
conn_input(struct run *r)
{
	uint64_t	 off, end = r->kbase + r->kept.len;
	char		*copy;

	if ((copy = malloc(r->kept.len + 1)) == NULL)
		abort();
	memcpy(copy, r->kept.p, r->kept.len);
	off = stream_input(r->st, copy, r->kbase, r->kept.len);
	free(copy);
	if (off < r->kbase || off > end)
		breach("stream_input returned %llu for %llu to %llu",
		    (unsigned long long)off, (unsigned long long)r->kbase,
		    (unsigned long long)end);
	if (r->client && stream_state(r->st) == STREAM_AUTHWAIT)
		breach("a stream we initiated waits for a verdict");
	memmove(r->kept.p, r->kept.p + (off - r->kbase), end - off);
	r->kept.len = end - off;
	r->kept.p[r->kept.len] = '\0';
	r->kbase = off;
}

/* authd's answer for an uplink: our handshake, and only that, goes out. */
static void
digest(struct run *r)
{
	size_t	before = r->out.len;

	r->digested = 1;
	stream_digest(r->st, HEX);
	if (r->out.len - before != sizeof(OUR_HS) - 1 ||
	    memcmp(r->out.p + before, OUR_HS, sizeof(OUR_HS) - 1) != 0)
		breach("stream_digest wrote %s", shown(r->out.p + before,
		    r->out.len - before));
	if (stream_state(r->st) != STREAM_HANDSHAKE || stream_waiting(r->st))
		breach("after stream_digest state %d, waiting %d",
		    stream_state(r->st), stream_waiting(r->st));
}

/* The engine ends an uplink: our closing tag, no error. */
static void
finish(struct run *r)
{
	char	cond[sizeof(r->o.cond)];

	strlcpy(cond, r->o.cond, sizeof(cond));
	stream_finish(r->st, "uplink removed");
	if (!r->closing || stream_state(r->st) != STREAM_CLOSING)
		breach("stream_finish did not close (state %d)",
		    stream_state(r->st));
	if (strcmp(cond, r->o.cond) != 0)
		breach("stream_finish wrote the error %s", r->o.cond);
}

/* What the engine never does to an uplink changes nothing. */
static void
stray(struct run *r)
{
	enum stream_state	s = stream_state(r->st);
	int			w = stream_waiting(r->st);
	size_t			before = r->out.len;

	stream_streamid(r->st, STREAMID);
	stream_verdict(r->st, AUTH_OK);
	if (r->pend != P_DIGEST)
		stream_digest(r->st, HEX);
	if (r->out.len != before || stream_state(r->st) != s ||
	    stream_waiting(r->st) != w)
		breach("stray calls: state %d to %d, waiting %d to %d, "
		    "wrote %s", s, stream_state(r->st), w,
		    stream_waiting(r->st), shown(r->out.p + before,
		    r->out.len - before));
}

/* authd or the router answers: the pause is over. */
static int
lift(struct run *r)
{
	int	pend = r->pend;

	if (pend == P_NONE || r->closing)
		return (0);
	if (!stream_waiting(r->st))
		breach("a pause (%d) the stream does not wait for", pend);
	r->pend = P_NONE;
	if (pend == P_ID)
		stream_streamid(r->st, STREAMID);
	else if (pend == P_VERDICT)
		stream_verdict(r->st, AUTH_OK);
	else if (pend == P_DIGEST) {
		/* No secret for the server: the engine ends the uplink. */
		if (r->events && chance(r, 16))
			finish(r);
		else
			digest(r);
	} else
		stream_go(r->st);
	return (1);
}

/* What the engine may do to a stream between reads. */
static void
outside(struct run *r)
{
	static const uint32_t	 maxes[] = { 0, 200, 1000, 10000, 20000 };

	if (chance(r, 16))
		stream_keepalive(r->st);
	if (!r->events || r->closing)
		return;
	if (chance(r, 32)) {
		r->max_stanza = maxes[rnd(r) % nitems(maxes)];
		stream_set_max_stanza(r->st, r->max_stanza);
	}
	if (chance(r, 128))
		stream_error(r->st, "host-gone", "component removed");
	if (!r->client || r->closing)
		return;
	if (chance(r, 8))
		stray(r);
	if (chance(r, 128))
		finish(r);
}

static int
deferred(struct run *r)
{
	return (stream_deferred != NULL && stream_flush != NULL &&
	    stream_deferred(r->st));
}

/* Input, and again after each pause lifted, unless the lift waits. */
static void
pump(struct run *r, int last)
{
	int	i;

	for (i = 0; i < MAX_PUMPS; i++) {
		conn_input(r);
		if (r->pend != P_NONE && !last && chance(r, 4))
			return;
		if (lift(r))
			continue;
		/*
		 * Input held back: more comes, or the peer pauses and the
		 * engine flushes it (session_quiet).
		 */
		if (!r->closing && deferred(r) &&
		    (last || r->plain || chance(r, 2))) {
			stream_flush(r->st);
			continue;
		}
		/* As the engine does: only with nothing kept. */
		if (!r->closing && r->kept.len == 0 &&
		    stream_can_rest(r->st) && chance(r, 3))
			stream_rest(r->st);
		return;
	}
	breach("no end to pauses");
}

static size_t
split_len(struct run *r, size_t left)
{
	uint32_t	x;
	size_t		n;

	if (r->plain)
		return (left);
	x = rnd(r);
	switch (x % 8) {
	case 0:
		n = left;
		break;
	case 1:
	case 2:
		n = 1 + (x >> 8) % 256;
		break;
	default:
		n = 1 + (x >> 8) % 16;
		break;
	}
	return (n < left ? n : left);
}

static void
run_init(struct run *r, uint32_t seed, int plain)
{
	memset(r, 0, sizeof(*r));
	r->rnd = seed != 0 ? seed : 0x9e3779b9U;
	r->plain = plain;
	r->events = !plain && (seed & SEED_EVENTS);
	r->client = (seed & SEED_CLIENT) != 0;
	buf_add(&r->kept, "", 0);
	buf_add(&r->out, "", 0);
	buf_set(&r->sid, "");
	buf_set(&r->hstext, "");
	buf_add(&r->stanzas, "", 0);
	buf_set(&r->from, "");
	buf_set(&r->to, "");
	if ((r->outp = XML_ParserCreateNS("UTF-8", NS_SEP)) == NULL)
		abort();
	parser_init(r->outp, r);
	XML_SetElementHandler(r->outp, out_start, out_end);
	XML_SetCharacterDataHandler(r->outp, out_text);
	if ((r->st = stream_new(&ops, r, &limits)) == NULL)
		abort();
	if (!r->client) {
		if (stream_initiating(r->st))
			breach("a new stream is initiating");
		return;
	}
	stream_initiate(r->st, IRC);
	if (r->out.len != sizeof(OUR_INIT) - 1 ||
	    memcmp(r->out.p, OUR_INIT, r->out.len) != 0)
		breach("stream_initiate wrote %s", shown(r->out.p, r->out.len));
	if (!stream_initiating(r->st) || stream_state(r->st) != STREAM_HEADER ||
	    stream_waiting(r->st) || r->closing)
		breach("after stream_initiate state %d, waiting %d",
		    stream_state(r->st), stream_waiting(r->st));
}

static void
run_free(struct run *r)
{
	stream_free(r->st);
	XML_ParserFree(r->outp);
	buf_free(&r->kept);
	buf_free(&r->stanzas);
	buf_free(&r->held);
	buf_free(&r->from);
	buf_free(&r->to);
	buf_free(&r->sid);
	buf_free(&r->out);
	buf_free(&r->hstext);
}

/* Once closed, nothing makes the stream say or report more. */
static void
after_closing(struct run *r)
{
	static const char	 more[] = "<message from='a@" IRC "' "
				    "to='b@example.net'/></stream:stream>";

	buf_add(&r->kept, more, sizeof(more) - 1);
	conn_input(r);
	stream_keepalive(r->st);
	stream_peer_closed(r->st);
	stream_error(r->st, "connection-timeout", "late");
	stream_streamid(r->st, STREAMID);
	stream_verdict(r->st, AUTH_OK);
	stream_digest(r->st, HEX);
	stream_go(r->st);
	stream_finish(r->st, "late");
	if (stream_state(r->st) != STREAM_CLOSING)
		breach("state %d after closing", stream_state(r->st));
}

/* The whole session: the reads, then how the connection ends. */
static void
run_one(struct run *r, const char *data, size_t size, int end)
{
	size_t	pos = 0, n;

	r->data = data;
	r->size = size;
	while (pos < size && !r->closing) {
		n = split_len(r, size - pos);
		buf_add(&r->kept, data + pos, n);
		pos += n;
		pump(r, 0);
		if (!r->closing)
			outside(r);
	}
	if (!r->closing)
		pump(r, 1);
	if (r->pend != P_NONE && !r->closing)
		breach("still waiting (%d) at the end", r->pend);
	if (deferred(r))
		breach("input held back after stream_flush");
	if (r->holding && !r->closing)
		breach("a held stanza was never offered again");
	if (r->client && stream_state(r->st) == STREAM_OPEN && !r->accepted)
		breach("open without accepted");
	if (r->id_failed && (!r->closing ||
	    strcmp(r->o.cond, "internal-server-error") != 0))
		breach("server_id failed, the stream ends with '%s' (closing "
		    "%d)", r->o.cond, r->closing);
	if (!r->closing && end == 1)
		stream_peer_closed(r->st);
	else if (!r->closing && end == 2 &&
	    stream_state(r->st) < STREAM_OPEN)
		stream_error(r->st, "connection-timeout", "no handshake");
	else if (!r->closing && end == 2 && r->client)
		finish(r);
	else if (end == 3)
		stream_keepalive(r->st);
	if (r->closing)
		after_closing(r);
}

/* FUZZ_VERBOSE: what a run came to. */
static void
summary(const struct run *r, const char *what)
{
	if (!verbose)
		return;
	fprintf(errfp, "stream_fuzz: %s %s: %d stanzas, auth %d, error '%s', "
	    "closed %d", what, r->client ? "uplink" : "component", r->nst,
	    r->o.auth, r->o.cond, r->o.closed);
	if (r->client)
		fprintf(errfp, ", server_id %d '%s', digest %d, accepted %d",
		    r->sids, shown(r->sid.p, r->sid.len), r->digested,
		    r->accepted);
	fprintf(errfp, "\n");
}

/* Which error a run ends with may depend on the reads, not the rest. */
static void
compare(const struct run *a, const struct run *b)
{
	const struct outcome	*x = &a->o, *y = &b->o;
	int			 pv_x, pv_y;

	pv_x = strcmp(x->cond, "policy-violation") == 0;
	pv_y = strcmp(y->cond, "policy-violation") == 0;
	if ((pv_x && !x->auth) || (pv_y && !y->auth))
		return;
	if (a->nst != b->nst || a->stanzas.len != b->stanzas.len ||
	    memcmp(a->stanzas.p, b->stanzas.p, a->stanzas.len) != 0)
		breach("%d stanzas (%s), fed whole %d (%s)", a->nst,
		    shown(a->stanzas.p, a->stanzas.len), b->nst,
		    shown(b->stanzas.p, b->stanzas.len));
	if (a->sids != b->sids || strcmp(a->sid.p, b->sid.p) != 0)
		breach("server_id %d '%s', fed whole %d '%s'", a->sids,
		    a->sid.p, b->sids, b->sid.p);
	if (x->auth != y->auth || x->closed != y->closed ||
	    a->closing != b->closing || !x->cond[0] != !y->cond[0])
		breach("auth %d closed %d closing %d error '%s', fed whole: "
		    "auth %d closed %d closing %d error '%s'", x->auth,
		    x->closed, a->closing, x->cond, y->auth, y->closed,
		    b->closing, y->cond);
}

/*
 * Every stream freed: no parser's arena left, no page in use, and no
 * more free pages kept touched than xmlmem keeps (LeakSanitizer does
 * not see the arenas, which are mapped, not allocated).
 */
static void
arenas_check(void)
{
	struct xmlmem_stats	st;

	xmlmem_get_stats(&st);
	if (st.arenas != 0 || st.pages_used != 0 || st.mapped != 0 ||
	    st.pages_kept > XMLMEM_KEEP)
		breach("after the run: %zu arenas, %zu pages in use, %zu "
		    "mapped, %zu kept", st.arenas, st.pages_used, st.mapped,
		    st.pages_kept);
}

#ifdef __GLIBC__
/* The log to nowhere, but what a fatal says before the exit. */
static ssize_t
log_write(void *cookie, const char *p, size_t len)
{
	(void)cookie;
	if (verbose || (len > 9 && strncmp(p, "fatal in ", 9) == 0))
		(void)fwrite(p, 1, len, errfp);
	return (len);
}
#endif

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
#ifdef __GLIBC__
	cookie_io_functions_t	 io = { NULL, log_write, NULL, NULL };
	FILE			*fp;
#endif

	(void)argc;
	(void)argv;
	errfp = stderr;
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	log_init(1, LOG_DAEMON);
	log_setverbose(0);
#ifdef __GLIBC__
	if ((fp = fopencookie(NULL, "w", io)) != NULL) {
		setvbuf(fp, NULL, _IOFBF, 4096);
		stderr = fp;
	}
#endif
	if (stream_preinit() == -1)
		abort();
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run	mixed, whole;
	uint32_t	seed;
	int		end;

	if (size < 4)
		return (0);
	seed = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
	    (uint32_t)data[2] << 8 | data[3];
	end = seed & 3;
	data += 4;
	size -= 4;

	run_init(&mixed, seed, 0);
	run_one(&mixed, (const char *)data, size, end);
	summary(&mixed, "mixed");
	if (!mixed.events) {
		run_init(&whole, seed, 1);
		run_one(&whole, (const char *)data, size, end);
		summary(&whole, "whole");
		compare(&mixed, &whole);
		run_free(&whole);
	}
	run_free(&mixed);
	arenas_check();
	return (0);
}
