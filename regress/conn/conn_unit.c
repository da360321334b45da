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
 * Unit tests for gatewayd/conn.c, the connection layer, driven through
 * its own libevent loop over nonblocking socketpairs, as if from
 * 127.0.0.x addresses.  The callbacks record everything; every
 * input view is checked against what the peer sent.  One line a case:
 * "ok - conn unit: NAME" or "not ok - conn unit: NAME: why".
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "util.h"

#define MAX_RECS	64
#define MAX_PEERS	8
#define MAX_CALLS	16
#define MAX_TAKEN	16
#define CALL_DATA	256
#define PEER_BUF	(256 * 1024)
#define BIG		200000
#define WAIT_MS		3000
#define LOCAL		"127.0.0.1"

enum keep_mode {
	KEEP_END,	/* nothing kept */
	KEEP_LINE	/* the unfinished line kept */
};

struct peer {
	int		 fd, eof, nreads;
	size_t		 inlen, sentlen;
	char		 in[PEER_BUF];
	char		 sent[PEER_BUF];
};

struct call {
	uint64_t	 base;
	size_t		 len;
	char		 data[CALL_DATA];
};

struct rec {
	struct conn	*c;
	struct peer	*p;
	uint64_t	 id;
	enum keep_mode	 keep;
	int		 take_at_close;
	int		 ninput, neof, ntimeout, nstalled, ndrained;
	int		 nclosed, nfreed, nshed, mismatch;
	int		 seq_input, seq_eof, seq_closed, seq_freed;
	size_t		 queued_at_closed, queued_at_drained;
	uint64_t	 seen;		/* end of the stream handed over */
	struct call	 calls[MAX_CALLS];
};

struct taken {
	uint64_t	 sender;
	size_t		 len;
	char		*data;
};

struct test {
	const char	*name;
	int		(*fn)(void);
};

static const struct conn_limits deflimits = { 64, 64, 64, 1 << 20, 60 };
static const char *why_names[] = { "full", "unauth", "per-addr", "nomem" };

static struct rec	 recs[MAX_RECS];
static struct peer	 peers[MAX_PEERS];
static struct taken	 taken[MAX_TAKEN];
static struct event	 tick;
static char		 reason[512], last_host[64], big[BIG];
static int		 nrecs, npeers, ntaken, naccepted, nrefused, nall;
static int		 seq, seq_all, ticked;
static struct peer	*lastp;		/* of the last open_conn */
static enum conn_refusal last_why;

static int	fail(const char *, ...)
		    __attribute__((__format__(__printf__, 1, 2)));

#define FAIL(...)	return (fail(__VA_ARGS__))
#define CHECK(cond) do {						\
	if (!(cond))							\
		FAIL("line %d: %s", __LINE__, #cond);			\
} while (0)
#define CHECK_CALL(r, i, base, s) do {					\
	if (call_is((r), (i), (base), (s), __LINE__) == -1)		\
		return (-1);						\
} while (0)
#define CHECK_TAKEN(i, sender, data, len) do {				\
	if (taken_is((i), (sender), (data), (len), __LINE__) == -1)	\
		return (-1);						\
} while (0)
#define CHECK_REFUSED(ip, why) do {					\
	if (refused_is((ip), (why), __LINE__) == -1)			\
		return (-1);						\
} while (0)
/* Run the loop until cond holds or ms have passed. */
#define WAIT(cond, ms) do {						\
	int64_t	wait_end_ = monotime_ms() + (ms);			\
	while (!(cond) && monotime_ms() < wait_end_)			\
		step();							\
} while (0)

static int
fail(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return (-1);
}

/*
 * The callbacks.
 */

static void *
ev_accepted(struct conn *c)
{
	struct rec	*r;

	if (nrecs == MAX_RECS)
		return (NULL);
	r = &recs[nrecs++];
	memset(r, 0, sizeof(*r));
	r->c = c;
	r->id = conn_id(c);
	naccepted++;
	return (r);
}

static size_t
ev_refused(char *buf, size_t size, const char *host, enum conn_refusal why)
{
	int	n;

	nrefused++;
	last_why = why;
	strlcpy(last_host, host, sizeof(last_host));
	n = snprintf(buf, size, "REFUSED %s\n", why_names[why]);
	return (n < 0 || (size_t)n >= size ? 0 : (size_t)n);
}

static uint64_t
keep_line(const char *data, uint64_t base, size_t len)
{
	size_t	i;

	for (i = len; i > 0; i--)
		if (data[i - 1] == '\n')
			return (base + i);
	return (base);
}

static uint64_t
ev_input(void *arg, const char *data, uint64_t base, size_t len)
{
	struct rec	*r = arg;
	struct call	*k = &r->calls[r->ninput];
	size_t		 n;

	if (len > 0 && (base + len > r->p->sentlen ||
	    memcmp(data, r->p->sent + base, len) != 0))
		r->mismatch++;
	if (r->ninput < MAX_CALLS) {
		k->base = base;
		k->len = len;
		n = len < CALL_DATA - 1 ? len : CALL_DATA - 1;
		if (n > 0)
			memcpy(k->data, data, n);
		k->data[n] = '\0';
	}
	r->ninput++;
	r->seq_input = ++seq;
	if (base + len > r->seen)
		r->seen = base + len;
	if (r->keep == KEEP_LINE)
		return (len > 0 ? keep_line(data, base, len) : base);
	return (base + len);
}

static void
ev_eof(void *arg)
{
	struct rec	*r = arg;

	r->neof++;
	r->seq_eof = ++seq;
}

static void
ev_timeout(void *arg)
{
	struct rec	*r = arg;

	r->ntimeout++;
}

static void
ev_stalled(void *arg)
{
	struct rec	*r = arg;

	r->nstalled++;
}

static void
ev_drained(void *arg)
{
	struct rec	*r = arg;

	r->ndrained++;
	r->queued_at_drained = conn_queued(r->c);
}

static void
take_one(uint64_t sender, const char *data, size_t len, void *arg)
{
	struct taken	*t = &taken[ntaken];

	(void)arg;
	if (ntaken == MAX_TAKEN)
		return;
	ntaken++;
	t->sender = sender;
	t->len = len;
	if ((t->data = malloc(len + 1)) == NULL)
		fatal("%s", __func__);
	memcpy(t->data, data, len);
}

static void
ev_closed(void *arg)
{
	struct rec	*r = arg;

	r->nclosed++;
	r->seq_closed = ++seq;
	r->queued_at_closed = conn_queued(r->c);
	if (r->take_at_close)
		conn_take_queue(r->c, take_one, NULL);
}

static void
ev_freed(void *arg)
{
	struct rec	*r = arg;

	r->nfreed++;
	r->seq_freed = ++seq;
}

static void
ev_all_closed(void)
{
	nall++;
	seq_all = ++seq;
}

/* Shed for a newcomer: its last words, then it closes. */
static void
ev_shed(void *arg)
{
	struct rec	*r = arg;

	r->nshed++;
	conn_write(r->c, "SHED", 4);
	conn_close_after_flush(r->c, 5);
}

static const struct conn_events events = {
	ev_accepted, ev_refused, ev_input, ev_eof, ev_timeout, ev_stalled,
	ev_drained, ev_closed, ev_freed, ev_all_closed, ev_shed, NULL
};

/*
 * Helpers.
 */

static void
tick_cb(int fd, short event, void *arg)
{
	(void)fd;
	(void)event;
	(void)arg;
	ticked = 1;
}

/* One loop iteration, at most about 10ms long. */
static void
step(void)
{
	struct timeval	tv = { 0, 10000 };

	evtimer_add(&tick, &tv);
	event_loop(EVLOOP_ONCE);
	evtimer_del(&tick);
}

/* For what must not happen: long enough for what is ready to run. */
static void
spin(int n)
{
	while (n-- > 0)
		event_loop(EVLOOP_NONBLOCK);
}

static void
fill_pat(char *buf, size_t len, unsigned int seed)
{
	size_t	i;

	for (i = 0; i < len; i++)
		buf[i] = 'a' + (i * 7 + i / 251 + seed) % 26;
}

static struct peer *
peer_new(int fd)
{
	struct peer	*p;

	if (npeers == MAX_PEERS)
		return (NULL);
	p = &peers[npeers++];
	p->fd = fd;
	p->eof = p->nreads = 0;
	p->inlen = p->sentlen = 0;
	return (p);
}

static void
peer_poll(struct peer *p)
{
	ssize_t	n;

	while (p->fd != -1 && !p->eof && p->inlen < sizeof(p->in)) {
		n = read(p->fd, p->in + p->inlen, sizeof(p->in) - p->inlen);
		if (n == -1)
			break;
		p->inlen += (size_t)n;
		p->nreads += n > 0;
		p->eof = n == 0;
	}
}

static int
peer_has(struct peer *p, size_t n)
{
	peer_poll(p);
	return (p->inlen >= n);
}

static int
peer_eof(struct peer *p)
{
	peer_poll(p);
	return (p->eof);
}

static int
peer_is(struct peer *p, const char *data, size_t len, int eof)
{
	return (p->inlen == len && memcmp(p->in, data, len) == 0 &&
	    p->eof == eof);
}

/* What the peer sends is recorded first: input is checked against it. */
static int
peer_send(struct peer *p, const char *data, size_t len)
{
	int64_t	 end = monotime_ms() + WAIT_MS;
	size_t	 off = 0;
	ssize_t	 n;

	if (p->sentlen + len > sizeof(p->sent))
		return (-1);
	memcpy(p->sent + p->sentlen, data, len);
	p->sentlen += len;
	while (off < len) {
		if ((n = write(p->fd, data + off, len - off)) > 0)
			off += (size_t)n;
		else if (n == -1 && errno == EAGAIN && monotime_ms() < end)
			step();
		else
			return (-1);
	}
	return (0);
}

static int
peer_puts(struct peer *p, const char *s)
{
	return (peer_send(p, s, strlen(s)));
}

static void
peer_close(struct peer *p)
{
	close(p->fd);
	p->fd = -1;
}

/*
 * A connection over a socketpair, as if from ip; sndbuf, if set, is the
 * send buffer of the connection's side.  Returns its record, NULL if
 * refused; lastp is the peer, NULL if it could not be set up.
 */
static struct rec *
open_conn(const char *ip, int sndbuf)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	int			 sv[2], before = naccepted;

	lastp = NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		return (NULL);
	if ((lastp = peer_new(sv[1])) == NULL) {
		close(sv[0]);
		close(sv[1]);
		return (NULL);
	}
	if (sndbuf > 0)
		(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf,
		    sizeof(sndbuf));
	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	if (inet_pton(AF_INET, ip, &sin->sin_addr) != 1)
		fatalx("bad address %s", ip);
	conn_new(sv[0], &ss, sizeof(*sin));
	if (naccepted == before)
		return (NULL);
	recs[nrecs - 1].p = lastp;
	return (&recs[nrecs - 1]);
}

/*
 * The same over TCP on loopback, so that the system counts what the
 * peer acknowledges; rcvbuf, if set, is the peer's receive buffer.
 */
static struct rec *
open_tcp(int rcvbuf)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 l, cfd = -1, sfd = -1, before = naccepted;

	lastp = NULL;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((l = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return (NULL);
	if (bind(l, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(l, 1) == -1 ||
	    getsockname(l, (struct sockaddr *)&sin, &len) == -1 ||
	    (cfd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    (rcvbuf > 0 && setsockopt(cfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
	    sizeof(rcvbuf)) == -1) ||
	    connect(cfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    (sfd = accept4(l, NULL, NULL, SOCK_NONBLOCK)) == -1 ||
	    fcntl(cfd, F_SETFL, O_NONBLOCK) == -1 ||
	    (lastp = peer_new(cfd)) == NULL) {
		close(l);
		if (cfd != -1)
			close(cfd);
		if (sfd != -1)
			close(sfd);
		return (NULL);
	}
	close(l);
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, &sin, sizeof(sin));
	conn_new(sfd, &ss, sizeof(sin));
	if (naccepted == before)
		return (NULL);
	recs[nrecs - 1].p = lastp;
	return (&recs[nrecs - 1]);
}

static int
call_is(struct rec *r, int i, uint64_t base, const char *s, int line)
{
	struct call	*k = &r->calls[i];
	size_t		 len = strlen(s);

	if (r->mismatch)
		FAIL("line %d: an input view differs from what was sent",
		    line);
	if (r->ninput <= i)
		FAIL("line %d: %d input calls, want call %d", line,
		    r->ninput, i);
	if (k->base != base || k->len != len || memcmp(k->data, s, len) != 0)
		FAIL("line %d: call %d: base %llu \"%s\" (%zu), want base "
		    "%llu \"%s\"", line, i, (unsigned long long)k->base,
		    k->data, k->len, (unsigned long long)base, s);
	return (0);
}

static int
taken_is(int i, uint64_t sender, const char *data, size_t len, int line)
{
	struct taken	*t = &taken[i];

	if (ntaken <= i)
		FAIL("line %d: %d stanzas taken, want #%d", line, ntaken, i);
	if (t->sender != sender || t->len != len ||
	    memcmp(t->data, data, len) != 0)
		FAIL("line %d: stanza %d: sender %llu, %zu bytes, want "
		    "sender %llu, %zu bytes", line, i,
		    (unsigned long long)t->sender, t->len,
		    (unsigned long long)sender, len);
	return (0);
}

/* One from ip is refused; its peer reads the reply, then the end. */
static int
refused_is(const char *ip, enum conn_refusal why, int line)
{
	struct peer	*p;
	char		 want[64];

	snprintf(want, sizeof(want), "REFUSED %s\n", why_names[why]);
	nrefused = 0;
	if (open_conn(ip, 0) != NULL || lastp == NULL)
		FAIL("line %d: from %s %s, want refused %s", line, ip,
		    lastp ? "accepted" : "not set up", why_names[why]);
	p = lastp;
	if (nrefused != 1 || last_why != why || strcmp(last_host, ip) != 0)
		FAIL("line %d: refused %d times, last %s as %s, want once, "
		    "%s as %s", line, nrefused, last_host, why_names[last_why],
		    ip, why_names[why]);
	WAIT(peer_eof(p), WAIT_MS);
	if (!peer_is(p, want, strlen(want), 1))
		FAIL("line %d: peer read %zu bytes \"%.*s\", eof %d", line,
		    p->inlen, (int)p->inlen, p->in, p->eof);
	return (0);
}

static void
iov_set(struct iovec *iov, const char *s)
{
	iov->iov_base = (void *)(uintptr_t)s;
	iov->iov_len = strlen(s);
}

static void
set_limits(uint32_t conns, uint32_t unauth, uint32_t per_addr,
    uint32_t preauth, uint32_t timeout)
{
	struct conn_limits	l = { conns, unauth, per_addr, preauth,
				    timeout };

	conn_set_limits(&l);
}

static void
reset(void)
{
	struct conn	*c;
	int		 i;

	while ((c = conn_first()) != NULL)
		conn_close(c);
	conn_flush_all();
	for (i = 0; i < npeers; i++)
		if (peers[i].fd != -1)
			close(peers[i].fd);
	for (i = 0; i < ntaken; i++)
		free(taken[i].data);
	npeers = nrecs = ntaken = naccepted = nrefused = nall = 0;
	conn_set_limits(&deflimits);
}

/*
 * The cases.
 */

static int
t_ids(void)
{
	struct rec	*r[4];
	int		 i;

	for (i = 0; i < 3; i++) {
		CHECK((r[i] = open_conn(LOCAL, 0)) != NULL);
		CHECK(conn_find(r[i]->id) == r[i]->c);
		CHECK(conn_arg(r[i]->c) == r[i]);
	}
	CHECK(r[0]->id == 1 && r[1]->id == 2 && r[2]->id == 3);
	CHECK(conn_find(0) == NULL && conn_find(4) == NULL);
	CHECK(strcmp(conn_peername(r[0]->c), LOCAL) == 0);
	CHECK(conn_first() == r[0]->c && conn_next(r[0]->c) == r[1]->c);
	conn_close(r[2]->c);
	CHECK(conn_find(3) == NULL);
	conn_flush_all();
	CHECK(conn_find(3) == NULL && conn_next(r[1]->c) == NULL);
	set_limits(conn_count(), 64, 64, 1 << 20, 60);
	conn_set_protected(r[0]->c, 1);
	conn_set_protected(r[1]->c, 1);
	CHECK_REFUSED(LOCAL, CONN_REFUSE_FULL);
	conn_set_limits(&deflimits);
	CHECK((r[3] = open_conn(LOCAL, 0)) != NULL && r[3]->id > 3);
	CHECK(conn_find(r[3]->id) == r[3]->c && conn_find(3) == NULL);
	return (0);
}

static int
t_input_base(void)
{
	struct rec	*r;

	CHECK((r = open_conn(LOCAL, 0)) != NULL);
	CHECK(peer_puts(r->p, "hello") == 0);
	WAIT(r->ninput >= 1, WAIT_MS);
	CHECK_CALL(r, 0, 0, "hello");
	CHECK(peer_puts(r->p, " world") == 0);
	WAIT(r->ninput >= 2, WAIT_MS);
	CHECK_CALL(r, 1, 5, " world");
	CHECK(r->ninput == 2 && conn_kept(r->c) == 0);
	CHECK(peer_puts(r->p, "<unfinished") == 0);
	WAIT(r->ninput >= 3, WAIT_MS);
	CHECK_CALL(r, 2, 11, "<unfinished");
	CHECK(conn_kept(r->c) == 0 && conn_stats(r->c)->bytes_in == 22);
	return (0);
}

static int
t_keep_partial(void)
{
	static const char *chunk[] = { "<a/>\n<b", "ar/>\n<c", "/>\n<d",
	    "/>\n" };
	static const char *want[] = { "<a/>\n<b", "<bar/>\n<c", "<c/>\n<d",
	    "<d/>\n" };
	static const uint64_t base[] = { 0, 5, 12, 17 };
	static const size_t kept[] = { 2, 2, 2, 0 };
	struct rec	*r;
	int		 i;

	CHECK((r = open_conn(LOCAL, 0)) != NULL);
	r->keep = KEEP_LINE;
	for (i = 0; i < 4; i++) {
		CHECK(peer_puts(r->p, chunk[i]) == 0);
		WAIT(r->ninput > i, WAIT_MS);
		CHECK_CALL(r, i, base[i], want[i]);
		CHECK(conn_kept(r->c) == kept[i]);
	}
	CHECK(r->ninput == 4);
	return (0);
}

/* Kept bytes, then more than one read's worth behind them. */
static int
t_keep_big(void)
{
	struct rec	*r;
	struct call	*k;
	size_t		 n = 40000;

	CHECK((r = open_conn(LOCAL, 0)) != NULL);
	r->keep = KEEP_LINE;
	CHECK(peer_puts(r->p, "x\n<") == 0);
	WAIT(r->ninput >= 1, WAIT_MS);
	fill_pat(big, n, 1);
	CHECK(peer_send(r->p, big, n) == 0);
	WAIT(r->seen >= 3 + n, WAIT_MS);
	CHECK(r->seen == 3 + n && conn_kept(r->c) == 1 + n);
	CHECK(peer_puts(r->p, "\n") == 0);
	WAIT(conn_kept(r->c) == 0, WAIT_MS);
	CHECK(r->mismatch == 0 && r->ninput >= 3 && r->ninput <= MAX_CALLS);
	k = &r->calls[r->ninput - 1];
	CHECK(k->base == 2 && k->len == 2 + n && conn_kept(r->c) == 0);
	return (0);
}

static int
t_replay(void)
{
	struct rec	*r;

	CHECK((r = open_conn(LOCAL, 0)) != NULL);
	r->keep = KEEP_LINE;
	CHECK(peer_puts(r->p, "<a/>\n<b") == 0);
	WAIT(r->ninput >= 1, WAIT_MS);
	conn_replay(r->c);
	CHECK_CALL(r, 1, 5, "<b");
	CHECK(conn_kept(r->c) == 2);
	r->keep = KEEP_END;
	conn_replay(r->c);
	CHECK_CALL(r, 2, 5, "<b");
	CHECK(conn_kept(r->c) == 0);
	CHECK(peer_puts(r->p, "c") == 0);
	WAIT(r->ninput >= 4, WAIT_MS);
	CHECK_CALL(r, 3, 7, "c");
	return (0);
}

static int
t_set_reading(void)
{
	struct rec	*r;

	CHECK((r = open_conn(LOCAL, 0)) != NULL);
	conn_set_reading(r->c, 0);
	CHECK(peer_puts(r->p, "zz") == 0);
	spin(20);
	CHECK(r->ninput == 0);
	conn_set_reading(r->c, 1);
	WAIT(r->ninput >= 1, WAIT_MS);
	CHECK_CALL(r, 0, 0, "zz");
	conn_set_reading(r->c, 0);
	CHECK(peer_puts(r->p, "y") == 0);
	spin(20);
	CHECK(r->ninput == 1);
	conn_set_reading(r->c, 1);
	WAIT(r->ninput >= 2, WAIT_MS);
	CHECK_CALL(r, 1, 2, "y");
	return (0);
}

/* The peer sends 300 bytes: first, then the rest once they are in. */
static int
preauth(size_t first)
{
	struct rec	*r;

	set_limits(64, 64, 64, 100, 60);
	CHECK((r = open_conn(LOCAL, 0)) != NULL);
	fill_pat(big, 300, 2);
	CHECK(peer_send(r->p, big, first) == 0);
	WAIT(r->seen >= (first < 101 ? first : 101), WAIT_MS);
	spin(20);
	CHECK(peer_send(r->p, big + first, 300 - first) == 0);
	WAIT(r->seen >= 101, WAIT_MS);
	spin(20);
	if (r->seen != 101 || r->mismatch)
		FAIL("%llu bytes handed over before authentication, want 101 "
		    "(max_preauth 100 + 1)", (unsigned long long)r->seen);
	return (0);
}

static int
t_preauth_one(void)
{
	return (preauth(300));
}

static int
t_preauth_steps(void)
{
	return (preauth(100));
}

static int
t_max_conns(void)
{
	struct rec	*r[2];

	set_limits(2, 64, 64, 1 << 20, 60);
	CHECK((r[0] = open_conn("127.0.0.1", 0)) != NULL);
	CHECK((r[1] = open_conn("127.0.0.2", 0)) != NULL);
	/* Both wait for gatewayd: neither may make room. */
	conn_set_protected(r[0]->c, 1);
	conn_set_protected(r[1]->c, 1);
	CHECK_REFUSED("127.0.0.3", CONN_REFUSE_FULL);
	CHECK(conn_count() == 2 && naccepted == 2);
	conn_authenticated(r[0]->c);
	conn_authenticated(r[1]->c);
	CHECK_REFUSED("127.0.0.4", CONN_REFUSE_FULL);
	conn_close(r[0]->c);
	conn_flush_all();
	CHECK(open_conn("127.0.0.4", 0) != NULL && conn_count() == 2);
	return (0);
}

static int
t_max_unauth(void)
{
	struct rec	*r, *r2;

	set_limits(64, 2, 64, 1 << 20, 60);
	CHECK((r = open_conn("127.0.0.1", 0)) != NULL);
	CHECK((r2 = open_conn("127.0.0.2", 0)) != NULL);
	conn_set_protected(r->c, 1);
	conn_set_protected(r2->c, 1);
	CHECK_REFUSED("127.0.0.3", CONN_REFUSE_UNAUTH);
	conn_authenticated(r->c);
	CHECK(conn_unauth_count() == 1);
	CHECK((r2 = open_conn("127.0.0.3", 0)) != NULL);
	conn_set_protected(r2->c, 1);
	CHECK_REFUSED("127.0.0.4", CONN_REFUSE_UNAUTH);
	CHECK(conn_count() == 3 && conn_unauth_count() == 2);
	/* Twice authenticated leaves once; closed, it does not return. */
	conn_authenticated(r->c);
	CHECK(conn_unauth_count() == 2);
	conn_close(r->c);
	conn_flush_all();
	CHECK(conn_unauth_count() == 2 && conn_count() == 2);
	conn_close(conn_first());
	CHECK(conn_unauth_count() == 1);
	conn_flush_all();
	CHECK(conn_unauth_count() == 1 && conn_count() == 1);
	return (0);
}

static int
t_max_per_addr(void)
{
	struct rec	*r[2];

	set_limits(64, 64, 2, 1 << 20, 60);
	CHECK((r[0] = open_conn("127.0.0.5", 0)) != NULL);
	CHECK((r[1] = open_conn("127.0.0.5", 0)) != NULL);
	conn_set_protected(r[0]->c, 1);
	conn_set_protected(r[1]->c, 1);
	CHECK_REFUSED("127.0.0.5", CONN_REFUSE_PER_ADDR);
	CHECK(open_conn("127.0.0.6", 0) != NULL);
	/* One authenticated, then one closed: each makes room. */
	conn_authenticated(r[0]->c);
	CHECK((r[0] = open_conn("127.0.0.5", 0)) != NULL);
	conn_set_protected(r[0]->c, 1);
	CHECK_REFUSED("127.0.0.5", CONN_REFUSE_PER_ADDR);
	conn_close(r[1]->c);
	conn_flush_all();
	CHECK((r[1] = open_conn("127.0.0.5", 0)) != NULL);
	conn_set_protected(r[1]->c, 1);
	CHECK_REFUSED("127.0.0.5", CONN_REFUSE_PER_ADDR);
	return (0);
}

/*
 * Unauthenticated slots full: the oldest connection that waits only for
 * its peer is shed, the newcomer gets in; one waiting for gatewayd stays.
 */
static int
t_shed_unauth(void)
{
	struct rec	*r[3];

	set_limits(64, 2, 64, 1 << 20, 60);
	CHECK((r[0] = open_conn("127.0.0.1", 0)) != NULL);
	CHECK((r[1] = open_conn("127.0.0.2", 0)) != NULL);
	conn_set_protected(r[0]->c, 1);
	CHECK((r[2] = open_conn("127.0.0.3", 0)) != NULL);
	CHECK(r[1]->nshed == 1 && r[0]->nshed == 0);
	CHECK(conn_unauth_count() == 2);
	conn_flush_all();
	WAIT(peer_eof(r[1]->p), WAIT_MS);
	CHECK(peer_is(r[1]->p, "SHED", 4, 1));
	conn_set_protected(r[2]->c, 1);
	CHECK_REFUSED("127.0.0.4", CONN_REFUSE_UNAUTH);
	return (0);
}

/* The per-source limit sheds the oldest of that source, no other. */
static int
t_shed_per_addr(void)
{
	struct rec	*r[3];

	set_limits(64, 64, 2, 1 << 20, 60);
	CHECK((r[0] = open_conn("127.0.0.5", 0)) != NULL);
	CHECK((r[1] = open_conn("127.0.0.6", 0)) != NULL);
	CHECK((r[2] = open_conn("127.0.0.5", 0)) != NULL);
	CHECK(open_conn("127.0.0.5", 0) != NULL);
	CHECK(r[0]->nshed == 1 && r[1]->nshed == 0 && r[2]->nshed == 0);
	return (0);
}

/*
 * No descriptor left: a connection closing goes at once, else an
 * unauthenticated one is shed; authenticated ones never.
 */
static int
t_make_room(void)
{
	struct rec	*r[3];

	set_limits(2, 64, 64, 1 << 20, 60);
	CHECK((r[0] = open_conn("127.0.0.1", 0)) != NULL);
	CHECK((r[1] = open_conn("127.0.0.2", 0)) != NULL);
	conn_authenticated(r[1]->c);
	conn_write(r[0]->c, "BYE", 3);
	conn_close_after_flush(r[0]->c, 5);
	CHECK((r[2] = open_conn("127.0.0.3", 0)) != NULL);
	CHECK(r[0]->nclosed == 1 && conn_count() == 2);
	CHECK((r[0] = open_conn("127.0.0.4", 0)) != NULL);
	CHECK(r[2]->nshed == 1 && r[2]->nclosed == 1);
	conn_authenticated(r[0]->c);
	CHECK_REFUSED("127.0.0.5", CONN_REFUSE_FULL);
	CHECK(r[1]->nshed == 0 && r[1]->nclosed == 0);
	return (0);
}

static int
t_write_queuev(void)
{
	const char	*want = "<head><m to='x'>hi</m></head>";
	struct iovec	 iov[3];
	struct rec	*r;

	CHECK((r = open_conn(LOCAL, 0)) != NULL);
	CHECK(conn_queued(r->c) == 0);
	conn_write(r->c, "<head>", 6);
	CHECK(conn_queued(r->c) == 6);
	iov_set(&iov[0], "<m");
	iov_set(&iov[1], " to='x'>");
	iov_set(&iov[2], "hi</m>");
	conn_queuev(r->c, 7, iov, 3);
	CHECK(conn_queued(r->c) == 22);
	conn_write(r->c, "</head>", 7);
	CHECK(conn_queued(r->c) == 29);
	spin(5);
	CHECK(!peer_has(r->p, 1));
	conn_flush_all();
	CHECK(conn_queued(r->c) == 0);
	WAIT(peer_has(r->p, strlen(want)), WAIT_MS);
	CHECK(peer_is(r->p, want, strlen(want), 0));
	CHECK(conn_stats(r->c)->bytes_out == 16);
	CHECK(conn_stats(r->c)->stanzas_out == 1);
	return (0);
}

static int
t_batched(void)
{
	char		 line[32], want[1024];
	struct rec	*r;
	int		 i;

	CHECK((r = open_conn(LOCAL, 0)) != NULL);
	for (i = 0; i < 100; i++) {
		snprintf(line, sizeof(line), "line %03d\n", i);
		memcpy(want + i * 9, line, 9);
		conn_write(r->c, line, 9);
	}
	CHECK(!peer_has(r->p, 1));
	conn_flush_all();
	WAIT(peer_has(r->p, 900), WAIT_MS);
	CHECK(peer_is(r->p, want, 900, 0));
	if (r->p->nreads > 2)
		FAIL("100 pieces took %d reads", r->p->nreads);
	return (0);
}

static int
t_take_queue(void)
{
	struct iovec	 iov[2];
	struct rec	*r;

	CHECK((r = open_conn(LOCAL, 0)) != NULL);
	conn_write(r->c, "<hdr>", 5);
	iov_set(&iov[0], "<a/>");
	conn_queuev(r->c, 7, iov, 1);
	iov_set(&iov[0], "<b>");
	iov_set(&iov[1], "</b>");
	conn_queuev(r->c, 9, iov, 2);
	conn_write(r->c, "<x/>", 4);
	iov_set(&iov[0], "<c/>");
	conn_queuev(r->c, 7, iov, 1);
	conn_take_queue(r->c, take_one, NULL);
	CHECK(ntaken == 5);
	CHECK_TAKEN(0, 0, "<hdr>", 5);
	CHECK_TAKEN(1, 7, "<a/>", 4);
	CHECK_TAKEN(2, 9, "<b></b>", 7);
	CHECK_TAKEN(3, 0, "<x/>", 4);
	CHECK_TAKEN(4, 7, "<c/>", 4);
	CHECK(conn_queued(r->c) == 0);
	conn_flush_all();
	spin(5);
	CHECK(!peer_has(r->p, 1));
	conn_write(r->c, "ok", 2);
	conn_flush_all();
	WAIT(peer_has(r->p, 2), WAIT_MS);
	CHECK(peer_is(r->p, "ok", 2, 0));
	return (0);
}

/*
 * A stanza partly written stays queued, to be finished (what follows
 * starts at a stanza boundary); once the connection is closed it is
 * handed over whole.
 */
static int
t_take_partial(void)
{
	struct iovec	 iov;
	struct rec	*r;
	size_t		 q;

	CHECK((r = open_conn(LOCAL, 4096)) != NULL);
	fill_pat(big, BIG, 5);
	iov.iov_base = big;
	iov.iov_len = BIG;
	conn_queuev(r->c, 5, &iov, 1);
	conn_flush_all();
	if ((q = conn_queued(r->c)) == 0 || q == BIG)
		FAIL("%zu of %d bytes queued after a flush to a full socket",
		    q, BIG);
	iov_set(&iov, "tail");
	conn_queuev(r->c, 6, &iov, 1);
	conn_take_queue(r->c, take_one, NULL);
	CHECK(ntaken == 1);
	CHECK_TAKEN(0, 6, "tail", 4);
	CHECK(conn_queued(r->c) == q);
	iov_set(&iov, "next");
	conn_queuev(r->c, 7, &iov, 1);
	conn_close(r->c);
	conn_take_queue(r->c, take_one, NULL);
	CHECK(ntaken == 3);
	CHECK_TAKEN(1, 5, big, BIG);
	CHECK_TAKEN(2, 7, "next", 4);
	CHECK(conn_queued(r->c) == 0);
	return (0);
}

/* Nothing left to write: the loop must not spin on a writable socket. */
static int
t_take_spin(void)
{
	struct timeval	 tv = { 0, 200000 };
	struct rec	*r;
	int		 n = 0;

	CHECK((r = open_conn(LOCAL, 4096)) != NULL);
	conn_write(r->c, big, BIG);
	conn_flush_all();
	CHECK(conn_queued(r->c) > 0);
	conn_take_queue(r->c, take_one, NULL);
	conn_flush_all();
	peer_poll(r->p);
	ticked = 0;
	evtimer_add(&tick, &tv);
	while (!ticked && n++ < 100000)
		event_loop(EVLOOP_ONCE);
	evtimer_del(&tick);
	if (n > 10)
		FAIL("%d loop iterations in 200ms with nothing to do", n);
	return (0);
}

static int
t_drained(void)
{
	struct rec	*r;
	size_t		 mark = 8192;
	int		 i;

	CHECK((r = open_conn(LOCAL, 4096)) != NULL);
	fill_pat(big, BIG, 6);
	for (i = 0; i < 20; i++)
		conn_write(r->c, big + i * (BIG / 20), BIG / 20);
	conn_flush_all();
	CHECK(conn_queued(r->c) > mark);
	conn_watch(r->c, mark);
	spin(20);
	CHECK(r->ndrained == 0);
	WAIT(peer_has(r->p, BIG) && r->ndrained > 0, WAIT_MS);
	if (r->ndrained != 1 || r->queued_at_drained > mark)
		FAIL("drained %d times, with %zu queued; want once, <= %zu",
		    r->ndrained, r->queued_at_drained, mark);
	CHECK(peer_is(r->p, big, BIG, 0) && conn_queued(r->c) == 0);
	/* Once: not again without another conn_watch. */
	r->p->inlen = 0;
	conn_write(r->c, big, BIG);
	conn_flush_all();
	WAIT(peer_has(r->p, BIG), WAIT_MS);
	CHECK(peer_is(r->p, big, BIG, 0) && r->ndrained == 1);
	return (0);
}

static int
t_stall(void)
{
	struct rec	*a, *b;
	int64_t		 t0 = monotime_ms(), dt;

	CHECK((a = open_conn(LOCAL, 0)) != NULL);
	CHECK((b = open_conn(LOCAL, 0)) != NULL);
	conn_stall_start(a->c, 1);
	conn_stall_start(a->c, 1);
	conn_stall_start(b->c, 1);
	conn_stall_stop(b->c);
	WAIT(a->nstalled > 0, WAIT_MS);
	dt = monotime_ms() - t0;
	WAIT(0, 300);
	if (a->nstalled != 1 || dt < 800 || dt > 2500)
		FAIL("stalled %d times, after %lld ms; want once, after 1s",
		    a->nstalled, (long long)dt);
	if (b->nstalled != 0)
		FAIL("stalled after conn_stall_stop");
	return (0);
}

static int
t_handshake_timeout(void)
{
	struct rec	*a, *b;
	int64_t		 t0 = monotime_ms(), dt;

	set_limits(64, 64, 64, 1 << 20, 1);
	CHECK((a = open_conn(LOCAL, 0)) != NULL);
	CHECK((b = open_conn(LOCAL, 0)) != NULL);
	conn_authenticated(b->c);
	WAIT(a->ntimeout > 0, WAIT_MS);
	dt = monotime_ms() - t0;
	WAIT(0, 300);
	if (a->ntimeout != 1 || dt < 800 || dt > 2500)
		FAIL("timeout %d times, after %lld ms; want once, after 1s",
		    a->ntimeout, (long long)dt);
	if (b->ntimeout != 0)
		FAIL("timeout after conn_authenticated");
	CHECK(a->nclosed == 0 && b->nclosed == 0);
	return (0);
}

static int
t_close_after_flush(void)
{
	struct rec	*r;

	CHECK((r = open_conn(LOCAL, 0)) != NULL);
	conn_write(r->c, "bye", 3);
	conn_close_after_flush(r->c, 5);
	conn_flush_all();
	WAIT(peer_eof(r->p), WAIT_MS);
	CHECK(peer_is(r->p, "bye", 3, 1));
	CHECK(conn_find(r->id) == r->c && r->nclosed == 0);
	/* Input is only read to see the end now. */
	CHECK(peer_puts(r->p, "late") == 0);
	spin(20);
	CHECK(r->ninput == 0 && r->nclosed == 0);
	peer_close(r->p);
	WAIT(r->nfreed > 0, WAIT_MS);
	CHECK(r->nclosed == 1 && r->nfreed == 1);
	CHECK(r->seq_closed < r->seq_freed && conn_find(r->id) == NULL);
	return (0);
}

static int
t_close_after_flush_empty(void)
{
	struct rec	*r;

	CHECK((r = open_conn(LOCAL, 0)) != NULL);
	conn_close_after_flush(r->c, 5);
	conn_flush_all();
	WAIT(peer_eof(r->p), 2000);
	if (!peer_is(r->p, "", 0, 1))
		FAIL("nothing queued: no EOF at the peer within 2s (grace 5s)");
	return (0);
}

static int
t_eof(void)
{
	struct rec	*r;

	CHECK((r = open_conn(LOCAL, 0)) != NULL);
	CHECK(peer_puts(r->p, "abc") == 0);
	CHECK(shutdown(r->p->fd, SHUT_WR) == 0);
	WAIT(r->neof > 0, WAIT_MS);
	CHECK_CALL(r, 0, 0, "abc");
	CHECK(r->ninput == 1 && r->neof == 1 && r->seq_input < r->seq_eof);
	WAIT(r->nfreed > 0, WAIT_MS);
	CHECK(r->neof == 1 && r->nclosed == 1);
	return (0);
}

static int
t_close(void)
{
	struct iovec	 iov;
	struct rec	*r;

	CHECK((r = open_conn(LOCAL, 0)) != NULL);
	r->take_at_close = 1;
	conn_write(r->c, "<err/>", 6);
	iov_set(&iov, "<msg/>");
	conn_queuev(r->c, 4, &iov, 1);
	conn_close(r->c);
	CHECK(r->nclosed == 1 && r->nfreed == 0);
	if (r->queued_at_closed != 12)
		FAIL("%zu bytes queued when closed, want 12",
		    r->queued_at_closed);
	CHECK_TAKEN(0, 0, "<err/>", 6);
	CHECK_TAKEN(1, 4, "<msg/>", 6);
	CHECK(ntaken == 2 && conn_find(r->id) == NULL);
	conn_close(r->c);
	CHECK(r->nclosed == 1);
	conn_flush_all();
	CHECK(r->nfreed == 1 && r->seq_closed < r->seq_freed);
	WAIT(peer_eof(r->p), WAIT_MS);
	CHECK(peer_is(r->p, "", 0, 1));
	return (0);
}

static int
t_all_closed(void)
{
	struct rec	*a, *b;

	CHECK((a = open_conn(LOCAL, 0)) != NULL);
	CHECK((b = open_conn(LOCAL, 0)) != NULL);
	nall = 0;
	conn_close(a->c);
	conn_flush_all();
	CHECK(a->nfreed == 1 && nall == 0);
	conn_close(b->c);
	CHECK(nall == 0);
	conn_flush_all();
	CHECK(b->nfreed == 1 && nall == 1 && seq_all > b->seq_freed);
	CHECK(conn_count() == 0);
	return (0);
}

/* Nothing freed, nothing to tell. */
static int
t_all_closed_once(void)
{
	struct rec	*a;

	CHECK((a = open_conn(LOCAL, 0)) != NULL);
	conn_close(a->c);
	conn_flush_all();
	nall = 0;
	conn_flush_all();
	if (nall != 0)
		FAIL("all_closed again on a flush that freed nothing");
	return (0);
}

/* The peer gone before a write, then while one waits. */
static int
t_write_error(void)
{
	struct rec	*r;

	CHECK((r = open_conn(LOCAL, 0)) != NULL);
	peer_close(r->p);
	conn_write(r->c, "x", 1);
	conn_flush_all();
	CHECK(r->nclosed == 1 && r->nfreed == 1 && conn_find(r->id) == NULL);
	CHECK((r = open_conn(LOCAL, 4096)) != NULL);
	conn_write(r->c, big, BIG);
	conn_flush_all();
	CHECK(conn_queued(r->c) > 0);
	peer_close(r->p);
	WAIT(r->nfreed > 0, WAIT_MS);
	CHECK(r->nclosed == 1 && r->nfreed == 1 && r->queued_at_closed > 0);
	CHECK(conn_find(r->id) == NULL && conn_count() == 0);
	return (0);
}

/*
 * A peer that reads is never behind in its acknowledgements; one that
 * does not is, after a second without progress, and what it never
 * acknowledged is counted at the close.
 */
static int
t_unacked(void)
{
	struct rec	*q, *r;
	uint64_t	 unacked;
	size_t		 written;

	CHECK((q = open_tcp(0)) != NULL);
	conn_write(q->c, big, 100000);
	conn_flush_all();
	WAIT(peer_has(q->p, 100000), WAIT_MS);
	CHECK(peer_has(q->p, 100000));
	CHECK(conn_unacked_for(q->c) == 0);
	CHECK((r = open_tcp(4096)) != NULL);
	conn_write(r->c, big, BIG);
	conn_flush_all();
	CHECK(conn_unacked_for(r->c) == 0);
	WAIT(conn_unacked_for(r->c) >= 1, WAIT_MS);
	CHECK(conn_unacked_for(r->c) >= 1);
	CHECK(conn_unacked_for(q->c) == 0);
	/* All but what the peer's small buffer took (a few KiB). */
	written = BIG - conn_queued(r->c);
	CHECK(written > 16384);
	conn_close(q->c);
	conn_close(r->c);
	unacked = conn_stats(r->c)->bytes_unacked;
	CHECK(conn_stats(q->c)->bytes_unacked == 0);
	CHECK(unacked <= written && unacked + 16384 > written);
	conn_flush_all();
	CHECK(conn_totals()->bytes_unacked == unacked);
	return (0);
}

static const struct test tests[] = {
	{ "ids and conn_find", t_ids },
	{ "input offsets, keep at end drops all", t_input_base },
	{ "keep partial stanza", t_keep_partial },
	{ "keep across big reads", t_keep_big },
	{ "conn_replay", t_replay },
	{ "conn_set_reading", t_set_reading },
	{ "preauth cap, one write", t_preauth_one },
	{ "preauth cap, limit then more", t_preauth_steps },
	{ "max_conns refuses FULL", t_max_conns },
	{ "max_unauth refuses UNAUTH, conn_unauth_count", t_max_unauth },
	{ "max_unauth_per_addr refuses PER_ADDR", t_max_per_addr },
	{ "full unauthenticated slots shed the oldest", t_shed_unauth },
	{ "the per-source limit sheds that source's oldest", t_shed_per_addr },
	{ "no descriptor left: closing ones go, then the unauthenticated",
	    t_make_room },
	{ "conn_write, conn_queuev, conn_queued", t_write_queuev },
	{ "batched writes", t_batched },
	{ "conn_take_queue", t_take_queue },
	{ "conn_take_queue partly written", t_take_partial },
	{ "no write spin after conn_take_queue", t_take_spin },
	{ "conn_watch drained", t_drained },
	{ "stall timer", t_stall },
	{ "handshake timeout", t_handshake_timeout },
	{ "close after flush", t_close_after_flush },
	{ "close after flush, nothing queued", t_close_after_flush_empty },
	{ "eof", t_eof },
	{ "conn_close keeps the queue", t_close },
	{ "all_closed", t_all_closed },
	{ "all_closed only when one is freed", t_all_closed_once },
	{ "write error", t_write_error },
	{ "unacknowledged bytes", t_unacked },
};

int
main(void)
{
	size_t	i;
	int	failed = 0;

	signal(SIGPIPE, SIG_IGN);
	log_init(1, LOG_DAEMON);
	event_init();
	evtimer_set(&tick, tick_cb, NULL);
	conn_init(&events);
	conn_set_limits(&deflimits);
	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		reason[0] = '\0';
		if (tests[i].fn() == 0)
			printf("ok - conn unit: %s\n", tests[i].name);
		else {
			printf("not ok - conn unit: %s: %s\n", tests[i].name,
			    reason);
			failed++;
		}
		fflush(stdout);
		reset();
	}
	return (failed != 0);
}
