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
 * libFuzzer target: authd's imsg receivers (parent_handlers and
 * engine_handlers in authd/authd.c).  authd.c is included for its
 * statics (log.c and common/proc.c by imsg_fuzz.c, with what the imsg
 * targets share).  Each input runs authd_main itself over two
 * socketpairs, the parent's pipe and the engine's; its poll(2)
 * is ours (fz_poll): each call first reads what authd wrote, then, once
 * authd has written all it queued, writes one record's message into a
 * pipe (composed with imsg_compose), moves authd's clock (monotime and
 * monotime_ms are ours: throttling runs on the input's time), or closes
 * a pipe; then it polls the real descriptors, and authd's own loop and
 * read path (imsg_dispatch) take it.  At the end the clock runs until
 * every held answer is out.  log.c's exit longjmps back, and
 * fz_teardown frees all authd holds.
 *
 * We mirror what authd was told (configuration, secrets, stream ids it
 * issued) from the messages themselves.  It aborts ("ORACLE: ") on a
 * fatal no broken sibling explains (fz_designed); an exit before the
 * parent's pipe closed; a message that the engine's or the parent's
 * table (engine.c authd_handlers, gatewayd.c child_handlers) does not
 * take, by type or size; pings and reconfigurations not answered once
 * each, in order; a stream request not answered in order, for its
 * connection, with a stream id of 32 hex digits unless the table is
 * full and none if it is; a verdict for a connection that has none
 * due (never asked, answered, forgotten), or other than the digest of
 * the issued id and a running secret of its domain says; a handshake
 * never answered; a statistics request unanswered; a log line with a
 * secret (of those with a '~') or a digest we sent, unless we sent the
 * same bytes as something else; a descriptor left open.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <ctype.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>

#include "proc.h"
#include "util.h"
#include "imsg_fuzz.h"

/* SIGINT and SIGTERM stay libFuzzer's; SIGPIPE is ignored already. */
static void		fz_child_setup(enum gw_proc, const char *,
			    const char *);
static __dead void	fz_exit(int);
static int		fz_poll(struct pollfd *, nfds_t, int);
static time_t		fz_monotime(void);
static int64_t		fz_monotime_ms(void);
static void		*fz_calloc(size_t, size_t);
#define proc_child_setup	fz_child_setup
#define exit(x)			fz_exit(x)
#define signal(s, h)		((void)0)
#define poll			fz_poll
#define monotime		fz_monotime
#define monotime_ms		fz_monotime_ms
#define calloc			fz_calloc
#include "../../authd/authd.c"
#undef proc_child_setup
#undef exit
#undef signal
#undef poll
#undef monotime
#undef monotime_ms
#undef calloc

#define FZ_OPS		64	/* records acted on, at most */
#define FZ_IDS		(2 * FZ_OPS)
#define FZ_SECRETS	FZ_OPS	/* no input sends more */
#define FZ_NAME(b)	fz_names[(b) % nitems(fz_names)]

enum { CH_PARENT = FZ_PARENT, CH_ENGINE = FZ_SIBLING, CH_MAX = FZ_PIPES };

union fz_buf {
	uint8_t			 b[FZ_PAYLOAD];
	struct gw_global	 g;
	struct gw_component_conf cc;
	struct gw_secret_conf	 sec;
	struct gw_ping		 ping;
	struct gw_ctl_verbose	 v;
	struct gw_auth_stream	 req;
	struct gw_auth_streamid	 sid;
	struct gw_auth_handshake hs;
	struct gw_auth_result	 res;
	struct gw_ctl_req	 ctl;
	struct gw_authd_stats	 st;
	struct gw_uplink_digest	 ud;
	struct gw_uplink_answer	 ua;
};

/* A connection id, as authd should know it. */
struct fz_conn {
	uint64_t	 id;
	int		 stream;	/* authd holds a stream id for it */
	char		 sid[GW_STREAMID_LEN + 1];
	char		 domain[GW_NAME_MAX];
	int		 owed[2];	/* verdicts due: AUTH_OK, AUTH_DENIED */
};

struct fz_conf {
	int			 set;
	uint32_t		 max_unauth;
	struct gw_secret_conf	 sec[FZ_SECRETS];
	int			 nsec;
	struct gw_secret_conf	 upsec[FZ_SECRETS];	/* at the servers */
	int			 nupsec;
};

static struct {
	int		 nops, idle, parent_closed, off[CH_MAX];
	int64_t		 now;		/* authd's clock, ms */
	struct fz_conf	 run, staged;
	struct fz_conn	 conns[FZ_IDS];
	int		 nconns;
	size_t		 nstreams;	/* as authd counts them */
	uint64_t	 due[4][FZ_OPS];	/* answers in order, per kind */
	int		 ndue[4], ngot[4];
	char		 uphex[FZ_OPS][2 * GW_DIGEST_LEN + 1];	/* due */
	struct gw_secret_conf sent[FZ_SECRETS];	/* every secret sent */
	int		 nsent, nhexes;
	char		 hexes[FZ_OPS][2 * GW_DIGEST_LEN + 1];
	char		 pool[32768];	/* the bytes we sent as no secret */
	size_t		 poollen;
} fz;

enum { DUE_PARENT, DUE_STREAMID, DUE_STATS, DUE_UPLINK };	/* fz.due */

static const char *fz_names[] = {
	"a.example", "b.example", "c.example", "d.example",
	"A.Example.", "nope.example", "~a.example", "192.0.2.1"
};

/*
 * What engine.c's table takes (the parent's is in imsg_fuzz.c), and
 * fz_gives what authd's take.
 */
static const struct fz_type fz_takes[] = {
	{ CH_ENGINE, IMSG_AUTH_STREAMID, sizeof(struct gw_auth_streamid) },
	{ CH_ENGINE, IMSG_AUTH_RESULT, sizeof(struct gw_auth_result) },
	{ CH_ENGINE, IMSG_CTL_AUTHD_STATS, sizeof(struct gw_authd_stats) },
	{ CH_ENGINE, IMSG_UPLINK_ANSWER, sizeof(struct gw_uplink_answer) }
}, fz_gives[] = {
	{ CH_PARENT, IMSG_RECONF_START, sizeof(struct gw_global) },
	{ CH_PARENT, IMSG_RECONF_COMPONENT, sizeof(struct gw_component_conf) },
	{ CH_PARENT, IMSG_RECONF_SECRET, sizeof(struct gw_secret_conf) },
	{ CH_PARENT, IMSG_RECONF_DONE, 0 },
	{ CH_PARENT, IMSG_PING, sizeof(struct gw_ping) },
	{ CH_PARENT, IMSG_CTL_VERBOSE, sizeof(struct gw_ctl_verbose) },
	{ CH_ENGINE, IMSG_AUTH_STREAM, sizeof(struct gw_auth_stream) },
	{ CH_ENGINE, IMSG_AUTH_HANDSHAKE, sizeof(struct gw_auth_handshake) },
	{ CH_ENGINE, IMSG_AUTH_FORGET, sizeof(struct gw_auth_forget) },
	{ CH_ENGINE, IMSG_CTL_AUTHD_STATS, sizeof(struct gw_ctl_req) },
	/* Later additions go last: the corpora mean what they meant. */
	{ CH_PARENT, IMSG_RECONF_UPSECRET, sizeof(struct gw_secret_conf) },
	{ CH_ENGINE, IMSG_UPLINK_DIGEST, sizeof(struct gw_uplink_digest) }
};

static void *
fz_calloc(size_t n, size_t size)
{
	void	*p = calloc(n, size);

	fz_kept(p);
	return (p);
}

/* Whether authd's tables hold p. */
static int
fz_linked(const void *p)
{
	struct authd_conf	*confs[] = { running, staged };
	struct authd_secret	*s;
	struct authd_stream	*st;
	struct authd_source	*src;
	struct authd_answer	*ans;
	size_t			 i;

	for (i = 0; i < nitems(confs) && confs[i] != NULL; i++) {
		if (p == confs[i])
			return (1);
		TAILQ_FOREACH(s, &confs[i]->secrets, entry)
			if (p == s)
				return (1);
	}
	RB_FOREACH(st, authd_streams, &streams)
		if (p == st)
			return (1);
	TAILQ_FOREACH(src, &sources_lru, lru)
		if (p == src)
			return (1);
	TAILQ_FOREACH(ans, &answers, entry)
		if (p == ans)
			return (1);
	return (0);
}

static time_t
fz_monotime(void)
{
	return (fz.now / 1000);
}

static int64_t
fz_monotime_ms(void)
{
	return (fz.now);
}

/* Bytes we sent as no secret: a secret found in the log may be these. */
static int
fz_pooled(const void *p, size_t len)
{
	return (memmem(fz.pool, fz.poollen, p, len) != NULL);
}

static void
fz_pool(const void *p, size_t len)
{
	if (len > sizeof(fz.pool) - fz.poollen)
		len = sizeof(fz.pool) - fz.poollen;
	memcpy(fz.pool + fz.poollen, p, len);
	fz.poollen += len;
}

/* A log line: no secret of ours, no digest we sent, but as other bytes. */
static void
fz_line(const char *buf, const char *low)
{
	int	k;

	for (k = 0; k < fz.nsent; k++)
		if (fz.sent[k].len >= 6 && memchr(fz.sent[k].secret, '~',
		    fz.sent[k].len) != NULL && memmem(buf, strlen(buf),
		    fz.sent[k].secret, fz.sent[k].len) != NULL &&
		    !fz_pooled(fz.sent[k].secret, fz.sent[k].len))
			breach("a log line with a secret: %s", buf);
	for (k = 0; k < fz.nhexes; k++)
		if (strstr(low, fz.hexes[k]) != NULL &&
		    !fz_pooled(fz.hexes[k], 2 * GW_DIGEST_LEN))
			breach("a log line with a digest: %s", buf);
}

/* A fatal: one on what a sibling sent. */
static int
fz_fatal(int code, const char *m)
{
	static const char *const	why[] = {
		"^unexpected message ", " from the parent: ",
		" from the engine: ", "^imsgbuf_read from ",
		"^imsgbuf_get from ", ": bad string",
		" outside a reconfiguration", "^RECONF_SECRET: bad secret ",
		"^RECONF_UPSECRET: bad secret ",
		"^AUTH_STREAM: connection "
	};

	if (code != 1 || !fz_designed(m, why, nitems(why)))
		breach("a fatal no broken sibling explains: %s", m);
	return (FZ_FATAL);
}

static void
fz_child_setup(enum gw_proc role __unused, const char *user __unused,
    const char *chrootdir __unused)
{
}

/* authd_main ends so when the parent's pipe is gone, having freed. */
static __dead void
fz_exit(int code)
{
	if (!fz_armed || !fz.parent_closed || code != 0)
		breach("authd exits (%d) unasked", code);
	running = staged = NULL;
	longjmp(fz_jmp, FZ_EXIT);
}

static struct fz_conn *
fz_conn_get(uint64_t id)
{
	int	i;

	for (i = 0; i < fz.nconns; i++)
		if (fz.conns[i].id == id)
			return (&fz.conns[i]);
	if (fz.nconns == FZ_IDS)
		breach("more connection ids than we follow");
	memset(&fz.conns[fz.nconns], 0, sizeof(fz.conns[0]));
	fz.conns[fz.nconns].id = id;
	return (&fz.conns[fz.nconns++]);
}

/* A connection id: one we sent, one with a stream id, past all, odd. */
static uint64_t
fz_pick_id(void)
{
	uint64_t	max = 0;
	uint8_t		s = fz_byte();
	int		i, k = 0;

	if ((s & 3) == 3)
		return ((s & 4) ? UINT64_MAX : 0);
	for (i = 0; i < fz.nconns; i++) {
		if (((s & 3) == 0 || ((s & 3) == 1 && fz.conns[i].stream)) &&
		    k++ == (s >> 2) % 8)
			return (fz.conns[i].id);
		max = fz.conns[i].id > max ? fz.conns[i].id : max;
	}
	return (max + 1 + (s >> 2));
}

static void
fz_due(int kind, uint64_t what)
{
	if (fz.ndue[kind] < FZ_OPS)
		fz.due[kind][fz.ndue[kind]++] = what;
}

/* XEP-0114, as authd computes it: SHA-1 of the stream id and secret. */
static void
fz_digest(const char *sid, const struct gw_secret_conf *s, uint8_t *md)
{
	uint8_t		buf[GW_STREAMID_LEN + GW_SECRET_MAX];
	unsigned int	mdlen;
	size_t		n = strlen(sid);

	memcpy(buf, sid, n);
	memcpy(buf + n, s->secret, s->len);
	if (EVP_Digest(buf, n + s->len, md, &mdlen, EVP_sha1(), NULL) != 1)
		abort();
}

/*
 * An uplink's handshake: SHA-1 of the server's id and the first upstream
 * secret of the domain, in hex; none without one, or for an id empty or
 * too long to hash.
 */
static void
fz_expect_uplink(const union fz_buf *u)
{
	static const char	 hex[] = "0123456789abcdef";
	uint8_t			 md[EVP_MAX_MD_SIZE], buf[512];
	unsigned int		 mdlen;
	char			*out;
	size_t			 n = strnlen(u->ud.stream_id,
				    sizeof(u->ud.stream_id));
	int			 i, k = fz.ndue[DUE_UPLINK];

	if (k == FZ_OPS)
		return;
	out = fz.uphex[k];
	out[0] = '\0';
	fz_due(DUE_UPLINK, u->ud.conn_id);
	for (i = 0; i < fz.run.nupsec; i++)
		if (strcmp(fz.run.upsec[i].domain, u->ud.domain) == 0)
			break;
	if (i == fz.run.nupsec || n == 0 || n >= sizeof(u->ud.stream_id))
		return;
	memcpy(buf, u->ud.stream_id, n);
	memcpy(buf + n, fz.run.upsec[i].secret, fz.run.upsec[i].len);
	if (EVP_Digest(buf, n + fz.run.upsec[i].len, md, &mdlen, EVP_sha1(),
	    NULL) != 1)
		abort();
	for (k = 0; k < GW_DIGEST_LEN; k++) {
		out[2 * k] = hex[md[k] >> 4];
		out[2 * k + 1] = hex[md[k] & 15];
	}
	out[2 * GW_DIGEST_LEN] = '\0';
	if (fz.nhexes < FZ_OPS)
		strlcpy(fz.hexes[fz.nhexes++], out, sizeof(fz.hexes[0]));
}

/* What authd must do with a message, as the code says it does. */
static void
fz_expect(uint32_t type, const union fz_buf *u)
{
	struct fz_conn	*c;
	uint8_t		 md[EVP_MAX_MD_SIZE];
	int		 i, ok = 0;

	switch (type) {
	case IMSG_RECONF_START:
		memset(&fz.staged, 0, sizeof(fz.staged));
		fz.staged.set = 1;
		fz.staged.max_unauth = u->g.max_unauth;
		break;
	case IMSG_RECONF_SECRET:
		if (fz.staged.nsec < FZ_SECRETS)
			fz.staged.sec[fz.staged.nsec++] = u->sec;
		break;
	case IMSG_RECONF_UPSECRET:
		if (fz.staged.nupsec < FZ_SECRETS)
			fz.staged.upsec[fz.staged.nupsec++] = u->sec;
		break;
	case IMSG_UPLINK_DIGEST:
		fz_expect_uplink(u);
		break;
	case IMSG_RECONF_DONE:
		fz.run = fz.staged;
		fz.staged.set = 0;
		/* FALLTHROUGH */
	case IMSG_PING:
		fz_due(DUE_PARENT, type == IMSG_PING ? u->ping.seq : FZ_ACK);
		break;
	case IMSG_AUTH_STREAM:
		c = fz_conn_get(u->req.conn_id);
		if (fz.run.max_unauth > 0 && fz.nstreams >= fz.run.max_unauth) {
			fz_due(DUE_STREAMID, c - fz.conns);
			break;
		}
		/* A stream id: fatal if the connection has one. */
		fz_due(DUE_STREAMID, (c - fz.conns) | 1ULL << 32);
		strlcpy(c->domain, u->req.domain, sizeof(c->domain));
		c->stream = 1;
		c->sid[0] = '\0';
		fz.nstreams++;
		break;
	case IMSG_AUTH_HANDSHAKE:
		c = fz_conn_get(u->hs.conn_id);
		for (i = 0; c->stream && i < fz.run.nsec; i++) {
			if (strcmp(fz.run.sec[i].domain, c->domain) != 0)
				continue;
			fz_digest(c->sid, &fz.run.sec[i], md);
			ok |= memcmp(md, u->hs.digest, GW_DIGEST_LEN) == 0;
		}
		c->owed[ok ? AUTH_OK : AUTH_DENIED]++;
		/* FALLTHROUGH */
	case IMSG_AUTH_FORGET:
		c = fz_conn_get(u->hs.conn_id);
		fz.nstreams -= c->stream;
		c->stream = 0;
		if (type == IMSG_AUTH_FORGET)
			c->owed[0] = c->owed[1] = 0;
		break;
	case IMSG_CTL_AUTHD_STATS:
		fz_due(DUE_STATS, u->ctl.ctl_id);
		break;
	}
}

/*
 * One message to authd.  Its pipes pass no descriptor: one sent is
 * dropped, the message taken without it.  A message of its table's size
 * is mirrored; its bytes are no secret but a secret's own.
 */
static void
fz_send(int chn, uint32_t type, uint32_t peerid, int fd, const void *data,
    size_t len)
{
	const struct fz_type	*t;
	const union fz_buf	*u = data;

	if (fz_compose(chn, type, peerid, fd, data, len) == -1)
		return;
	if ((type == IMSG_RECONF_SECRET || type == IMSG_RECONF_UPSECRET) &&
	    len == sizeof(u->sec)) {
		fz_pool(u->sec.domain, strlen(u->sec.domain));
		if (fz.nsent < FZ_SECRETS && u->sec.len > 0 &&
		    u->sec.len < GW_SECRET_MAX)
			fz.sent[fz.nsent++] = u->sec;
	} else
		fz_pool(data, len);
	for (t = fz_gives; t < fz_gives + nitems(fz_gives); t++)
		if (t->chn == chn && t->type == type && t->len == len)
			fz_expect(type, u);
}

/* A descriptor: 0 a socketpair, 1 a pipe, 2 /dev/null, 3 a listener. */
static int
fz_make_fd(int kind)
{
	struct sockaddr_in	sin;
	int			fd;

	if (kind != 3)
		return (fz_passfd(kind));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (void *)&sin, sizeof(sin)) == -1 || listen(fd, 1) == -1)
		abort();
	return (fd);
}

/*
 * A message authd takes, from a few bytes: mode & 3 0 or 1 built (0:
 * odd limits), 2 raw, 3 a wrong size; mode >> 2 & 7 4-7 a descriptor;
 * 0xc0 a peer id.  A handshake's digest (b & 3): 0, 1 of the issued id
 * and the (b >> 2)-th secret sent, 2 of another id, 3 none.
 */
static void
op_msg(const struct fz_type *t)
{
	union fz_buf		 u;
	struct sockaddr_in6	 sin6;
	struct sockaddr_in	 sin;
	struct fz_conn		*c;
	uint8_t			 mode = fz_byte(), b = fz_byte(), v;
	size_t			 len = t->len;
	int			 fd = -1;

	memset(&u, 0, sizeof(u));
	if (((mode >> 2) & 7) >= 4)
		fd = fz_make_fd(((mode >> 2) & 7) - 4);
	switch (t->type) {
	case IMSG_RECONF_START:
		strlcpy(u.g.name, "gw.example", sizeof(u.g.name));
		u.g.max_unauth = 4;
		u.g.auth_fail_max = 3;
		u.g.auth_fail_window = 30;
		u.g.auth_holddown = 60;
		u.g.auth_budget = 20;
		u.g.verbose = b % 3;
		if (mode & 3)
			break;
		v = fz_byte();
		u.g.max_unauth = v % 4;
		u.g.auth_fail_max = (v >> 2) % 4;
		u.g.auth_holddown = ((v >> 4) % 4) * 30;
		u.g.auth_budget = (v >> 6) * 10;
		u.g.auth_fail_window = b;
		break;
	case IMSG_RECONF_COMPONENT:
		strlcpy(u.cc.name, FZ_NAME(b), sizeof(u.cc.name));
		break;
	case IMSG_UPLINK_DIGEST:
		/* A server's id of ours, none, or one too long to hash. */
		u.ud.conn_id = fz_pick_id();
		strlcpy(u.ud.domain, FZ_NAME(b), sizeof(u.ud.domain));
		v = fz_byte();
		if ((v & 3) == 3)
			memset(u.ud.stream_id, 'i', sizeof(u.ud.stream_id) - 1);
		else if ((v & 3) != 2)
			snprintf(u.ud.stream_id, sizeof(u.ud.stream_id),
			    "srv-%u&<'\"%u", v, b);
		break;
	case IMSG_RECONF_SECRET:
	case IMSG_RECONF_UPSECRET:
		/* '~' marks ours; b >> 6: 1 not ended, 2 too long, 3 none. */
		strlcpy(u.sec.domain, FZ_NAME(b), sizeof(u.sec.domain));
		u.sec.len = snprintf(u.sec.secret, sizeof(u.sec.secret),
		    "~%02x%02x-secret", b, fz_byte());
		if ((b >> 6) == 1)
			u.sec.secret[u.sec.len] = 'x';
		u.sec.len = (b >> 6) == 2 ? GW_SECRET_MAX : (b >> 6) == 3 ?
		    0 : u.sec.len;
		break;
	case IMSG_AUTH_STREAM:
		u.req.conn_id = fz_pick_id();
		strlcpy(u.req.domain, FZ_NAME(b), sizeof(u.req.domain));
		/* From two IPv4 sources, an IPv6 /64, or no address. */
		memset(&sin, 0, sizeof(sin));
		memset(&sin6, 0, sizeof(sin6));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(0xc0000201 + ((b >> 3) & 1));
		sin6.sin6_family = (b & 0x20) ? AF_INET6 : AF_UNSPEC;
		sin6.sin6_addr.s6_addr[0] = 0x20;
		sin6.sin6_addr.s6_addr[15] = b;
		if (b & 0x30)
			memcpy(&u.req.peer, &sin6, sizeof(sin6));
		else
			memcpy(&u.req.peer, &sin, sizeof(sin));
		break;
	case IMSG_AUTH_HANDSHAKE:
		u.hs.conn_id = fz_pick_id();
		c = fz_conn_get(u.hs.conn_id);
		if ((b & 3) == 3 || fz.nsent == 0)
			fz_bytes(u.hs.digest, sizeof(u.hs.digest));
		else
			fz_digest((b & 3) == 2 ? "x" : c->sid,
			    &fz.sent[(b >> 2) % fz.nsent], u.hs.digest);
		if (fz.nhexes < FZ_OPS)
			hex_encode(u.hs.digest, GW_DIGEST_LEN,
			    fz.hexes[fz.nhexes++]);
		break;
	case IMSG_AUTH_FORGET:
		u.req.conn_id = fz_pick_id();
		break;
	default:	/* PING, CTL_VERBOSE, CTL_AUTHD_STATS, DONE */
		u.b[0] = b;
		u.b[1] = fz_byte();
		u.v.verbose = t->type == IMSG_CTL_VERBOSE ? b % 3 : u.v.verbose;
		break;
	}
	len = fz_shape(mode, u.b, len);
	fz_send(t->chn, t->type, fz_peerid(mode), fd, u.b, len);
}

/*
 * Any type, any size; or bytes of no message: what follows may be read
 * as anything, the mirror is off (the engine's side depends on the
 * parent's: the configuration).
 */
static void
op_any(int chn, int raw)
{
	union fz_buf	u;
	uint8_t		mode = fz_byte();
	uint32_t	type;
	size_t		len = fz_any(&type, u.b);

	if (!raw)
		fz_send(chn, type, 0, ((mode >> 2) & 7) >= 4 ?
		    fz_make_fd(((mode >> 2) & 7) - 4) : -1, u.b, len);
	else if (fz_pipes[chn].fd != -1) {
		(void)write(fz_pipes[chn].fd, u.b, len);
		fz_pool(u.b, len);
		fz.off[chn] = fz.off[CH_ENGINE] = 1;
	}
}

/*
 * A record: op % 32 0-9 and 16-29 a message (op_msg), 30-31 one of the
 * uplink's, 10-11 any type, 12-13 bytes of none, to the parent, the
 * engine; 14 a pipe closed (the next byte), 15 the clock moves.
 */
static void
fz_op(void)
{
	static const int64_t	 steps[] = { 1, 10, 100, 500, 999, 1000,
	    1001, 2000, 5000, 30000, 60000, 120000, 600000, 3600000,
	    86400000, 0 };
	uint8_t			 op = fz_byte() % 32, b;

	if (op >= 30)
		op_msg(&fz_gives[10 + op - 30]);
	else if (op < 10 || op > 15)
		op_msg(&fz_gives[op % 10]);
	else if (op < 14)
		op_any(op & 1, op >= 12);
	else if (op == 15)
		fz.now += steps[fz_byte() % nitems(steps)];
	else if (fz_pipe_close(b = fz_byte() & 1) == 0) {
		fz.off[b] = 1;
		fz.parent_closed |= b == CH_PARENT;
	}
}

/* An answer due in order: the next of its kind must be what. */
static void
fz_answer(int kind, uint64_t what, const char *name)
{
	if (fz.off[kind == DUE_PARENT ? CH_PARENT : CH_ENGINE])
		return;
	if (fz.ngot[kind] == fz.ndue[kind] ||
	    fz.due[kind][fz.ngot[kind]++] != what)
		breach("%s unasked or out of order", name);
}

/* What authd wrote, as the tables say. */
static void
fz_got(int chn, uint32_t type, const void *data)
{
	const union fz_buf	*u = data;
	struct fz_conn		*c;
	size_t			 i;

	if (type == IMSG_PONG || type == IMSG_RECONF_ACK)
		fz_answer(DUE_PARENT, type == IMSG_PONG ? u->ping.seq :
		    FZ_ACK, "an answer to the parent");
	else if (chn == CH_PARENT)
		return;
	else if (type == IMSG_UPLINK_ANSWER) {
		i = fz.ngot[DUE_UPLINK];
		fz_answer(DUE_UPLINK, u->ua.conn_id, "UPLINK_ANSWER");
		if (!fz.off[CH_ENGINE] && i < FZ_OPS &&
		    strncmp(u->ua.hex, fz.uphex[i], sizeof(u->ua.hex)) != 0)
			breach("UPLINK_ANSWER: not the digest of the id and "
			    "the upstream secret");
	} else if (type == IMSG_CTL_AUTHD_STATS) {
		fz_answer(DUE_STATS, u->st.ctl_id, "CTL_AUTHD_STATS");
		if (u->st.throttled > u->st.sources)
			breach("more sources held down than there are");
	} else if (type == IMSG_AUTH_STREAMID && !fz.off[CH_ENGINE]) {
		c = fz_conn_get(u->sid.conn_id);
		fz_answer(DUE_STREAMID, (c - fz.conns) |
		    (u->sid.id[0] != '\0' ? 1ULL << 32 : 0), "AUTH_STREAMID");
		for (i = 0; i < sizeof(u->sid.id); i++)
			if (i < GW_STREAMID_LEN && u->sid.id[0] != '\0' ?
			    !isxdigit((unsigned char)u->sid.id[i]) ||
			    isupper((unsigned char)u->sid.id[i]) :
			    u->sid.id[i] != '\0')
				breach("AUTH_STREAMID: not 32 hex digits");
		if (u->sid.id[0] != '\0')
			strlcpy(c->sid, u->sid.id, sizeof(c->sid));
	} else if (type == IMSG_AUTH_RESULT && !fz.off[CH_ENGINE]) {
		c = fz_conn_get(u->res.conn_id);
		if ((u->res.verdict != AUTH_OK &&
		    u->res.verdict != AUTH_DENIED) ||
		    c->owed[u->res.verdict]-- <= 0)
			breach("AUTH_RESULT %d for connection %llu, none due",
			    u->res.verdict, (unsigned long long)c->id);
	}
}

/* At the end: every question answered, every handshake. */
static void
fz_final(void)
{
	int	i;

	for (i = 0; i < 4; i++)
		if (!fz.off[i == DUE_PARENT ? CH_PARENT : CH_ENGINE] &&
		    fz.ngot[i] < fz.ndue[i])
			breach("a question unanswered (kind %d)", i);
	for (i = 0; i < fz.nconns && !fz.off[CH_ENGINE]; i++)
		if (fz.conns[i].owed[0] > 0 || fz.conns[i].owed[1] > 0)
			breach("a handshake of connection %llu unanswered",
			    (unsigned long long)fz.conns[i].id);
}

/*
 * authd's poll: what it wrote read; once it has written all it queued,
 * a record, or at the end the clock to its next held answer, or the
 * end; then the real poll, without waiting.
 */
static int
fz_poll(struct pollfd *pfd, nfds_t n, int timeout)
{
	struct authd_answer	*ans;
	int			 i, queued = 0;

	(void)timeout;
	for (i = 0; i < CH_MAX; i++) {
		fz_read(i);	/* -1: authd is gone */
		queued |= fz_pipes[i].fd != -1 &&
		    !(i == CH_ENGINE && engine_gone) &&
		    imsgbuf_queuelen(i == CH_PARENT ? &ibuf_parent :
		    &ibuf_engine) > 0;
	}
	if (queued) {
		if (++fz.idle > 1000)
			breach("authd writes nothing of what it queued");
	} else if (fz_left() > 0 && fz.nops++ < FZ_OPS)
		fz_op();
	else if ((ans = TAILQ_FIRST(&answers)) != NULL && !engine_gone)
		fz.now = ans->due > fz.now ? ans->due : fz.now;
	else {
		fz_final();
		longjmp(fz_jmp, FZ_DONE);
	}
	if (!queued)
		fz.idle = 0;
	return (poll(pfd, n, 0));
}

/*
 * As a fresh process: its tables freed, statics as at exec (and, by
 * imsg_fuzz.c, what a fatal left, the pipes gone).
 */
static void
fz_teardown(void)
{
	struct authd_stream	*st;
	struct authd_source	*src;
	struct authd_answer	*ans;

	authd_conf_free(running);
	authd_conf_free(staged);
	running = staged = NULL;
	while ((st = RB_ROOT(&streams)) != NULL) {
		RB_REMOVE(authd_streams, &streams, st);
		freezero(st, sizeof(*st));
	}
	while ((src = TAILQ_FIRST(&sources_lru)) != NULL) {
		TAILQ_REMOVE(&sources_lru, src, lru);
		RB_REMOVE(authd_sources, &sources, src);
		free(src);
	}
	while ((ans = TAILQ_FIRST(&answers)) != NULL) {
		TAILQ_REMOVE(&answers, ans, entry);
		free(ans);
	}
	nstreams = nsources = 0;
	budget_next = engine_gone = 0;
	proc_log_detach(&ibuf_parent);
	imsgbuf_clear(&ibuf_parent);
	imsgbuf_clear(&ibuf_engine);
}

static void
fz_start(void)
{
	memset(&fz, 0, sizeof(fz));
	fz.now = 1000000000;	/* some days after boot */
}

static void
fz_run(void)
{
	authd_main(0, 0, "nobody", "/");
}

const struct fz_target fz_target = {
	"imsg_authd_fuzz", "authd", "authd", { "the parent", "the engine" },
	fz_takes, nitems(fz_takes), fz_start, fz_run, fz_teardown, fz_linked,
	fz_got, fz_line, fz_fatal
};
