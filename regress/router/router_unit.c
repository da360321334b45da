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
 * Unit tests for the router (gatewayd/router.c, with gatewayd/bounce.c)
 * linked against a fake connection layer: each fake connection keeps
 * what was queued on it, stanza by stanza with its sender, and what the
 * router asked of it (watch mark, stall clock).  The router's calls back
 * (resume, find, end) are recorded.  Streams 6 and 7 are the uplinks
 * (router_uplink_bind) where a case has them: gatewayd's streams to the
 * XMPP server of a component with an upstream (CF_UP: a.example and
 * b.example; c.example and d.example have none).  Without CF_GRACE their
 * grace is 0: what waits for the other side is bounced at once.  One
 * line is printed per case:
 * "ok - router unit: NAME" or "not ok - router unit: NAME: reason".
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/uio.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "conn.h"
#include "log.h"
#include "msg.h"
#include "router.h"
#include "stanza.h"

#define FAKE_BUF	16384
#define FAKE_RECS	32
#define NSTREAMS	8
#define NCALLS		16
#define FIRST_ID	101
#define NS_STANZAS	"urn:ietf:params:xml:ns:xmpp-stanzas"

/* Configurations: which variant of the standard one. */
#define CF_DEFAULT	0x01	/* def.example, the default route */
#define CF_NO_B		0x02	/* without b.example */
#define CF_A_REJECT	0x04	/* a.example refuses newcomers */
#define CF_A_BIG	0x08	/* a.example with its own max-stanza */
#define CF_UP		0x10	/* a.example and b.example have an upstream */
#define CF_GRACE	0x20	/* its grace an hour, GRACE_SIZE bytes */

#define GRACE_SIZE	200	/* two chat messages, not three */

struct fake_rec {
	uint64_t	 sender;
	size_t		 off, len;
};

struct conn {
	uint64_t	 id;
	char		 buf[FAKE_BUF + 1];	/* NUL terminated */
	size_t		 len;
	struct fake_rec	 recs[FAKE_RECS];
	size_t		 nrecs;
	int		 queued_set;	/* conn_queued says queued */
	size_t		 queued;
	int		 watching;
	size_t		 watch_mark;
	int		 stalled;
	unsigned int	 stall_secs;
	struct conn_stats st;		/* what conn_stats says */
};

struct fstream {
	struct conn	 c;
	struct route	 r;
};

struct call {
	struct route	*r;
	char		 cond[64];
	char		 reason[128];
};

/* What a test stanza is made of: <name from to id='s1' attrs>payload. */
struct msg {
	const char	*name, *from, *to, *attrs;
	const char	*payload;	/* NULL: an empty-element tag */
	const char	*decls, *hdr_decls;	/* as in struct stanza */
};

#define CHAT(from, to)							\
	{ NULL, (from), (to), " type='chat'", "<body>hi</body>", NULL, NULL }

static struct fstream	 streams[NSTREAMS];
static struct call	 ends[NCALLS];
static int		 nends;
static struct route	*resumed[NCALLS];
static int		 nresumed;
static struct router_stats before;
static char		 raw[4096], expect[4096];
static char		 why[1024];
static int		 nchecks, ncases, nfailed;

#define CHECK(cond, ...) do {						\
	nchecks++;							\
	if (!(cond)) {							\
		fail_why(__LINE__, __VA_ARGS__);			\
		return (-1);						\
	}								\
} while (0)

/* Exactly one stanza queued on c, from sender, these bytes. */
#define CHECK_QUEUE(c_, from_, want) do {				\
	const char *want_ = (want);					\
	CHECK(queue_is((c_), (from_), want_), "conn %llu: want "	\
	    "[%s] from %llu, got %zu records [%s] from %llu",		\
	    (unsigned long long)(c_)->id, want_,			\
	    (unsigned long long)(from_), (c_)->nrecs, (c_)->buf,	\
	    (unsigned long long)((c_)->nrecs ? (c_)->recs[0].sender :	\
	    0));							\
} while (0)

#define CHECK_EMPTY(c)							\
	CHECK((c)->nrecs == 0 && (c)->len == 0, "conn %llu: want "	\
	    "nothing queued, got %zu records [%s]",			\
	    (unsigned long long)(c)->id, (c)->nrecs, (c)->buf)

#define CHECK_END(i, route, condition, why_)				\
	CHECK(nends > (i) && ends[(i)].r == (route) &&			\
	    strcmp(ends[(i)].cond, (condition)) == 0 &&			\
	    strcmp(ends[(i)].reason, (why_)) == 0,			\
	    "end %d: want %s (%s) on conn %llu, got %d ends, %s (%s)",	\
	    (i), (condition), (why_),					\
	    (unsigned long long)(route)->r_conn->id, nends,		\
	    nends > (i) ? ends[(i)].cond : "-",				\
	    nends > (i) ? ends[(i)].reason : "-")

static void	fail_why(int, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));

static void
fail_why(int line, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	n = snprintf(why, sizeof(why), "line %d: ", line);
	if (n < 0 || (size_t)n >= sizeof(why))
		return;
	va_start(ap, fmt);
	vsnprintf(why + n, sizeof(why) - n, fmt, ap);
	va_end(ap);
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

void
conn_queuev(struct conn *c, uint64_t sender, const struct iovec *iov,
    int iovcnt)
{
	struct fake_rec	*rec;
	int		 i;

	if (c->nrecs == FAKE_RECS)
		fatalx("%s: too many records", __func__);
	rec = &c->recs[c->nrecs++];
	rec->sender = sender;
	rec->off = c->len;
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > FAKE_BUF - c->len)
			fatalx("%s: buffer full", __func__);
		memcpy(c->buf + c->len, iov[i].iov_base, iov[i].iov_len);
		c->len += iov[i].iov_len;
	}
	c->buf[c->len] = '\0';
	rec->len = c->len - rec->off;
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
	return (c->queued_set ? c->queued : c->len);
}

/* Handed over from a copy: the callback may queue on other connections. */
void
conn_take_queue(struct conn *c, void (*fn)(uint64_t, const char *, size_t,
    void *), void *arg)
{
	static char	 buf[FAKE_BUF + 1];
	struct fake_rec	 recs[FAKE_RECS];
	size_t		 i, n = c->nrecs;

	memcpy(buf, c->buf, c->len + 1);
	memcpy(recs, c->recs, sizeof(recs));
	c->len = c->nrecs = 0;
	c->buf[0] = '\0';
	for (i = 0; i < n; i++)
		fn(recs[i].sender, buf + recs[i].off, recs[i].len, arg);
}

void
conn_watch(struct conn *c, size_t mark)
{
	c->watching = 1;
	c->watch_mark = mark;
}

void
conn_stall_start(struct conn *c, unsigned int seconds)
{
	c->stalled = 1;
	c->stall_secs = seconds;
}

void
conn_stall_stop(struct conn *c)
{
	c->stalled = 0;
}

/* The router's calls back. */

static void
fake_resume(struct route *r)
{
	if (nresumed == NCALLS)
		fatalx("%s: too many", __func__);
	resumed[nresumed++] = r;
}

static struct route *
fake_find(uint64_t id)
{
	int	i;

	for (i = 0; i < NSTREAMS; i++)
		if (streams[i].c.id == id)
			return (&streams[i].r);
	return (NULL);
}

static void
fake_end(struct route *r, const char *condition, const char *reason)
{
	if (nends == NCALLS)
		fatalx("%s: too many", __func__);
	ends[nends].r = r;
	strlcpy(ends[nends].cond, condition, sizeof(ends[nends].cond));
	strlcpy(ends[nends].reason, reason, sizeof(ends[nends].reason));
	nends++;
}

static const struct router_ops fake_ops = {
	fake_resume, fake_find, fake_end
};

/* Configuration and state. */

static void
global_conf(struct gw_global *g)
{
	memset(g, 0, sizeof(*g));
	strlcpy(g->name, "gw.example", sizeof(g->name));
	g->max_queue = 1000;
	g->queue_timeout = 30;
	g->flap_max = 2;
	g->flap_window = 60;
	g->flap_holddown = 60;
}

/*
 * a.example (alias alias-a.example), b.example (alias-b.example) and
 * d.example (alias-d.example, never bound) take over on conflict,
 * c.example rejects newcomers.
 */
static const struct gw_component_conf comps[] = {
	{ "a.example", 1, 0, CONFLICT_REPLACE, 0, 0 },
	{ "b.example", 2, 0, CONFLICT_REPLACE, 0, 0 },
	{ "c.example", 3, 0, CONFLICT_REJECT, 0, 0 },
	{ "d.example", 4, 0, CONFLICT_REPLACE, 0, 0 },
	{ "def.example", 5, GW_COMP_DEFAULT_ROUTE, CONFLICT_REPLACE, 0, 0 }
};

static const struct gw_alias_conf aliases[] = {
	{ "alias-a.example", 1 },
	{ "alias-b.example", 2 },
	{ "alias-d.example", 4 }
};

static int
configured(int cf, uint32_t id)
{
	return (!(id == 2 && (cf & CF_NO_B)) && !(id == 5 &&
	    !(cf & CF_DEFAULT)));
}

static void
configure(int cf)
{
	struct gw_global		g;
	struct gw_component_conf	cc;
	struct gw_upstream_conf		up;
	size_t				i;

	global_conf(&g);
	router_stage_begin();
	for (i = 1; i <= 2 && (cf & CF_UP); i++) {
		memset(&up, 0, sizeof(up));
		snprintf(up.name, sizeof(up.name), "xmpp%zu", i);
		up.id = i;
		up.grace = (cf & CF_GRACE) ? 3600 : 0;
		up.grace_size = GRACE_SIZE;
		router_stage_upstream(&up);
	}
	for (i = 0; i < nitems(comps); i++) {
		cc = comps[i];
		if (cc.id == 1 && (cf & CF_A_REJECT))
			cc.conflict = CONFLICT_REJECT;
		if (cc.id == 1 && (cf & CF_A_BIG))
			cc.max_stanza = 20000;
		if ((cc.id == 1 || cc.id == 2) && (cf & CF_UP))
			cc.upstream_id = cc.id == 1 ? 1 : 2;
		if (configured(cf, cc.id))
			router_stage_component(&cc);
	}
	for (i = 0; i < nitems(aliases); i++)
		if (configured(cf, aliases[i].component_id))
			router_stage_alias(&aliases[i]);
	router_stage_commit(&g);
}

/* A clean slate: no components (no history, nothing bound), then cf. */
static void
setup(int cf)
{
	struct gw_global	g;
	int			i;

	global_conf(&g);
	router_stage_begin();
	router_stage_commit(&g);
	memset(streams, 0, sizeof(streams));
	for (i = 0; i < NSTREAMS; i++) {
		streams[i].c.id = FIRST_ID + i;
		router_route_init(&streams[i].r, &streams[i].c, &streams[i]);
	}
	memset(ends, 0, sizeof(ends));
	nends = 0;
	nresumed = 0;
	configure(cf);
	before = *router_stats();
}

static struct route *
rt(int i)
{
	return (&streams[i].r);
}

static struct conn *
cn(int i)
{
	return (&streams[i].c);
}

static void
clear_queues(void)
{
	int	i;

	for (i = 0; i < NSTREAMS; i++) {
		cn(i)->len = cn(i)->nrecs = 0;
		cn(i)->buf[0] = '\0';
	}
}

static int
queue_is(const struct conn *c, uint64_t sender, const char *want)
{
	return (c->nrecs == 1 && c->recs[0].sender == sender &&
	    c->len == strlen(want) && memcmp(c->buf, want, c->len) == 0);
}

static void
make_raw(const struct msg *m)
{
	const char	*name = m->name != NULL ? m->name : "message";
	int		 n;

	n = snprintf(raw, sizeof(raw), "<%s%s%s%s%s%s%s id='s1'%s", name,
	    m->from != NULL ? " from='" : "", m->from != NULL ? m->from : "",
	    m->from != NULL ? "'" : "", m->to != NULL ? " to='" : "",
	    m->to != NULL ? m->to : "", m->to != NULL ? "'" : "",
	    m->attrs != NULL ? m->attrs : "");
	if (m->payload == NULL)
		snprintf(raw + n, sizeof(raw) - n, "/>");
	else
		snprintf(raw + n, sizeof(raw) - n, ">%s</%s>", m->payload,
		    name);
}

/*
 * Stream i sends m, as the stream layer would: the start tag, then the
 * whole stanza.  Returns the verdict, or -1 when the start tag gets a
 * stream error.
 */
static int
offer(int i, const struct msg *m)
{
	struct stanza_head	 h;
	struct stanza		 s;
	const char		*name = m->name != NULL ? m->name : "message";
	const char		*reason;

	make_raw(m);
	memset(&h, 0, sizeof(h));
	h.kind = name[0] == 'i' ? STANZA_IQ : name[0] == 'p' ?
	    STANZA_PRESENCE : STANZA_MESSAGE;
	h.from = m->from;
	h.to = m->to;
	if (router_stanza_start(rt(i), &h, &reason) != NULL)
		return (-1);
	memset(&s, 0, sizeof(s));
	s.raw = raw;
	s.len = strlen(raw);
	s.name_len = strlen(name);
	s.decls = m->decls;
	s.decls_len = m->decls != NULL ? strlen(m->decls) : 0;
	s.hdr_decls = m->hdr_decls;
	return (router_stanza(rt(i), &s));
}

/* A chat message with a body. */
static int
chat(int i, const char *from, const char *to)
{
	struct msg	m = CHAT(from, to);

	return (offer(i, &m));
}

static const char *
chat_raw(const char *from, const char *to)
{
	struct msg	m = CHAT(from, to);

	make_raw(&m);
	return (raw);
}

/* The error stanza for a chat message from from to to. */
static const char *
chat_bounce(const char *from, const char *to, const char *etype,
    const char *condition)
{
	snprintf(expect, sizeof(expect), "<message from='%s' to='%s' "
	    "id='s1' type='error'><body>hi</body><error type='%s' "
	    "by='gw.example'><%s xmlns='" NS_STANZAS "'/></error></message>",
	    to, from, etype, condition);
	return (expect);
}

static int
bind_ok(int i, const char *domain)
{
	return (router_bind(rt(i), domain) == 0 && rt(i)->r_comp != NULL);
}

/* Stream i binds the component spec[i] names: a, b, c, d, D def, - none. */
static int
binds(const char *spec)
{
	char	name[32];
	int	i;

	for (i = 0; spec[i] != '\0'; i++) {
		if (spec[i] == '-')
			continue;
		if (spec[i] == 'D')
			strlcpy(name, "def.example", sizeof(name));
		else
			snprintf(name, sizeof(name), "%c.example", spec[i]);
		if (!bind_ok(i, name))
			return (0);
	}
	return (1);
}

#define TIMEOUT		"wait", "remote-server-timeout"
#define NOT_FOUND	"cancel", "remote-server-not-found"
#define MALFORMED	"modify", "jid-malformed"

/* Exactly the bounce of a chat message from from to to, on stream i. */
#define CHECK_BOUNCE(i, from, to, kind)					\
	CHECK_QUEUE(cn(i), 0, chat_bounce((from), (to), kind))

#define CHECK_SENT(i, from, to, v)					\
	CHECK(chat((i), (from), (to)) == (v), "%s to %s: not %s",	\
	    (from), (to), #v)

/* The cases. */

static int
t_bind(void)
{
	CHECK(binds("ab"), "does not bind");
	CHECK(nends == 0, "%d ends", nends);
	CHECK(router_max_stanza(rt(0)) == 0, "max stanza %u",
	    router_max_stanza(rt(0)));
	CHECK(!router_blocked(rt(0)), "blocked");
	CHECK_SENT(1, "u@b.example", "v@a.example", STANZA_DONE);
	CHECK_QUEUE(cn(0), cn(1)->id, raw);
	return (0);
}

static int
t_known(void)
{
	CHECK(router_known("a.example"), "a.example unknown");
	CHECK(router_known("c.example"), "c.example unknown");
	CHECK(router_known("d.example"), "unbound d.example unknown");
	CHECK(!router_known("alias-a.example"), "an alias is known");
	CHECK(!router_known("nope.example"), "nope.example is known");
	CHECK(!router_known(""), "the empty name is known");
	return (0);
}

static int
t_bind_unknown(void)
{
	CHECK(router_bind(rt(0), "nope.example") == -1, "nope.example binds");
	CHECK_END(0, rt(0), "host-gone", "component removed");
	CHECK(rt(0)->r_comp == NULL, "bound anyway");
	CHECK(router_bind(rt(1), "alias-a.example") == -1, "an alias binds");
	CHECK_END(1, rt(1), "host-gone", "component removed");
	CHECK(nends == 2, "%d ends", nends);
	return (0);
}

static int
t_takeover(void)
{
	CHECK(binds("aab"), "does not bind or take over");
	CHECK_END(0, rt(0), "conflict", "replaced by connection 102");
	CHECK(nends == 1, "%d ends", nends);
	CHECK(router_stats()->takeovers == before.takeovers + 1,
	    "takeovers +%llu", (unsigned long long)
	    (router_stats()->takeovers - before.takeovers));
	CHECK_SENT(2, "u@b.example", "v@a.example", STANZA_DONE);
	CHECK_QUEUE(cn(1), cn(2)->id, raw);
	CHECK_EMPTY(cn(0));
	return (0);
}

static int
t_holddown(void)
{
	CHECK(binds("aaa"), "takeovers 1 and 2 (flap-max 2) refused");
	CHECK_END(1, rt(1), "conflict", "replaced by connection 103");
	CHECK(router_bind(rt(3), "a.example") == -1, "takeover 3 allowed");
	CHECK_END(2, rt(3), "conflict", "takeovers held down");
	CHECK(nends == 3, "%d ends: the holder was ended too", nends);
	CHECK(rt(3)->r_comp == NULL, "held down newcomer bound");
	CHECK(router_stats()->takeovers == before.takeovers + 2,
	    "takeovers +%llu", (unsigned long long)
	    (router_stats()->takeovers - before.takeovers));
	CHECK(router_bind(rt(4), "a.example") == -1,
	    "takeover during the holddown allowed");
	CHECK_END(3, rt(4), "conflict", "takeovers held down");
	CHECK(bind_ok(5, "b.example"), "b.example does not bind");
	CHECK_SENT(5, "u@b.example", "v@a.example", STANZA_DONE);
	CHECK_QUEUE(cn(2), cn(5)->id, raw);

	/* The same name, now reject on conflict: still held down. */
	configure(CF_A_REJECT);
	CHECK(router_bind(rt(6), "a.example") == -1, "reject policy: binds");
	CHECK_END(4, rt(6), "conflict", "takeovers held down");
	CHECK(nends == 5, "%d ends", nends);
	clear_queues();
	CHECK_SENT(5, "u@b.example", "v@a.example", STANZA_DONE);
	CHECK_QUEUE(cn(2), cn(5)->id, raw);
	return (0);
}

static int
t_reject(void)
{
	CHECK(binds("c"), "c.example does not bind");
	CHECK(router_bind(rt(1), "c.example") == -1, "newcomer binds");
	CHECK_END(0, rt(1), "conflict", "name in use by connection 101");
	CHECK(nends == 1, "%d ends: the holder was ended too", nends);
	CHECK(rt(1)->r_comp == NULL, "newcomer bound");
	CHECK(rt(0)->r_comp != NULL, "holder unbound");
	CHECK(router_stats()->takeovers == before.takeovers,
	    "a takeover counted");
	CHECK(bind_ok(2, "a.example"), "a.example does not bind");
	CHECK_SENT(2, "u@a.example", "v@c.example", STANZA_DONE);
	CHECK_QUEUE(cn(0), cn(2)->id, raw);
	CHECK_EMPTY(cn(1));
	return (0);
}

#define NO_FROM		"stanza without from"
#define NO_TO		"stanza without to"
#define BAD_FROM	"from is not one of the stream's names"

static const struct {
	int		 stream;	/* 0: a.example, 2: unbound */
	const char	*from, *to, *err, *reason;
} starts[] = {
	{ 0, NULL, "v@b.example", "improper-addressing", NO_FROM },
	{ 0, "", "v@b.example", "improper-addressing", NO_FROM },
	{ 0, "u@b.example", "v@b.example", "invalid-from", BAD_FROM },
	{ 0, "u@alias-b.example", "v@b.example", "invalid-from", BAD_FROM },
	{ 0, "u@nope.example", "v@b.example", "invalid-from", BAD_FROM },
	{ 0, "u@@a.example", "v@b.example", "invalid-from", BAD_FROM },
	{ 0, "u@192.0.2.1", "v@b.example", "invalid-from", BAD_FROM },
	{ 0, "u@a.example/r", "v@b.example", NULL, NULL },
	{ 0, "a.example", "v@b.example", NULL, NULL },
	{ 0, "u@alias-a.example/r", "v@b.example", NULL, NULL },
	{ 0, "u@A.Example", "v@b.example", NULL, NULL },
	{ 0, "u@a.example", NULL, "improper-addressing", NO_TO },
	{ 0, "u@a.example", "", "improper-addressing", NO_TO },
	{ 2, "u@a.example", "v@b.example", "invalid-from", BAD_FROM },
	{ 2, "u@nope.example", "v@b.example", "invalid-from", BAD_FROM }
};

static int
start_is(int i, const char *from, const char *to, const char *want,
    const char *want_reason)
{
	struct stanza_head	 h;
	const char		*err, *reason = NULL;

	memset(&h, 0, sizeof(h));
	h.kind = STANZA_MESSAGE;
	h.from = from;
	h.to = to;
	err = router_stanza_start(rt(i), &h, &reason);
	if (want == NULL)
		return (err == NULL);
	return (err != NULL && strcmp(err, want) == 0 && reason != NULL &&
	    strcmp(reason, want_reason) == 0);
}

static int
t_start(void)
{
	size_t	i;

	CHECK(binds("ab"), "does not bind");
	for (i = 0; i < nitems(starts); i++)
		CHECK(start_is(starts[i].stream, starts[i].from, starts[i].to,
		    starts[i].err, starts[i].reason), "stream %d from %s to "
		    "%s: want %s", starts[i].stream, starts[i].from != NULL ?
		    starts[i].from : "(none)", starts[i].to != NULL ?
		    starts[i].to : "(none)", starts[i].err != NULL ?
		    starts[i].err : "no error");
	return (0);
}

static int
t_deliver(void)
{
	CHECK(binds("ab"), "does not bind");
	CHECK_SENT(0, "u@a.example/r", "v@b.example/x", STANZA_DONE);
	CHECK_QUEUE(cn(1), 101, "<message from='u@a.example/r' "
	    "to='v@b.example/x' id='s1' type='chat'><body>hi</body>"
	    "</message>");
	CHECK_EMPTY(cn(0));
	CHECK(rt(0)->r_stanzas_in == 1 && rt(0)->r_bounces == 0,
	    "stanzas in %llu, bounces %llu",
	    (unsigned long long)rt(0)->r_stanzas_in,
	    (unsigned long long)rt(0)->r_bounces);
	clear_queues();
	CHECK_SENT(0, "u@a.example", "V@B.EXAMPLE", STANZA_DONE);
	CHECK_QUEUE(cn(1), 101, chat_raw("u@a.example", "V@B.EXAMPLE"));
	return (0);
}

static int
t_decls(void)
{
	struct msg	m = { "iq", "u@a.example", "v@b.example",
			    " type='get'", "<foo:q/>", " xmlns:foo='urn:foo'",
			    NULL };

	CHECK(binds("ab"), "does not bind");
	CHECK(offer(0, &m) == STANZA_DONE, "not done");
	CHECK_QUEUE(cn(1), 101, "<iq xmlns:foo='urn:foo' from='u@a.example' "
	    "to='v@b.example' id='s1' type='get'><foo:q/></iq>");
	clear_queues();
	m.name = "presence";
	m.attrs = NULL;
	m.payload = NULL;
	CHECK(offer(0, &m) == STANZA_DONE, "not done");
	CHECK_QUEUE(cn(1), 101, "<presence xmlns:foo='urn:foo' "
	    "from='u@a.example' to='v@b.example' id='s1'/>");
	return (0);
}

static int
t_alias(void)
{
	CHECK(binds("ab"), "does not bind");
	CHECK_SENT(0, "u@a.example", "v@alias-b.example/r", STANZA_DONE);
	CHECK_QUEUE(cn(1), 101, chat_raw("u@a.example", "v@alias-b.example/r"));
	CHECK_EMPTY(cn(0));
	clear_queues();
	CHECK_SENT(0, "u@a.example", "alias-b.example", STANZA_DONE);
	CHECK_QUEUE(cn(1), 101, chat_raw("u@a.example", "alias-b.example"));
	return (0);
}

static int
t_unbound(void)
{
	CHECK(binds("ab"), "does not bind");
	CHECK_SENT(0, "u@a.example/r", "v@d.example", STANZA_DONE);
	CHECK_QUEUE(cn(0), 0, "<message from='v@d.example' "
	    "to='u@a.example/r' id='s1' type='error'><body>hi</body>"
	    "<error type='wait' by='gw.example'><remote-server-timeout "
	    "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"
	    "</message>");
	CHECK(rt(0)->r_stanzas_in == 1 && rt(0)->r_bounces == 1,
	    "stanzas in %llu, bounces %llu",
	    (unsigned long long)rt(0)->r_stanzas_in,
	    (unsigned long long)rt(0)->r_bounces);
	clear_queues();
	CHECK_SENT(0, "u@a.example", "v@alias-d.example", STANZA_DONE);
	CHECK_BOUNCE(0, "u@a.example", "v@alias-d.example", TIMEOUT);
	clear_queues();
	CHECK_SENT(0, "u@a.example", "v@nope.example", STANZA_DONE);
	CHECK_BOUNCE(0, "u@a.example", "v@nope.example", NOT_FOUND);
	CHECK_EMPTY(cn(1));
	return (0);
}

static int
t_default_route(void)
{
	CHECK(binds("a---D"), "does not bind");
	CHECK_SENT(0, "u@a.example", "v@nope.example/r", STANZA_DONE);
	CHECK_QUEUE(cn(4), 101, chat_raw("u@a.example", "v@nope.example/r"));
	CHECK_EMPTY(cn(0));
	clear_queues();
	/* Configured names are never the default route's. */
	CHECK_SENT(0, "u@a.example", "v@d.example", STANZA_DONE);
	CHECK_BOUNCE(0, "u@a.example", "v@d.example", TIMEOUT);
	CHECK_EMPTY(cn(4));
	clear_queues();
	CHECK_SENT(0, "u@a.example", "v@alias-d.example", STANZA_DONE);
	CHECK_BOUNCE(0, "u@a.example", "v@alias-d.example", TIMEOUT);
	CHECK_EMPTY(cn(4));
	clear_queues();
	/* The default route configured but not connected. */
	router_unbind(rt(4));
	CHECK_SENT(0, "u@a.example", "v@nope.example", STANZA_DONE);
	CHECK_BOUNCE(0, "u@a.example", "v@nope.example", NOT_FOUND);
	CHECK_EMPTY(cn(4));
	return (0);
}

/* Bounced back to stream 0 as etype/condition, the default route bound. */
static int
bounced_as(const char *to, const char *etype, const char *condition)
{
	clear_queues();
	if (chat(0, "u@a.example", to) != STANZA_DONE)
		return (0);
	return (queue_is(cn(0), 0, chat_bounce("u@a.example", to, etype,
	    condition)) && cn(4)->nrecs == 0);
}

static const struct {
	const char	*to, *etype, *condition;
} bad_tos[] = {
	{ "a@@b.example", "modify", "jid-malformed" },
	{ "@b.example", "modify", "jid-malformed" },
	{ "v@b..example", "modify", "jid-malformed" },
	{ "v@b.example/", "modify", "jid-malformed" },
	{ "v@-b.example", "modify", "jid-malformed" },
	{ "v@b_x.example", "modify", "jid-malformed" },
	{ "v@12345", "modify", "jid-malformed" },
	{ "v@192.0.2.1", NOT_FOUND },
	{ "192.0.2.1/r", NOT_FOUND },
	{ "v@[2001:db8::1]", NOT_FOUND }
};

static int
t_bad_to(void)
{
	size_t	i;

	CHECK(binds("a---D"), "does not bind");
	for (i = 0; i < nitems(bad_tos); i++)
		CHECK(bounced_as(bad_tos[i].to, bad_tos[i].etype,
		    bad_tos[i].condition), "%s: want %s, got [%s] default [%s]",
		    bad_tos[i].to, bad_tos[i].condition, cn(0)->buf,
		    cn(4)->buf);
	return (0);
}

/* Stream 0 sends this to d.example (unbound): how many bounces back. */
static int
bounces(const char *name, const char *attrs, const char *payload)
{
	struct msg	m = { name, "u@a.example", "v@d.example", attrs,
			    payload, NULL, NULL };

	clear_queues();
	if (offer(0, &m) != STANZA_DONE)
		return (-1);
	return (cn(0)->nrecs);
}

static const struct {
	const char	*name, *attrs, *payload;
} never[] = {
	{ "message", " type='error'", "<error type='cancel'/>" },
	{ "iq", " type='error'", NULL },
	{ "presence", " type='error'", NULL },
	{ "iq", " type='result'", NULL },
	{ "presence", " type='unavailable'", NULL }
};

static int
t_no_bounce(void)
{
	size_t	i;

	CHECK(binds("a"), "does not bind");
	for (i = 0; i < nitems(never); i++)
		CHECK(bounces(never[i].name, never[i].attrs,
		    never[i].payload) == 0, "%s%s bounced: [%s]",
		    never[i].name, never[i].attrs, cn(0)->buf);
	CHECK(router_stats()->bounces == before.bounces, "bounces counted");
	CHECK(rt(0)->r_bounces == 0, "bounces counted on the route");
	CHECK(rt(0)->r_stanzas_in == nitems(never), "stanzas in %llu",
	    (unsigned long long)rt(0)->r_stanzas_in);
	/* But these do. */
	CHECK(bounces("iq", " type='get'", "<q xmlns='urn:q'/>") == 1,
	    "iq get not bounced");
	CHECK_QUEUE(cn(0), 0, "<iq from='v@d.example' to='u@a.example' "
	    "id='s1' type='error'><q xmlns='urn:q'/><error type='wait' "
	    "by='gw.example'><remote-server-timeout xmlns='" NS_STANZAS
	    "'/></error></iq>");
	CHECK(bounces("presence", NULL, NULL) == 1, "presence not bounced");
	CHECK_QUEUE(cn(0), 0, "<presence from='v@d.example' to='u@a.example' "
	    "id='s1' type='error'><error type='wait' by='gw.example'>"
	    "<remote-server-timeout xmlns='" NS_STANZAS "'/></error>"
	    "</presence>");
	CHECK(bounces("message", " type='result'", "<body>x</body>") == 1,
	    "message type result not bounced");
	return (0);
}

#define FOO_BOUNCE(attrs)						\
	"<message from='v@d.example' to='u@a.example' id='s1' "	\
	"type='error'" attrs "><foo:x/><error type='wait' "		\
	"by='gw.example'><remote-server-timeout xmlns='" NS_STANZAS	\
	"'/></error></message>"

static int
t_bounce_decls(void)
{
	struct msg	m = { NULL, "u@a.example", "v@d.example", NULL,
			    "<foo:x/>", NULL, " xmlns:foo='urn:foo'" };

	CHECK(binds("a"), "does not bind");
	CHECK(offer(0, &m) == STANZA_DONE, "not done");
	CHECK_QUEUE(cn(0), 0, FOO_BOUNCE(" xmlns:foo='urn:foo'"));
	/* The stanza's own xml:lang and prefixes win over the header's. */
	clear_queues();
	m.hdr_decls = " xml:lang='en' xmlns:foo='urn:foo'";
	CHECK(offer(0, &m) == STANZA_DONE, "not done");
	CHECK_QUEUE(cn(0), 0, FOO_BOUNCE(" xml:lang='en' xmlns:foo='urn:foo'"));
	clear_queues();
	m.attrs = " xml:lang='fr' xmlns:foo='urn:bar'";
	CHECK(offer(0, &m) == STANZA_DONE, "not done");
	CHECK_QUEUE(cn(0), 0, FOO_BOUNCE(" xml:lang='fr' xmlns:foo='urn:bar'"));
	return (0);
}

static int
t_backpressure(void)
{
	CHECK(binds("abc"), "does not bind");
	cn(1)->queued_set = 1;
	cn(1)->queued = 1000;
	CHECK_SENT(0, "u@a.example", "v@b.example", STANZA_HOLD);
	CHECK_EMPTY(cn(1));
	CHECK_EMPTY(cn(0));
	CHECK(router_blocked(rt(0)), "sender not blocked");
	CHECK(rt(0)->r_stanzas_in == 0, "held stanza counted");
	CHECK(cn(1)->watching && cn(1)->watch_mark == 500,
	    "watch %d mark %zu", cn(1)->watching, cn(1)->watch_mark);
	CHECK(cn(1)->stalled && cn(1)->stall_secs == 30, "stall %d secs %u",
	    cn(1)->stalled, cn(1)->stall_secs);
	CHECK_SENT(2, "u@c.example", "v@b.example", STANZA_HOLD);
	CHECK(nresumed == 0, "%d resumed early", nresumed);
	cn(1)->queued = 400;
	router_drained(rt(1));
	CHECK(nresumed == 2 && resumed[0] == rt(0) && resumed[1] == rt(2),
	    "resumed %d", nresumed);
	CHECK(!router_blocked(rt(0)) && !router_blocked(rt(2)),
	    "still blocked");
	CHECK(!cn(1)->stalled, "stall clock runs on");
	router_drained(rt(1));
	CHECK(nresumed == 2, "resumed twice");
	cn(1)->queued = 999;
	CHECK_SENT(0, "u@a.example", "v@b.example", STANZA_DONE);
	CHECK_QUEUE(cn(1), 101, chat_raw("u@a.example", "v@b.example"));
	CHECK(!router_blocked(rt(0)), "blocked");
	return (0);
}

static int
t_sender_pause(void)
{
	CHECK(binds("ab"), "does not bind");
	cn(0)->queued_set = 1;
	cn(0)->queued = 1000;
	CHECK_SENT(0, "u@a.example", "v@d.example", STANZA_DONE_PAUSE);
	CHECK_BOUNCE(0, "u@a.example", "v@d.example", TIMEOUT);
	CHECK(router_blocked(rt(0)), "not blocked");
	CHECK(cn(0)->watching && cn(0)->watch_mark == 500,
	    "watch %d mark %zu", cn(0)->watching, cn(0)->watch_mark);
	CHECK(cn(0)->stalled && cn(0)->stall_secs == 30, "stall %d secs %u",
	    cn(0)->stalled, cn(0)->stall_secs);
	CHECK(rt(0)->r_stanzas_in == 1, "stanzas in %llu",
	    (unsigned long long)rt(0)->r_stanzas_in);
	router_drained(rt(0));
	CHECK(nresumed == 1 && resumed[0] == rt(0), "resumed %d", nresumed);
	CHECK(!router_blocked(rt(0)) && !cn(0)->stalled, "still blocked");
	cn(0)->queued = 999;
	clear_queues();
	CHECK_SENT(0, "u@a.example", "v@b.example", STANZA_DONE);
	CHECK_QUEUE(cn(1), 101, chat_raw("u@a.example", "v@b.example"));
	return (0);
}

/*
 * Stream 2 (c.example) with stanzas of 0, 1, itself, gatewayd and a
 * connection gone queued, and 3 waiting for it.
 */
static int
fill_c(void)
{
	CHECK(binds("abcd"), "does not bind");
	conn_write(cn(2), "<stream:error/>", 15);
	CHECK_SENT(0, "u@a.example/r", "v@c.example", STANZA_DONE);
	CHECK_SENT(1, "u@b.example", "w@c.example", STANZA_DONE);
	CHECK_SENT(2, "u@c.example", "u@c.example", STANZA_DONE);
	conn_write(cn(2), "x", 1);
	cn(2)->recs[cn(2)->nrecs - 1].sender = 999;
	CHECK(cn(2)->nrecs == 5, "%zu records", cn(2)->nrecs);
	cn(2)->queued_set = 1;
	cn(2)->queued = 1000;
	CHECK_SENT(3, "u@d.example", "v@c.example", STANZA_HOLD);
	cn(2)->queued_set = 0;
	return (0);
}

static int
bounced_back(void)
{
	CHECK_BOUNCE(0, "u@a.example/r", "v@c.example", TIMEOUT);
	CHECK_BOUNCE(1, "u@b.example", "w@c.example", TIMEOUT);
	CHECK_EMPTY(cn(3));
	CHECK_EMPTY(cn(2));
	CHECK(nresumed == 1 && resumed[0] == rt(3), "resumed %d", nresumed);
	CHECK(!router_blocked(rt(3)), "waiter still blocked");
	CHECK(!cn(2)->stalled, "stall clock runs on");
	CHECK(router_stats()->bounce_timeout == before.bounce_timeout + 2,
	    "timeouts +%llu", (unsigned long long)
	    (router_stats()->bounce_timeout - before.bounce_timeout));
	return (0);
}

static int
t_release(void)
{
	if (fill_c() == -1)
		return (-1);
	router_release(rt(2));
	if (bounced_back() == -1)
		return (-1);
	CHECK(nends == 0, "%d ends", nends);
	CHECK(rt(2)->r_comp == NULL, "still bound");
	clear_queues();
	CHECK_SENT(0, "u@a.example", "v@c.example", STANZA_DONE);
	CHECK_BOUNCE(0, "u@a.example", "v@c.example", TIMEOUT);
	CHECK_EMPTY(cn(2));
	CHECK(bind_ok(4, "c.example"), "the name is not free");
	CHECK(nends == 0, "%d ends", nends);
	return (0);
}

static int
t_release_waiter(void)
{
	if (fill_c() == -1)
		return (-1);
	router_release(rt(3));
	CHECK(!router_blocked(rt(3)), "released waiter still blocked");
	router_unbind(rt(1));
	router_release(rt(2));
	CHECK(nresumed == 0, "released waiter resumed");
	CHECK_BOUNCE(0, "u@a.example/r", "v@c.example", TIMEOUT);
	CHECK_EMPTY(cn(1));
	CHECK_EMPTY(cn(2));
	return (0);
}

static int
t_stalled(void)
{
	if (fill_c() == -1)
		return (-1);
	router_stalled(rt(2), "queue full");
	if (bounced_back() == -1)
		return (-1);
	CHECK_END(0, rt(2), "resource-constraint", "queue full for 30 seconds");
	CHECK(nends == 1, "%d ends", nends);
	return (0);
}

static int
t_reload(void)
{
	CHECK(binds("abac"), "does not bind");
	configure(CF_NO_B | CF_A_BIG);
	CHECK(rt(1)->r_comp == NULL, "removed component's stream still bound");
	CHECK(!router_known("b.example"), "b.example still known");
	CHECK(rt(2)->r_comp != NULL, "kept component's stream unbound");
	CHECK(router_max_stanza(rt(2)) == 20000, "max stanza %u",
	    router_max_stanza(rt(2)));
	CHECK(nends == 1, "%d ends", nends);
	CHECK_SENT(3, "u@c.example", "v@alias-a.example", STANZA_DONE);
	CHECK_QUEUE(cn(2), 104, chat_raw("u@c.example", "v@alias-a.example"));
	clear_queues();
	CHECK_SENT(3, "u@c.example", "v@b.example", STANZA_DONE);
	CHECK_BOUNCE(3, "u@c.example", "v@b.example", NOT_FOUND);
	CHECK(start_is(1, "u@b.example", "v@a.example", "invalid-from",
	    BAD_FROM), "removed component's stream may send");
	/* One takeover before the reload: one more, then held down. */
	CHECK(bind_ok(4, "a.example"), "takeover 2 refused");
	CHECK_END(1, rt(2), "conflict", "replaced by connection 105");
	CHECK(router_bind(rt(5), "a.example") == -1,
	    "takeover 3 allowed: history lost on reload");
	CHECK_END(2, rt(5), "conflict", "takeovers held down");
	/* b.example back: free for a newcomer, not its old stream's. */
	configure(0);
	CHECK(router_known("b.example"), "b.example unknown");
	CHECK(rt(1)->r_comp == NULL, "old stream bound again by itself");
	CHECK(bind_ok(6, "b.example"), "b.example does not bind again");
	CHECK(nends == 3, "%d ends", nends);
	return (0);
}

#define DELTA(st, f)	((unsigned long long)((st)->f - before.f))

static int
t_counters(void)
{
	const struct router_stats	*st = router_stats();

	CHECK(binds("a"), "does not bind");
	CHECK_SENT(0, "u@a.example", "v@@b.example", STANZA_DONE);
	CHECK_SENT(0, "u@a.example", "v@nope.example", STANZA_DONE);
	CHECK_SENT(0, "u@a.example", "v@192.0.2.1", STANZA_DONE);
	CHECK_SENT(0, "u@a.example", "v@d.example", STANZA_DONE);
	CHECK(bounces("message", " type='error'", NULL) == 0, "error bounced");
	CHECK(st->bounces - before.bounces == 4 &&
	    st->bounce_malformed - before.bounce_malformed == 1 &&
	    st->bounce_not_found - before.bounce_not_found == 2 &&
	    st->bounce_timeout - before.bounce_timeout == 1 &&
	    st->takeovers == before.takeovers, "bounces +%llu: malformed "
	    "+%llu, not found +%llu, timeout +%llu; takeovers +%llu",
	    DELTA(st, bounces), DELTA(st, bounce_malformed),
	    DELTA(st, bounce_not_found), DELTA(st, bounce_timeout),
	    DELTA(st, takeovers));
	CHECK(rt(0)->r_bounces == 4, "route bounces %llu",
	    (unsigned long long)rt(0)->r_bounces);
	return (0);
}

/* Uplinks: gatewayd's streams to the XMPP server of a component. */

/* Stream i is the uplink of domain. */
static int
uplink_ok(int i, const char *domain)
{
	return (router_uplink_bind(rt(i), domain) == 0 &&
	    rt(i)->r_comp != NULL && rt(i)->r_uplink);
}

static const struct route	*walked;

static void
walk_bound(const struct router_comp_view *v, void *arg)
{
	(void)arg;
	walked = v->bound;
}

static int
t_uplink_bind(void)
{
	size_t	n, bound;

	CHECK(uplink_ok(6, "a.example"), "a.example's uplink does not bind");
	CHECK(uplink_ok(6, "a.example"), "the same uplink again refused");
	CHECK(nends == 0, "%d ends", nends);
	CHECK(router_uplink_bind(rt(7), "c.example") == -1,
	    "c.example (no upstream) takes an uplink");
	CHECK_END(0, rt(7), "host-gone", "no uplink for this component");
	CHECK(rt(7)->r_comp == NULL, "bound anyway");
	CHECK(router_uplink_bind(rt(7), "nope.example") == -1,
	    "nope.example takes an uplink");
	CHECK_END(1, rt(7), "host-gone", "no uplink for this component");
	CHECK(router_uplink_bind(rt(7), "alias-b.example") == -1,
	    "an alias takes an uplink");
	CHECK_END(2, rt(7), "host-gone", "no uplink for this component");
	CHECK(rt(7)->r_comp == NULL, "bound anyway");
	/* The uplink holds no name: its component binds as before. */
	n = router_count(&bound);
	CHECK(n == 4 && bound == 0, "%zu components, %zu connected", n, bound);
	CHECK(binds("a"), "a.example does not bind beside its uplink");
	CHECK(nends == 3, "%d ends", nends);
	n = router_count(&bound);
	CHECK(n == 4 && bound == 1, "%zu components, %zu connected", n, bound);
	CHECK(router_walk("a.example", walk_bound, NULL) == 1 &&
	    walked == rt(0), "a.example's stream is not the bound one");
	CHECK(router_kick("b.example", "kicked") == 0, "b.example kicked");
	CHECK(nends == 3, "%d ends", nends);
	return (0);
}

static int
t_uplink_none(void)
{
	CHECK(router_uplink_bind(rt(6), "a.example") == -1,
	    "an uplink without an upstream");
	CHECK_END(0, rt(6), "host-gone", "no uplink for this component");
	CHECK(rt(6)->r_comp == NULL, "bound anyway");
	CHECK(binds("a"), "does not bind");
	CHECK_SENT(0, "u@a.example", "v@example.net", STANZA_DONE);
	CHECK_BOUNCE(0, "u@a.example", "v@example.net", NOT_FOUND);
	CHECK_EMPTY(cn(6));
	return (0);
}

/* What the server may say of a stanza for a.example on its uplink. */
static const struct {
	const char	*from, *to, *err, *reason;
} uplink_starts[] = {
	{ NULL, "v@a.example", "improper-addressing", NO_FROM },
	{ "", "v@a.example", "improper-addressing", NO_FROM },
	/* The server answers for its users' addresses, odd or not. */
	{ "u@@example.net", "v@a.example", NULL, NULL },
	{ "u@example..net", "v@a.example", NULL, NULL },
	{ "u@example.net/", "v@a.example", NULL, NULL },
	{ "u@example.net", NULL, "improper-addressing", NO_TO },
	{ "u@example.net", "", "improper-addressing", NO_TO },
	{ "u@example.net/r", "v@a.example", NULL, NULL },
	{ "example.net", "a.example", NULL, NULL },
	{ "u@nope.example", "v@a.example", NULL, NULL },
	{ "u@b.example", "v@a.example", NULL, NULL },
	{ "u@alias-a.example", "v@a.example", NULL, NULL },
	{ "a.example", "v@a.example", NULL, NULL },
	/* A wrong to is no stream error: the stanza is answered. */
	{ "u@example.net", "v@b.example", NULL, NULL },
	{ "u@example.net", "v@@a.example", NULL, NULL }
};

static int
t_uplink_start(void)
{
	size_t	i;

	CHECK(binds("ab") && uplink_ok(6, "a.example"), "does not bind");
	for (i = 0; i < nitems(uplink_starts); i++)
		CHECK(start_is(6, uplink_starts[i].from, uplink_starts[i].to,
		    uplink_starts[i].err, uplink_starts[i].reason), "from %s "
		    "to %s: want %s", uplink_starts[i].from != NULL ?
		    uplink_starts[i].from : "(none)", uplink_starts[i].to !=
		    NULL ? uplink_starts[i].to : "(none)",
		    uplink_starts[i].err != NULL ? uplink_starts[i].err :
		    "no error");
	return (0);
}

static int
t_uplink_in(void)
{
	struct msg	m = { "iq", "u@example.net", "v@a.example",
			    " type='get'", "<foo:q/>", " xmlns:foo='urn:foo'",
			    NULL };

	CHECK(binds("ab--D") && uplink_ok(6, "a.example"), "does not bind");
	CHECK_SENT(6, "u@example.net/r", "v@a.example/x", STANZA_DONE);
	CHECK_QUEUE(cn(0), 107, "<message from='u@example.net/r' "
	    "to='v@a.example/x' id='s1' type='chat'><body>hi</body>"
	    "</message>");
	CHECK_EMPTY(cn(6));
	CHECK(rt(6)->r_stanzas_in == 1 && rt(6)->r_bounces == 0,
	    "stanzas in %llu, bounces %llu",
	    (unsigned long long)rt(6)->r_stanzas_in,
	    (unsigned long long)rt(6)->r_bounces);
	clear_queues();
	CHECK_SENT(6, "example.net", "a.example", STANZA_DONE);
	CHECK_QUEUE(cn(0), 107, chat_raw("example.net", "a.example"));
	clear_queues();
	CHECK_SENT(6, "u@example.net", "V@A.Example.", STANZA_DONE);
	CHECK_QUEUE(cn(0), 107, chat_raw("u@example.net", "V@A.Example."));
	clear_queues();
	/* From anyone, even one of our own names: not for us to check. */
	CHECK_SENT(6, "u@b.example", "v@a.example", STANZA_DONE);
	CHECK_QUEUE(cn(0), 107, chat_raw("u@b.example", "v@a.example"));
	CHECK_EMPTY(cn(1));
	clear_queues();
	CHECK(offer(6, &m) == STANZA_DONE, "not done");
	CHECK_QUEUE(cn(0), 107, "<iq xmlns:foo='urn:foo' from='u@example.net' "
	    "to='v@a.example' id='s1' type='get'><foo:q/></iq>");
	CHECK_EMPTY(cn(4));
	CHECK_EMPTY(cn(6));
	return (0);
}

/* Not for a.example: answered to the server, nobody else sees it. */
static const struct {
	const char	*to, *etype, *condition;
} uplink_tos[] = {
	{ "v@b.example", NOT_FOUND },
	{ "b.example", NOT_FOUND },
	{ "v@alias-b.example", NOT_FOUND },
	{ "v@alias-a.example", NOT_FOUND },
	{ "v@c.example", NOT_FOUND },
	{ "v@d.example", NOT_FOUND },
	{ "v@def.example", NOT_FOUND },
	{ "v@nope.example", NOT_FOUND },
	{ "u@example.net", NOT_FOUND },
	{ "sub.a.example", NOT_FOUND },
	{ "v@192.0.2.1", NOT_FOUND },
	{ "v@@a.example", MALFORMED },
	{ "v@a.example/", MALFORMED },
	{ "v@a..example", MALFORMED }
};

static int
t_uplink_to(void)
{
	const struct router_stats	*st = router_stats();
	size_t				 i, notfound = 0;
	int				 j;

	CHECK(binds("abc-D") && uplink_ok(6, "a.example"), "does not bind");
	for (i = 0; i < nitems(uplink_tos); i++) {
		clear_queues();
		CHECK(chat(6, "u@example.net", uplink_tos[i].to) ==
		    STANZA_DONE, "to %s: not done", uplink_tos[i].to);
		CHECK(queue_is(cn(6), 0, chat_bounce("u@example.net",
		    uplink_tos[i].to, uplink_tos[i].etype,
		    uplink_tos[i].condition)), "to %s: want %s, got [%s]",
		    uplink_tos[i].to, uplink_tos[i].condition, cn(6)->buf);
		for (j = 0; j < 6; j++)
			CHECK(cn(j)->nrecs == 0, "to %s: on conn %llu: [%s]",
			    uplink_tos[i].to, (unsigned long long)cn(j)->id,
			    cn(j)->buf);
		notfound += uplink_tos[i].condition[0] == 'r';
	}
	CHECK(rt(6)->r_bounces == nitems(uplink_tos) &&
	    rt(6)->r_stanzas_in == nitems(uplink_tos), "route bounces %llu, "
	    "stanzas in %llu", (unsigned long long)rt(6)->r_bounces,
	    (unsigned long long)rt(6)->r_stanzas_in);
	CHECK(st->bounce_not_found - before.bounce_not_found == notfound &&
	    st->bounce_malformed - before.bounce_malformed ==
	    nitems(uplink_tos) - notfound, "not found +%llu, malformed +%llu",
	    DELTA(st, bounce_not_found), DELTA(st, bounce_malformed));
	return (0);
}

/* The server's stanzas while its component is not connected. */
static int
t_uplink_in_down(void)
{
	CHECK(uplink_ok(6, "a.example"), "does not bind");
	CHECK_SENT(6, "u@example.net", "v@a.example", STANZA_DONE);
	CHECK_BOUNCE(6, "u@example.net", "v@a.example", TIMEOUT);
	CHECK(router_stats()->bounce_timeout == before.bounce_timeout + 1,
	    "timeouts +%llu", (unsigned long long)
	    (router_stats()->bounce_timeout - before.bounce_timeout));
	clear_queues();
	/* Never a bounce for an error. */
	CHECK(offer(6, &(struct msg){ NULL, "u@example.net", "v@a.example",
	    " type='error'", NULL, NULL, NULL }) == STANZA_DONE, "not done");
	CHECK_EMPTY(cn(6));
	CHECK(binds("a"), "does not bind");
	CHECK_SENT(6, "u@example.net", "v@a.example", STANZA_DONE);
	CHECK_QUEUE(cn(0), 107, chat_raw("u@example.net", "v@a.example"));
	/* Queued for the component when its stream goes: to the server. */
	router_release(rt(0));
	CHECK_BOUNCE(6, "u@example.net", "v@a.example", TIMEOUT);
	CHECK_EMPTY(cn(0));
	CHECK(rt(6)->r_comp != NULL, "the uplink went with the stream");
	clear_queues();
	CHECK_SENT(6, "u@example.net", "v@a.example", STANZA_DONE);
	CHECK_BOUNCE(6, "u@example.net", "v@a.example", TIMEOUT);
	clear_queues();
	/* The component back on another stream: it gets them again. */
	CHECK(bind_ok(1, "a.example"), "does not bind again");
	CHECK_SENT(6, "u@example.net", "v@a.example", STANZA_DONE);
	CHECK_QUEUE(cn(1), 107, chat_raw("u@example.net", "v@a.example"));
	CHECK_EMPTY(cn(6));
	CHECK(nends == 0, "%d ends", nends);
	return (0);
}

static int
t_uplink_out(void)
{
	struct msg	m = { "iq", "u@a.example", "v@example.net",
			    " type='get'", "<foo:q/>", " xmlns:foo='urn:foo'",
			    " xmlns:foo='urn:foo'" };

	CHECK(binds("abc-D") && uplink_ok(6, "a.example"), "does not bind");
	/* Beyond us: up a.example's uplink, before the default route. */
	CHECK_SENT(0, "u@a.example/r", "v@example.net/x", STANZA_DONE);
	CHECK_QUEUE(cn(6), 101, "<message from='u@a.example/r' "
	    "to='v@example.net/x' id='s1' type='chat'><body>hi</body>"
	    "</message>");
	CHECK_EMPTY(cn(4));
	CHECK_EMPTY(cn(0));
	clear_queues();
	CHECK_SENT(0, "a.example", "example.net", STANZA_DONE);
	CHECK_QUEUE(cn(6), 101, chat_raw("a.example", "example.net"));
	clear_queues();
	CHECK_SENT(0, "u@a.example", "v@192.0.2.1", STANZA_DONE);
	CHECK_QUEUE(cn(6), 101, chat_raw("u@a.example", "v@192.0.2.1"));
	clear_queues();
	CHECK(offer(0, &m) == STANZA_DONE, "not done");
	CHECK_QUEUE(cn(6), 101, "<iq xmlns:foo='urn:foo' from='u@a.example' "
	    "to='v@example.net' id='s1' type='get'><foo:q/></iq>");
	CHECK_EMPTY(cn(4));
	clear_queues();
	/* Local stays local. */
	CHECK_SENT(0, "u@a.example", "v@b.example", STANZA_DONE);
	CHECK_QUEUE(cn(1), 101, chat_raw("u@a.example", "v@b.example"));
	CHECK_EMPTY(cn(6));
	clear_queues();
	CHECK_SENT(0, "u@a.example", "v@alias-b.example", STANZA_DONE);
	CHECK_QUEUE(cn(1), 101, chat_raw("u@a.example", "v@alias-b.example"));
	CHECK_EMPTY(cn(6));
	clear_queues();
	CHECK_SENT(0, "u@a.example", "v@def.example", STANZA_DONE);
	CHECK_QUEUE(cn(4), 101, chat_raw("u@a.example", "v@def.example"));
	CHECK_EMPTY(cn(6));
	clear_queues();
	CHECK_SENT(0, "u@a.example", "u@a.example", STANZA_DONE);
	CHECK_QUEUE(cn(0), 101, chat_raw("u@a.example", "u@a.example"));
	CHECK_EMPTY(cn(6));
	clear_queues();
	/* Ours but not connected, or malformed: bounced, never up. */
	CHECK_SENT(0, "u@a.example", "v@d.example", STANZA_DONE);
	CHECK_BOUNCE(0, "u@a.example", "v@d.example", TIMEOUT);
	CHECK_EMPTY(cn(6));
	clear_queues();
	CHECK_SENT(0, "u@a.example", "v@alias-d.example", STANZA_DONE);
	CHECK_BOUNCE(0, "u@a.example", "v@alias-d.example", TIMEOUT);
	CHECK_EMPTY(cn(6));
	clear_queues();
	CHECK_SENT(0, "u@a.example", "v@@example.net", STANZA_DONE);
	CHECK_BOUNCE(0, "u@a.example", "v@@example.net", MALFORMED);
	CHECK_EMPTY(cn(6));
	CHECK_EMPTY(cn(4));
	return (0);
}

/* Without an upstream, or with its uplink down. */
static int
t_uplink_others(void)
{
	CHECK(binds("abc-D") && uplink_ok(6, "a.example"), "does not bind");
	/* c.example has no upstream: the default route, as before. */
	CHECK_SENT(2, "u@c.example", "v@example.net", STANZA_DONE);
	CHECK_QUEUE(cn(4), 103, chat_raw("u@c.example", "v@example.net"));
	CHECK_EMPTY(cn(6));
	CHECK_EMPTY(cn(2));
	clear_queues();
	/* b.example has one, down: bounced, not up a's, not the default. */
	CHECK_SENT(1, "u@b.example", "v@example.net", STANZA_DONE);
	CHECK_BOUNCE(1, "u@b.example", "v@example.net", TIMEOUT);
	CHECK_EMPTY(cn(4));
	CHECK_EMPTY(cn(6));
	clear_queues();
	/* The default route not connected: c's bounced as before. */
	router_unbind(rt(4));
	CHECK_SENT(2, "u@c.example", "v@example.net", STANZA_DONE);
	CHECK_BOUNCE(2, "u@c.example", "v@example.net", NOT_FOUND);
	CHECK_EMPTY(cn(6));
	clear_queues();
	CHECK_SENT(0, "u@a.example", "v@example.net", STANZA_DONE);
	CHECK_QUEUE(cn(6), 101, chat_raw("u@a.example", "v@example.net"));
	return (0);
}

static int
t_uplink_no_default(void)
{
	CHECK(binds("abc") && uplink_ok(6, "a.example"), "does not bind");
	CHECK_SENT(2, "u@c.example", "v@example.net", STANZA_DONE);
	CHECK_BOUNCE(2, "u@c.example", "v@example.net", NOT_FOUND);
	CHECK_EMPTY(cn(6));
	clear_queues();
	CHECK_SENT(1, "u@b.example", "v@example.net", STANZA_DONE);
	CHECK_BOUNCE(1, "u@b.example", "v@example.net", TIMEOUT);
	CHECK_EMPTY(cn(6));
	clear_queues();
	CHECK_SENT(0, "u@a.example", "v@example.net", STANZA_DONE);
	CHECK_QUEUE(cn(6), 101, chat_raw("u@a.example", "v@example.net"));
	return (0);
}

/* The uplink goes (router_unbind, router_release); another comes. */
static int
t_uplink_unbind(void)
{
	CHECK(binds("ab") && uplink_ok(6, "a.example"), "does not bind");
	CHECK_SENT(0, "u@a.example", "v@example.net", STANZA_DONE);
	CHECK_QUEUE(cn(6), 101, chat_raw("u@a.example", "v@example.net"));
	clear_queues();
	router_unbind(rt(6));
	CHECK(rt(6)->r_comp == NULL, "the uplink still bound");
	CHECK_SENT(0, "u@a.example", "v@example.net", STANZA_DONE);
	CHECK_BOUNCE(0, "u@a.example", "v@example.net", TIMEOUT);
	CHECK_EMPTY(cn(6));
	CHECK(start_is(6, "u@example.net", "v@a.example", "invalid-from",
	    BAD_FROM), "an unbound uplink may send");
	/* The component keeps its name and its stream. */
	CHECK(rt(0)->r_comp != NULL, "a.example's stream unbound");
	CHECK(router_walk("a.example", walk_bound, NULL) == 1 &&
	    walked == rt(0), "a.example's stream is not the bound one");
	clear_queues();
	CHECK_SENT(1, "u@b.example", "v@a.example", STANZA_DONE);
	CHECK_QUEUE(cn(0), 102, chat_raw("u@b.example", "v@a.example"));
	clear_queues();
	/* A new uplink; released with a stanza queued: back to a. */
	CHECK(uplink_ok(7, "a.example"), "a new uplink does not bind");
	CHECK_SENT(0, "u@a.example", "v@example.net", STANZA_DONE);
	CHECK_QUEUE(cn(7), 101, chat_raw("u@a.example", "v@example.net"));
	conn_write(cn(7), "<handshake>x</handshake>", 24);
	router_release(rt(7));
	CHECK_BOUNCE(0, "u@a.example", "v@example.net", TIMEOUT);
	CHECK_EMPTY(cn(7));
	CHECK(rt(7)->r_comp == NULL, "a released uplink still bound");
	clear_queues();
	CHECK_SENT(0, "u@a.example", "v@example.net", STANZA_DONE);
	CHECK_BOUNCE(0, "u@a.example", "v@example.net", TIMEOUT);
	CHECK_EMPTY(cn(7));
	clear_queues();
	/* The component's stream goes: its uplink stays. */
	CHECK(uplink_ok(6, "a.example"), "the uplink does not bind again");
	router_release(rt(0));
	CHECK(rt(6)->r_comp != NULL, "the uplink went with the stream");
	CHECK_SENT(6, "u@example.net", "v@a.example", STANZA_DONE);
	CHECK_BOUNCE(6, "u@example.net", "v@a.example", TIMEOUT);
	CHECK(nends == 0, "%d ends", nends);
	return (0);
}

static int
t_uplink_reload(void)
{
	CHECK(binds("ab") && uplink_ok(6, "a.example") &&
	    uplink_ok(7, "b.example"), "does not bind");
	configure(CF_UP | CF_A_BIG);
	CHECK(rt(6)->r_comp != NULL && rt(7)->r_comp != NULL,
	    "an uplink dropped on reload");
	CHECK(router_max_stanza(rt(6)) == 20000,
	    "the uplink on the old component: max stanza %u",
	    router_max_stanza(rt(6)));
	CHECK_SENT(0, "u@a.example", "v@example.net", STANZA_DONE);
	CHECK_QUEUE(cn(6), 101, chat_raw("u@a.example", "v@example.net"));
	clear_queues();
	CHECK_SENT(6, "u@example.net", "v@a.example", STANZA_DONE);
	CHECK_QUEUE(cn(0), 107, chat_raw("u@example.net", "v@a.example"));
	clear_queues();
	/* b.example removed: its uplink is dropped, a's kept. */
	configure(CF_UP | CF_NO_B);
	CHECK(rt(7)->r_comp == NULL, "a removed component's uplink kept");
	CHECK(start_is(7, "u@example.net", "v@b.example", "invalid-from",
	    BAD_FROM), "a removed component's uplink may send");
	CHECK(rt(6)->r_comp != NULL, "a.example's uplink dropped");
	CHECK_SENT(0, "u@a.example", "v@example.net", STANZA_DONE);
	CHECK_QUEUE(cn(6), 101, chat_raw("u@a.example", "v@example.net"));
	clear_queues();
	router_unbind(rt(7));
	router_release(rt(7));
	CHECK(rt(6)->r_comp != NULL, "a.example's uplink dropped");
	/* b.example back: not its old uplink's; a new one binds. */
	configure(CF_UP);
	CHECK(rt(7)->r_comp == NULL, "the old uplink bound again");
	CHECK(bind_ok(1, "b.example"), "b.example does not bind again");
	CHECK_SENT(1, "u@b.example", "v@example.net", STANZA_DONE);
	CHECK_BOUNCE(1, "u@b.example", "v@example.net", TIMEOUT);
	CHECK_EMPTY(cn(7));
	clear_queues();
	CHECK(uplink_ok(5, "b.example"), "a new uplink does not bind");
	CHECK_SENT(1, "u@b.example", "v@example.net", STANZA_DONE);
	CHECK_QUEUE(cn(5), 102, chat_raw("u@b.example", "v@example.net"));
	CHECK(rt(6)->r_comp != NULL, "a.example's uplink dropped");
	CHECK(nends == 0, "%d ends", nends);
	return (0);
}

/* A slow server holds its components back, a slow component its server. */
static int
t_uplink_backpressure(void)
{
	CHECK(binds("a") && uplink_ok(6, "a.example"), "does not bind");
	cn(6)->queued_set = 1;
	cn(6)->queued = 1000;
	CHECK_SENT(0, "u@a.example", "v@example.net", STANZA_HOLD);
	CHECK_EMPTY(cn(6));
	CHECK(router_blocked(rt(0)), "the component not blocked");
	CHECK(cn(6)->watching && cn(6)->watch_mark == 500,
	    "watch %d mark %zu", cn(6)->watching, cn(6)->watch_mark);
	cn(6)->queued = 0;
	router_drained(rt(6));
	CHECK(nresumed == 1 && resumed[0] == rt(0), "resumed %d", nresumed);
	cn(6)->queued_set = 0;
	CHECK_SENT(0, "u@a.example", "v@example.net", STANZA_DONE);
	CHECK_QUEUE(cn(6), 101, chat_raw("u@a.example", "v@example.net"));
	clear_queues();
	cn(0)->queued_set = 1;
	cn(0)->queued = 1000;
	CHECK_SENT(6, "u@example.net", "v@a.example", STANZA_HOLD);
	CHECK_EMPTY(cn(0));
	CHECK(router_blocked(rt(6)), "the uplink not blocked");
	CHECK(cn(0)->watching && cn(0)->stalled, "watch %d stall %d",
	    cn(0)->watching, cn(0)->stalled);
	router_drained(rt(0));
	CHECK(nresumed == 2 && resumed[1] == rt(6), "resumed %d", nresumed);
	cn(0)->queued_set = 0;
	/* An uplink that stalls: what it had goes back to the component. */
	CHECK_SENT(0, "u@a.example", "v@example.net", STANZA_DONE);
	router_stalled(rt(6), "queue full");
	CHECK_BOUNCE(0, "u@a.example", "v@example.net", TIMEOUT);
	CHECK_EMPTY(cn(6));
	CHECK_END(0, rt(6), "resource-constraint",
	    "queue full for 30 seconds");
	return (0);
}

/*
 * RFC 7622 3.2: an IP literal, or a U-label, is a valid domainpart: the
 * server's users may be there, and one stanza of theirs may not end the
 * uplink of everybody.
 */
static int
t_uplink_from_idn(void)
{
	CHECK(binds("a") && uplink_ok(6, "a.example"), "does not bind");
	CHECK(start_is(6, "u@xn--bcher-kva.example", "v@a.example", NULL,
	    NULL), "from u@xn--bcher-kva.example: a stream error");
	CHECK(start_is(6, "u@b\xc3\xbc" "cher.example/r", "v@a.example", NULL,
	    NULL), "from u@b\\xc3\\xbccher.example/r: a stream error");
	CHECK_SENT(6, "u@b\xc3\xbc" "cher.example", "v@a.example",
	    STANZA_DONE);
	CHECK_QUEUE(cn(0), 107, chat_raw("u@b\xc3\xbc" "cher.example",
	    "v@a.example"));
	return (0);
}

static int
t_uplink_from_ip(void)
{
	CHECK(binds("a") && uplink_ok(6, "a.example"), "does not bind");
	CHECK(start_is(6, "u@192.0.2.1", "v@a.example", NULL, NULL),
	    "from u@192.0.2.1: a stream error");
	CHECK(start_is(6, "[2001:db8::1]/r", "v@a.example", NULL, NULL),
	    "from [2001:db8::1]/r: a stream error");
	CHECK_SENT(6, "u@192.0.2.1/r", "v@a.example", STANZA_DONE);
	CHECK_QUEUE(cn(0), 107, chat_raw("u@192.0.2.1/r", "v@a.example"));
	/* A component's own stream still may not. */
	CHECK(start_is(0, "u@192.0.2.1", "v@b.example", "invalid-from",
	    BAD_FROM), "a component's stream from an IP address");
	return (0);
}

/* Record i of what is queued on c: from sender, these bytes. */
static int
rec_is(const struct conn *c, size_t i, uint64_t sender, const char *want)
{
	return (i < c->nrecs && c->recs[i].sender == sender &&
	    c->recs[i].len == strlen(want) &&
	    memcmp(c->buf + c->recs[i].off, want, c->recs[i].len) == 0);
}

#define CHECK_REC(c_, i_, from_, want) do {				\
	const char *want_ = (want);					\
	CHECK(rec_is((c_), (i_), (from_), want_), "conn %llu record "	\
	    "%d: want [%s] from %llu, got %zu records [%s]",		\
	    (unsigned long long)(c_)->id, (i_), want_,			\
	    (unsigned long long)(from_), (c_)->nrecs, (c_)->buf);	\
} while (0)

/* With a grace: the server's stanzas held while the component is away. */
static int
t_grace_down(void)
{
	CHECK(bind_ok(1, "b.example") && uplink_ok(6, "a.example"),
	    "does not bind");
	router_opened(rt(6));
	CHECK_SENT(6, "u@example.net", "v@a.example/1", STANZA_DONE);
	CHECK_SENT(6, "w@example.net", "v@a.example/2", STANZA_DONE);
	CHECK_EMPTY(cn(6));
	CHECK(router_stats()->bounces == before.bounces, "bounced");
	CHECK(bind_ok(0, "a.example"), "does not bind");
	CHECK_EMPTY(cn(0));
	router_opened(rt(0));
	CHECK(cn(0)->nrecs == 2, "%zu records: [%s]", cn(0)->nrecs,
	    cn(0)->buf);
	CHECK_REC(cn(0), 0, 107, chat_raw("u@example.net", "v@a.example/1"));
	CHECK_REC(cn(0), 1, 107, chat_raw("w@example.net", "v@a.example/2"));
	clear_queues();
	/* Then straight through; nothing held is delivered twice. */
	CHECK_SENT(6, "u@example.net", "v@a.example/3", STANZA_DONE);
	router_opened(rt(0));
	CHECK_QUEUE(cn(0), 107, chat_raw("u@example.net", "v@a.example/3"));
	/* What it had not been written when it went: for the next one. */
	CHECK_SENT(6, "u@example.net", "v@a.example/4", STANZA_DONE);
	CHECK_SENT(1, "u@b.example", "v@a.example/5", STANZA_DONE);
	router_release(rt(0));
	CHECK_EMPTY(cn(0));
	CHECK_EMPTY(cn(6));
	CHECK_BOUNCE(1, "u@b.example", "v@a.example/5", TIMEOUT);
	CHECK(bind_ok(2, "a.example"), "does not bind again");
	router_opened(rt(2));
	CHECK(cn(2)->nrecs == 2, "%zu records: [%s]", cn(2)->nrecs,
	    cn(2)->buf);
	CHECK_REC(cn(2), 0, 107, chat_raw("u@example.net", "v@a.example/3"));
	CHECK_REC(cn(2), 1, 107, chat_raw("u@example.net", "v@a.example/4"));
	CHECK(nends == 0, "%d ends", nends);
	return (0);
}

/* With a grace: the component's stanzas held while its uplink is down. */
static int
t_grace_up(void)
{
	CHECK(binds("ab"), "does not bind");
	router_opened(rt(0));
	CHECK_SENT(0, "u@a.example", "v@example.net/1", STANZA_DONE);
	CHECK_SENT(0, "u@a.example/r", "v@example.net/2", STANZA_DONE);
	CHECK_EMPTY(cn(0));
	/* Not a's: b's uplink is b's, its stanzas are held apart. */
	CHECK_SENT(1, "u@b.example", "v@example.net/b", STANZA_DONE);
	CHECK(uplink_ok(6, "a.example"), "does not bind");
	router_opened(rt(6));
	CHECK(cn(6)->nrecs == 2, "%zu records: [%s]", cn(6)->nrecs,
	    cn(6)->buf);
	CHECK_REC(cn(6), 0, 101, chat_raw("u@a.example", "v@example.net/1"));
	CHECK_REC(cn(6), 1, 101, chat_raw("u@a.example/r",
	    "v@example.net/2"));
	CHECK_SENT(0, "u@a.example", "v@example.net/3", STANZA_DONE);
	CHECK_REC(cn(6), 2, 101, chat_raw("u@a.example", "v@example.net/3"));
	CHECK(uplink_ok(7, "b.example"), "does not bind");
	router_opened(rt(7));
	CHECK_QUEUE(cn(7), 102, chat_raw("u@b.example", "v@example.net/b"));
	clear_queues();
	/* The uplink goes with stanzas not written: the next one's. */
	CHECK_SENT(0, "u@a.example", "v@example.net/4", STANZA_DONE);
	router_release(rt(6));
	CHECK_EMPTY(cn(0));
	CHECK(uplink_ok(5, "a.example"), "a new uplink does not bind");
	router_opened(rt(5));
	CHECK_QUEUE(cn(5), 101, chat_raw("u@a.example", "v@example.net/4"));
	CHECK(router_stats()->bounces == before.bounces, "bounced");
	return (0);
}

/* Past the grace size: what is held, and what comes, is bounced. */
static int
t_grace_size(void)
{
	size_t	len = strlen(chat_raw("u@example.net", "v@a.example/1"));

	CHECK(2 * len <= GRACE_SIZE && 3 * len > GRACE_SIZE,
	    "a chat message of %zu bytes", len);
	CHECK(uplink_ok(6, "a.example"), "does not bind");
	CHECK_SENT(6, "u@example.net", "v@a.example/1", STANZA_DONE);
	CHECK_SENT(6, "u@example.net", "v@a.example/2", STANZA_DONE);
	CHECK_EMPTY(cn(6));
	CHECK_SENT(6, "u@example.net", "v@a.example/3", STANZA_DONE);
	CHECK(cn(6)->nrecs == 3, "%zu records: [%s]", cn(6)->nrecs,
	    cn(6)->buf);
	CHECK_REC(cn(6), 0, 0, chat_bounce("u@example.net", "v@a.example/1",
	    TIMEOUT));
	CHECK_REC(cn(6), 1, 0, chat_bounce("u@example.net", "v@a.example/2",
	    TIMEOUT));
	CHECK_REC(cn(6), 2, 0, chat_bounce("u@example.net", "v@a.example/3",
	    TIMEOUT));
	clear_queues();
	/* Over: what comes later too, even a small one. */
	CHECK(offer(6, &(struct msg){ "iq", "u@example.net", "a.example",
	    " type='get'", NULL, NULL, NULL }) == STANZA_DONE, "not done");
	CHECK_QUEUE(cn(6), 0, "<iq from='a.example' to='u@example.net' "
	    "id='s1' type='error'><error type='wait' by='gw.example'>"
	    "<remote-server-timeout xmlns='" NS_STANZAS "'/></error></iq>");
	clear_queues();
	/* Back: nothing held; away again: a new grace. */
	CHECK(bind_ok(0, "a.example"), "does not bind");
	router_opened(rt(0));
	CHECK_EMPTY(cn(0));
	router_unbind(rt(0));
	CHECK_SENT(6, "u@example.net", "v@a.example/4", STANZA_DONE);
	CHECK_EMPTY(cn(6));
	CHECK(bind_ok(1, "a.example"), "does not bind");
	router_opened(rt(1));
	CHECK_QUEUE(cn(1), 107, chat_raw("u@example.net", "v@a.example/4"));
	return (0);
}

/*
 * A reload keeps what is held; one that ends the grace (0 now) has
 * router_tick bounce it, to the stream of the senders' side.
 */
static int
t_grace_reload(void)
{
	CHECK(binds("a") && uplink_ok(6, "b.example"), "does not bind");
	CHECK_SENT(0, "u@a.example", "v@example.net/1", STANZA_DONE);
	CHECK_SENT(6, "u@example.net", "v@b.example/1", STANZA_DONE);
	CHECK_EMPTY(cn(0));
	CHECK_EMPTY(cn(6));
	configure(CF_UP | CF_GRACE | CF_A_BIG);
	router_tick();
	CHECK_EMPTY(cn(0));
	CHECK_EMPTY(cn(6));
	CHECK(uplink_ok(7, "a.example"), "does not bind");
	router_opened(rt(7));
	CHECK_QUEUE(cn(7), 101, chat_raw("u@a.example", "v@example.net/1"));
	clear_queues();
	CHECK_SENT(0, "u@a.example", "v@example.net/2", STANZA_DONE);
	CHECK_QUEUE(cn(7), 101, chat_raw("u@a.example", "v@example.net/2"));
	clear_queues();
	router_release(rt(7));
	CHECK_SENT(0, "u@a.example", "v@example.net/3", STANZA_DONE);
	CHECK_EMPTY(cn(0));
	configure(CF_UP);
	router_tick();
	CHECK_BOUNCE(0, "u@a.example", "v@example.net/3", TIMEOUT);
	CHECK_BOUNCE(6, "u@example.net", "v@b.example/1", TIMEOUT);
	clear_queues();
	router_tick();
	CHECK_EMPTY(cn(0));
	CHECK_EMPTY(cn(6));
	CHECK(nends == 0, "%d ends", nends);
	return (0);
}

static void
run(const char *name, int cf, int (*fn)(void))
{
	setup(cf);
	why[0] = '\0';
	ncases++;
	if (fn() == 0)
		printf("ok - router unit: %s\n", name);
	else {
		printf("not ok - router unit: %s: %s\n", name, why);
		nfailed++;
	}
	fflush(stdout);
}

int
main(void)
{
	log_init(1, LOG_DAEMON);
	log_setverbose(0);
	router_init(&fake_ops);

	run("bind", 0, t_bind);
	run("router_known: component names only", 0, t_known);
	run("bind unknown domain or alias: host-gone", 0, t_bind_unknown);
	run("takeover on conflict replace", 0, t_takeover);
	run("takeovers held down after flap-max", 0, t_holddown);
	run("on conflict reject", 0, t_reject);
	run("router_stanza_start: from and to", 0, t_start);
	run("delivered to a bound component, bytes exact", 0, t_deliver);
	run("header declarations after the element name", 0, t_decls);
	run("to an alias reaches its component", 0, t_alias);
	run("unbound: server-timeout, unknown: not-found", 0, t_unbound);
	run("default route", CF_DEFAULT, t_default_route);
	run("malformed to: jid-malformed, IP literal: not-found", CF_DEFAULT,
	    t_bad_to);
	run("never a bounce for errors, results, unavailable", 0,
	    t_no_bounce);
	run("bounce keeps the header's declarations", 0, t_bounce_decls);
	run("backpressure: hold, watch, stall, drained", 0, t_backpressure);
	run("sender full after a bounce: pause", 0, t_sender_pause);
	run("router_release: queue bounced, waiters resumed, unbound", 0,
	    t_release);
	run("router_release: of a waiter; no bounce to the unbound", 0,
	    t_release_waiter);
	run("router_stalled: queue bounced, resource-constraint", 0,
	    t_stalled);
	run("reload: removed unbound, kept keeps route and history", 0,
	    t_reload);
	run("counters: bounces by condition", 0, t_counters);
	run("uplink: router_uplink_bind only with an upstream, holds no name",
	    CF_UP, t_uplink_bind);
	run("uplink: none without an upstream", 0, t_uplink_none);
	run("uplink: the server's stanzas from anyone, from and to required",
	    CF_UP, t_uplink_start);
	run("uplink: the server's stanzas to the component's stream, exact",
	    CF_UP | CF_DEFAULT, t_uplink_in);
	run("uplink: a to not at the component: remote-server-not-found or "
	    "jid-malformed to the server", CF_UP | CF_DEFAULT, t_uplink_to);
	run("uplink: component not connected: remote-server-timeout to the "
	    "server", CF_UP, t_uplink_in_down);
	run("uplink: beyond us goes up before the default route, local stays "
	    "local", CF_UP | CF_DEFAULT, t_uplink_out);
	run("uplink: without an upstream as before, uplink down: "
	    "remote-server-timeout", CF_UP | CF_DEFAULT, t_uplink_others);
	run("uplink: without a default route", CF_UP, t_uplink_no_default);
	run("uplink: router_unbind and router_release clear the uplink only",
	    CF_UP, t_uplink_unbind);
	run("uplink: reload keeps it with its component, drops it with a "
	    "component removed", CF_UP, t_uplink_reload);
	run("uplink: backpressure both ways, stalled uplink bounced", CF_UP,
	    t_uplink_backpressure);
	run("uplink: the server's stanzas from a JID at an IP address", CF_UP,
	    t_uplink_from_ip);
	run("uplink: the server's stanzas from a JID at an internationalised "
	    "domain", CF_UP, t_uplink_from_idn);
	run("grace: the server's stanzas held for the component, in order",
	    CF_UP | CF_GRACE, t_grace_down);
	run("grace: the component's stanzas held for its uplink, in order",
	    CF_UP | CF_GRACE, t_grace_up);
	run("grace: past its size all held and later bounced to the server",
	    CF_UP | CF_GRACE, t_grace_size);
	run("grace: kept on reload; ended by one, router_tick bounces",
	    CF_UP | CF_GRACE, t_grace_reload);

	printf("# %d cases, %d passed, %d checks\n", ncases, ncases - nfailed,
	    nchecks);
	return (nfailed ? 1 : 0);
}
