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

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include <netinet/in.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "addr.h"
#include "authd.h"
#include "digest.h"
#include "log.h"
#include "msg.h"
#include "proc.h"
#include "sandbox.h"
#include "util.h"

/*
 * authd holds the shared secrets and nothing else: no network, no files
 * once sandboxed, two pipes (parent and engine) served by a poll loop.
 * No libevent here: nothing in this process that it does not need.
 */

struct authd_secret {
	TAILQ_ENTRY(authd_secret)	 entry;
	struct gw_secret_conf		 conf;
};
TAILQ_HEAD(authd_secrets, authd_secret);

struct authd_conf {
	struct gw_global	 global;
	struct authd_secrets	 secrets;
	struct authd_secrets	 upsecrets;	/* ours at the servers */
	size_t			 ncomponents;
	size_t			 nsecrets;
	size_t			 nupsecrets;
};

/* A stream id authd issued, waiting for its one handshake. */
struct authd_stream {
	RB_ENTRY(authd_stream)	 entry;
	uint64_t		 conn_id;
	char			 domain[GW_NAME_MAX];
	char			 id[GW_STREAMID_LEN + 1];
	struct sockaddr_storage	 peer;
};
RB_HEAD(authd_streams, authd_stream);

/*
 * Failed handshakes are counted per source (an IPv4 address, an IPv6
 * /64), and per source and domain together; never per domain alone, so
 * that nobody can lock a component out from elsewhere.  Over the limit,
 * answers to that source come one a second, right or wrong, for the
 * hold-down period, and all the held-down sources together get no more
 * than "handshake checks" answers a second: slower guessing however many
 * addresses the guesser has, never a refused rightful component, and a
 * source with no recent failure is answered at once.
 */
struct authd_source {
	RB_ENTRY(authd_source)	 entry;
	TAILQ_ENTRY(authd_source) lru;
	uint8_t			 addr[16];
	char			 domain[GW_NAME_MAX];	/* "" per address */
	time_t			 window_start;
	uint32_t		 failures;
	time_t			 holddown_until;
	int64_t			 next_slot;	/* milliseconds */
};
RB_HEAD(authd_sources, authd_source);
TAILQ_HEAD(authd_source_lru, authd_source);

/* An answer held back by the throttle. */
struct authd_answer {
	TAILQ_ENTRY(authd_answer) entry;
	uint64_t		 conn_id;
	int32_t			 verdict;
	int64_t			 due;		/* milliseconds */
};
TAILQ_HEAD(authd_answers, authd_answer);

#define AUTHD_MAX_SOURCES	10000
#define AUTHD_SLOT_MS		1000	/* between held-down answers */

enum { PFD_PARENT, PFD_ENGINE, PFD_MAX };

static struct imsgbuf		 ibuf_parent, ibuf_engine;
static struct authd_conf	*running, *staged;
static int			 engine_gone;
static struct authd_streams	 streams = RB_INITIALIZER(&streams);
static size_t			 nstreams;
static struct authd_sources	 sources = RB_INITIALIZER(&sources);
static struct authd_source_lru	 sources_lru =
				    TAILQ_HEAD_INITIALIZER(sources_lru);
static size_t			 nsources;
static struct authd_answers	 answers = TAILQ_HEAD_INITIALIZER(answers);
static int64_t			 budget_next;	/* ms: the next held answer */

static void	authd_reconf_start(struct imsg *, const void *, void *);
static void	authd_reconf_component(struct imsg *, const void *, void *);
static void	authd_reconf_secret(struct imsg *, const void *, void *);
static void	authd_reconf_upsecret(struct imsg *, const void *, void *);
static void	authd_reconf_done(struct imsg *, const void *, void *);
static void	authd_ping(struct imsg *, const void *, void *);
static void	authd_new_stream(struct imsg *, const void *, void *);
static void	authd_handshake(struct imsg *, const void *, void *);
static void	authd_forget(struct imsg *, const void *, void *);
static void	authd_uplink_digest(struct imsg *, const void *, void *);
static void	authd_verbose(struct imsg *, const void *, void *);
static void	authd_stats(struct imsg *, const void *, void *);

static const struct imsg_handler parent_handlers[] = {
	{ IMSG_RECONF_START, "RECONF_START", sizeof(struct gw_global), 0,
	    authd_reconf_start },
	{ IMSG_RECONF_COMPONENT, "RECONF_COMPONENT",
	    sizeof(struct gw_component_conf), 0, authd_reconf_component },
	{ IMSG_RECONF_SECRET, "RECONF_SECRET", sizeof(struct gw_secret_conf),
	    0, authd_reconf_secret },
	{ IMSG_RECONF_UPSECRET, "RECONF_UPSECRET",
	    sizeof(struct gw_secret_conf), 0, authd_reconf_upsecret },
	{ IMSG_RECONF_DONE, "RECONF_DONE", 0, 0, authd_reconf_done },
	{ IMSG_PING, "PING", sizeof(struct gw_ping), 0, authd_ping },
	{ IMSG_CTL_VERBOSE, "CTL_VERBOSE", sizeof(struct gw_ctl_verbose), 0,
	    authd_verbose }
};
static const struct imsg_channel parent_channel = {
	"the parent", parent_handlers, nitems(parent_handlers), NULL
};

static const struct imsg_handler engine_handlers[] = {
	{ IMSG_AUTH_STREAM, "AUTH_STREAM", sizeof(struct gw_auth_stream), 0,
	    authd_new_stream },
	{ IMSG_AUTH_HANDSHAKE, "AUTH_HANDSHAKE",
	    sizeof(struct gw_auth_handshake), 0, authd_handshake },
	{ IMSG_AUTH_FORGET, "AUTH_FORGET", sizeof(struct gw_auth_forget), 0,
	    authd_forget },
	{ IMSG_CTL_AUTHD_STATS, "CTL_AUTHD_STATS", sizeof(struct gw_ctl_req),
	    0, authd_stats },
	{ IMSG_UPLINK_DIGEST, "UPLINK_DIGEST",
	    sizeof(struct gw_uplink_digest), 0, authd_uplink_digest }
};
static const struct imsg_channel engine_channel = {
	"the engine", engine_handlers, nitems(engine_handlers), NULL
};

/* gatewayctl log verbose|brief, through the engine and the parent. */
static void
authd_verbose(struct imsg *imsg, const void *data, void *arg)
{
	const struct gw_ctl_verbose	*v = data;

	(void)imsg;
	(void)arg;
	log_setverbose(v->verbose);
}

/* The parent asks whether we still run: we do. */
static void
authd_ping(struct imsg *imsg, const void *data, void *arg)
{
	(void)imsg;
	(void)arg;
	if (imsg_compose(&ibuf_parent, IMSG_PONG, 0, 0, -1, data,
	    sizeof(struct gw_ping)) == -1)
		fatal("imsg_compose");
}

static int
stream_cmp(struct authd_stream *a, struct authd_stream *b)
{
	return (a->conn_id < b->conn_id ? -1 : a->conn_id > b->conn_id);
}
RB_GENERATE_STATIC(authd_streams, authd_stream, entry, stream_cmp)

static int
source_cmp(struct authd_source *a, struct authd_source *b)
{
	int	r;

	if ((r = memcmp(a->addr, b->addr, sizeof(a->addr))) != 0)
		return (r);
	return (strcmp(a->domain, b->domain));
}
RB_GENERATE_STATIC(authd_sources, authd_source, entry, source_cmp)

/*
 * For gatewayctl show summary: the sources held down now (an address,
 * or an address for one domain), no more.
 */
static void
authd_stats(struct imsg *imsg, const void *data, void *arg)
{
	const struct gw_ctl_req	*req = data;
	struct gw_authd_stats	 st;
	struct authd_source	*src;
	time_t			 now = monotime();

	(void)imsg;
	(void)arg;
	memset(&st, 0, sizeof(st));
	st.ctl_id = req->ctl_id;
	RB_FOREACH(src, authd_sources, &sources) {
		st.sources++;
		if (src->holddown_until > now)
			st.throttled++;
	}
	if (imsg_compose(&ibuf_engine, IMSG_CTL_AUTHD_STATS, 0, 0, -1, &st,
	    sizeof(st)) == -1)
		fatal("imsg_compose");
}

static void	authd_send_due(void);
static int	authd_poll_timeout(void);

static void	authd_preinit_crypto(void);
static struct authd_conf *authd_conf_new(void);
static void	authd_conf_free(struct authd_conf *);

void
authd_main(int debug, int verbose, const char *user, const char *chrootdir)
{
	struct pollfd	pfd[PFD_MAX];
	int		i;

	(void)debug;
	(void)verbose;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);

	authd_preinit_crypto();
	if (imsgbuf_init(&ibuf_parent, PROC_PARENT_FD) == -1 ||
	    imsgbuf_init(&ibuf_engine, PROC_PEER_FD) == -1)
		fatal("imsgbuf_init");
	proc_log_to_parent(&ibuf_parent, NULL);
	running = authd_conf_new();

	proc_child_setup(PROC_AUTHD, user, chrootdir);
	log_debug("started");

	for (;;) {
		pfd[PFD_PARENT].fd = ibuf_parent.fd;
		pfd[PFD_PARENT].events = POLLIN;
		if (imsgbuf_queuelen(&ibuf_parent) > 0)
			pfd[PFD_PARENT].events |= POLLOUT;
		pfd[PFD_ENGINE].fd = engine_gone ? -1 : ibuf_engine.fd;
		pfd[PFD_ENGINE].events = POLLIN;
		if (imsgbuf_queuelen(&ibuf_engine) > 0)
			pfd[PFD_ENGINE].events |= POLLOUT;

		if (poll(pfd, PFD_MAX, authd_poll_timeout()) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		authd_send_due();
		for (i = 0; i < PFD_MAX; i++)
			if (pfd[i].revents & POLLNVAL)
				fatalx("poll: invalid descriptor");

		if ((pfd[PFD_PARENT].revents & POLLOUT) &&
		    imsgbuf_write(&ibuf_parent) == -1) {
			if (errno != EPIPE)
				fatal("imsgbuf_write to the parent");
			proc_log_detach(&ibuf_parent);
			break;
		}
		if ((pfd[PFD_PARENT].revents & (POLLIN | POLLHUP)) &&
		    imsg_dispatch(&ibuf_parent, &parent_channel, NULL) == -1)
			break;

		if ((pfd[PFD_ENGINE].revents & POLLOUT) &&
		    imsgbuf_write(&ibuf_engine) == -1) {
			if (errno != EPIPE)
				fatal("imsgbuf_write to the engine");
			engine_gone = 1;
		}
		if ((pfd[PFD_ENGINE].revents & (POLLIN | POLLHUP)) &&
		    imsg_dispatch(&ibuf_engine, &engine_channel, NULL) == -1) {
			/* The parent sees the engine die and ends us all. */
			log_warnx("lost the engine");
			engine_gone = 1;
		}
	}

	log_debug("parent closed the pipe, exiting");
	authd_conf_free(running);
	authd_conf_free(staged);
	/* A parent that stops us reads on until we are gone. */
	(void)imsgbuf_flush(&ibuf_parent);
	exit(0);
}

/*
 * libcrypto loads its configuration and picks its implementations on
 * first use: do it now, while files can still be opened.
 */
static void
authd_preinit_crypto(void)
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen;

	if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1)
		fatalx("OPENSSL_init_crypto");
	if (EVP_Digest("gatewayd", 8, md, &mdlen, EVP_sha1(), NULL) != 1)
		fatalx("EVP_Digest");
	explicit_bzero(md, sizeof(md));
}

static struct authd_conf *
authd_conf_new(void)
{
	struct authd_conf	*ac;

	if ((ac = calloc(1, sizeof(*ac))) == NULL)
		fatal("authd_conf_new");
	TAILQ_INIT(&ac->secrets);
	TAILQ_INIT(&ac->upsecrets);
	return (ac);
}

static void
authd_secrets_free(struct authd_secrets *list)
{
	struct authd_secret	*s;

	while ((s = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, s, entry);
		freezero(s, sizeof(*s));
	}
}

static void
authd_conf_free(struct authd_conf *ac)
{
	if (ac == NULL)
		return;
	authd_secrets_free(&ac->secrets);
	authd_secrets_free(&ac->upsecrets);
	freezero(ac, sizeof(*ac));
}

static void
authd_staged_check(const char *what)
{
	if (staged == NULL)
		fatalx("%s outside a reconfiguration", what);
}

static void
authd_reconf_start(struct imsg *imsg, const void *data, void *arg)
{
	(void)imsg;
	(void)arg;
	authd_conf_free(staged);
	staged = authd_conf_new();
	memcpy(&staged->global, data, sizeof(staged->global));
	log_setverbose(staged->global.verbose);
}

static void
authd_reconf_component(struct imsg *imsg, const void *data, void *arg)
{
	const struct gw_component_conf	*comp = data;

	(void)imsg;
	(void)arg;
	authd_staged_check("RECONF_COMPONENT");
	imsg_check_string(comp->name, sizeof(comp->name), "component");
	staged->ncomponents++;
}

/* A secret from the parent, checked, for the staged list. */
static struct authd_secret *
authd_secret_new(const void *data, const char *what)
{
	struct authd_secret	*s;

	authd_staged_check(what);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("%s", __func__);
	memcpy(&s->conf, data, sizeof(s->conf));
	imsg_check_string(s->conf.domain, sizeof(s->conf.domain), "domain");
	if (s->conf.len == 0 || s->conf.len >= sizeof(s->conf.secret) ||
	    s->conf.secret[s->conf.len] != '\0')
		fatalx("%s: bad secret length", what);
	return (s);
}

static void
authd_reconf_secret(struct imsg *imsg, const void *data, void *arg)
{
	struct authd_secret	*s;

	(void)imsg;
	(void)arg;
	s = authd_secret_new(data, "RECONF_SECRET");
	TAILQ_INSERT_TAIL(&staged->secrets, s, entry);
	staged->nsecrets++;
}

/* A component's secret at its upstream server: one a domain. */
static void
authd_reconf_upsecret(struct imsg *imsg, const void *data, void *arg)
{
	struct authd_secret	*s;

	(void)imsg;
	(void)arg;
	s = authd_secret_new(data, "RECONF_UPSECRET");
	TAILQ_INSERT_TAIL(&staged->upsecrets, s, entry);
	staged->nupsecrets++;
}

static void
authd_reconf_done(struct imsg *imsg, const void *data, void *arg)
{
	(void)imsg;
	(void)data;
	(void)arg;
	authd_staged_check("RECONF_DONE");
	authd_conf_free(running);
	running = staged;
	staged = NULL;
	compat_release_memory();		/* the old secrets' pages, zeroed */
	log_info("%zu secrets for %zu components", running->nsecrets,
	    running->ncomponents);
	if (running->nupsecrets > 0)
		log_info("%zu upstream secrets", running->nupsecrets);
	if (imsg_compose(&ibuf_parent, IMSG_RECONF_ACK, 0, 0, -1, NULL,
	    0) == -1)
		fatal("imsg_compose");
}

static const char *
addr_print(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char	*p;

	sockaddr_print(ss, buf, len);
	if ((p = strstr(buf, " port ")) != NULL)
		*p = '\0';
	return (buf);
}

/*
 * The throttle state of a source, created on first use.  The table is
 * bounded: the least recently used entry not in hold-down makes room,
 * else the least recently used of all; a new source is always tracked.
 */
static struct authd_source *
source_get(const uint8_t addr[16], const char *domain, int create)
{
	struct authd_source	 key, *src;

	memcpy(key.addr, addr, sizeof(key.addr));
	strlcpy(key.domain, domain, sizeof(key.domain));
	if ((src = RB_FIND(authd_sources, &sources, &key)) != NULL) {
		TAILQ_REMOVE(&sources_lru, src, lru);
		TAILQ_INSERT_TAIL(&sources_lru, src, lru);
		return (src);
	}
	if (!create)
		return (NULL);
	if (nsources >= AUTHD_MAX_SOURCES) {
		TAILQ_FOREACH(src, &sources_lru, lru)
			if (src->holddown_until <= monotime())
				break;
		if (src == NULL)
			src = TAILQ_FIRST(&sources_lru);
		TAILQ_REMOVE(&sources_lru, src, lru);
		RB_REMOVE(authd_sources, &sources, src);
		free(src);
		nsources--;
	}
	if ((src = calloc(1, sizeof(*src))) == NULL)
		fatal("source_get");
	memcpy(src->addr, addr, sizeof(src->addr));
	strlcpy(src->domain, domain, sizeof(src->domain));
	RB_INSERT(authd_sources, &sources, src);
	TAILQ_INSERT_TAIL(&sources_lru, src, lru);
	nsources++;
	return (src);
}

static void
source_fail(struct authd_source *src, const char *addr, time_t now)
{
	const struct gw_global	*g = &running->global;

	if (now - src->window_start >= (time_t)g->auth_fail_window) {
		src->window_start = now;
		src->failures = 0;
	}
	if (++src->failures < g->auth_fail_max || src->holddown_until > now)
		return;
	src->holddown_until = now + g->auth_holddown;
	if (src->domain[0] == '\0')
		log_warnx("%u failed handshakes from %s: answers to it are "
		    "delayed for %u seconds", src->failures, addr,
		    g->auth_holddown);
	else
		log_warnx("%u failed handshakes for %s from %s: answers are "
		    "delayed for %u seconds", src->failures, src->domain,
		    addr, g->auth_holddown);
}

static void
authd_answer(uint64_t conn_id, int32_t verdict)
{
	struct gw_auth_result	res;

	memset(&res, 0, sizeof(res));
	res.conn_id = conn_id;
	res.verdict = verdict;
	if (imsg_compose(&ibuf_engine, IMSG_AUTH_RESULT, 0, 0, -1, &res,
	    sizeof(res)) == -1)
		fatal("imsg_compose");
}

/* Answers now, or in the next free slot of a held-down source. */
static void
authd_answer_throttled(uint64_t conn_id, int32_t verdict,
    struct authd_source *srcs[2], time_t now)
{
	struct authd_answer	*ans, *a;
	int64_t			 due = monotime_ms();
	int			 i, held = 0;

	for (i = 0; i < 2; i++)
		if (srcs[i] != NULL && srcs[i]->holddown_until > now) {
			held = 1;
			if (srcs[i]->next_slot > due)
				due = srcs[i]->next_slot;
		}
	if (!held) {
		authd_answer(conn_id, verdict);
		return;
	}
	due += AUTHD_SLOT_MS;
	/* All held-down sources share one budget. */
	if (running->global.auth_budget > 0) {
		if (due < budget_next)
			due = budget_next;
		budget_next = due + 1000 / running->global.auth_budget;
	}
	for (i = 0; i < 2; i++)
		if (srcs[i] != NULL)
			srcs[i]->next_slot = due;
	if ((ans = calloc(1, sizeof(*ans))) == NULL)
		fatal("authd_answer_throttled");
	ans->conn_id = conn_id;
	ans->verdict = verdict;
	ans->due = due;
	TAILQ_FOREACH_REVERSE(a, &answers, authd_answers, entry)
		if (a->due <= due)
			break;
	if (a == NULL)
		TAILQ_INSERT_HEAD(&answers, ans, entry);
	else
		TAILQ_INSERT_AFTER(&answers, a, ans, entry);
}

static void
authd_send_due(void)
{
	struct authd_answer	*ans;
	int64_t			 now = monotime_ms();

	while ((ans = TAILQ_FIRST(&answers)) != NULL && ans->due <= now) {
		TAILQ_REMOVE(&answers, ans, entry);
		if (!engine_gone)
			authd_answer(ans->conn_id, ans->verdict);
		free(ans);
	}
}

static int
authd_poll_timeout(void)
{
	struct authd_answer	*ans;
	int64_t			 now;

	if ((ans = TAILQ_FIRST(&answers)) == NULL)
		return (-1);
	now = monotime_ms();
	return (ans->due <= now ? 0 : (int)(ans->due - now));
}

/* A new stream: issue its id, 128 bits from the system's CSPRNG. */
static void
authd_new_stream(struct imsg *imsg, const void *data, void *arg)
{
	const struct gw_auth_stream	*req = data;
	struct gw_auth_streamid		 reply;
	struct authd_stream		*st;
	uint8_t				 rnd[GW_STREAMID_LEN / 2];

	(void)imsg;
	(void)arg;
	imsg_check_string(req->domain, sizeof(req->domain), "AUTH_STREAM");
	memset(&reply, 0, sizeof(reply));
	reply.conn_id = req->conn_id;
	/*
	 * The engine holds no more unauthenticated connections than the
	 * configuration allows, each with at most one id out.  Beyond that
	 * (or without memory) the answer is no id: that connection gets
	 * resource-constraint, nothing else changes.  (The engine may ask
	 * before authd has read its first configuration: no limit then.)
	 */
	if ((running->global.max_unauth > 0 &&
	    nstreams >= running->global.max_unauth) ||
	    (st = calloc(1, sizeof(*st))) == NULL) {
		log_warnx("no stream id for connection %llu: %zu ids out",
		    (unsigned long long)req->conn_id, nstreams);
		if (imsg_compose(&ibuf_engine, IMSG_AUTH_STREAMID, 0, 0, -1,
		    &reply, sizeof(reply)) == -1)
			fatal("imsg_compose");
		return;
	}
	st->conn_id = req->conn_id;
	strlcpy(st->domain, req->domain, sizeof(st->domain));
	st->peer = req->peer;
	arc4random_buf(rnd, sizeof(rnd));
	hex_encode(rnd, sizeof(rnd), st->id);
	if (RB_INSERT(authd_streams, &streams, st) != NULL)
		fatalx("AUTH_STREAM: connection %llu has a stream already",
		    (unsigned long long)st->conn_id);
	nstreams++;
	strlcpy(reply.id, st->id, sizeof(reply.id));
	if (imsg_compose(&ibuf_engine, IMSG_AUTH_STREAMID, 0, 0, -1, &reply,
	    sizeof(reply)) == -1)
		fatal("imsg_compose");
}

static struct authd_stream *
authd_take_stream(uint64_t conn_id)
{
	struct authd_stream	key, *st;

	key.conn_id = conn_id;
	if ((st = RB_FIND(authd_streams, &streams, &key)) != NULL) {
		RB_REMOVE(authd_streams, &streams, st);
		nstreams--;
	}
	return (st);
}

/*
 * Every secret of the domain is tried, each compared in constant time,
 * without stopping at a match.  Returns the position (1, 2, ...) of the
 * matching secret, 0 for none.
 */
static int
authd_verify(const char *domain, const char *id,
    const uint8_t digest[GW_DIGEST_LEN])
{
	struct authd_secret	*s;
	uint8_t			 md[AUTH_DIGEST_LEN];
	int			 n = 0, which = 0, equal;

	TAILQ_FOREACH(s, &running->secrets, entry) {
		if (strcmp(s->conf.domain, domain) != 0)
			continue;
		n++;
		if (auth_digest(id, s->conf.secret, s->conf.len, md) == -1)
			fatalx("auth_digest");
		equal = CRYPTO_memcmp(md, digest, AUTH_DIGEST_LEN) == 0;
		if (equal && which == 0)
			which = n;
	}
	explicit_bzero(md, sizeof(md));
	return (which);
}

static void
authd_handshake(struct imsg *imsg, const void *data, void *arg)
{
	const struct gw_auth_handshake	*hs = data;
	struct authd_stream		*st;
	struct authd_source		*srcs[2];
	uint8_t				 key[16];
	char				 addr[NI_MAXHOST + 16];
	uint64_t			 conn_id = hs->conn_id;
	time_t				 now = monotime();
	int				 which;

	(void)imsg;
	(void)arg;
	/* Only for an id we issued to this connection, and only once. */
	if ((st = authd_take_stream(conn_id)) == NULL) {
		log_warnx("handshake for connection %llu without a stream id",
		    (unsigned long long)conn_id);
		authd_answer(conn_id, AUTH_DENIED);
		return;
	}
	addr_print(&st->peer, addr, sizeof(addr));
	sockaddr_key(&st->peer, key);
	srcs[0] = source_get(key, "", 0);
	srcs[1] = source_get(key, st->domain, 0);

	which = authd_verify(st->domain, st->id, hs->digest);
	if (which > 0) {
		log_info("%s authenticated from %s (secret %d)", st->domain,
		    addr, which);
		authd_answer_throttled(conn_id, AUTH_OK, srcs, now);
	} else {
		log_warnx("handshake for %s from %s failed: wrong secret",
		    st->domain, addr);
		if (srcs[0] == NULL)
			srcs[0] = source_get(key, "", 1);
		if (srcs[1] == NULL)
			srcs[1] = source_get(key, st->domain, 1);
		if (srcs[0] != NULL)
			source_fail(srcs[0], addr, now);
		if (srcs[1] != NULL)
			source_fail(srcs[1], addr, now);
		authd_answer_throttled(conn_id, AUTH_DENIED, srcs, now);
	}
	freezero(st, sizeof(*st));
}

/* The connection is gone: its stream id and any held answer with it. */
static void
authd_forget(struct imsg *imsg, const void *data, void *arg)
{
	const struct gw_auth_forget	*f = data;
	struct authd_stream		*st;
	struct authd_answer		*ans, *next;

	(void)imsg;
	(void)arg;
	if ((st = authd_take_stream(f->conn_id)) != NULL)
		freezero(st, sizeof(*st));
	TAILQ_FOREACH_SAFE(ans, &answers, entry, next)
		if (ans->conn_id == f->conn_id) {
			TAILQ_REMOVE(&answers, ans, entry);
			free(ans);
		}
}

/*
 * The handshake of an uplink: SHA-1 of the server's stream id and our
 * secret at that server, in hex.  An engine that asks for ids of its
 * choosing learns digests it could use only to authenticate, as it does
 * anyway; the secret never leaves authd.  No secret: an empty answer.
 */
static void
authd_uplink_digest(struct imsg *imsg, const void *data, void *arg)
{
	const struct gw_uplink_digest	*req = data;
	struct gw_uplink_answer		 ans;
	struct authd_secret		*s;
	uint8_t				 md[AUTH_DIGEST_LEN];

	(void)imsg;
	(void)arg;
	imsg_check_string(req->domain, sizeof(req->domain), "domain");
	imsg_check_string(req->stream_id, sizeof(req->stream_id),
	    "stream id");
	memset(&ans, 0, sizeof(ans));
	ans.conn_id = req->conn_id;
	TAILQ_FOREACH(s, &running->upsecrets, entry)
		if (strcmp(s->conf.domain, req->domain) == 0)
			break;
	if (s == NULL)
		log_warnx("uplink of %s: no upstream secret", req->domain);
	else if (req->stream_id[0] == '\0' || auth_digest(req->stream_id,
	    s->conf.secret, s->conf.len, md) == -1)
		log_warnx("uplink of %s: unusable stream id", req->domain);
	else
		hex_encode(md, sizeof(md), ans.hex);
	explicit_bzero(md, sizeof(md));
	if (imsg_compose(&ibuf_engine, IMSG_UPLINK_ANSWER, 0, 0, -1, &ans,
	    sizeof(ans)) == -1)
		fatal("imsg_compose");
	explicit_bzero(&ans, sizeof(ans));
}
