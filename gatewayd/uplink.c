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
 * The state of each uplink: waiting for its next try, the parent
 * connecting, the stream being set up, up.  A try that fails, and a
 * stream that ends, are tried again after a delay that starts at
 * UPLINK_BACKOFF_MIN seconds and doubles to UPLINK_BACKOFF_MAX, with
 * jitter (half of it drawn at random), so that many uplinks to one
 * server that went away do not come back in step.  An uplink that was
 * up for UPLINK_STABLE seconds starts again from the minimum.
 *
 * A reload keeps the uplinks whose upstream is the same (by name and
 * by what it connects to), ends and starts again those whose upstream
 * changed, and ends those no longer configured.  An uplink whose stream
 * is still closing lives until its stream is gone (uplink_down).
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <event.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "proc.h"
#include "uplink.h"
#include "util.h"

struct uplink {
	TAILQ_ENTRY(uplink)	 entry;
	char			 domain[GW_NAME_MAX];
	struct gw_upstream_conf	 upstream;
	enum uplink_state	 state;
	time_t			 since;		/* time(3) */
	time_t			 up_at;		/* monotime */
	uint64_t		 tries;
	uint64_t		 reconnects;
	uint32_t		 seq;		/* of the request out */
	unsigned int		 backoff;	/* seconds, the next delay */
	void			*session;	/* the engine's, while open */
	int			 removed;	/* freed once its stream is */
	int			 again_now;	/* changed: no delay */
	struct event		 retry;
	char			 last_error[160];
};
TAILQ_HEAD(uplinks, uplink);

static const struct uplink_ops	*ops;
static struct uplinks		 running = TAILQ_HEAD_INITIALIZER(running);
static struct uplinks		 staged = TAILQ_HEAD_INITIALIZER(staged);
static struct gw_upstream_conf	*staged_ups;
static size_t			 nstaged_ups;
static int			 stopping;

static void	uplink_try(int, short, void *);

void
uplink_init(const struct uplink_ops *o)
{
	ops = o;
}

static void
uplink_free(struct uplink *ul)
{
	if (evtimer_initialized(&ul->retry))
		evtimer_del(&ul->retry);
	free(ul);
}

static void
uplinks_free(struct uplinks *list)
{
	struct uplink	*ul;

	while ((ul = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, ul, entry);
		uplink_free(ul);
	}
}

void
uplink_stage_begin(void)
{
	uplinks_free(&staged);
	free(staged_ups);
	staged_ups = NULL;
	nstaged_ups = 0;
}

void
uplink_stage_upstream(const struct gw_upstream_conf *up)
{
	struct gw_upstream_conf	*p;

	if ((p = recallocarray(staged_ups, nstaged_ups, nstaged_ups + 1,
	    sizeof(*p))) == NULL)
		fatal("%s", __func__);
	staged_ups = p;
	staged_ups[nstaged_ups++] = *up;
}

/* A component with an upstream of the staged configuration. */
void
uplink_stage_component(const struct gw_component_conf *comp)
{
	struct uplink	*ul;
	size_t		 i;

	if (comp->upstream_id == 0)
		return;
	for (i = 0; i < nstaged_ups; i++)
		if (staged_ups[i].id == comp->upstream_id)
			break;
	if (i == nstaged_ups)
		fatalx("component %s: upstream %u unknown", comp->name,
		    comp->upstream_id);
	if ((ul = calloc(1, sizeof(*ul))) == NULL)
		fatal("%s", __func__);
	strlcpy(ul->domain, comp->name, sizeof(ul->domain));
	ul->upstream = staged_ups[i];
	ul->backoff = UPLINK_BACKOFF_MIN;
	evtimer_set(&ul->retry, uplink_try, ul);
	TAILQ_INSERT_TAIL(&staged, ul, entry);
}

static struct uplink *
uplink_find(struct uplinks *list, const char *domain)
{
	struct uplink	*ul;

	TAILQ_FOREACH(ul, list, entry)
		if (!ul->removed && strcmp(ul->domain, domain) == 0)
			return (ul);
	return (NULL);
}

static void
uplink_set_state(struct uplink *ul, enum uplink_state state)
{
	ul->state = state;
	ul->since = time(NULL);
}

/* The next try in delay seconds, with jitter; 0: at once. */
static void
uplink_schedule(struct uplink *ul, unsigned int delay)
{
	struct timeval	tv = { 0, 0 };
	uint32_t	ms = delay * 1000;

	uplink_set_state(ul, UPLINK_WAITING);
	if (stopping)
		return;
	if (ms > 0)
		ms = ms / 2 + arc4random_uniform(ms / 2 + 1);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_del(&ul->retry);
	evtimer_add(&ul->retry, &tv);
}

/* Ask the parent for a socket; an earlier answer is one too late. */
static void
uplink_try(int fd, short event, void *arg)
{
	struct uplink		*ul = arg;
	struct gw_uplink_req	 req;

	(void)fd;
	(void)event;
	if (stopping)
		return;
	if (ul->tries++ > 0)
		ul->reconnects++;
	memset(&req, 0, sizeof(req));
	strlcpy(req.domain, ul->domain, sizeof(req.domain));
	req.upstream_id = ul->upstream.id;
	req.seq = ++ul->seq;
	uplink_set_state(ul, UPLINK_CONNECTING);
	log_debug("uplink of %s: connecting to upstream %s", ul->domain,
	    ul->upstream.name);
	ops->connect(&req);
}

/* Its stream must end: it starts again at once, or (gone) is freed. */
static void
uplink_restart(struct uplink *ul, const char *why)
{
	if (ul->session != NULL) {
		ul->again_now = 1;
		ops->close(ul->session, why);
		return;
	}
	ul->backoff = UPLINK_BACKOFF_MIN;
	if (ul->removed) {
		TAILQ_REMOVE(&running, ul, entry);
		uplink_free(ul);
	} else
		uplink_schedule(ul, 0);
}

/*
 * The staged uplinks take over.  What stays the same keeps its stream;
 * the rest starts or ends.
 */
void
uplink_stage_commit(void)
{
	struct uplink	*ul, *old, *next;

	TAILQ_FOREACH_SAFE(old, &running, entry, next) {
		if (old->removed)
			continue;
		if ((ul = uplink_find(&staged, old->domain)) == NULL) {
			log_info("uplink of %s: removed", old->domain);
			old->removed = 1;
			uplink_restart(old, "uplink removed");
			continue;
		}
		TAILQ_REMOVE(&staged, ul, entry);
		if (strcmp(old->upstream.name, ul->upstream.name) != 0 ||
		    old->upstream.addr_hash != ul->upstream.addr_hash) {
			log_info("uplink of %s: upstream changed", old->domain);
			old->upstream = ul->upstream;
			uplink_restart(old, "upstream changed");
		} else
			old->upstream = ul->upstream;
		uplink_free(ul);
	}
	while ((ul = TAILQ_FIRST(&staged)) != NULL) {
		TAILQ_REMOVE(&staged, ul, entry);
		TAILQ_INSERT_TAIL(&running, ul, entry);
		uplink_schedule(ul, 0);
	}
	uplink_stage_begin();
}

/* Shutting down: no more tries; the engine ends the streams. */
void
uplink_shutdown(void)
{
	struct uplink	*ul;

	stopping = 1;
	TAILQ_FOREACH(ul, &running, entry)
		evtimer_del(&ul->retry);
}

/* The answer to the request out, or NULL for one too late. */
static struct uplink *
uplink_answered(const struct gw_uplink_conn *ans)
{
	struct uplink	*ul;

	imsg_check_string(ans->domain, sizeof(ans->domain), "uplink domain");
	if (memchr(ans->error, '\0', sizeof(ans->error)) == NULL)
		fatalx("uplink error: bad string");
	if ((ul = uplink_find(&running, ans->domain)) == NULL ||
	    ul->state != UPLINK_CONNECTING || ul->seq != ans->seq)
		return (NULL);
	return (ul);
}

static void
uplink_retry_later(struct uplink *ul)
{
	unsigned int	delay = ul->backoff;

	ul->backoff = ul->backoff * 2 > UPLINK_BACKOFF_MAX ?
	    UPLINK_BACKOFF_MAX : ul->backoff * 2;
	log_debug("uplink of %s: next try in about %u seconds", ul->domain,
	    delay);
	uplink_schedule(ul, delay);
}

/* The parent connected: the engine runs the stream from here. */
void
uplink_socket(const struct gw_uplink_conn *ans, int fd)
{
	struct uplink	*ul;
	char		 addr[NI_MAXHOST + 16];

	if ((ul = uplink_answered(ans)) == NULL || stopping) {
		close(fd);
		return;
	}
	log_info("uplink of %s: connected to %s", ul->domain,
	    sockaddr_print(&ans->peer, addr, sizeof(addr)));
	if ((ul->session = ops->open(ul, fd, &ans->peer)) == NULL) {
		strlcpy(ul->last_error, "no memory", sizeof(ul->last_error));
		uplink_retry_later(ul);
		return;
	}
	uplink_set_state(ul, UPLINK_SETUP);
}

void
uplink_failed(const struct gw_uplink_conn *ans)
{
	struct uplink	*ul;

	if ((ul = uplink_answered(ans)) == NULL)
		return;
	strlcpy(ul->last_error, ans->error, sizeof(ul->last_error));
	log_warnx("uplink of %s: %s", ul->domain, ul->last_error);
	uplink_retry_later(ul);
}

/* The server took our handshake. */
void
uplink_up(struct uplink *ul)
{
	uplink_set_state(ul, UPLINK_UP);
	ul->up_at = monotime();
	ul->last_error[0] = '\0';
	log_info("uplink of %s: up (upstream %s)", ul->domain,
	    ul->upstream.name);
}

/* What its stream said last (how it ended): the error to show. */
void
uplink_note(struct uplink *ul, const char *line)
{
	strlcpy(ul->last_error, line, sizeof(ul->last_error));
}

/* Its stream is gone; how is the last note's. */
void
uplink_down(struct uplink *ul)
{
	int	was_up = ul->state == UPLINK_UP;

	ul->session = NULL;
	if (was_up)
		log_warnx("uplink of %s: down%s%s", ul->domain,
		    ul->last_error[0] != '\0' ? ": " : "", ul->last_error);
	if (ul->removed || ul->again_now || stopping) {
		ul->again_now = 0;
		uplink_restart(ul, ul->last_error);
		return;
	}
	if (was_up && monotime() - ul->up_at >= UPLINK_STABLE)
		ul->backoff = UPLINK_BACKOFF_MIN;
	uplink_retry_later(ul);
}

const char *
uplink_domain(const struct uplink *ul)
{
	return (ul->domain);
}

/* Each uplink of the configuration, as a view for fn; how many. */
size_t
uplink_walk(void (*fn)(const struct uplink_view *, void *), void *arg)
{
	struct uplink_view	 v;
	struct uplink		*ul;
	size_t			 n = 0;

	TAILQ_FOREACH(ul, &running, entry) {
		if (ul->removed)
			continue;
		v.domain = ul->domain;
		v.upstream = ul->upstream.name;
		v.state = ul->state;
		v.since = ul->since;
		v.reconnects = ul->reconnects;
		v.last_error = ul->last_error;
		fn(&v, arg);
		n++;
	}
	return (n);
}
