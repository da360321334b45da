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

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/resource.h>

#include "engine.h"
#include "log.h"
#include "sandbox.h"

#define ENGINE_ACCEPT_BACKOFF	1	/* seconds a listener rests on EMFILE */
#define ENGINE_READ_SIZE	16384	/* also what a paused sender holds */
#define ENGINE_FD_RESERVE	16	/* descriptors kept for ourselves */
#define ENGINE_CLOSE_GRACE	5	/* seconds a closed stream may linger */
#define ENGINE_TICK		1	/* seconds between keepalive rounds */
#define ENGINE_HIBERNATE	5	/* seconds before a resting parser goes */

RB_HEAD(conn_tree, conn);
RB_HEAD(addr_tree, addr_count);

struct engine_conf		*engine_running;
struct engine_stats		 engine_stats;

static struct imsgev		 iev_parent, iev_authd;
static struct engine_conf	*staged;
static int			 authd_gone;
static struct conn_tree		 conns = RB_INITIALIZER(&conns);
static struct addr_tree		 unauth_addrs = RB_INITIALIZER(&unauth_addrs);
static struct conn_list		 dirty = TAILQ_HEAD_INITIALIZER(dirty);
static struct conn_list		 graveyard =
				    TAILQ_HEAD_INITIALIZER(graveyard);
static int			 shutting_down;
static struct event		 ev_shutdown, ev_tick;
static uint64_t			 next_conn_id = 1;
static uint32_t			 nconns, nunauth;
static rlim_t			 fd_limit;

static int
conn_cmp(struct conn *a, struct conn *b)
{
	return (a->id < b->id ? -1 : a->id > b->id);
}
RB_GENERATE_STATIC(conn_tree, conn, entry, conn_cmp)

static int
addr_count_cmp(struct addr_count *a, struct addr_count *b)
{
	return (memcmp(a->addr, b->addr, sizeof(a->addr)));
}
RB_GENERATE_STATIC(addr_tree, addr_count, entry, addr_count_cmp)

static void	conn_read(int, short, void *);
static void	conn_writable(int, short, void *);
static void	conn_timer(int, short, void *);
static void	conn_stall(int, short, void *);
static void	engine_reap(void);
static __dead void engine_exit(void);
static void	engine_shutdown(void);
static void	engine_shutdown_expired(int, short, void *);
static void	engine_tick(int, short, void *);
void		engine_flush(void);

static void	engine_parent_gone(struct imsgev *);
static void	engine_authd_gone(struct imsgev *);
static void	engine_reconf_start(struct imsg *, const void *, void *);
static void	engine_reconf_listener(struct imsg *, const void *, void *);
static void	engine_reconf_component(struct imsg *, const void *, void *);
static void	engine_reconf_alias(struct imsg *, const void *, void *);
static void	engine_reconf_done(struct imsg *, const void *, void *);
static void	engine_auth_streamid(struct imsg *, const void *, void *);
static void	engine_auth_result(struct imsg *, const void *, void *);
static void	engine_authd_batch_done(void *);
static struct engine_conf *engine_conf_new(void);
static void	engine_conf_free(struct engine_conf *);

static const struct imsg_handler parent_handlers[] = {
	{ IMSG_RECONF_START, "RECONF_START", sizeof(struct gw_global), 0,
	    engine_reconf_start },
	{ IMSG_RECONF_LISTENER, "RECONF_LISTENER",
	    sizeof(struct gw_listen_conf), IMSGF_FD, engine_reconf_listener },
	{ IMSG_RECONF_COMPONENT, "RECONF_COMPONENT",
	    sizeof(struct gw_component_conf), 0, engine_reconf_component },
	{ IMSG_RECONF_ALIAS, "RECONF_ALIAS", sizeof(struct gw_alias_conf), 0,
	    engine_reconf_alias },
	{ IMSG_RECONF_DONE, "RECONF_DONE", 0, 0, engine_reconf_done }
};
static const struct imsg_channel parent_channel = {
	"the parent", parent_handlers, nitems(parent_handlers), NULL
};

static const struct imsg_handler authd_handlers[] = {
	{ IMSG_AUTH_STREAMID, "AUTH_STREAMID", sizeof(struct gw_auth_streamid),
	    0, engine_auth_streamid },
	{ IMSG_AUTH_RESULT, "AUTH_RESULT", sizeof(struct gw_auth_result), 0,
	    engine_auth_result }
};
static const struct imsg_channel authd_channel = {
	"authd", authd_handlers, nitems(authd_handlers),
	engine_authd_batch_done
};
static void	engine_accept(int, short, void *);
static void	engine_accept_resume(int, short, void *);
static void	engine_listener_arm(struct engine_listener *);
static void	engine_auth_forget(struct conn *);

/* What needs files or entropy sources, before the sandbox closes them. */
static void
engine_preinit(void)
{
	struct rlimit	rl;
	XML_Parser	p;

	(void)arc4random();
	if ((p = XML_ParserCreateNS("UTF-8", ' ')) == NULL)
		fatalx("XML_ParserCreateNS");
	XML_ParserFree(p);
	/* The sandbox raises the soft limit to this. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("getrlimit");
	fd_limit = rl.rlim_max;
}

void
engine_main(int debug, int verbose, const char *user, const char *chrootdir)
{
	struct timeval	tick = { ENGINE_TICK, 0 };

	(void)debug;
	(void)verbose;

	/*
	 * The parent tells us when to stop, by closing our pipe: a signal
	 * to the whole process group is its to handle.
	 */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);

	event_init();
	imsgev_init(&iev_parent, PROC_PARENT_FD, &parent_channel, NULL,
	    engine_parent_gone);
	imsgbuf_allow_fdpass(&iev_parent.ibuf);
	imsgev_init(&iev_authd, PROC_PEER_FD, &authd_channel, NULL,
	    engine_authd_gone);
	engine_running = engine_conf_new();

	engine_preinit();
	proc_child_setup(PROC_ENGINE, user, chrootdir);
	log_debug("started");
	evtimer_set(&ev_tick, engine_tick, NULL);
	evtimer_add(&ev_tick, &tick);

	event_dispatch();
	fatalx("event loop ended");
}

static struct engine_conf *
engine_conf_new(void)
{
	struct engine_conf	*ec;

	if ((ec = calloc(1, sizeof(*ec))) == NULL)
		fatal("engine_conf_new");
	TAILQ_INIT(&ec->listeners);
	TAILQ_INIT(&ec->components);
	RB_INIT(&ec->names);
	return (ec);
}

static void
engine_listener_close(struct engine_listener *el)
{
	if (el->armed) {
		event_del(&el->ev);
		el->armed = 0;
	}
	if (el->paused)
		evtimer_del(&el->pause);
	if (el->fd != -1)
		close(el->fd);
	free(el);
}

static void
engine_conf_free(struct engine_conf *ec)
{
	struct engine_listener	*el;
	struct engine_component	*c;

	if (ec == NULL)
		return;
	while ((el = TAILQ_FIRST(&ec->listeners)) != NULL) {
		TAILQ_REMOVE(&ec->listeners, el, entry);
		engine_listener_close(el);
	}
	while ((c = TAILQ_FIRST(&ec->components)) != NULL) {
		TAILQ_REMOVE(&ec->components, c, entry);
		free(c->aliases);
		free(c);
	}
	free(ec->namebuf);
	free(ec);
}

/* The parent is gone or tells us to stop. */
static void
engine_parent_gone(struct imsgev *iev)
{
	(void)iev;
	log_debug("parent closed the pipe");
	engine_shutdown();
}

static void
engine_reconf_start(struct imsg *imsg, const void *data, void *arg)
{
	(void)imsg;
	(void)arg;
	engine_conf_free(staged);
	staged = engine_conf_new();
	memcpy(&staged->global, data, sizeof(staged->global));
	log_setverbose(staged->global.verbose);
}

struct conn *
conn_find(uint64_t id)
{
	struct conn	key;

	key.id = id;
	return (RB_FIND(conn_tree, &conns, &key));
}

/* The parent sees authd die and ends us all. */
static void
engine_authd_gone(struct imsgev *iev)
{
	(void)iev;
	log_warnx("lost authd");
	authd_gone = 1;
}

/* The connection may have gone meanwhile: ids never repeat. */
static void
engine_auth_streamid(struct imsg *imsg, const void *data, void *arg)
{
	const struct gw_auth_streamid	*sid = data;
	struct conn			*c;

	(void)imsg;
	(void)arg;
	if (strnlen(sid->id, sizeof(sid->id)) != GW_STREAMID_LEN)
		fatalx("AUTH_STREAMID: bad id");
	if ((c = conn_find(sid->conn_id)) != NULL) {
		stream_streamid(c, sid->id);
		conn_sync(c);
	}
}

static void
engine_auth_result(struct imsg *imsg, const void *data, void *arg)
{
	const struct gw_auth_result	*res = data;
	struct conn			*c;

	(void)imsg;
	(void)arg;
	if ((c = conn_find(res->conn_id)) != NULL) {
		c->auth_pending = 0;
		stream_verdict(c, res->verdict);
		conn_sync(c);
	}
}

/* Whatever authd's answers queued goes out in one write each. */
static void
engine_authd_batch_done(void *arg)
{
	(void)arg;
	engine_flush();
}

int
engine_auth_stream(struct conn *c)
{
	struct gw_auth_stream	req;

	if (authd_gone)
		return (-1);
	memset(&req, 0, sizeof(req));
	req.conn_id = c->id;
	strlcpy(req.domain, c->domain, sizeof(req.domain));
	req.peer = c->peer;
	if (imsgev_compose(&iev_authd, IMSG_AUTH_STREAM, 0, -1, &req,
	    sizeof(req)) == -1)
		fatal("imsgev_compose");
	c->auth_pending = 1;
	return (0);
}

int
engine_auth_handshake(struct conn *c, const uint8_t digest[GW_DIGEST_LEN])
{
	struct gw_auth_handshake	hs;

	if (authd_gone)
		return (-1);
	hs.conn_id = c->id;
	memcpy(hs.digest, digest, sizeof(hs.digest));
	if (imsgev_compose(&iev_authd, IMSG_AUTH_HANDSHAKE, 0, -1, &hs,
	    sizeof(hs)) == -1)
		fatal("imsgev_compose");
	explicit_bzero(&hs, sizeof(hs));
	return (0);
}

static void
engine_auth_forget(struct conn *c)
{
	struct gw_auth_forget	f;

	memset(&f, 0, sizeof(f));
	f.conn_id = c->id;
	if (imsgev_compose(&iev_authd, IMSG_AUTH_FORGET, 0, -1, &f,
	    sizeof(f)) == -1)
		fatal("imsgev_compose");
}

struct engine_component *
engine_find_component(const char *name)
{
	struct engine_component	*ec;

	TAILQ_FOREACH(ec, &engine_running->components, entry)
		if (strcmp(ec->conf.name, name) == 0)
			return (ec);
	return (NULL);
}

static void
engine_staged_check(const char *what)
{
	if (staged == NULL)
		fatalx("%s outside a reconfiguration", what);
}

static void
engine_reconf_listener(struct imsg *imsg, const void *data, void *arg)
{
	struct engine_listener	*el;

	(void)arg;
	engine_staged_check("RECONF_LISTENER");
	if ((el = calloc(1, sizeof(*el))) == NULL)
		fatal("engine_reconf_listener");
	memcpy(&el->conf, data, sizeof(el->conf));
	el->fd = imsg_get_fd(imsg);
	TAILQ_INSERT_TAIL(&staged->listeners, el, entry);
}

static void
engine_reconf_component(struct imsg *imsg, const void *data, void *arg)
{
	struct engine_component	*c;

	(void)imsg;
	(void)arg;
	engine_staged_check("RECONF_COMPONENT");
	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("engine_reconf_component");
	memcpy(&c->conf, data, sizeof(c->conf));
	imsg_check_string(c->conf.name, sizeof(c->conf.name), "component");
	TAILQ_INSERT_TAIL(&staged->components, c, entry);
}

static void
engine_reconf_alias(struct imsg *imsg, const void *data, void *arg)
{
	struct engine_component	*c;
	struct gw_alias_conf	 alias, *p;

	(void)imsg;
	(void)arg;
	engine_staged_check("RECONF_ALIAS");
	memcpy(&alias, data, sizeof(alias));
	imsg_check_string(alias.name, sizeof(alias.name), "alias");
	TAILQ_FOREACH(c, &staged->components, entry)
		if (c->conf.id == alias.component_id)
			break;
	if (c == NULL)
		fatalx("alias %s for unknown component %u", alias.name,
		    alias.component_id);
	if ((p = recallocarray(c->aliases, c->naliases, c->naliases + 1,
	    sizeof(*p))) == NULL)
		fatal("engine_reconf_alias");
	c->aliases = p;
	c->aliases[c->naliases++] = alias;
}

/*
 * Swap in the staged configuration.  A listener the parent sent without
 * a descriptor is one we already have: carry it over.  Listeners not in
 * the new configuration are closed.
 */
static void
engine_reconf_done(struct imsg *imsg, const void *data, void *arg)
{
	struct engine_listener	*el, *old;
	struct engine_component	*c, *oc;
	struct conn		*conn;
	char			 addr[NI_MAXHOST + 16];
	size_t			 i;

	(void)imsg;
	(void)data;
	(void)arg;
	engine_staged_check("RECONF_DONE");
	TAILQ_FOREACH(el, &staged->listeners, entry) {
		sockaddr_print(&el->conf.ss, addr, sizeof(addr));
		if (el->fd != -1) {
			log_info("listening on %s", addr);
			continue;
		}
		TAILQ_FOREACH(old, &engine_running->listeners, entry)
			if (sockaddr_cmp(&old->conf.ss, &el->conf.ss) == 0)
				break;
		if (old == NULL || old->fd == -1)
			fatalx("no socket for listener %s", addr);
		el->fd = old->fd;
		old->fd = -1;
	}
	TAILQ_FOREACH(old, &engine_running->listeners, entry)
		if (old->fd != -1)
			log_info("no longer listening on %s",
			    sockaddr_print(&old->conf.ss, addr, sizeof(addr)));

	/* Bound streams and takeover history stay with their name. */
	router_names_build(staged);
	TAILQ_FOREACH(oc, &engine_running->components, entry) {
		TAILQ_FOREACH(c, &staged->components, entry)
			if (strcmp(c->conf.name, oc->conf.name) == 0)
				break;
		if (c != NULL) {
			c->conn = oc->conn;
			c->flap_start = oc->flap_start;
			c->flap_count = oc->flap_count;
			c->flap_holddown = oc->flap_holddown;
		} else if (oc->conn != NULL)
			oc->conn->comp = NULL;
		if (c != NULL && c->conn != NULL)
			c->conn->comp = c;
		oc->conn = NULL;
	}

	engine_conf_free(engine_running);
	engine_running = staged;
	staged = NULL;
	TAILQ_FOREACH(el, &engine_running->listeners, entry)
		engine_listener_arm(el);
	/* Streams of components that are gone: host-gone. */
	RB_FOREACH(conn, conn_tree, &conns)
		if (conn->state >= CONN_STREAMID && conn->state <= CONN_OPEN &&
		    engine_find_component(conn->domain) == NULL)
			stream_error(conn, "host-gone", "component removed");
	engine_flush();
	TAILQ_FOREACH(c, &engine_running->components, entry) {
		log_debug("component %s%s", c->conf.name,
		    (c->conf.flags & GW_COMP_DEFAULT_ROUTE) ?
		    " (default route)" : "");
		for (i = 0; i < c->naliases; i++)
			log_debug("alias %s of %s", c->aliases[i].name,
			    c->conf.name);
	}
	if (imsgev_compose(&iev_parent, IMSG_RECONF_ACK, 0, -1, NULL, 0) == -1)
		fatal("imsgev_compose");
}

static void
engine_listener_arm(struct engine_listener *el)
{
	event_set(&el->ev, el->fd, EV_READ | EV_PERSIST, engine_accept, el);
	event_add(&el->ev, NULL);
	evtimer_set(&el->pause, engine_accept_resume, el);
	el->armed = 1;
}

static void
engine_accept_resume(int fd, short event, void *arg)
{
	struct engine_listener	*el = arg;

	(void)fd;
	(void)event;
	el->paused = 0;
	event_add(&el->ev, NULL);
	el->armed = 1;
}

static struct addr_count *
addr_count_get(const struct sockaddr_storage *ss)
{
	struct addr_count	 key, *ac;

	sockaddr_key(ss, key.addr);
	if ((ac = RB_FIND(addr_tree, &unauth_addrs, &key)) != NULL)
		return (ac);
	if ((ac = calloc(1, sizeof(*ac))) == NULL)
		return (NULL);
	memcpy(ac->addr, key.addr, sizeof(ac->addr));
	RB_INSERT(addr_tree, &unauth_addrs, ac);
	return (ac);
}

static void
addr_count_put(struct addr_count *ac)
{
	if (--ac->count == 0) {
		RB_REMOVE(addr_tree, &unauth_addrs, ac);
		free(ac);
	}
}

/* The limit on connections, whatever the configuration: the fd table. */
static uint32_t
engine_max_conns(void)
{
	uint32_t	max = engine_running->global.max_conns;

	if (fd_limit < ENGINE_FD_RESERVE + 1)
		return (0);
	if (fd_limit - ENGINE_FD_RESERVE < max)
		max = fd_limit - ENGINE_FD_RESERVE;
	return (max);
}

/*
 * A new connection, unless a limit says no: then it gets its stream
 * error at once and is closed, and nobody else notices.
 */
static void
engine_accept(int fd, short event, void *arg)
{
	struct engine_listener	*el = arg;
	const struct gw_global	*g = &engine_running->global;
	struct sockaddr_storage	 ss;
	struct timeval		 tv = { ENGINE_ACCEPT_BACKOFF, 0 };
	socklen_t		 len = sizeof(ss);
	struct addr_count	*ac;
	struct conn		*c;
	char			 host[NI_MAXHOST];
	const char		*refuse = NULL;
	int			 s;

	(void)event;
	if ((s = accept4(fd, (struct sockaddr *)&ss, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
		switch (errno) {
		case EINTR:
		case EAGAIN:
		case ECONNABORTED:
			return;
		case EMFILE:
		case ENFILE:
			/* Rest a little rather than spin on a full table. */
			log_warn("accept");
			event_del(&el->ev);
			el->armed = 0;
			el->paused = 1;
			evtimer_add(&el->pause, &tv);
			return;
		default:
			fatal("accept");
		}
	}
	if (getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), NULL,
	    0, NI_NUMERICHOST) != 0)
		strlcpy(host, "?", sizeof(host));

	ac = NULL;
	if (nconns >= engine_max_conns())
		refuse = "resource-constraint";
	else if (nunauth >= g->max_unauth)
		refuse = "resource-constraint";
	else if ((ac = addr_count_get(&ss)) == NULL)
		refuse = "internal-server-error";
	else if (ac->count >= g->max_unauth_per_addr)
		refuse = "policy-violation";
	if (refuse != NULL) {
		log_warnx("connection from %s refused: %s (%u connections, "
		    "%u unauthenticated)", host, refuse, nconns, nunauth);
		stream_refuse(s, refuse);
		close(s);
		if (ac != NULL && ac->count == 0) {
			ac->count = 1;
			addr_count_put(ac);
		}
		return;
	}

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->parser = stream_parser_new(c)) == NULL) {
		log_warn("connection from %s", host);
		stream_refuse(s, "internal-server-error");
		close(s);
		free(c);
		if (ac->count == 0) {
			ac->count = 1;
			addr_count_put(ac);
		}
		return;
	}
	c->id = next_conn_id++;
	c->fd = s;
	c->peer = ss;
	strlcpy(c->peername, host, sizeof(c->peername));
	c->state = CONN_HEADER;
	c->unauth = ac;
	TAILQ_INIT(&c->waiters);
	ac->count++;
	nunauth++;
	nconns++;
	RB_INSERT(conn_tree, &conns, c);

	event_set(&c->ev_read, s, EV_READ | EV_PERSIST, conn_read, c);
	event_set(&c->ev_write, s, EV_WRITE | EV_PERSIST, conn_writable, c);
	evtimer_set(&c->ev_timer, conn_timer, c);
	evtimer_set(&c->ev_stall, conn_stall, c);
	tv.tv_sec = g->handshake_timeout;
	evtimer_add(&c->ev_timer, &tv);
	conn_sync(c);
	log_info("connection %u from %s", c->id, host);
}

/*
 * A destination over its high mark: the clock runs.  If it is still
 * over the mark when the queue timeout passes, it is closed.
 */
void
conn_stall_start(struct conn *c)
{
	struct timeval	tv = { engine_running->global.queue_timeout, 0 };

	if (c->stalled || c->dead)
		return;
	c->stalled = 1;
	evtimer_add(&c->ev_stall, &tv);
}

void
conn_stall_stop(struct conn *c)
{
	if (!c->stalled)
		return;
	c->stalled = 0;
	evtimer_del(&c->ev_stall);
}

static void
conn_stall(int fd, short event, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)event;
	c->stalled = 0;
	/*
	 * It does not read what is queued: that goes back to its senders
	 * now, and the stream error goes out if the socket takes it.
	 */
	router_bounce_queued(c);
	stream_error(c, "resource-constraint", "queue full for %u seconds",
	    engine_running->global.queue_timeout);
	router_unblock_waiters(c);
	engine_flush();
}

/*
 * Every few seconds: a space to each authenticated stream that has had
 * no output for the idle timeout, so that a dead peer shows (the socket
 * then fails) and middleboxes keep the connection.
 */
static void
engine_tick(int fd, short event, void *arg)
{
	struct timeval	 tv = { ENGINE_TICK, 0 };
	struct conn	*c;
	time_t		 now = time(NULL);
	int		 released = 0;

	(void)fd;
	(void)event;
	(void)arg;
	RB_FOREACH(c, conn_tree, &conns) {
		if (c->state != CONN_OPEN)
			continue;
		if (conn_queued(c) == 0 &&
		    now - c->last_out >= engine_running->global.idle_timeout) {
			conn_write(c, " ", 1);
			c->last_out = now;
		}
		/* Resting between stanzas: its parser can go. */
		if (c->parser != NULL && !c->suspended && c->in_len == 0 &&
		    c->depth == 1 && c->blocked_on == NULL && !c->st_pending &&
		    now - c->last_in >= ENGINE_HIBERNATE) {
			stream_hibernate(c);
			released++;
		}
	}
	if (released > 0)
		compat_release_memory();
	engine_flush();
	evtimer_add(&ev_tick, &tv);
}

/*
 * The parent is gone or wants us gone: every stream gets system-shutdown
 * and its queue has ENGINE_CLOSE_GRACE seconds to drain.
 */
static void
engine_shutdown(void)
{
	struct timeval	 tv = { ENGINE_CLOSE_GRACE + 1, 0 };
	struct conn	*c, *next;

	if (shutting_down)
		return;
	shutting_down = 1;
	log_debug("shutting down, %u connections", nconns);
	RB_FOREACH_SAFE(c, conn_tree, &conns, next)
		stream_error(c, "system-shutdown", "gatewayd stops");
	evtimer_set(&ev_shutdown, engine_shutdown_expired, NULL);
	evtimer_add(&ev_shutdown, &tv);
	engine_flush();
}

static void
engine_shutdown_expired(int fd, short event, void *arg)
{
	(void)fd;
	(void)event;
	(void)arg;
	engine_exit();
}

static __dead void
engine_exit(void)
{
	log_info("exiting: %llu stanzas in, %llu out, %llu bounces (%llu "
	    "jid-malformed, %llu remote-server-not-found, %llu "
	    "remote-server-timeout), %llu takeovers, %llu failed handshakes",
	    (unsigned long long)engine_stats.stanzas_in,
	    (unsigned long long)engine_stats.stanzas_out,
	    (unsigned long long)engine_stats.bounces,
	    (unsigned long long)engine_stats.bounce_malformed,
	    (unsigned long long)engine_stats.bounce_not_found,
	    (unsigned long long)engine_stats.bounce_timeout,
	    (unsigned long long)engine_stats.takeovers,
	    (unsigned long long)engine_stats.auth_failures);
	exit(0);
}

/*
 * Read while the parser runs, not while it waits; once our closing tag
 * is out, read (and drop) only to see the peer close.
 */
void
conn_sync(struct conn *c)
{
	int	want = !c->dead && !c->eof &&
		    (!c->suspended || c->state == CONN_CLOSING);

	if (want && !c->reading)
		event_add(&c->ev_read, NULL);
	else if (!want && c->reading)
		event_del(&c->ev_read);
	c->reading = want;
}

/*
 * After the parser has run over a view: keep the input from the boundary
 * on (an unfinished or held-back stanza, or bytes the paused parser has
 * still to hand us) in the connection's own buffer; nothing otherwise.
 */
static void
conn_retain(struct conn *c)
{
	uint64_t	 end = c->view.base + c->view.len;
	uint64_t	 keep = c->boundary < end ? c->boundary : end;
	size_t		 need, drop;
	char		*p;

	if (keep < c->view.base)
		fatalx("%s: connection %u lost input", __func__, c->id);
	need = end - keep;
	if (c->view.ptr == c->in) {
		drop = keep - c->in_base;
		if (drop > 0 && need > 0)
			memmove(c->in, c->in + drop, need);
		c->in_len = need;
	} else if (need > 0) {
		if (need > c->in_cap) {
			if ((p = realloc(c->in, need)) == NULL)
				fatal("%s", __func__);
			c->in = p;
			c->in_cap = need;
		}
		memcpy(c->in, c->view.ptr + (keep - c->view.base), need);
		c->in_len = need;
	} else
		c->in_len = 0;
	c->in_base = keep;
	if (c->in_len == 0) {
		/* An idle connection holds no input buffer. */
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
	c->view.ptr = c->in;
	c->view.base = c->in_base;
	c->view.len = c->in_len;
}

/* The raw bytes of the stream at an offset the parser has seen. */
const char *
stream_raw(struct conn *c, uint64_t off)
{
	if (off < c->view.base || off > c->view.base + c->view.len)
		fatalx("%s: connection %u: offset %llu outside the view",
		    __func__, c->id, (unsigned long long)off);
	return (c->view.ptr + (off - c->view.base));
}

/*
 * Input goes into one shared buffer, unless part of a stanza is already
 * held: then behind it, in the connection's buffer, so that a stanza is
 * always contiguous.  Only what the parser has not finished with is
 * copied out of the shared buffer.
 */
static void
conn_read(int fd, short event, void *arg)
{
	static char		*shared;
	struct conn		*c = arg;
	const struct gw_global	*g = &engine_running->global;
	size_t			 want = ENGINE_READ_SIZE;
	char			*buf, *p;
	ssize_t			 n;

	(void)event;
	if (shared == NULL && (shared = malloc(ENGINE_READ_SIZE)) == NULL)
		fatal("%s", __func__);
	/* Before authentication no more than the limit is ever read. */
	if (c->state < CONN_OPEN && c->bytes_in < g->max_preauth &&
	    g->max_preauth - c->bytes_in + 1 < want)
		want = g->max_preauth - c->bytes_in + 1;
	if (c->in_len > 0) {
		if (c->in_cap - c->in_len < want) {
			if ((p = realloc(c->in, c->in_len + want)) == NULL)
				fatal("%s", __func__);
			c->in = p;
			c->in_cap = c->in_len + want;
		}
		buf = c->in + c->in_len;
	} else
		buf = shared;

	if ((n = read(fd, buf, want)) == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		log_debug("connection %u from %s: read: %s", c->id,
		    c->peername, strerror(errno));
		conn_close(c);
		engine_flush();
		return;
	}
	if (n == 0) {
		/* Nothing more comes: answer, flush what we have, close. */
		c->eof = 1;
		stream_peer_closed(c);
		if (!c->dead && conn_queued(c) == 0)
			conn_close(c);
		conn_sync(c);
		engine_flush();
		return;
	}
	if (c->state == CONN_CLOSING) {
		conn_sync(c);
		return;
	}
	c->last_in = time(NULL);
	if (buf == shared) {
		c->view.ptr = shared;
		c->view.base = c->bytes_in;
		c->view.len = n;
	} else {
		c->in_len += n;
		c->view.ptr = c->in;
		c->view.base = c->in_base;
		c->view.len = c->in_len;
	}
	stream_feed(c);
	if (!c->dead)
		conn_retain(c);
	conn_sync(c);
	engine_flush();
}

/* The parser works on the retained input (outside a read). */
void
conn_view_retained(struct conn *c)
{
	c->view.ptr = c->in;
	c->view.base = c->in_base;
	c->view.len = c->in_len;
}

/* Resumes a paused parser over the bytes it holds; see stream_resume. */
void
conn_resume(struct conn *c)
{
	if (c->dead || !c->suspended || c->blocked_on != NULL)
		return;
	conn_view_retained(c);
	stream_resume(c);
	stream_feed(c);
	if (!c->dead)
		conn_retain(c);
	conn_sync(c);
}

size_t
conn_queued(const struct conn *c)
{
	return (c->out.len - c->out.off);
}

static void
outq_reserve(struct outq *q, size_t len)
{
	char	*p;
	size_t	 cap, start;

	if (q->off == q->len)
		q->off = q->len = 0;
	else if (q->off > q->rdone && q->len + len > q->cap) {
		/* Keep all of a half-written stanza: it may be bounced. */
		start = q->off - q->rdone;
		memmove(q->data, q->data + start, q->len - start);
		q->len -= start;
		q->off -= start;
	}
	if (q->len + len <= q->cap)
		return;
	cap = q->cap == 0 ? 4096 : q->cap;
	while (cap < q->len + len)
		cap *= 2;
	if ((p = realloc(q->data, cap)) == NULL)
		fatal("%s", __func__);
	q->data = p;
	q->cap = cap;
}

/* The record of the last len bytes queued: a stanza of sender's. */
static void
outq_record(struct outq *q, uint64_t sender, size_t len)
{
	struct qrec	*r;
	size_t		 last;

	if (q->rnum > 0) {
		last = (q->rfirst + q->rnum - 1) % q->rcap;
		/* Our own bytes need no boundaries between them. */
		if (sender == 0 && q->recs[last].sender == 0) {
			q->recs[last].len += len;
			return;
		}
	}
	if (q->rnum == q->rcap) {
		if ((r = reallocarray(NULL, q->rcap ? q->rcap * 2 : 16,
		    sizeof(*r))) == NULL)
			fatal("%s", __func__);
		for (last = 0; last < q->rnum; last++)
			r[last] = q->recs[(q->rfirst + last) % q->rcap];
		free(q->recs);
		q->recs = r;
		q->rcap = q->rcap ? q->rcap * 2 : 16;
		q->rfirst = 0;
	}
	r = &q->recs[(q->rfirst + q->rnum) % q->rcap];
	r->sender = sender;
	r->len = len;
	q->rnum++;
}

/* The written bytes leave the queue, and with them their records. */
static void
outq_consume(struct outq *q, size_t n)
{
	struct qrec	*r;

	q->off += n;
	while (n > 0 && q->rnum > 0) {
		r = &q->recs[q->rfirst];
		if (n < r->len - q->rdone) {
			q->rdone += n;
			break;
		}
		n -= r->len - q->rdone;
		q->rdone = 0;
		q->rfirst = (q->rfirst + 1) % q->rcap;
		q->rnum--;
	}
	if (q->off == q->len) {
		/* All out: an idle stream keeps no output buffer. */
		freezero(q->data, q->cap);
		q->data = NULL;
		q->off = q->len = q->cap = 0;
	}
}

static void
conn_mark_dirty(struct conn *c)
{
	if (!c->dirty && !c->dead) {
		c->dirty = 1;
		TAILQ_INSERT_TAIL(&dirty, c, dirty_entry);
	}
}

/* Appends to the queue; the caller closes the stanza with conn_queue_end. */
void
conn_queue(struct conn *c, uint64_t sender, const char *data, size_t len)
{
	if (c->dead)
		return;
	outq_reserve(&c->out, len);
	memcpy(c->out.data + c->out.len, data, len);
	c->out.len += len;
	/* Our own bytes are recorded as they come; a stanza at its end. */
	if (sender == 0)
		outq_record(&c->out, 0, len);
}

void
conn_queue_end(struct conn *c, uint64_t sender, size_t len)
{
	if (c->dead)
		return;
	if (sender != 0)
		outq_record(&c->out, sender, len);
	conn_mark_dirty(c);
	if (sender != 0) {
		c->stanzas_out++;
		c->bytes_out += len;
	}
}

/* Bytes of gatewayd's own: headers, errors, keepalives, bounces. */
void
conn_write(struct conn *c, const char *data, size_t len)
{
	conn_queue(c, 0, data, len);
	conn_queue_end(c, 0, 0);
}

/* One write of what is queued; 0 when all is out or it must wait. */
static void
conn_flush(struct conn *c)
{
	struct outq	*q = &c->out;
	ssize_t		 n;

	if (c->dead || conn_queued(c) == 0)
		return;
	if ((n = write(c->fd, q->data + q->off, q->len - q->off)) == -1) {
		if (errno == EAGAIN || errno == EINTR) {
			n = 0;
			goto wait;
		}
		log_debug("connection %u from %s: write: %s", c->id,
		    c->peername, strerror(errno));
		conn_close(c);
		return;
	}
	outq_consume(q, n);
	c->last_out = time(NULL);
	/* Below the low mark the senders held back go on. */
	if (!TAILQ_EMPTY(&c->waiters) || c->stalled)
		router_unblock_waiters(c);
 wait:
	if (conn_queued(c) > 0) {
		if (!c->writing) {
			event_add(&c->ev_write, NULL);
			c->writing = 1;
		}
		return;
	}
	if (c->writing) {
		event_del(&c->ev_write);
		c->writing = 0;
	}
	if (c->state == CONN_CLOSING) {
		if (c->eof) {
			conn_close(c);
			return;
		}
		if (!c->shut_wr) {
			shutdown(c->fd, SHUT_WR);
			c->shut_wr = 1;
		}
	}
}

/*
 * Writes are batched: queuing marks a connection dirty, and this writes
 * each dirty one once, at the end of the callback that queued.
 */
void
engine_flush(void)
{
	struct conn	*c;

	while ((c = TAILQ_FIRST(&dirty)) != NULL) {
		TAILQ_REMOVE(&dirty, c, dirty_entry);
		c->dirty = 0;
		conn_flush(c);
	}
	engine_reap();
}

static void
conn_writable(int fd, short event, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)event;
	conn_flush(c);
	/* Below the low mark, held-back senders went on and queued. */
	engine_flush();
}

/*
 * Our closing tag is queued: once it is written the socket is shut for
 * writing; the peer has ENGINE_CLOSE_GRACE seconds to close its side.
 */
void
conn_close_after_flush(struct conn *c)
{
	struct timeval	tv = { ENGINE_CLOSE_GRACE, 0 };

	evtimer_del(&c->ev_timer);
	evtimer_add(&c->ev_timer, &tv);
	router_unbind(c);
	conn_mark_dirty(c);
}

void
conn_authenticated(struct conn *c)
{
	if (c->unauth != NULL) {
		addr_count_put(c->unauth);
		c->unauth = NULL;
		nunauth--;
	}
	evtimer_del(&c->ev_timer);
	c->last_out = time(NULL);
}

static void
conn_timer(int fd, short event, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)event;
	if (c->state == CONN_CLOSING)
		conn_close(c);
	else if (c->state < CONN_OPEN)
		stream_error(c, "connection-timeout", "no handshake in time");
	engine_flush();
}

/*
 * The connection is finished with: what it still had queued goes back
 * to its senders, those waiting for it go on, its route is free.  The
 * memory is released by engine_reap, when no caller holds it any more.
 */
void
conn_close(struct conn *c)
{
	if (c->dead)
		return;
	if (c->header_sent && c->domain[0] != '\0')
		log_info("connection %u from %s for %s closed: %llu stanzas "
		    "in, %llu out (%llu bytes), %llu bounced", c->id,
		    c->peername, c->domain, (unsigned long long)c->stanzas_in,
		    (unsigned long long)c->stanzas_out,
		    (unsigned long long)c->bytes_out,
		    (unsigned long long)c->bounces);
	else
		log_debug("connection %u from %s closed", c->id, c->peername);
	engine_stats.stanzas_in += c->stanzas_in;
	engine_stats.stanzas_out += c->stanzas_out;
	engine_stats.bytes_in += c->bytes_in;
	engine_stats.bytes_out += c->bytes_out;
	c->dead = 1;
	router_unbind(c);
	if (c->blocked_on != NULL) {
		TAILQ_REMOVE(&c->blocked_on->waiters, c, wait_entry);
		c->blocked_on = NULL;
	}
	router_bounce_queued(c);
	router_unblock_waiters(c);
	if (c->auth_pending && !authd_gone)
		engine_auth_forget(c);
	if (c->unauth != NULL) {
		addr_count_put(c->unauth);
		c->unauth = NULL;
		nunauth--;
	}
	if (c->reading)
		event_del(&c->ev_read);
	if (c->writing)
		event_del(&c->ev_write);
	c->reading = c->writing = 0;
	evtimer_del(&c->ev_timer);
	if (c->stalled)
		evtimer_del(&c->ev_stall);
	if (c->dirty) {
		TAILQ_REMOVE(&dirty, c, dirty_entry);
		c->dirty = 0;
	}
	close(c->fd);
	c->fd = -1;
	RB_REMOVE(conn_tree, &conns, c);
	TAILQ_INSERT_TAIL(&graveyard, c, dead_entry);
}

static void
engine_reap(void)
{
	struct conn	*c;

	while ((c = TAILQ_FIRST(&graveyard)) != NULL) {
		TAILQ_REMOVE(&graveyard, c, dead_entry);
		nconns--;
		if (c->parser != NULL)
			XML_ParserFree(c->parser);
		free(c->in);
		free(c->splice);
		free(c->root_qname);
		free(c->st_redecl);
		freezero(c->out.data, c->out.cap);
		free(c->out.recs);
		free(c);
	}
	if (shutting_down && nconns == 0)
		engine_exit();
}
