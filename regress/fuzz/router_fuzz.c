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
 * libFuzzer target: the router (gatewayd/router.c, gatewayd/bounce.c)
 * over a fake connection layer, driven as the engine does.  The input
 * is operations, a byte each and their arguments (op_one): a stream
 * binds a name, sends a stanza (built of the input's strings, or its
 * bytes when they are one element), a queue fills or drains or stalls,
 * a stream ends or closes, a reload, the clock moves.  The fake streams
 * keep the stream layer's rules: a stanza only after its start tag was
 * taken, a held one offered again on resume, nothing once ended
 * (router_unbind), router_release then free on close.
 *
 * It aborts when a callback names a closed stream or resumes one that
 * does not wait; a stanza goes elsewhere than its to says, or not as
 * the sender's bytes with the decls behind the name; a stanza bounces
 * that must not, or not one that must; a bounce is not one error stanza
 * of the component namespace for a receiver, to the sender, addresses
 * swapped, id kept, with the condition expected; the verdict or the
 * counters are not what happened; two streams hold one name.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/uio.h>

#include <expat.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "addr.h"
#include "conn.h"
#include "log.h"
#include "msg.h"
#include "router.h"
#include "stanza.h"
#include "util.h"
#include "xml.h"

#define NSLOTS		6
#define NCOMPS		5
#define MAX_QUEUE	1000
#define GW		"gw.example"
#define SEND_HDR	"<w xmlns='" NS_COMPONENT "' xmlns:stream='" \
			NS_STREAMS "'"
#define RECV_HDR	"<stream:stream xmlns='" NS_COMPONENT "' " \
			"xmlns:stream='" NS_STREAMS "'>"

XML_Bool XML_SetReparseDeferralEnabled(XML_Parser, XML_Bool)
    __attribute__((__weak__));

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct rec {
	uint64_t	 sender;
	char		*p;
	size_t		 len;
};

struct conn {
	uint64_t	 id;
	struct rec	*recs;
	size_t		 nrecs, bytes;
	int		 queued_set, watching, stalled;
	size_t		 queued;
	struct conn_stats st;		/* what conn_stats says */
};

/* What a parse of one element found. */
struct xread {
	int		 depth, tops, ends;
	uint64_t	 end;
	char		 name[64];
	char		*from, *to, *id, *type;
	int		 lang;
	char		 prefixes[256];	/* " p q " declared on it */
	int		 own_default;	/* it declares a default namespace */
	XML_Parser	 p;
};

/* A stanza as the stream layer hands it over, in bytes of its own. */
struct held {
	struct stanza	 s;
	char		*raw, *decls;
	enum stanza_kind kind;
	struct xread	 x;		/* x.from, x.to, x.id, x.type */
};

struct session {
	struct conn	 c;
	struct route	 r;
	int		 closing, waiting;
	const char	*hdr;
	char		 bound[GW_NAME_MAX];
	uint64_t	 bounces;
	struct held	*held;
};

/* The router_stanza under way, for the oracles of the queue. */
struct ctx {
	struct session	*s, *dest;
	struct held	*h;
	int		 delivered, bounced;
	const char	*cond, *etype;
};

struct input {
	const uint8_t	*p;
	size_t		 left;
};

static void	breach(const char *, ...)
		    __attribute__((__format__ (printf, 1, 2)))
		    __attribute__((__noreturn__));

static const struct {
	const char	*name;
	const char	*alias[2];
} comps[NCOMPS] = {
	{ "a.example", { "alias-a.example", "a2.example" } },
	{ "b.example", { "alias-b.example", NULL } },
	{ "c.example", { NULL, NULL } },
	{ "d.example", { "alias-d.example", NULL } },
	{ "def.example", { NULL, NULL } }
};

static const char *domains[] = {
	"a.example", "alias-a.example", "a2.example", "b.example",
	"alias-b.example", "c.example", "d.example", "alias-d.example",
	"def.example", "nope.example", "A.EXAMPLE.", "Alias-B.Example",
	"192.0.2.1", "[2001:db8::1]", "b..example", "x.nope.example"
};
static const char *locals[] = { "", "u@", "user@", "a&b@", "x<y@", "q'@" };
static const char *resources[] = { "", "/r", "/r/x", "/\"q\"" };
static const char *types[] = { "", " type='chat'", " type='error'",
	" type='result'", " type='get'", " type='set'", " type='unavailable'" };
static const char *extras[] = { "", " xml:lang='de'", " xmlns:foo='urn:bar'",
	" xmlns='urn:other'", " xmlns:c='" NS_COMPONENT "'" };
static const char *hdrs[] = { "", " xmlns:foo='urn:foo'", " xml:lang='en'",
	" xmlns:foo='urn:foo' xml:lang='en'", " xmlns:c='" NS_COMPONENT "'",
	" xmlns:q='a&amp;b&lt;c&apos;d'" };

static struct {
	int		 present[NCOMPS], reject[NCOMPS];
	uint32_t	 max_stanza[NCOMPS];
	int		 def;
} cfg;

static struct session	*slots[NSLOTS];
static uint64_t		 next_id = 1;
static time_t		 now;
static struct ctx	*ctx;
static uint64_t		 nbounces, ncond[3];
static struct router_stats before;
static FILE		*errfp;

static void
breach(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fprintf(errfp, "router_fuzz: ORACLE: ");
	vfprintf(errfp, fmt, ap);
	fprintf(errfp, "\n");
	va_end(ap);
	fflush(errfp);
	abort();
}

static void *
xmalloc(size_t n)
{
	void	*p;

	if ((p = calloc(1, n)) == NULL)
		abort();
	return (p);
}

static char *
xstrdup(const char *s)
{
	return (s != NULL ? strcpy(xmalloc(strlen(s) + 1), s) : NULL);
}

static int
same(const char *a, const char *b)
{
	return (a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0);
}

static unsigned long long
id_of(const struct session *s)
{
	return (s != NULL ? (unsigned long long)s->c.id : 0);
}

/* The clock the router reads: the input moves it. */
time_t
monotime(void)
{
	return (now);
}

/* Parsing one element in a context. */

static void XMLCALL
x_nsdecl(void *arg, const XML_Char *prefix, const XML_Char *uri)
{
	struct xread	*x = arg;
	size_t		 n = strlen(x->prefixes);

	(void)uri;
	if (x->depth == 1 && prefix == NULL)
		x->own_default = 1;
	if (x->depth == 1 && prefix != NULL)
		snprintf(x->prefixes + n, sizeof(x->prefixes) - n, "%s%s ",
		    n == 0 ? " " : "", prefix);
}

static void XMLCALL
x_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct xread	*x = arg;

	if (++x->depth != 2 || x->tops++ > 0)
		return;
	strlcpy(x->name, name, sizeof(x->name));
	x->from = xstrdup(xml_attr(attrs, "from"));
	x->to = xstrdup(xml_attr(attrs, "to"));
	x->id = xstrdup(xml_attr(attrs, "id"));
	x->type = xstrdup(xml_attr(attrs, "type"));
	x->lang = xml_attr(attrs, NS_XML_LANG) != NULL;
}

static void XMLCALL
x_end(void *arg, const XML_Char *name)
{
	struct xread	*x = arg;

	(void)name;
	if (x->depth-- == 2 && x->ends++ == 0)
		x->end = XML_GetCurrentByteIndex(x->p) +
		    XML_GetCurrentByteCount(x->p);
}

static void
xread_free(struct xread *x)
{
	free(x->from);
	free(x->to);
	free(x->id);
	free(x->type);
}

/* Is p exactly one element after hdr?  0 if it is; free x either way. */
static int
xread(struct xread *x, const char *hdr, const char *p, size_t len)
{
	size_t	hlen = strlen(hdr);
	int	ok;

	memset(x, 0, sizeof(*x));
	if ((x->p = XML_ParserCreateNS("UTF-8", NS_SEP)) == NULL)
		abort();
	if (XML_SetReparseDeferralEnabled != NULL)
		XML_SetReparseDeferralEnabled(x->p, XML_FALSE);
	XML_SetUserData(x->p, x);
	XML_SetElementHandler(x->p, x_start, x_end);
	XML_SetStartNamespaceDeclHandler(x->p, x_nsdecl);
	ok = XML_Parse(x->p, hdr, hlen, XML_FALSE) == XML_STATUS_OK &&
	    XML_Parse(x->p, p, len, XML_FALSE) == XML_STATUS_OK &&
	    x->tops == 1 && x->ends == 1 && x->depth == 1 &&
	    x->end == hlen + len;
	XML_ParserFree(x->p);
	x->p = NULL;
	return (ok ? 0 : -1);
}

/* A stanza of the component protocol, by its expanded name; or 0. */
static enum stanza_kind
stanza_kind(const char *name)
{
	if (strcmp(name, NS_COMPONENT " message") == 0)
		return (STANZA_MESSAGE);
	if (strcmp(name, NS_COMPONENT " presence") == 0)
		return (STANZA_PRESENCE);
	if (strcmp(name, NS_COMPONENT " iq") == 0)
		return (STANZA_IQ);
	return (0);
}

/* The configuration, and who holds which name. */

static int
comp_index(const char *name)
{
	int	i;

	for (i = 0; i < NCOMPS; i++)
		if (cfg.present[i] && (strcmp(comps[i].name, name) == 0 ||
		    same(comps[i].alias[0], name) ||
		    same(comps[i].alias[1], name)))
			return (i);
	return (-1);
}

static struct session *
bound_session(int ci)
{
	struct session	*s = NULL;
	int		 i;

	for (i = 0; i < NSLOTS; i++) {
		if (slots[i] == NULL || slots[i]->r.r_comp == NULL ||
		    strcmp(slots[i]->bound, comps[ci].name) != 0)
			continue;
		if (s != NULL)
			breach("connections %llu and %llu both hold %s",
			    id_of(s), id_of(slots[i]), comps[ci].name);
		s = slots[i];
	}
	return (s);
}

static void
configure(void)
{
	struct gw_global		g = { .name = GW,
					    .max_queue = MAX_QUEUE,
					    .queue_timeout = 30, .flap_max = 2,
					    .flap_window = 60,
					    .flap_holddown = 60 };
	struct gw_component_conf	cc;
	struct gw_alias_conf		ac;
	int				i, j;

	router_stage_begin();
	for (i = 0; i < NCOMPS; i++) {
		if (!cfg.present[i])
			continue;
		memset(&cc, 0, sizeof(cc));
		strlcpy(cc.name, comps[i].name, sizeof(cc.name));
		cc.id = i + 1;
		cc.flags = cfg.def == i ? GW_COMP_DEFAULT_ROUTE : 0;
		cc.conflict = cfg.reject[i] ? CONFLICT_REJECT :
		    CONFLICT_REPLACE;
		cc.max_stanza = cfg.max_stanza[i];
		router_stage_component(&cc);
		for (j = 0; j < 2 && comps[i].alias[j] != NULL; j++) {
			strlcpy(ac.name, comps[i].alias[j], sizeof(ac.name));
			ac.component_id = cc.id;
			router_stage_alias(&ac);
		}
	}
	router_stage_commit(&g);
}

/* The session of a connection, of a route or of an id; or NULL. */
static struct session *
session_of(const void *p, uint64_t id)
{
	int	i;

	for (i = 0; i < NSLOTS; i++)
		if (slots[i] != NULL && (&slots[i]->c == p ||
		    &slots[i]->r == p || (id != 0 && slots[i]->c.id == id)))
			return (slots[i]);
	return (NULL);
}

/* The fake connection layer: what router.c calls. */

uint64_t
conn_id(const struct conn *c)
{
	return (c->id);
}

const struct conn_stats *
conn_stats(const struct conn *c)
{
	return (&c->st);
}

const char *
conn_peername(const struct conn *c)
{
	(void)c;
	return ("192.0.2.9:4711");
}

static void
check_bounce(struct session *s, const char *p, size_t len)
{
	struct xread	 x;
	const char	*cond = "remote-server-timeout", *etype = "wait";
	char		 tail[512];
	int		 n = 0;

	if (ctx != NULL) {
		cond = ctx->cond;
		etype = ctx->etype;
	}
	if (cond == NULL || s->r.r_comp == NULL ||
	    xread(&x, RECV_HDR, p, len) == -1)
		breach("a bounce (%s) to connection %llu (bound %d), not one "
		    "element for a receiver: %.*s", cond ? cond : "delivered",
		    id_of(s), s->r.r_comp != NULL, (int)len, p);
	/*
	 * It ends with the error, our name in by, and its closing tag as
	 * its start tag names it; when the stanza declares a default
	 * namespace of its own, the error says it is the component's.
	 */
	if (stanza_kind(x.name) != 0)
		n = snprintf(tail, sizeof(tail), "<error%s type='%s' by='" GW
		    "'><%s xmlns='" NS_STANZAS "'/></error></%.*s>",
		    x.own_default ? " xmlns='" NS_COMPONENT "'" : "",
		    etype, cond, (int)strcspn(p + 1, " \t\r\n/>"), p + 1);
	if (n == 0 || !same(x.type, "error") || (size_t)n > len ||
	    memcmp(p + len - n, tail, n) != 0)
		breach("a bounce not an error stanza (%s type %s) with %s, "
		    "%s: %.*s", x.name, x.type ? x.type : "(none)", cond,
		    etype, (int)len, p);
	if (ctx != NULL && (s != ctx->s || !same(x.from, ctx->h->x.to) ||
	    !same(x.to, ctx->h->x.from) || !same(x.id, ctx->h->x.id)))
		breach("a bounce on connection %llu from '%s' to '%s' id '%s' "
		    "for one from '%s' to '%s' id '%s' of connection %llu",
		    id_of(s), x.from, x.to, x.id, ctx->h->x.from, ctx->h->x.to,
		    ctx->h->x.id, id_of(ctx->s));
	ncond[strcmp(cond, "jid-malformed") == 0 ? 0 :
	    strcmp(cond, "remote-server-not-found") == 0 ? 1 : 2]++;
	if (ctx != NULL)
		ctx->bounced++;
	nbounces++;
	s->bounces++;
	xread_free(&x);
}

/* A stanza delivered: the sender's bytes, decls behind the name. */
static void
check_delivery(struct session *d, uint64_t sender, const char *p,
    size_t len)
{
	const struct stanza	*s;
	struct xread		 x;
	size_t			 head;

	if (ctx == NULL || sender != ctx->s->c.id)
		breach("a stanza of %llu queued outside its router_stanza",
		    (unsigned long long)sender);
	s = &ctx->h->s;
	head = 1 + s->name_len;
	if (len != s->len + s->decls_len || memcmp(p, s->raw, head) != 0 ||
	    (s->decls_len > 0 && memcmp(p + head, s->decls,
	    s->decls_len) != 0) ||
	    memcmp(p + head + s->decls_len, s->raw + head, s->len - head) != 0)
		breach("delivered %.*s for %.*s with '%.*s'", (int)len, p,
		    (int)s->len, s->raw, (int)s->decls_len,
		    s->decls != NULL ? s->decls : "");
	if (xread(&x, RECV_HDR, p, len) == -1)
		breach("delivered, not one element for a receiver: %.*s",
		    (int)len, p);
	xread_free(&x);
	ctx->delivered++;
	ctx->dest = d;
}

void
conn_queuev(struct conn *c, uint64_t sender, const struct iovec *iov,
    int iovcnt)
{
	struct session	*s = session_of(c, 0);
	struct rec	*rec;
	int		 i;

	if (s == NULL)
		breach("the router queues on a connection that is closed");
	if ((c->recs = reallocarray(c->recs, c->nrecs + 1,
	    sizeof(*c->recs))) == NULL)
		abort();
	rec = memset(&c->recs[c->nrecs++], 0, sizeof(*rec));
	rec->sender = sender;
	for (i = 0; i < iovcnt; i++) {
		if ((rec->p = realloc(rec->p, rec->len + iov[i].iov_len +
		    1)) == NULL)
			abort();
		memcpy(rec->p + rec->len, iov[i].iov_base, iov[i].iov_len);
		rec->p[rec->len += iov[i].iov_len] = '\0';
	}
	c->bytes += rec->len;
	if (sender == 0)
		check_bounce(s, rec->p, rec->len);
	else
		check_delivery(s, sender, rec->p, rec->len);
}

void
conn_write(struct conn *c, const char *data, size_t len)
{
	struct iovec	iov;

	iov.iov_base = (void *)(uintptr_t)data;
	iov.iov_len = len;
	conn_queuev(c, 0, &iov, 1);
}

size_t
conn_queued(const struct conn *c)
{
	return (c->queued_set ? c->queued : c->bytes);
}

static void
queue_clear(struct conn *c)
{
	size_t	i;

	for (i = 0; i < c->nrecs; i++)
		free(c->recs[i].p);
	free(c->recs);
	c->recs = NULL;
	c->nrecs = c->bytes = 0;
}

/* Handed over from a copy: the callback may queue on other connections. */
void
conn_take_queue(struct conn *c, void (*fn)(uint64_t, const char *, size_t,
    void *), void *arg)
{
	struct rec	*recs = c->recs;
	size_t		 i, n = c->nrecs;

	c->recs = NULL;
	c->nrecs = c->bytes = 0;
	for (i = 0; i < n; i++) {
		fn(recs[i].sender, recs[i].p, recs[i].len, arg);
		free(recs[i].p);
	}
	free(recs);
}

void
conn_watch(struct conn *c, size_t mark)
{
	(void)mark;
	c->watching = 1;
}

void
conn_stall_start(struct conn *c, unsigned int seconds)
{
	(void)seconds;
	c->stalled = 1;
}

void
conn_stall_stop(struct conn *c)
{
	c->stalled = 0;
}

/* The streams. */

static void
held_free(struct held *h)
{
	if (h == NULL)
		return;
	free(h->raw);
	free(h->decls);
	xread_free(&h->x);
	free(h);
}

/* The stream error goes out, the name is free (session_closing). */
static void
session_end(struct session *s)
{
	if (s->closing)
		return;
	s->closing = 1;
	router_unbind(&s->r);
}

static enum stanza_verdict offer(struct session *);

static void
fake_resume(struct route *r)
{
	struct session	*s = session_of(r, 0);

	if (s == NULL || !s->waiting || router_blocked(r))
		breach("resume for connection %llu, waiting %d, blocked %d",
		    id_of(s), s ? s->waiting : -1, router_blocked(r));
	s->waiting = 0;
	if (s->held != NULL && !s->closing)
		(void)offer(s);
}

static struct route *
fake_find(uint64_t id)
{
	struct session	*s = session_of(NULL, id);

	return (s != NULL ? &s->r : NULL);
}

static void
fake_end(struct route *r, const char *condition, const char *reason)
{
	struct session	*s = session_of(r, 0);

	if (s == NULL)
		breach("end (%s: %s) for a route that is closed", condition,
		    reason);
	session_end(s);
}

static const struct router_ops fake_ops = {
	.resume = fake_resume,
	.find = fake_find,
	.end = fake_end
};

/* Where a stanza to h's to goes now, or NULL and how it bounces. */
static struct session *
expect_dest(const struct held *h, const char **cond, const char **etype)
{
	struct session	*d;
	char		 dom[GW_NAME_MAX];
	int		 ret, ci;

	if ((ret = jid_domain(h->x.to, dom, sizeof(dom))) == -1) {
		*cond = "jid-malformed";
		*etype = "modify";
		return (NULL);
	}
	if (ret == 0 && (ci = comp_index(dom)) != -1) {
		if ((d = bound_session(ci)) == NULL) {
			*cond = "remote-server-timeout";
			*etype = "wait";
		}
		return (d);
	}
	if (ret == 1 || cfg.def == -1 || !cfg.present[cfg.def] ||
	    (d = bound_session(cfg.def)) == NULL) {
		*cond = "remote-server-not-found";
		*etype = "cancel";
		return (NULL);
	}
	return (d);
}

/* The stream hands its (held) stanza over, as stream_offer does. */
static enum stanza_verdict
offer(struct session *s)
{
	struct ctx		 c, *saved = ctx;
	struct session		*d;
	struct held		*h = s->held;
	enum stanza_verdict	 v, want;
	const char		*t = h->x.type;
	int			 full, bounces;

	memset(&c, 0, sizeof(c));
	c.s = s;
	c.h = h;
	d = expect_dest(h, &c.cond, &c.etype);
	full = d != NULL && conn_queued(&d->c) >= MAX_QUEUE;
	ctx = &c;
	v = router_stanza(&s->r, &h->s);
	ctx = saved;
	if (c.delivered != (d != NULL && !full) || c.dest != (full ? NULL : d))
		breach("a stanza to '%s' delivered %d times to %llu, expected "
		    "%llu (full %d)", h->x.to, c.delivered, id_of(c.dest),
		    id_of(d), full);
	/* Never for an error, an iq result, unavailable presence. */
	bounces = t == NULL || (strcmp(t, "error") != 0 &&
	    !(h->kind == STANZA_IQ && strcmp(t, "result") == 0) &&
	    !(h->kind == STANZA_PRESENCE && strcmp(t, "unavailable") == 0));
	if (c.bounced != (d == NULL && bounces))
		breach("a %s type '%s' to '%s' bounced %d times (%s)",
		    h->x.name, h->x.type ? h->x.type : "", h->x.to, c.bounced,
		    c.cond ? c.cond : "delivered");
	want = full ? STANZA_HOLD : conn_queued(&s->c) >= MAX_QUEUE ?
	    STANZA_DONE_PAUSE : STANZA_DONE;
	if (v != want || router_blocked(&s->r) != (v != STANZA_DONE))
		breach("verdict %d (blocked %d), expected %d", v,
		    router_blocked(&s->r), want);
	if (v != STANZA_HOLD) {
		held_free(h);
		s->held = NULL;
	}
	s->waiting = v != STANZA_DONE;
	return (v);
}

/* Input. */

static int
in_byte(struct input *in)
{
	if (in->left == 0)
		return (0);
	in->left--;
	return (*in->p++);
}

/* A string of the input: a length byte, that many bytes, no NUL. */
static char *
in_string(struct input *in, size_t max)
{
	size_t	 n = in_byte(in) % (max + 1), i;
	char	*s;

	if (n > in->left)
		n = in->left;
	s = xmalloc(n + 1);
	for (i = 0; i < n; i++)
		s[i] = in->p[i] != '\0' ? in->p[i] : ' ';
	in->p += n;
	in->left -= n;
	return (s);
}

/* s escaped for an attribute value in single quotes. */
static void
esc_add(char *buf, size_t size, const char *s)
{
	char	c[2] = { 0, 0 };

	for (; *s != '\0'; s++) {
		c[0] = *s;
		strlcat(buf, *s == '&' ? "&amp;" : *s == '<' ? "&lt;" :
		    *s == '\'' ? "&apos;" : c, size);
	}
}

/* A JID: of the tables (the stream's own name, for from), or raw. */
static void
in_jid(struct input *in, struct session *s, int from, char *buf,
    size_t size)
{
	int	 b = in_byte(in), d = in_byte(in);
	char	*raw, jid[512];

	if (b < 12) {
		raw = in_string(in, 64);
		esc_add(buf, size, raw);
		free(raw);
		return;
	}
	snprintf(jid, sizeof(jid), "%s%s%s", locals[b % nitems(locals)],
	    from && (d & 0x80) && s->bound[0] ? s->bound :
	    domains[d % nitems(domains)],
	    resources[(b / 8) % nitems(resources)]);
	esc_add(buf, size, jid);
}

/* The header's declarations less those the stanza makes itself. */
static char *
filter_decls(const char *hdr, const struct xread *x)
{
	char		*out = xmalloc(strlen(hdr) + 1), key[300];
	const char	*e, *q, *p;
	size_t		 n = 0;

	for (e = hdr; *e != '\0'; e = q + 1) {
		q = strchr(strchr(e, '\'') + 1, '\'');
		if (strncmp(e, " xmlns:", 7) != 0) {
			if (x->lang)
				continue;
		} else {
			p = e + 7;
			snprintf(key, sizeof(key), " %.*s ",
			    (int)(strchr(p, '=') - p), p);
			if (strstr(x->prefixes, key) != NULL)
				continue;
		}
		memcpy(out + n, e, q + 1 - e);
		n += q + 1 - e;
	}
	return (out);
}

/* Raw bytes as the stream layer would hand them over, or NULL. */
static struct held *
held_new(struct session *s, char *raw)
{
	struct xread	 x;
	struct held	*h;
	char		 ctxhdr[512];

	snprintf(ctxhdr, sizeof(ctxhdr), "%s%s>", SEND_HDR, s->hdr);
	if (raw[0] != '<' || xread(&x, ctxhdr, raw, strlen(raw)) == -1 ||
	    stanza_kind(x.name) == 0) {
		if (raw[0] == '<')
			xread_free(&x);
		free(raw);
		return (NULL);
	}
	h = xmalloc(sizeof(*h));
	h->raw = raw;
	h->kind = stanza_kind(x.name);
	h->x = x;
	h->decls = filter_decls(s->hdr, &x);
	h->s.raw = raw;
	h->s.len = strlen(raw);
	h->s.name_len = strcspn(raw + 1, " \t\r\n/>");
	h->s.decls = s->hdr[0] != '\0' ? h->decls : NULL;
	h->s.decls_len = strlen(h->decls);
	h->s.hdr_decls = s->hdr[0] != '\0' ? s->hdr : NULL;
	return (h);
}

/* <name from to id type extra>payload</name>, escaped from the input. */
static char *
build(struct input *in, struct session *s)
{
	static const char	*names[] = { "message", "presence", "iq" };
	char			 buf[2048], head[1600], name[16], *payload;
	char			 from[700] = "", to[700] = "";
	int			 k = in_byte(in), t = in_byte(in);

	snprintf(name, sizeof(name), "%s%s", (k & 0x10) ? "c:" : "",
	    names[k % 3]);
	if (!(k & 0x20)) {
		strlcpy(from, " from='", sizeof(from));
		in_jid(in, s, 1, from, sizeof(from) - 1);
		strlcat(from, "'", sizeof(from));
	}
	if (!(k & 0x40)) {
		strlcpy(to, " to='", sizeof(to));
		in_jid(in, s, 0, to, sizeof(to) - 1);
		strlcat(to, "'", sizeof(to));
	}
	snprintf(head, sizeof(head), "%s%s%s%s%s%s", name, from, to,
	    (t & 0x80) ? " id='s&amp;1'" : "", types[t % nitems(types)],
	    extras[(t / 8) % nitems(extras)]);
	payload = in_string(in, 255);
	if (payload[0] == '\0' && (k & 0x80))
		snprintf(buf, sizeof(buf), "<%s/>", head);
	else
		snprintf(buf, sizeof(buf), "<%s>%s</%s>", head, payload, name);
	free(payload);
	return (xstrdup(buf));
}

static struct session *
in_session(struct input *in, int usable)
{
	struct session	*s = slots[in_byte(in) % NSLOTS];

	if (s == NULL || (usable && (s->closing || s->waiting)))
		return (NULL);
	return (s);
}

/* A stream authenticates: router_bind, as engine_auth_result does. */
static void
op_connect(struct input *in)
{
	static const char	*binds[] = {
		"a.example", "b.example", "c.example", "d.example",
		"def.example", "alias-a.example", "nope.example"
	};
	int			 slot = in_byte(in) % NSLOTS, b = in_byte(in);
	struct session		*s;
	const char		*name = binds[b % nitems(binds)];

	if (slots[slot] != NULL)
		return;
	s = slots[slot] = xmalloc(sizeof(*s));
	s->c.id = next_id++;
	s->hdr = hdrs[(b / 8) % nitems(hdrs)];
	router_route_init(&s->r, &s->c, s);
	if (router_bind(&s->r, name) == 0)
		strlcpy(s->bound, name, sizeof(s->bound));
	if ((s->r.r_comp != NULL) == s->closing)
		breach("bound %d, ended %d", s->r.r_comp != NULL, s->closing);
}

/* The stream layer: the start tag, then (if taken) the whole stanza. */
static void
op_stanza(struct input *in, int raw)
{
	struct session		*s = in_session(in, 1);
	struct stanza_head	 head;
	struct held		*h;
	const char		*err, *why = NULL;
	char			 dom[GW_NAME_MAX];
	int			 ok;

	if (s == NULL ||
	    (h = held_new(s, raw ? in_string(in, 255) : build(in, s))) == NULL)
		return;
	memset(&head, 0, sizeof(head));
	head.kind = h->kind;
	head.from = h->x.from;
	head.to = h->x.to;
	/* Taken: from of the stream's names, and a to. */
	ok = s->r.r_comp != NULL && h->x.from != NULL &&
	    jid_domain(h->x.from, dom, sizeof(dom)) == 0 &&
	    comp_index(dom) != -1 && comp_index(dom) == comp_index(s->bound) &&
	    h->x.to != NULL && h->x.to[0] != '\0';
	if (((err = router_stanza_start(&s->r, &head, &why)) == NULL) != ok)
		breach("from '%s' to '%s' on connection %llu (%s): %s",
		    h->x.from, h->x.to, id_of(s), s->bound,
		    err != NULL ? err : "taken");
	if (err != NULL) {
		held_free(h);
		session_end(s);
		return;
	}
	s->held = h;
	(void)offer(s);
}

static void
op_close(struct session *s)
{
	int	i;

	router_release(&s->r);
	for (i = 0; i < NSLOTS; i++)
		if (slots[i] == s)
			slots[i] = NULL;
	if (router_blocked(&s->r) || s->r.r_comp != NULL ||
	    !TAILQ_EMPTY(&s->r.r_waiters))
		breach("released, still blocked, bound or waited for");
	queue_clear(&s->c);
	held_free(s->held);
	free(s);
}

/* A reload, then the engine ends the streams of names gone. */
static void
op_reload(struct input *in)
{
	int	mask = in_byte(in), rej = in_byte(in), def = in_byte(in);
	int	i;

	for (i = 0; i < NCOMPS; i++) {
		cfg.present[i] = (mask >> i) & 1;
		cfg.reject[i] = (rej >> i) & 1;
		cfg.max_stanza[i] = (def >> (i + 3)) & 1 ? 20000 : 0;
	}
	cfg.def = def % 8 < NCOMPS ? def % 8 : -1;
	configure();
	for (i = 0; i < NSLOTS; i++)
		if (slots[i] != NULL && !router_known(slots[i]->bound))
			session_end(slots[i]);
}

/*
 * What happens to a stream's connection, 6 to 11 of op_one: its queue
 * seems this full, the socket takes what was queued (drained, if
 * watched), drained, stalled, closed, ended.
 */
static void
op_session(int op, struct session *s, int b)
{
	static const size_t	 sizes[] = { 0, 499, MAX_QUEUE, 100000 };

	if (op == 6) {
		s->c.queued_set = b & 4;
		s->c.queued = sizes[b % nitems(sizes)];
	} else if (op == 7) {
		queue_clear(&s->c);
		s->c.queued_set = 0;
		if (s->c.watching) {
			s->c.watching = 0;
			router_drained(&s->r);
		}
	} else if (op == 8)
		router_drained(&s->r);
	else if (op == 9 && s->c.stalled) {
		router_stalled(&s->r, "queue full");
		if (!s->closing)
			breach("stalled, not ended");
	} else if (op == 10)
		op_close(s);
	else if (op == 11)
		session_end(s);
}

static void
op_one(struct input *in)
{
	struct session	*s;
	int		 op = in_byte(in) % 14, b;

	if (op <= 1)
		op_connect(in);
	else if (op <= 5)
		op_stanza(in, op == 5);
	else if (op <= 11) {
		s = in_session(in, 0);
		b = op == 6 ? in_byte(in) : 0;
		if (s != NULL)
			op_session(op, s, b);
	} else if (op == 12)
		op_reload(in);
	else
		now += in_byte(in);
}

/* The counters say what the queues saw; one stream a name; limits. */
static void
check_counters(void)
{
	const struct router_stats	*st = router_stats();
	struct session			*s;
	int				 i;

	for (i = 0; i < NSLOTS; i++)
		if ((s = slots[i]) != NULL && (s->r.r_bounces != s->bounces ||
		    router_max_stanza(&s->r) != (s->r.r_comp == NULL ? 0 :
		    cfg.max_stanza[comp_index(s->bound)])))
			breach("connection %llu: r_bounces %llu, queued %llu, "
			    "max stanza %u", id_of(s),
			    (unsigned long long)s->r.r_bounces,
			    (unsigned long long)s->bounces,
			    router_max_stanza(&s->r));
	for (i = 0; i < NCOMPS; i++) {
		if (router_known(comps[i].name) != cfg.present[i] ||
		    (comps[i].alias[0] != NULL &&
		    router_known(comps[i].alias[0])))
			breach("router_known(%s) %d", comps[i].name,
			    router_known(comps[i].name));
		if (cfg.present[i])
			(void)bound_session(i);
	}
	if (st->bounces - before.bounces != nbounces ||
	    st->bounce_malformed - before.bounce_malformed != ncond[0] ||
	    st->bounce_not_found - before.bounce_not_found != ncond[1])
		breach("bounces counted %llu, queued %llu",
		    (unsigned long long)(st->bounces - before.bounces),
		    (unsigned long long)nbounces);
}

/* Every component, c.example refusing newcomers, def the default. */
static void
reset(void)
{
	int	i;

	for (i = 0; i < NCOMPS; i++) {
		cfg.present[i] = 1;
		cfg.reject[i] = i == 2;
		cfg.max_stanza[i] = 0;
	}
	cfg.def = 4;
	configure();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FILE	*fp;

	(void)argc;
	(void)argv;
	errfp = stderr;
	log_init(1, LOG_DAEMON);
	log_setverbose(0);
#ifdef __GLIBC__
	/* The log to nowhere; sanitizers and libFuzzer write to fd 2. */
	if ((fp = fopen("/dev/null", "w")) != NULL)
		stderr = fp;
#endif
	router_init(&fake_ops);
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input	in = { data, size };
	int		i;

	now = 1000000;
	nbounces = ncond[0] = ncond[1] = ncond[2] = 0;
	before = *router_stats();
	reset();
	while (in.left > 0) {
		op_one(&in);
		check_counters();
	}
	/* All close; a reload then reads every name's stream, if any. */
	for (i = 0; i < NSLOTS; i++)
		if (slots[i] != NULL)
			op_close(slots[i]);
	check_counters();
	reset();
	memset(&cfg, 0, sizeof(cfg));
	configure();
	return (0);
}
