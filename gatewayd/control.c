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
 * The control socket, served by the engine, which has the counters:
 * gatewayctl's requests and their answers (common/ctl.h).  The parent
 * made the listening sockets before the sandbox closed in, so serving
 * them needs nothing the engine lacks.  A request that breaks the
 * protocol (a type, size or version unknown, a string without its NUL)
 * ends its control connection and nothing else.  What needs the parent
 * (reload) or authd (its held-down sources) waits for their answer,
 * which comes back with the control connection's id.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/queue.h>

#include <errno.h>
#include <event.h>
#include <imsg.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "compat.h"
#include "conn.h"
#include "control.h"
#include "ctl.h"
#include "listener.h"
#include "log.h"
#include "proc.h"
#include "router.h"
#include "uplink.h"
#include "util.h"
#include "xmlmem.h"

#define CONTROL_CONN_MAX	8	/* at once; each is an administrator */
#define CONTROL_SOCK_MAX	4
#define CONTROL_BACKOFF		1	/* seconds accept(2) rests */
#define CONTROL_RATE_SECS	10	/* stanzas a second, over as many */

struct control_sock {
	int			 fd;
	int			 restricted;
	struct event		 ev;
	struct event		 pause;
};

struct control_conn {
	TAILQ_ENTRY(control_conn) entry;
	struct imsgbuf		 ibuf;
	struct event		 ev;
	short			 events;
	uint64_t		 id;
	int			 restricted;
	int			 waiting;	/* for the parent or authd */
	struct ctl_summary	 summary;	/* while authd is asked */
};
TAILQ_HEAD(control_conns, control_conn);

static struct imsgev		*iev_parent, *iev_authd;
static const struct ctl_summary	*engine_counts;
static int64_t			 started;	/* monotonic */
static uint64_t			 rate_in[CONTROL_RATE_SECS + 1];
static uint64_t			 rate_out[CONTROL_RATE_SECS + 1];
static size_t			 rate_next;
static struct control_sock	 socks[CONTROL_SOCK_MAX];
static size_t			 nsocks;
static struct control_conns	 conns = TAILQ_HEAD_INITIALIZER(conns);
static size_t			 nconns;
static uint64_t			 next_id = 1;

static void	control_accept(int, short, void *);
static void	control_resume(int, short, void *);
static void	control_event(int, short, void *);
static void	control_close(struct control_conn *);
static void	control_arm(struct control_conn *);

/*
 * The engine's pipes, for what needs the parent or authd, and what the
 * engine counts itself (connections accepted, refused, shed; handshakes
 * refused; its start).
 */
void
control_init(struct imsgev *parent, struct imsgev *authd,
    struct ctl_summary *counts)
{
	iev_parent = parent;
	iev_authd = authd;
	engine_counts = counts;
	counts->started = time(NULL);
	started = monotime();
}

/* Once a second: the totals, for the rates. */
void
control_tick(void)
{
	rate_in[rate_next] = router_stats()->stanzas_in;
	rate_out[rate_next] = conn_totals()->stanzas_out;
	rate_next = (rate_next + 1) % nitems(rate_in);
}

static uint32_t
control_rate(const uint64_t *ring)
{
	size_t	last = (rate_next + nitems(rate_in) - 1) % nitems(rate_in);
	size_t	first = rate_next;	/* the oldest sample */

	return ((uint32_t)((ring[last] - ring[first]) / CONTROL_RATE_SECS));
}

/* What the layers count, and the engine. */
static void
control_fill_summary(struct ctl_summary *sum)
{
	const struct router_stats	*rs = router_stats();
	const struct conn_stats		*cs = conn_totals();
	struct xmlmem_stats		 xs;
	size_t				 bound;

	*sum = *engine_counts;
	sum->uptime = monotime() - started;
	sum->connections = conn_count();
	sum->unauthenticated = conn_unauth_count();
	sum->components = router_count(&bound);
	sum->authenticated = bound;
	sum->listeners = listener_count();
	sum->stanzas_in = rs->stanzas_in;
	sum->stanzas_out = cs->stanzas_out;
	sum->bytes_in = cs->bytes_in;
	sum->bytes_out = cs->bytes_out;
	sum->bytes_unacked = cs->bytes_unacked;
	sum->stanzas_in_rate = control_rate(rate_in);
	sum->stanzas_out_rate = control_rate(rate_out);
	sum->bounces = rs->bounces;
	sum->bounce_malformed = rs->bounce_malformed;
	sum->bounce_not_found = rs->bounce_not_found;
	sum->bounce_timeout = rs->bounce_timeout;
	sum->takeovers = rs->takeovers;
	sum->stalls = rs->stalls;
	xmlmem_get_stats(&xs);
	sum->parsers = xs.arenas;
	sum->parser_bytes = (uint64_t)xs.pages_used * xs.page_size;
}

/* To the parent or authd, for control connection id: -1 if it is gone. */
static int
control_ask(struct imsgev *iev, uint32_t type, uint64_t id)
{
	struct gw_ctl_req	req;

	if (iev->eof)
		return (-1);
	req.ctl_id = id;
	if (imsgev_compose(iev, type, 0, -1, &req, sizeof(req)) == -1)
		fatal("%s", __func__);
	return (0);
}

/* Ours now, the parent's and authd's through the parent. */
static void
control_verbose(int verbose)
{
	struct gw_ctl_verbose	v;

	log_setverbose(verbose);
	v.verbose = verbose;
	if (!iev_parent->eof && imsgev_compose(iev_parent, IMSG_CTL_VERBOSE,
	    0, -1, &v, sizeof(v)) == -1)
		fatal("%s", __func__);
}

/* Descriptors the control socket may hold: its own and its clients'. */
size_t
control_reserve(void)
{
	return (nsocks + CONTROL_CONN_MAX);
}

void
control_listen(int fd, int restricted)
{
	struct control_sock	*cs;

	if (nsocks == CONTROL_SOCK_MAX)
		fatalx("%s: more than %d control sockets", __func__,
		    CONTROL_SOCK_MAX);
	cs = &socks[nsocks++];
	cs->fd = fd;
	cs->restricted = restricted != 0;
	event_set(&cs->ev, fd, EV_READ | EV_PERSIST, control_accept, cs);
	event_add(&cs->ev, NULL);
	evtimer_set(&cs->pause, control_resume, cs);
}

static void
control_resume(int fd, short event, void *arg)
{
	struct control_sock	*cs = arg;

	(void)fd;
	(void)event;
	event_add(&cs->ev, NULL);
}

static void
control_accept(int fd, short event, void *arg)
{
	struct timeval		 tv = { CONTROL_BACKOFF, 0 };
	struct control_sock	*cs = arg;
	struct control_conn	*c;
	int			 s;

	(void)event;
	if ((s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
		if (errno == EINTR || errno == EAGAIN ||
		    errno == ECONNABORTED)
			return;
		log_warn("control: accept");
		event_del(&cs->ev);
		evtimer_add(&cs->pause, &tv);
		return;
	}
	if (nconns >= CONTROL_CONN_MAX || (c = calloc(1, sizeof(*c))) == NULL) {
		log_warnx("control: %s, connection refused",
		    nconns >= CONTROL_CONN_MAX ? "too many connections" :
		    "out of memory");
		close(s);
		return;
	}
	if (imsgbuf_init(&c->ibuf, s) == -1) {
		log_warn("control: imsgbuf_init");
		close(s);
		free(c);
		return;
	}
	c->id = next_id++;
	c->restricted = cs->restricted;
	TAILQ_INSERT_TAIL(&conns, c, entry);
	nconns++;
	control_arm(c);
}

/* Read unless an answer is awaited; write while something is queued. */
static void
control_arm(struct control_conn *c)
{
	short	events = c->waiting ? 0 : EV_READ;

	if (imsgbuf_queuelen(&c->ibuf) > 0)
		events |= EV_WRITE;
	if (events == c->events)
		return;
	if (c->events != 0)
		event_del(&c->ev);
	c->events = events;
	if (events == 0)
		return;
	event_set(&c->ev, c->ibuf.fd, events | EV_PERSIST, control_event, c);
	event_add(&c->ev, NULL);
}

static void
control_close(struct control_conn *c)
{
	if (c->events != 0)
		event_del(&c->ev);
	TAILQ_REMOVE(&conns, c, entry);
	nconns--;
	close(c->ibuf.fd);
	imsgbuf_clear(&c->ibuf);
	free(c);
}

static struct control_conn *
control_find(uint64_t id)
{
	struct control_conn	*c;

	TAILQ_FOREACH(c, &conns, entry)
		if (c->id == id)
			return (c);
	return (NULL);
}

static void
control_send(struct control_conn *c, uint32_t type, const void *data,
    size_t len)
{
	if (imsg_compose(&c->ibuf, type, GW_CTL_VERSION, 0, -1, data,
	    len) == -1)
		fatal("%s", __func__);
}

static void
control_end(struct control_conn *c, int status, const char *message)
{
	struct ctl_end	end;

	memset(&end, 0, sizeof(end));
	end.status = status;
	strlcpy(end.message, message, sizeof(end.message));
	control_send(c, CTL_END, &end, sizeof(end));
	c->waiting = 0;
	control_arm(c);
}

static void
control_component(const struct router_comp_view *v, void *arg)
{
	struct control_conn	*c = arg;
	struct ctl_component	 cc;
	struct ctl_name		 alias;
	size_t			 i;

	memset(&cc, 0, sizeof(cc));
	strlcpy(cc.name, v->name, sizeof(cc.name));
	cc.naliases = v->naliases;
	if (v->bound != NULL) {
		cc.connected = 1;
		strlcpy(cc.peer, conn_peername(v->bound->r_conn),
		    sizeof(cc.peer));
		cc.since = v->counts.since;
		cc.queued = conn_queued(v->bound->r_conn);
	}
	cc.stanzas_in = v->counts.stanzas_in;
	cc.stanzas_out = v->counts.stanzas_out;
	cc.bytes_in = v->counts.bytes_in;
	cc.bytes_out = v->counts.bytes_out;
	cc.stalls = v->counts.stalls;
	cc.takeovers = v->counts.takeovers;
	cc.bounces = v->counts.bounces;
	cc.streams = v->counts.streams;
	control_send(c, CTL_COMPONENT, &cc, sizeof(cc));
	for (i = 0; i < v->naliases; i++) {
		memset(&alias, 0, sizeof(alias));
		strlcpy(alias.name, v->aliases[i].name, sizeof(alias.name));
		control_send(c, CTL_ALIAS, &alias, sizeof(alias));
	}
}

static void
control_listener(const struct sockaddr_storage *ss, uint64_t accepted,
    int paused, void *arg)
{
	struct control_conn	*c = arg;
	struct ctl_listener	 cl;
	char			 port[16];

	memset(&cl, 0, sizeof(cl));
	if (getnameinfo((const struct sockaddr *)ss, sockaddr_len(ss),
	    cl.addr, sizeof(cl.addr), port, sizeof(port),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		strlcpy(cl.addr, "?", sizeof(cl.addr));
	else
		cl.port = (uint32_t)strtoul(port, NULL, 10);
	cl.accepted = accepted;
	cl.paused = paused != 0;
	control_send(c, CTL_LISTENER, &cl, sizeof(cl));
}

/* The protocol has numbers of its own, which the engine's may not be. */
static uint32_t
control_uplink_state(enum uplink_state state)
{
	switch (state) {
	case UPLINK_WAITING:
		return (CTL_UPLINK_WAITING);
	case UPLINK_CONNECTING:
		return (CTL_UPLINK_CONNECTING);
	case UPLINK_SETUP:
		return (CTL_UPLINK_HANDSHAKE);
	case UPLINK_UP:
		return (CTL_UPLINK_UP);
	}
	fatalx("%s: state %d", __func__, (int)state);
}

/* An uplink, and what the router holds for its component each way. */
static void
control_upstream(const struct uplink_view *v, void *arg)
{
	struct control_conn	*c = arg;
	struct ctl_upstream	 cu;
	struct router_held	 held;

	memset(&cu, 0, sizeof(cu));
	strlcpy(cu.domain, v->domain, sizeof(cu.domain));
	strlcpy(cu.upstream, v->upstream, sizeof(cu.upstream));
	strlcpy(cu.last_error, v->last_error, sizeof(cu.last_error));
	cu.state = control_uplink_state(v->state);
	cu.since = v->since;
	cu.reconnects = v->reconnects;
	if (router_held(v->domain, &held) == 0) {
		cu.down_stanzas = held.down_stanzas;
		cu.down_bytes = held.down_bytes;
		cu.up_stanzas = held.up_stanzas;
		cu.up_bytes = held.up_bytes;
	}
	control_send(c, CTL_UPSTREAM, &cu, sizeof(cu));
}

/* A name from a request: NUL terminated in its field, as names are kept. */
static int
control_name(struct imsg *imsg, char *name)
{
	struct ctl_name	req;

	if (imsg_get_data(imsg, &req, sizeof(req)) == -1 ||
	    memchr(req.name, '\0', sizeof(req.name)) == NULL)
		return (-1);
	strlcpy(name, req.name, GW_NAME_MAX);
	if (domain_normalize(name) == -1)
		name[0] = '\0';
	return (0);
}

static void
control_summary(struct control_conn *c)
{
	control_fill_summary(&c->summary);
	/* authd knows which sources it holds down; it answers by id. */
	if (control_ask(iev_authd, IMSG_CTL_AUTHD_STATS, c->id) == 0) {
		c->waiting = 1;
		return;
	}
	control_send(c, CTL_SUMMARY, &c->summary, sizeof(c->summary));
	control_end(c, 0, "");
}

static void
control_kick(struct control_conn *c, const char *name)
{
	char	msg[GW_NAME_MAX + 32];

	switch (name[0] == '\0' ? -1 : router_kick(name,
	    "kicked by the administrator")) {
	case -1:
		snprintf(msg, sizeof(msg), "%s: no such component", name);
		control_end(c, 1, msg);
		break;
	case 0:
		snprintf(msg, sizeof(msg), "%s is not connected", name);
		control_end(c, 1, msg);
		break;
	default:
		snprintf(msg, sizeof(msg), "kicked %s", name);
		log_info("control: %s", msg);
		control_end(c, 0, msg);
		conn_flush_all();
		break;
	}
}

/* One request, checked; -1 ends the control connection. */
static int
control_request(struct control_conn *c, struct imsg *imsg)
{
	struct ctl_verbose	 v;
	uint32_t		 type = imsg_get_type(imsg);
	size_t			 len = imsg_get_len(imsg), want = 0;
	char			 name[GW_NAME_MAX], msg[GW_NAME_MAX + 32];

	if (imsg_get_id(imsg) != GW_CTL_VERSION) {
		control_end(c, 1, "gatewayctl and gatewayd differ in version");
		return (-1);
	}
	if (type == CTL_SHOW_COMPONENT || type == CTL_KICK)
		want = sizeof(struct ctl_name);
	else if (type == CTL_LOG_VERBOSE)
		want = sizeof(struct ctl_verbose);
	if (len != want || imsg_get_fd(imsg) != -1)
		return (-1);
	if (c->restricted && (type == CTL_RELOAD || type == CTL_KICK ||
	    type == CTL_LOG_VERBOSE)) {
		control_end(c, 1, "not permitted on a restricted control "
		    "socket");
		return (0);
	}
	switch (type) {
	case CTL_SHOW_SUMMARY:
		control_summary(c);
		break;
	case CTL_SHOW_COMPONENTS:
		router_walk(NULL, control_component, c);
		control_end(c, 0, "");
		break;
	case CTL_SHOW_COMPONENT:
		if (control_name(imsg, name) == -1)
			return (-1);
		if (name[0] == '\0' ||
		    router_walk(name, control_component, c) == 0) {
			snprintf(msg, sizeof(msg), "%s: no such component",
			    name);
			control_end(c, 1, msg);
		} else
			control_end(c, 0, "");
		break;
	case CTL_SHOW_LISTENERS:
		listener_walk(control_listener, c);
		control_end(c, 0, "");
		break;
	case CTL_SHOW_UPSTREAMS:
		uplink_walk(control_upstream, c);
		control_end(c, 0, "");
		break;
	case CTL_RELOAD:
		if (control_ask(iev_parent, IMSG_CTL_RELOAD, c->id) == -1)
			control_end(c, 1, "the parent is gone");
		else
			c->waiting = 1;
		break;
	case CTL_KICK:
		if (control_name(imsg, name) == -1)
			return (-1);
		control_kick(c, name);
		break;
	case CTL_LOG_VERBOSE:
		if (imsg_get_data(imsg, &v, sizeof(v)) == -1 ||
		    (v.verbose != 0 && v.verbose != 1))
			return (-1);
		control_verbose(v.verbose);
		control_end(c, 0, v.verbose ? "logging verbose" :
		    "logging brief");
		break;
	default:
		return (-1);
	}
	return (0);
}

static int
control_read(struct control_conn *c)
{
	struct imsg	imsg;
	int		n, ret;

	if (imsgbuf_read(&c->ibuf) != 1)
		return (-1);
	while (!c->waiting) {
		if ((n = imsgbuf_get(&c->ibuf, &imsg)) == -1)
			return (-1);
		if (n == 0)
			break;
		ret = control_request(c, &imsg);
		imsg_free(&imsg);
		if (ret == -1)
			return (-1);
	}
	return (0);
}

static void
control_event(int fd, short event, void *arg)
{
	struct control_conn	*c = arg;

	(void)fd;
	if ((event & EV_WRITE) && imsgbuf_write(&c->ibuf) == -1) {
		control_close(c);
		return;
	}
	if ((event & EV_READ) && control_read(c) == -1) {
		/* What was answered still goes out, if the socket takes it. */
		(void)imsgbuf_write(&c->ibuf);
		control_close(c);
		return;
	}
	control_arm(c);
}

/* A control socket the parent made (at the start only). */
void
control_imsg_socket(struct imsg *imsg, const void *data, void *arg)
{
	const struct gw_control_conf	*cc = data;
	int				 fd;

	(void)arg;
	if ((fd = imsg_get_fd(imsg)) == -1)
		fatalx("RECONF_CONTROL without a socket");
	control_listen(fd, cc->restricted);
}

/* authd's answer for a summary. */
void
control_imsg_authd(struct imsg *imsg, const void *data, void *arg)
{
	const struct gw_authd_stats	*st = data;
	struct control_conn		*c;

	(void)imsg;
	(void)arg;
	if ((c = control_find(st->ctl_id)) == NULL || !c->waiting)
		return;
	c->summary.throttled_sources = st->throttled;
	control_send(c, CTL_SUMMARY, &c->summary, sizeof(c->summary));
	control_end(c, 0, "");
}

/* The parent's answer to a reload, a line at a time, then its end. */
void
control_imsg_line(struct imsg *imsg, const void *data, void *arg)
{
	const struct gw_ctl_line	*pl = data;
	struct control_conn		*c;
	struct ctl_line			 l;

	(void)imsg;
	(void)arg;
	imsg_check_string(pl->line, sizeof(pl->line), "CTL_LINE");
	if ((c = control_find(pl->ctl_id)) == NULL || !c->waiting)
		return;
	memset(&l, 0, sizeof(l));
	strlcpy(l.line, pl->line, sizeof(l.line));
	control_send(c, CTL_LINE, &l, sizeof(l));
	control_arm(c);
}

void
control_imsg_end(struct imsg *imsg, const void *data, void *arg)
{
	const struct gw_ctl_end	*e = data;
	struct control_conn	*c;

	(void)imsg;
	(void)arg;
	if (memchr(e->message, '\0', sizeof(e->message)) == NULL)
		fatalx("CTL_END: bad string");
	if ((c = control_find(e->ctl_id)) == NULL || !c->waiting)
		return;
	control_end(c, e->status, e->message);
}
