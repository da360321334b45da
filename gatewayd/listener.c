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
 * Listeners: the sockets the parent bound, what they accept handed to
 * the connection layer.  accept(2) failing is never fatal: a full
 * descriptor table or memory shortage pauses the listener briefly
 * (rather than spin on the connection that waits), anything else is
 * logged, at most once a second, and survived.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/queue.h>

#include <errno.h>
#include <event.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "conn.h"
#include "listener.h"
#include "log.h"
#include "util.h"

#define LISTENER_BACKOFF	1	/* seconds a listener rests */

struct listener {
	TAILQ_ENTRY(listener)	 entry;
	struct gw_listen_conf	 conf;
	int			 fd;
	struct event		 ev;
	struct event		 pause;
	int			 armed;
	int			 paused;
	uint64_t		 accepted;	/* carried over a reload */
};
TAILQ_HEAD(listeners, listener);

static struct listeners	running = TAILQ_HEAD_INITIALIZER(running);
static struct listeners	staged = TAILQ_HEAD_INITIALIZER(staged);
static size_t		nrunning;

static void	listener_accept(int, short, void *);
static void	listener_resume(int, short, void *);

static void
listener_free(struct listener *l)
{
	if (l->armed)
		event_del(&l->ev);
	if (l->paused)
		evtimer_del(&l->pause);
	if (l->fd != -1)
		close(l->fd);
	free(l);
}

static void
listeners_free(struct listeners *list)
{
	struct listener	*l;

	while ((l = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, l, entry);
		listener_free(l);
	}
}

void
listener_stage_begin(void)
{
	listeners_free(&staged);
}

/* A listener of the new configuration: fd -1 for one we have already. */
void
listener_stage(const struct gw_listen_conf *conf, int fd)
{
	struct listener	*l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		fatal("%s", __func__);
	l->conf = *conf;
	l->fd = fd;
	TAILQ_INSERT_TAIL(&staged, l, entry);
}

size_t
listener_count(void)
{
	return (nrunning);
}

/* Each running listener: its address, connections accepted, paused. */
void
listener_walk(void (*fn)(const struct sockaddr_storage *, uint64_t, int,
    void *), void *arg)
{
	struct listener	*l;

	TAILQ_FOREACH(l, &running, entry)
		fn(&l->conf.ss, l->accepted, l->paused, arg);
}

/* Descriptors the staged listeners hold, besides the running ones. */
size_t
listener_staged_fds(void)
{
	struct listener	*l;
	size_t		 n = 0;

	TAILQ_FOREACH(l, &staged, entry)
		n += l->fd != -1;
	return (n);
}

static void
listener_arm(struct listener *l)
{
	event_set(&l->ev, l->fd, EV_READ | EV_PERSIST, listener_accept, l);
	event_add(&l->ev, NULL);
	evtimer_set(&l->pause, listener_resume, l);
	l->armed = 1;
}

/*
 * The staged listeners take over.  One the parent sent without a
 * descriptor is one we already have: it is carried over, never closed
 * and bound again.  Those not in the new configuration are closed.
 */
void
listener_commit(void)
{
	struct listener	*l, *old;
	char		 addr[NI_MAXHOST + 16];

	TAILQ_FOREACH(l, &staged, entry) {
		sockaddr_print(&l->conf.ss, addr, sizeof(addr));
		if (l->fd != -1) {
			log_info("listening on %s", addr);
			continue;
		}
		TAILQ_FOREACH(old, &running, entry)
			if (sockaddr_cmp(&old->conf.ss, &l->conf.ss) == 0)
				break;
		if (old == NULL || old->fd == -1)
			fatalx("no socket for listener %s", addr);
		l->fd = old->fd;
		l->accepted = old->accepted;
		old->fd = -1;
	}
	TAILQ_FOREACH(old, &running, entry)
		if (old->fd != -1)
			log_info("no longer listening on %s",
			    sockaddr_print(&old->conf.ss, addr, sizeof(addr)));
	listeners_free(&running);
	TAILQ_CONCAT(&running, &staged, entry);
	nrunning = 0;
	TAILQ_FOREACH(l, &running, entry) {
		listener_arm(l);
		nrunning++;
	}
}

/* Shutting down: nobody new is accepted to be told that we stop. */
void
listener_close_all(void)
{
	struct listener	*l;
	char		 addr[NI_MAXHOST + 16];

	TAILQ_FOREACH(l, &running, entry)
		log_info("no longer listening on %s",
		    sockaddr_print(&l->conf.ss, addr, sizeof(addr)));
	listeners_free(&running);
	listeners_free(&staged);
	nrunning = 0;
}

static void
listener_resume(int fd, short event, void *arg)
{
	struct listener	*l = arg;

	(void)fd;
	(void)event;
	l->paused = 0;
	event_add(&l->ev, NULL);
	l->armed = 1;
}

static void
listener_pause(struct listener *l)
{
	struct timeval	tv = { LISTENER_BACKOFF, 0 };

	event_del(&l->ev);
	l->armed = 0;
	l->paused = 1;
	evtimer_add(&l->pause, &tv);
}

/* At most a line a second, however often accept fails. */
static void
listener_log(int error)
{
	static time_t	last;
	static unsigned	suppressed;
	time_t		now = monotime();

	if (last != 0 && now - last < 1) {
		suppressed++;
		return;
	}
	if (suppressed > 0)
		log_warnx("accept: %s (and %u more failures)",
		    strerror(error), suppressed);
	else
		log_warnx("accept: %s", strerror(error));
	last = now;
	suppressed = 0;
}

static void
listener_accept(int fd, short event, void *arg)
{
	struct listener		*l = arg;
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	int			 s, error;

	(void)event;
	if ((s = accept4(fd, (struct sockaddr *)&ss, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
		l->accepted++;
		conn_new(s, &ss, len);
		conn_flush_all();
		return;
	}
	switch (error = errno) {
	case EINTR:
	case EAGAIN:
		return;
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
	case ENOMEM:
		/* The connection still waits: rest rather than spin. */
		listener_pause(l);
		break;
	default:
		/* ECONNABORTED, EPERM (a packet filter): that one is gone. */
		break;
	}
	listener_log(error);
}
