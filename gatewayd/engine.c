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
 * The engine: the unprivileged process that holds the connections.  It
 * takes its configuration from the parent and its handshake verdicts
 * from authd, and wires the layers together:
 *
 *	listener -> conn (sockets, queues) <-> session <-> stream (expat)
 *	                                          |
 *	                                        router (names, routes)
 *
 * A session is one connection's three parts: its conn, its stream and
 * its route.  The layers do not know each other; the callbacks below
 * pass what one reports to the next.
 */

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "control.h"
#include "engine_local.h"
#include "gatewayd.h"
#include "listener.h"
#include "log.h"
#include "logsum.h"
#include "router.h"
#include "sandbox.h"
#include "stream.h"
#include "uplink.h"

#define ENGINE_CLOSE_GRACE	5	/* seconds a closed stream may linger */
#define ENGINE_TICK		1	/* seconds between keepalive rounds */
#define ENGINE_HIBERNATE	5	/* seconds before a resting parser goes */
#define ENGINE_REST_MS		5	/* a stream holding input reads less */
/*
 * Descriptors not for connections, besides the listeners: 3 standard
 * ones, 2 pipes, syslog, libevent's epoll and signal pair (3); then one
 * to accept a connection to refuse it, and one for a descriptor from
 * the parent.
 */
#define ENGINE_FD_USED		9
#define ENGINE_FD_FIXED		(ENGINE_FD_USED + 2)

static struct imsgev		 iev_parent, iev_authd;
static struct gw_global		 global, staged_global;
static int			 staging;
static struct stream_limits	 stream_limits;
static int			 authd_gone;
static int			 shutting_down;
static struct event		 ev_shutdown, ev_tick;
static struct ctl_summary	 counts;	/* what the engine counts */
static rlim_t			 fd_limit;
static int			 parent_waits;	/* for a descriptor */

static void	engine_parent_gone(struct imsgev *);
static int	engine_parent_room(void);
static void	engine_log_queued(void);
static void	engine_authd_gone(struct imsgev *);
static void	engine_reconf_start(struct imsg *, const void *, void *);
static void	engine_reconf_listener(struct imsg *, const void *, void *);
static void	engine_reconf_component(struct imsg *, const void *, void *);
static void	engine_reconf_alias(struct imsg *, const void *, void *);
static void	engine_reconf_done(struct imsg *, const void *, void *);
static void	engine_ping(struct imsg *, const void *, void *);
static void	engine_auth_result(struct imsg *, const void *, void *);
static void	engine_authd_batch_done(void *);
static void	engine_shutdown(void);
static void	engine_shutdown_expired(int, short, void *);
static void	engine_tick(int, short, void *);
static __dead void engine_exit(void);

static const struct imsg_handler parent_handlers[] = {
	{ IMSG_RECONF_START, "RECONF_START", sizeof(struct gw_global), 0,
	    engine_reconf_start },
	{ IMSG_RECONF_LISTENER, "RECONF_LISTENER",
	    sizeof(struct gw_listen_conf), IMSGF_FD, engine_reconf_listener },
	{ IMSG_RECONF_COMPONENT, "RECONF_COMPONENT",
	    sizeof(struct gw_component_conf), 0, engine_reconf_component },
	{ IMSG_RECONF_ALIAS, "RECONF_ALIAS", sizeof(struct gw_alias_conf), 0,
	    engine_reconf_alias },
	{ IMSG_RECONF_DONE, "RECONF_DONE", 0, 0, engine_reconf_done },
	{ IMSG_PING, "PING", sizeof(struct gw_ping), 0, engine_ping },
	{ IMSG_RECONF_CONTROL, "RECONF_CONTROL",
	    sizeof(struct gw_control_conf), IMSGF_FD, control_imsg_socket },
	{ IMSG_CTL_LINE, "CTL_LINE", sizeof(struct gw_ctl_line), 0,
	    control_imsg_line },
	{ IMSG_CTL_END, "CTL_END", sizeof(struct gw_ctl_end), 0,
	    control_imsg_end },
	{ IMSG_RECONF_UPSTREAM, "RECONF_UPSTREAM",
	    sizeof(struct gw_upstream_conf), 0, engine_reconf_upstream },
	{ IMSG_UPLINK_FD, "UPLINK_FD", sizeof(struct gw_uplink_conn),
	    IMSGF_FD, engine_uplink_socket },
	{ IMSG_UPLINK_FAILED, "UPLINK_FAILED", sizeof(struct gw_uplink_conn),
	    0, engine_uplink_failed }
};
static const struct imsg_channel parent_channel = {
	"the parent", parent_handlers, nitems(parent_handlers), NULL
};

static const struct imsg_handler authd_handlers[] = {
	{ IMSG_AUTH_STREAMID, "AUTH_STREAMID", sizeof(struct gw_auth_streamid),
	    0, engine_auth_streamid },
	{ IMSG_AUTH_RESULT, "AUTH_RESULT", sizeof(struct gw_auth_result), 0,
	    engine_auth_result },
	{ IMSG_CTL_AUTHD_STATS, "CTL_AUTHD_STATS",
	    sizeof(struct gw_authd_stats), 0, control_imsg_authd },
	{ IMSG_UPLINK_ANSWER, "UPLINK_ANSWER",
	    sizeof(struct gw_uplink_answer), 0, engine_uplink_answer }
};
static const struct imsg_channel authd_channel = {
	"authd", authd_handlers, nitems(authd_handlers),
	engine_authd_batch_done
};

/* What the connection layer reports. */
static void	*session_new(struct conn *);
static size_t	 session_refused(char *, size_t, const char *,
		    enum conn_refusal);
static uint64_t	 session_input(void *, const char *, uint64_t, size_t);
static void	 session_eof(void *);
static void	 session_timeout(void *);
static void	 session_stalled(void *);
static void	 session_drained(void *);
static void	 session_closed(void *);
static void	 session_freed(void *);
static void	 session_all_closed(void);
static void	 session_shed(void *);
static void	 session_quiet(void *);

static const struct conn_events conn_events = {
	session_new, session_refused, session_input, session_eof,
	session_timeout, session_stalled, session_drained, session_closed,
	session_freed, session_all_closed, session_shed, session_quiet
};

/* What a stream reports. */
static void	 session_output(void *, const char *, size_t);
static const char *session_domain(void *, const char *);
static const char *session_stanza_start(void *, const struct stanza_head *,
		    const char **);
static enum stanza_verdict session_stanza(void *, const struct stanza *);
static void	 session_closing(void *);
static const char *session_label(void *);
static void	 session_log(void *, const char *);

static const struct stream_ops stream_ops = {
	session_output, session_domain, session_want_id, session_handshake,
	session_stanza_start, session_stanza, session_closing, session_label,
	session_log, session_server_id, session_accepted
};

/* What the router asks for. */
static void	 session_resume(struct route *);
static struct route *session_find(uint64_t);
static void	 session_end(struct route *, const char *, const char *);

static const struct router_ops router_ops = {
	session_resume, session_find, session_end
};

/* What needs files or entropy sources, before the sandbox closes them. */
static void
engine_preinit(void)
{
	struct rlimit	rl;
	uint32_t	seeded;

	/* The generator seeds itself on first use. */
	seeded = arc4random();
	(void)seeded;
	if (stream_preinit() == -1)
		fatalx("XML_ParserCreateNS");
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
	imsgev_set_room(&iev_parent, engine_parent_room);
	proc_log_to_parent(&iev_parent.ibuf, engine_log_queued);
	imsgev_init(&iev_authd, PROC_PEER_FD, &authd_channel, NULL,
	    engine_authd_gone);
	conn_init(&conn_events);
	router_init(&router_ops);
	control_init(&iev_parent, &iev_authd, &counts);
	engine_uplink_init();

	engine_preinit();
	proc_child_setup(PROC_ENGINE, user, chrootdir);
	log_debug("started");
	evtimer_set(&ev_tick, engine_tick, NULL);
	evtimer_add(&ev_tick, &tick);

	event_dispatch();
	fatalx("event loop ended");
}

/* The parent is gone or tells us to stop. */
static void
engine_parent_gone(struct imsgev *iev)
{
	(void)iev;
	log_debug("parent closed the pipe");
	engine_shutdown();
}

/*
 * Whether the table has room for a descriptor from the parent (a new
 * listener), which recvmsg(2) would drop otherwise, and one more to
 * refuse a connection with.  A connection that waits for its peer, or is
 * closing, makes room; when none may go, the parent's messages wait
 * until one closes (the tick tries again).
 */
static int
engine_parent_room(void)
{
	rlim_t	used;

	for (;;) {
		used = ENGINE_FD_USED + listener_count() +
		    listener_staged_fds() + control_reserve() + conn_count();
		if (used + 2 <= fd_limit)
			break;
		if (conn_make_room() == -1) {
			if (!parent_waits)
				log_warnx("the descriptor table is full: the "
				    "parent's messages wait for a connection "
				    "to close");
			parent_waits = 1;
			return (0);
		}
	}
	if (parent_waits)
		log_info("room in the descriptor table again");
	parent_waits = 0;
	return (1);
}

/* A message from the engine's other files to the parent or authd. */
int
engine_compose(enum gw_proc to, uint32_t type, int fd, const void *data,
    size_t len)
{
	if (to == PROC_AUTHD && authd_gone) {
		if (fd != -1)
			close(fd);
		return (-1);
	}
	if (imsgev_compose(to == PROC_AUTHD ? &iev_authd : &iev_parent, type,
	    0, fd, data, len) == -1)
		fatal("imsgev_compose");
	return (0);
}

/* A log line waits in the parent's pipe: the pipe wants writing. */
static void
engine_log_queued(void)
{
	imsgev_add(&iev_parent);
}

/* The parent sees authd die and ends us all. */
static void
engine_authd_gone(struct imsgev *iev)
{
	(void)iev;
	log_warnx("lost authd");
	authd_gone = 1;
}

void
engine_staged_check(const char *what)
{
	if (!staging)
		fatalx("%s outside a reconfiguration", what);
}

static void
engine_reconf_start(struct imsg *imsg, const void *data, void *arg)
{
	(void)imsg;
	(void)arg;
	memcpy(&staged_global, data, sizeof(staged_global));
	/* Our name goes into every bounce. */
	imsg_check_string(staged_global.name, sizeof(staged_global.name),
	    "RECONF_START name");
	log_setverbose(staged_global.verbose);
	listener_stage_begin();
	router_stage_begin();
	uplink_stage_begin();
	staging = 1;
}

static void
engine_reconf_listener(struct imsg *imsg, const void *data, void *arg)
{
	(void)arg;
	engine_staged_check("RECONF_LISTENER");
	listener_stage(data, imsg_get_fd(imsg));
}

static void
engine_reconf_component(struct imsg *imsg, const void *data, void *arg)
{
	const struct gw_component_conf	*comp = data;

	(void)imsg;
	(void)arg;
	engine_staged_check("RECONF_COMPONENT");
	imsg_check_string(comp->name, sizeof(comp->name), "component");
	router_stage_component(comp);
	uplink_stage_component(comp);
}

static void
engine_reconf_alias(struct imsg *imsg, const void *data, void *arg)
{
	const struct gw_alias_conf	*alias = data;

	(void)imsg;
	(void)arg;
	engine_staged_check("RECONF_ALIAS");
	imsg_check_string(alias->name, sizeof(alias->name), "alias");
	router_stage_alias(alias);
}

/* The limits of the configuration, to the layers that apply them. */
static void
engine_apply_limits(void)
{
	struct conn_limits	cl;

	memset(&cl, 0, sizeof(cl));
	cl.max_conns = global.max_conns;
	cl.max_unauth = global.max_unauth;
	cl.max_unauth_per_addr = global.max_unauth_per_addr;
	cl.max_preauth = global.max_preauth;
	cl.handshake_timeout = global.handshake_timeout;
	conn_set_limits(&cl);
	conn_set_fd_limit(fd_limit > UINT32_MAX ? UINT32_MAX : fd_limit,
	    ENGINE_FD_FIXED + listener_count() + control_reserve());
	stream_limits.max_preauth = global.max_preauth;
	stream_limits.max_stanza = global.max_stanza;
	stream_limits.max_depth = global.max_depth;
	stream_limits.max_attrs = global.max_attrs;
}

/*
 * Swap in the staged configuration.  Streams of components that are
 * gone get host-gone; the others take the new limits at once.
 */
static void
engine_reconf_done(struct imsg *imsg, const void *data, void *arg)
{
	struct conn	*c;
	struct session	*s;
	int		 state;

	(void)imsg;
	(void)data;
	(void)arg;
	engine_staged_check("RECONF_DONE");
	staging = 0;
	listener_commit();
	router_stage_commit(&staged_global);
	global = staged_global;
	engine_apply_limits();
	/* Uplinks are uplink.c's to end. */
	uplink_stage_commit();
	for (c = conn_first(); c != NULL; c = conn_next(c)) {
		s = conn_arg(c);
		state = stream_state(s->s_stream);
		if (s->s_uplink == NULL &&
		    state >= STREAM_STREAMID && state <= STREAM_OPEN &&
		    !router_known(stream_domain(s->s_stream)))
			stream_error(s->s_stream, "host-gone",
			    "component removed");
		else
			stream_set_max_stanza(s->s_stream,
			    router_max_stanza(&s->s_route));
	}
	conn_flush_all();
	/* The old tables and the messages of the new one are freed. */
	compat_release_memory();
	if (imsgev_compose(&iev_parent, IMSG_RECONF_ACK, 0, -1, NULL, 0) == -1)
		fatal("imsgev_compose");
}

/* The parent asks whether we still run: we do. */
static void
engine_ping(struct imsg *imsg, const void *data, void *arg)
{
	(void)imsg;
	(void)arg;
	if (imsgev_compose(&iev_parent, IMSG_PONG, 0, -1, data,
	    sizeof(struct gw_ping)) == -1)
		fatal("imsgev_compose");
}

struct session *
session_of(uint64_t conn_id)
{
	struct conn	*c;

	/* The connection may have gone meanwhile: ids never repeat. */
	if ((c = conn_find(conn_id)) == NULL)
		return (NULL);
	return (conn_arg(c));
}

/*
 * Reading follows the stream: not while it waits for someone.  Waiting
 * for authd it did all it had to: it is not to be shed for a newcomer.
 */
static void
session_sync(struct session *s)
{
	int	waiting = stream_waiting(s->s_stream);

	conn_set_reading(s->s_conn, !waiting);
	conn_set_protected(s->s_conn, waiting);
}

/* What held the stream is over: it parses on with what is kept. */
void
session_continue(struct session *s)
{
	conn_replay(s->s_conn);
	session_sync(s);
}

/* Between stanzas, nothing kept, nobody waited for: it may rest. */
static int
session_may_rest(struct session *s)
{
	return (stream_can_rest(s->s_stream) && conn_kept(s->s_conn) == 0 &&
	    !router_blocked(&s->s_route));
}

/*
 * authd's verdict.  A right secret binds the component's names before
 * the handshake is answered; a stream that may not have them is ended.
 */
static void
engine_auth_result(struct imsg *imsg, const void *data, void *arg)
{
	const struct gw_auth_result	*res = data;
	struct session			*s;
	struct stream			*st;

	(void)imsg;
	(void)arg;
	if ((s = session_of(res->conn_id)) == NULL)
		return;
	st = s->s_stream;
	s->s_auth_pending = 0;
	if (stream_state(st) != STREAM_AUTHWAIT)
		return;
	if (res->verdict != AUTH_OK) {
		counts.auth_failures++;
		stream_verdict(st, res->verdict);
		return;
	}
	conn_authenticated(s->s_conn);
	if (router_bind(&s->s_route, stream_domain(st)) == -1)
		return;
	stream_set_max_stanza(st, router_max_stanza(&s->s_route));
	s->s_authenticated = 1;
	stream_verdict(st, AUTH_OK);
	/* After our <handshake/>: what was held for it while it was away. */
	router_opened(&s->s_route);
	session_continue(s);
	/*
	 * Most components say nothing for a while once in: the parser goes
	 * now rather than after ENGINE_HIBERNATE, so that a storm of
	 * reconnections does not hold thousands of parsers at once.
	 */
	if (session_may_rest(s))
		stream_rest(st);
}

/* Whatever authd's answers queued goes out in one write each. */
static void
engine_authd_batch_done(void *arg)
{
	(void)arg;
	conn_flush_all();
}

/* A session's stream; its connection comes with session_attach. */
struct session *
session_alloc(void)
{
	struct session	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (NULL);
	if ((s->s_stream = stream_new(&stream_ops, s, &stream_limits)) ==
	    NULL) {
		free(s);
		return (NULL);
	}
	return (s);
}

void
session_attach(struct session *s, struct conn *c)
{
	s->s_conn = c;
	router_route_init(&s->s_route, c, s);
}

static void *
session_new(struct conn *c)
{
	struct session	*s;

	if ((s = session_alloc()) == NULL)
		return (NULL);
	session_attach(s, c);
	counts.accepted++;
	return (s);
}

static size_t
session_refused(char *buf, size_t size, const char *host,
    enum conn_refusal why)
{
	const char	*condition;

	switch (why) {
	case CONN_REFUSE_PER_ADDR:
		condition = "policy-violation";
		break;
	case CONN_REFUSE_NOMEM:
		condition = "internal-server-error";
		break;
	default:
		condition = "resource-constraint";
		break;
	}
	counts.refused++;
	if (logsum_allow(host, "refused connections"))
		log_warnx("connection from %s refused: %s (%u connections, %u "
		    "unauthenticated)", host, condition, conn_count(),
		    conn_unauth_count());
	return (stream_refusal(buf, size, condition));
}

static uint64_t
session_input(void *arg, const char *data, uint64_t base, size_t len)
{
	struct session	*s = arg;
	uint64_t	 keep;

	keep = stream_input(s->s_stream, data, base, len);
	session_sync(s);
	/*
	 * Input held back: read again in a while, more at once, and parse
	 * it all once the peer pauses.
	 */
	if (stream_deferred(s->s_stream))
		conn_rest(s->s_conn, ENGINE_REST_MS);
	return (keep);
}

static void
session_quiet(void *arg)
{
	struct session	*s = arg;

	stream_flush(s->s_stream);
	session_continue(s);
}

/* The peer closed: what it sent is parsed first, held back or not. */
static void
session_eof(void *arg)
{
	struct session	*s = arg;

	if (stream_deferred(s->s_stream)) {
		stream_flush(s->s_stream);
		conn_replay(s->s_conn);
	}
	stream_peer_closed(s->s_stream);
}

static void
session_timeout(void *arg)
{
	struct session	*s = arg;

	if (stream_state(s->s_stream) < STREAM_OPEN)
		stream_error(s->s_stream, "connection-timeout",
		    "no handshake in time");
}

static void
session_stalled(void *arg)
{
	struct session	*s = arg;

	router_stalled(&s->s_route, "queue full");
}

static void
session_drained(void *arg)
{
	struct session	*s = arg;

	router_drained(&s->s_route);
}

/* Bytes written that the peer never acknowledged, for the log. */
static const char *
session_unacked(const struct conn_stats *cs)
{
	static char	buf[64];

	buf[0] = '\0';
	if (cs->bytes_unacked > 0)
		snprintf(buf, sizeof(buf), ", %llu bytes unacknowledged",
		    (unsigned long long)cs->bytes_unacked);
	return (buf);
}

/* What a connection did; for one that never authenticated, seldom. */
static void
session_log_closed(struct session *s)
{
	const struct conn_stats	*cs = conn_stats(s->s_conn);
	const char		*domain = stream_domain(s->s_stream);

	if (!s->s_authenticated &&
	    !logsum_allow(conn_peername(s->s_conn), "closed connections"))
		return;
	if (domain[0] != '\0')
		log_info("%s for %s closed: %llu stanzas in, %llu out (%llu "
		    "bytes), %llu bounced%s", session_label(s), domain,
		    (unsigned long long)s->s_route.r_stanzas_in,
		    (unsigned long long)cs->stanzas_out,
		    (unsigned long long)cs->bytes_out,
		    (unsigned long long)s->s_route.r_bounces,
		    session_unacked(cs));
	else
		log_debug("%s closed", session_label(s));
}

/*
 * The connection is closed: what it still had queued goes back to its
 * senders, those waiting for it go on, its route is free, authd forgets
 * its stream id.
 */
static void
session_closed(void *arg)
{
	struct session	*s = arg;

	session_log_closed(s);
	router_release(&s->s_route);
	session_auth_forget(s);
	if (s->s_uplink != NULL)
		uplink_down(s->s_uplink);
}

static void
session_freed(void *arg)
{
	struct session	*s = arg;

	stream_free(s->s_stream);
	free(s);
}

static void
session_shed(void *arg)
{
	struct session	*s = arg;

	counts.shed++;
	stream_error(s->s_stream, "resource-constraint",
	    "room made for a newcomer");
}

/* The last stream is gone: exit once out of the connection layer. */
static void
session_all_closed(void)
{
	struct timeval	tv = { 0, 0 };

	if (shutting_down)
		evtimer_add(&ev_shutdown, &tv);
}

static void
session_output(void *arg, const char *data, size_t len)
{
	struct session	*s = arg;

	conn_write(s->s_conn, data, len);
}

static const char *
session_domain(void *arg, const char *domain)
{
	(void)arg;
	return (router_known(domain) ? NULL : "host-unknown");
}

static const char *
session_stanza_start(void *arg, const struct stanza_head *head,
    const char **reason)
{
	struct session	*s = arg;

	return (router_stanza_start(&s->s_route, head, reason));
}

static enum stanza_verdict
session_stanza(void *arg, const struct stanza *stanza)
{
	struct session	*s = arg;

	return (router_stanza(&s->s_route, stanza));
}

/*
 * Our closing tag is queued: the name is free, authd's id for it too,
 * the socket closes soon.
 */
static void
session_closing(void *arg)
{
	struct session	*s = arg;

	router_unbind(&s->s_route);
	session_auth_forget(s);
	conn_close_after_flush(s->s_conn, ENGINE_CLOSE_GRACE);
}

static const char *
session_label(void *arg)
{
	static char	 buf[128];
	struct session	*s = arg;

	snprintf(buf, sizeof(buf), "%s %llu %s %s", s->s_uplink != NULL ?
	    "uplink" : "connection", (unsigned long long)conn_id(s->s_conn),
	    s->s_uplink != NULL ? "to" : "from", conn_peername(s->s_conn));
	return (buf);
}

/*
 * How a stream ended: for one that never authenticated, as many as its
 * source can make, once an interval (logsum).
 */
static void
session_log(void *arg, const char *line)
{
	struct session	*s = arg;

	/* An uplink's last word is its last error. */
	if (s->s_uplink != NULL)
		uplink_note(s->s_uplink, line);
	if (s->s_authenticated || s->s_uplink != NULL ||
	    logsum_allow(conn_peername(s->s_conn), "unauthenticated streams"))
		log_info("%s", line);
}

/* Blocked no more: the held stanza is offered again, then the rest. */
static void
session_resume(struct route *r)
{
	struct session	*s = r->r_arg;

	stream_go(s->s_stream);
	session_continue(s);
}

static struct route *
session_find(uint64_t id)
{
	struct session	*s;

	if ((s = session_of(id)) == NULL)
		return (NULL);
	return (&s->s_route);
}

static void
session_end(struct route *r, const char *condition, const char *reason)
{
	struct session	*s = r->r_arg;

	stream_error(s->s_stream, condition, "%s", reason);
}

/*
 * Every second: a stream whose peer has acknowledged nothing for the
 * queue timeout while bytes were outstanding ends as one whose queue
 * stayed full (a peer that stopped reading, or is gone); a space to each
 * authenticated stream that has had no output for the idle timeout, so
 * that a dead peer shows and middleboxes keep the connection; the
 * parser of a stream resting between stanzas goes.
 */
static void
engine_tick(int fd, short event, void *arg)
{
	struct timeval	 tv = { ENGINE_TICK, 0 };
	struct conn	*c;
	struct session	*s;

	(void)fd;
	(void)event;
	(void)arg;
	for (c = conn_first(); c != NULL; c = conn_next(c)) {
		s = conn_arg(c);
		if (stream_state(s->s_stream) != STREAM_OPEN)
			continue;
		if (conn_unacked_for(c) >= (time_t)global.queue_timeout) {
			router_stalled(&s->s_route, "nothing acknowledged");
			continue;
		}
		if (conn_queued(c) == 0 &&
		    conn_idle_out(c) >= (time_t)global.idle_timeout)
			stream_keepalive(s->s_stream);
		/* Its parser's arena goes back whole: nothing for the heap. */
		if (session_may_rest(s) &&
		    conn_idle_in(c) >= ENGINE_HIBERNATE)
			stream_rest(s->s_stream);
	}
	router_tick();
	imsgev_resume(&iev_parent);
	control_tick();
	logsum_tick();
	conn_flush_all();
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
	struct conn	*c;
	struct session	*s;

	if (shutting_down)
		return;
	shutting_down = 1;
	log_debug("shutting down, %u connections", conn_count());
	listener_close_all();
	uplink_shutdown();
	evtimer_set(&ev_shutdown, engine_shutdown_expired, NULL);
	evtimer_add(&ev_shutdown, &tv);
	for (c = conn_first(); c != NULL; c = conn_next(c)) {
		s = conn_arg(c);
		stream_error(s->s_stream, "system-shutdown", "gatewayd stops");
	}
	conn_flush_all();
	if (conn_count() == 0)
		engine_exit();
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
	const struct router_stats	*rs = router_stats();

	log_info("exiting: %llu stanzas in, %llu out, %llu bounces (%llu "
	    "jid-malformed, %llu remote-server-not-found, %llu "
	    "remote-server-timeout), %llu takeovers, %llu failed handshakes, "
	    "%llu bytes written never acknowledged",
	    (unsigned long long)rs->stanzas_in,
	    (unsigned long long)conn_totals()->stanzas_out,
	    (unsigned long long)rs->bounces,
	    (unsigned long long)rs->bounce_malformed,
	    (unsigned long long)rs->bounce_not_found,
	    (unsigned long long)rs->bounce_timeout,
	    (unsigned long long)rs->takeovers,
	    (unsigned long long)counts.auth_failures,
	    (unsigned long long)conn_totals()->bytes_unacked);
	/* The parent reads until we are gone: our last lines reach it. */
	(void)imsgbuf_flush(&iev_parent.ibuf);
	exit(0);
}
