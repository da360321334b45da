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
 * The parent's side of the uplinks.  The engine may not make sockets, so
 * it asks here for a connection to a component's upstream server, and
 * only for one of the configuration.  Each address of each "connect to"
 * line is tried in order without blocking (one that does not answer
 * costs CONNECTOR_TIMEOUT seconds, then the next is tried); the first
 * that connects goes to the engine, else the last error does.  The
 * engine runs the stream and decides when to ask again.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/queue.h>

#include <errno.h>
#include <event.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "gatewayd.h"
#include "log.h"

#define CONNECTOR_TIMEOUT	10	/* seconds for one address */

struct attempt {
	TAILQ_ENTRY(attempt)	 entry;
	struct imsgev		*iev;
	struct gw_uplink_req	 req;
	struct gw_global	 global;	/* for the socket options */
	struct sockaddr_storage	*addrs;
	size_t			 naddrs;
	size_t			 next;
	int			 fd;
	struct event		 ev;
	char			 error[128];
};
TAILQ_HEAD(attempts, attempt);

static struct attempts	attempts = TAILQ_HEAD_INITIALIZER(attempts);

static void	attempt_next(struct attempt *);

static void
attempt_free(struct attempt *a)
{
	TAILQ_REMOVE(&attempts, a, entry);
	if (a->fd != -1) {
		event_del(&a->ev);
		close(a->fd);
	}
	free(a->addrs);
	free(a);
}

/* The engine hears how it went: a socket, or why there is none. */
static void
attempt_answer(struct attempt *a, int type, int fd)
{
	struct gw_uplink_conn	ans;

	memset(&ans, 0, sizeof(ans));
	strlcpy(ans.domain, a->req.domain, sizeof(ans.domain));
	ans.seq = a->req.seq;
	if (a->next > 0)
		ans.peer = a->addrs[a->next - 1];
	strlcpy(ans.error, a->error, sizeof(ans.error));
	if (imsgev_compose(a->iev, type, 0, fd, &ans, sizeof(ans)) == -1)
		fatal("imsgev_compose");
}

static void
attempt_failed(struct attempt *a, int error, const char *what)
{
	char	addr[NI_MAXHOST + 16];

	snprintf(a->error, sizeof(a->error), "%s %s: %s", what,
	    sockaddr_print(&a->addrs[a->next - 1], addr, sizeof(addr)),
	    error == ETIMEDOUT ? "timed out" : strerror(error));
	log_debug("uplink of %s: %s", a->req.domain, a->error);
}

static void
attempt_connected(struct attempt *a)
{
	int	fd = a->fd;

	event_del(&a->ev);
	a->fd = -1;
	a->error[0] = '\0';
	/* imsg closes it once sent. */
	attempt_answer(a, IMSG_UPLINK_FD, fd);
	attempt_free(a);
}

static void
attempt_ready(int fd, short event, void *arg)
{
	struct attempt	*a = arg;
	socklen_t	 len = sizeof(int);
	int		 error = 0;

	if (event & EV_TIMEOUT)
		error = ETIMEDOUT;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
		error = errno;
	if (error == 0) {
		attempt_connected(a);
		return;
	}
	attempt_failed(a, error, "connect to");
	event_del(&a->ev);
	close(a->fd);
	a->fd = -1;
	attempt_next(a);
}

/* The next address, until one connects or none is left. */
static void
attempt_next(struct attempt *a)
{
	struct timeval		 tv = { CONNECTOR_TIMEOUT, 0 };
	struct sockaddr_storage	*ss;

	while (a->next < a->naddrs) {
		ss = &a->addrs[a->next++];
		if ((a->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0)) == -1) {
			attempt_failed(a, errno, "socket for");
			continue;
		}
		socket_liveness(a->fd, &a->global);
		event_set(&a->ev, a->fd, EV_WRITE, attempt_ready, a);
		if (connect(a->fd, (struct sockaddr *)ss,
		    sockaddr_len(ss)) == 0) {
			attempt_connected(a);
			return;
		}
		if (errno == EINPROGRESS) {
			event_add(&a->ev, &tv);
			return;
		}
		attempt_failed(a, errno, "connect to");
		close(a->fd);
		a->fd = -1;
	}
	if (a->naddrs == 0)
		strlcpy(a->error, "no address", sizeof(a->error));
	attempt_answer(a, IMSG_UPLINK_FAILED, -1);
	attempt_free(a);
}

static const struct gw_upstream *
connector_upstream(const struct gatewayd_conf *conf, const char *domain,
    uint32_t id)
{
	const struct gw_component	*c;
	const struct gw_upstream	*up;

	TAILQ_FOREACH(c, &conf->components, entry)
		if (strcmp(c->conf.name, domain) == 0)
			break;
	if (c == NULL || id == 0 || c->conf.upstream_id != id)
		return (NULL);
	TAILQ_FOREACH(up, &conf->upstreams, entry)
		if (up->conf.id == id)
			return (up);
	return (NULL);
}

/*
 * The engine wants a connection for the uplink of domain: one attempt at
 * a time each, a new request replacing the one before.  A domain or an
 * upstream the configuration no longer has (a reload crossed the
 * request) gets a failure, as does one the engine made up.
 */
void
connector_request(struct imsgev *iev, const struct gw_uplink_req *req,
    const struct gatewayd_conf *conf)
{
	const struct gw_upstream	*up;
	struct attempt			*a, *next;
	size_t				 i, j;

	TAILQ_FOREACH_SAFE(a, &attempts, entry, next)
		if (strcmp(a->req.domain, req->domain) == 0)
			attempt_free(a);
	if ((a = calloc(1, sizeof(*a))) == NULL)
		fatal("%s", __func__);
	a->iev = iev;
	a->req = *req;
	a->fd = -1;
	TAILQ_INSERT_TAIL(&attempts, a, entry);
	if ((up = connector_upstream(conf, req->domain,
	    req->upstream_id)) == NULL) {
		strlcpy(a->error, "not an uplink of the configuration",
		    sizeof(a->error));
		attempt_answer(a, IMSG_UPLINK_FAILED, -1);
		attempt_free(a);
		return;
	}
	a->global = conf->global;
	for (i = 0; i < up->nconnect; i++)
		a->naddrs += up->connect[i].naddrs;
	if (a->naddrs > 0 && (a->addrs = calloc(a->naddrs,
	    sizeof(*a->addrs))) == NULL)
		fatal("%s", __func__);
	a->naddrs = 0;
	for (i = 0; i < up->nconnect; i++)
		for (j = 0; j < up->connect[i].naddrs; j++)
			a->addrs[a->naddrs++] = up->connect[i].addrs[j];
	attempt_next(a);
}

/* Shutting down: nobody waits for these any more. */
void
connector_cancel_all(void)
{
	struct attempt	*a;

	while ((a = TAILQ_FIRST(&attempts)) != NULL)
		attempt_free(a);
}
