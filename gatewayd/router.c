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
 * Routing: which stream holds which name, what a stanza may say of
 * itself, where it goes, and the bounces when it cannot.  A stanza is
 * forwarded as the bytes its sender wrote, never re-serialised, with the
 * declarations of the sender's header spliced in when it has any besides
 * the usual two.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/tree.h>
#include <sys/uio.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "bounce.h"
#include "conn.h"
#include "hold.h"
#include "log.h"
#include "router.h"
#include "router_local.h"
#include "util.h"

static const struct router_ops	*ops;
static struct rtable		*running, *staged;
static struct router_stats	 stats;

static int
rname_cmp(struct rname *a, struct rname *b)
{
	return (strcmp(a->name, b->name));
}
RB_GENERATE_STATIC(rnames, rname, entry, rname_cmp)

static struct rtable *
rtable_new(void)
{
	struct rtable	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		fatal("%s", __func__);
	TAILQ_INIT(&t->comps);
	RB_INIT(&t->names);
	return (t);
}

static void
rtable_free(struct rtable *t)
{
	struct rcomp	*comp;

	if (t == NULL)
		return;
	while ((comp = TAILQ_FIRST(&t->comps)) != NULL) {
		TAILQ_REMOVE(&t->comps, comp, entry);
		hold_end(&comp->held_down);
		hold_end(&comp->held_up);
		free(comp->aliases);
		free(comp);
	}
	free(t->namebuf);
	free(t->ups);
	free(t);
}

void
router_init(const struct router_ops *o)
{
	ops = o;
	if (running == NULL)
		running = rtable_new();
}

const struct router_stats *
router_stats(void)
{
	return (&stats);
}

void
router_stage_begin(void)
{
	rtable_free(staged);
	staged = rtable_new();
}

static void
router_staged_check(const char *what)
{
	if (staged == NULL)
		fatalx("%s outside a reconfiguration", what);
}

void
router_stage_component(const struct gw_component_conf *conf)
{
	struct rcomp	*comp;

	router_staged_check("component");
	if ((comp = calloc(1, sizeof(*comp))) == NULL)
		fatal("%s", __func__);
	comp->conf = *conf;
	TAILQ_INSERT_TAIL(&staged->comps, comp, entry);
}

/* An upstream, for the grace of the components that name it. */
void
router_stage_upstream(const struct gw_upstream_conf *up)
{
	struct gw_upstream_conf	*p;

	router_staged_check("upstream");
	if ((p = recallocarray(staged->ups, staged->nups, staged->nups + 1,
	    sizeof(*p))) == NULL)
		fatal("%s", __func__);
	staged->ups = p;
	staged->ups[staged->nups++] = *up;
}

void
router_stage_alias(const struct gw_alias_conf *alias)
{
	struct rcomp		*comp;
	struct gw_alias_conf	*p;

	router_staged_check("alias");
	TAILQ_FOREACH(comp, &staged->comps, entry)
		if (comp->conf.id == alias->component_id)
			break;
	if (comp == NULL)
		fatalx("alias %s for unknown component %u", alias->name,
		    alias->component_id);
	if ((p = recallocarray(comp->aliases, comp->naliases,
	    comp->naliases + 1, sizeof(*p))) == NULL)
		fatal("%s", __func__);
	comp->aliases = p;
	comp->aliases[comp->naliases++] = *alias;
}

static void
rtable_add_name(struct rtable *t, size_t *n, const char *name,
    struct rcomp *comp)
{
	t->namebuf[*n].name = name;
	t->namebuf[*n].comp = comp;
	if (RB_INSERT(rnames, &t->names, &t->namebuf[*n]) != NULL)
		fatalx("name %s twice", name);
	(*n)++;
}

/* The grace of a component with an upstream, from that upstream. */
static void
rtable_set_grace(struct rtable *t, struct rcomp *comp)
{
	size_t	i;

	if (comp->conf.upstream_id == 0)
		return;
	for (i = 0; i < t->nups; i++)
		if (t->ups[i].id == comp->conf.upstream_id) {
			comp->grace = t->ups[i].grace;
			comp->grace_size = t->ups[i].grace_size;
			return;
		}
	fatalx("component %s: upstream %u unknown", comp->conf.name,
	    comp->conf.upstream_id);
}

/* The names of a new configuration: components and their aliases. */
static void
rtable_names_build(struct rtable *t)
{
	struct rcomp	*comp;
	size_t		 n = 0, i;

	TAILQ_FOREACH(comp, &t->comps, entry)
		n += 1 + comp->naliases;
	if (n > 0 && (t->namebuf = calloc(n, sizeof(*t->namebuf))) == NULL)
		fatal("%s", __func__);
	n = 0;
	TAILQ_FOREACH(comp, &t->comps, entry) {
		rtable_set_grace(t, comp);
		rtable_add_name(t, &n, comp->conf.name, comp);
		for (i = 0; i < comp->naliases; i++)
			rtable_add_name(t, &n, comp->aliases[i].name, comp);
		if (comp->conf.flags & GW_COMP_DEFAULT_ROUTE)
			t->default_route = comp;
		log_debug("component %s%s", comp->conf.name,
		    (comp->conf.flags & GW_COMP_DEFAULT_ROUTE) ?
		    " (default route)" : "");
		for (i = 0; i < comp->naliases; i++)
			log_debug("alias %s of %s", comp->aliases[i].name,
			    comp->conf.name);
	}
}

static struct rcomp *
rtable_find(struct rtable *t, const char *name)
{
	struct rcomp	*comp;

	TAILQ_FOREACH(comp, &t->comps, entry)
		if (strcmp(comp->conf.name, name) == 0)
			return (comp);
	return (NULL);
}

/*
 * The staged configuration takes over.  Bound streams and takeover
 * history stay with their name; streams of a component that is gone
 * are bound no more (their owner ends them: host-gone).
 */
void
router_stage_commit(const struct gw_global *g)
{
	struct rcomp	*comp, *old;
	int		 keep_up;

	router_staged_check("commit");
	staged->global = *g;
	rtable_names_build(staged);
	TAILQ_FOREACH(old, &running->comps, entry) {
		comp = rtable_find(staged, old->conf.name);
		keep_up = comp != NULL && comp->conf.upstream_id != 0 &&
		    old->conf.upstream_id != 0;
		if (keep_up) {
			hold_move(&comp->held_down, &old->held_down);
			hold_move(&comp->held_up, &old->held_up);
		} else {
			/* Held for an upstream no longer its: answered now. */
			router_hold_over(&old->held_down, old->uplink);
			router_hold_over(&old->held_up, old->bound);
		}
		if (comp != NULL) {
			comp->bound = old->bound;
			comp->flap_start = old->flap_start;
			comp->flap_count = old->flap_count;
			comp->flap_holddown = old->flap_holddown;
			comp->counts = old->counts;
			if (comp->bound != NULL)
				comp->bound->r_comp = comp;
		} else if (old->bound != NULL)
			old->bound->r_comp = NULL;
		if (keep_up) {
			comp->uplink = old->uplink;
			if (comp->uplink != NULL)
				comp->uplink->r_comp = comp;
		} else if (old->uplink != NULL)
			old->uplink->r_comp = NULL;
		old->bound = old->uplink = NULL;
	}
	rtable_free(running);
	running = staged;
	staged = NULL;
	/* A component new to its upstream: its grace starts now. */
	TAILQ_FOREACH(comp, &running->comps, entry) {
		if (comp->conf.upstream_id == 0)
			continue;
		if (comp->bound == NULL && comp->held_down.h_since == 0)
			hold_start(&comp->held_down, monotime());
		if (comp->uplink == NULL && comp->held_up.h_since == 0)
			hold_start(&comp->held_up, monotime());
	}
}

/* The running configuration's component name, or NULL. */
struct rcomp *
router_comp(const char *name)
{
	return (rtable_find(running, name));
}

/* The running configuration's components, in order. */
struct rcomps *
router_comps(void)
{
	return (&running->comps);
}

/* Is name a component's own (not an alias)? */
int
router_known(const char *name)
{
	return (rtable_find(running, name) != NULL);
}

static struct rcomp *
router_lookup(const char *name)
{
	struct rname	key, *rn;

	key.name = name;
	if ((rn = RB_FIND(rnames, &running->names, &key)) == NULL)
		return (NULL);
	return (rn->comp);
}

void
router_route_init(struct route *r, struct conn *c, void *arg)
{
	memset(r, 0, sizeof(*r));
	r->r_conn = c;
	r->r_arg = arg;
	TAILQ_INIT(&r->r_waiters);
}

uint32_t
router_max_stanza(const struct route *r)
{
	return (r->r_comp != NULL ? r->r_comp->conf.max_stanza : 0);
}

int
router_blocked(const struct route *r)
{
	return (r->r_blocked_on != NULL);
}

static void	router_end(struct route *, const char *, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));

/* The stream of r ends with a stream error, for a reason. */
static void
router_end(struct route *r, const char *condition, const char *fmt, ...)
{
	char	reason[128];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	ops->end(r, condition, reason);
}

/*
 * Counts a takeover of comp's name.  Too many in a short time and
 * newcomers are refused for a while, so that two instances cannot fight
 * forever: returns -1 when that starts.
 */
static int
router_flap(struct rcomp *comp, time_t now)
{
	const struct gw_global	*g = &running->global;

	if (now - comp->flap_start >= (time_t)g->flap_window) {
		comp->flap_start = now;
		comp->flap_count = 0;
	}
	if (++comp->flap_count <= g->flap_max)
		return (0);
	comp->flap_holddown = now + g->flap_holddown;
	log_warnx("%s: %u takeovers in %u seconds, refusing more for %u "
	    "seconds", comp->conf.name, comp->flap_count, g->flap_window,
	    g->flap_holddown);
	return (-1);
}

/*
 * An authenticated stream takes its component's name and aliases.  If
 * another stream holds them, the policy decides which one gets conflict.
 * Returns -1 when this stream may not have them (it is ended).
 */
int
router_bind(struct route *r, const char *domain)
{
	struct rcomp	*comp;
	struct route	*old;
	uint64_t	 id = conn_id(r->r_conn);
	time_t		 now = monotime();

	if ((comp = rtable_find(running, domain)) == NULL) {
		ops->end(r, "host-gone", "component removed");
		return (-1);
	}
	if ((old = comp->bound) != NULL && old != r) {
		if (comp->flap_holddown > now) {
			ops->end(r, "conflict", "takeovers held down");
			return (-1);
		}
		if (comp->conf.conflict == CONFLICT_REJECT) {
			router_end(r, "conflict", "name in use by connection "
			    "%llu", (unsigned long long)conn_id(old->r_conn));
			return (-1);
		}
		if (router_flap(comp, now) == -1) {
			ops->end(r, "conflict", "takeovers held down");
			return (-1);
		}
		log_info("%s: connection %llu takes over from connection %llu",
		    comp->conf.name, (unsigned long long)id,
		    (unsigned long long)conn_id(old->r_conn));
		stats.takeovers++;
		comp->counts.takeovers++;
		/* Not left to the owner: the name is this one's now. */
		router_unbind(old);
		router_end(old, "conflict", "replaced by connection %llu",
		    (unsigned long long)id);
	}
	comp->bound = r;
	r->r_comp = comp;
	comp->counts.streams++;
	comp->counts.since = time(NULL);
	log_info("connection %llu from %s binds %s", (unsigned long long)id,
	    conn_peername(r->r_conn), comp->conf.name);
	return (0);
}

/*
 * The uplink of domain is open: what its server sends goes to the
 * component, what the component sends beyond us goes up this one.
 */
int
router_uplink_bind(struct route *r, const char *domain)
{
	struct rcomp	*comp;

	if ((comp = rtable_find(running, domain)) == NULL ||
	    comp->conf.upstream_id == 0) {
		ops->end(r, "host-gone", "no uplink for this component");
		return (-1);
	}
	if (comp->uplink != NULL && comp->uplink != r)
		fatalx("%s: two uplinks", domain);
	comp->uplink = r;
	r->r_comp = comp;
	r->r_uplink = 1;
	return (0);
}

/* What the stream r did, added to counts. */
static void
router_add_counts(struct router_counts *counts, const struct route *r)
{
	const struct conn_stats	*cs = conn_stats(r->r_conn);

	counts->stanzas_in += r->r_stanzas_in;
	counts->stanzas_out += cs->stanzas_out;
	counts->bytes_in += cs->bytes_in;
	counts->bytes_out += cs->bytes_out;
	counts->bounces += r->r_bounces;
}

/* The name goes; what the stream did stays with the component. */
void
router_unbind(struct route *r)
{
	struct rcomp	*comp = r->r_comp;

	if (r->r_uplink) {
		if (comp != NULL && comp->uplink == r) {
			comp->uplink = NULL;
			router_hold_back(comp, r, comp->bound, &comp->held_up);
		}
		r->r_comp = NULL;
		return;
	}
	if (comp != NULL && comp->bound == r) {
		router_add_counts(&comp->counts, r);
		comp->bound = NULL;
		if (comp->conf.upstream_id != 0)
			router_hold_back(comp, r, comp->uplink,
			    &comp->held_down);
	}
	r->r_comp = NULL;
}

/*
 * The configured components in order (or the one named), each as a view
 * for fn.  Returns how many there were.
 */
size_t
router_walk(const char *name, void (*fn)(const struct router_comp_view *,
    void *), void *arg)
{
	struct router_comp_view	 v;
	struct rcomp		*comp;
	size_t			 n = 0;

	TAILQ_FOREACH(comp, &running->comps, entry) {
		if (name != NULL && strcmp(name, comp->conf.name) != 0)
			continue;
		v.name = comp->conf.name;
		v.aliases = comp->aliases;
		v.naliases = comp->naliases;
		v.bound = comp->bound;
		v.counts = comp->counts;
		if (comp->bound != NULL)
			router_add_counts(&v.counts, comp->bound);
		fn(&v, arg);
		n++;
	}
	return (n);
}

/* How many components are configured; of them, how many connected. */
size_t
router_count(size_t *bound)
{
	struct rcomp	*comp;
	size_t		 n = 0;

	*bound = 0;
	TAILQ_FOREACH(comp, &running->comps, entry) {
		n++;
		*bound += comp->bound != NULL;
	}
	return (n);
}

/*
 * The administrator ends the stream of the component name: -1 if there
 * is no such component, 0 if none is connected, 1 if it was ended.
 */
int
router_kick(const char *name, const char *reason)
{
	struct rcomp	*comp;

	if ((comp = rtable_find(running, name)) == NULL)
		return (-1);
	if (comp->bound == NULL)
		return (0);
	ops->end(comp->bound, "policy-violation", reason);
	return (1);
}

/*
 * The start tag of a stanza on an authenticated stream: who it claims
 * to be from, where it goes.  Returns the stream error for a stanza that
 * must not be, NULL otherwise.
 */
const char *
router_stanza_start(struct route *r, const struct stanza_head *head,
    const char **reason)
{
	char	dom[GW_NAME_MAX];

	if (head->from == NULL || head->from[0] == '\0') {
		*reason = "stanza without from";
		return ("improper-addressing");
	}
	/*
	 * A component's addresses are its own names.  The server answers
	 * for its users' (IP literals, internationalised domains, whatever
	 * its peers use): a stream error would end the uplink for all.
	 */
	if (r->r_comp == NULL || (!r->r_uplink && (jid_domain(head->from,
	    dom, sizeof(dom)) != 0 || router_lookup(dom) != r->r_comp))) {
		*reason = "from is not one of the stream's names";
		return ("invalid-from");
	}
	r->r_from_alias = !r->r_uplink && strcmp(dom, r->r_comp->conf.name);
	if (head->to == NULL || head->to[0] == '\0') {
		*reason = "stanza without to";
		return ("improper-addressing");
	}
	r->r_bounce = NULL;
	if (jid_domain(head->to, r->r_dest, sizeof(r->r_dest)) == -1) {
		r->r_bounce = "jid-malformed";
		r->r_bounce_type = "modify";
	} else if (r->r_uplink && strcmp(r->r_dest, r->r_comp->conf.name)) {
		/* An uplink carries stanzas for its component only. */
		r->r_bounce = "remote-server-not-found";
		r->r_bounce_type = "cancel";
	}
	return (NULL);
}

/*
 * Queues a stanza of r's for dest: its bytes, with the sender's header
 * declarations after its name if the sender has any.
 */
int
router_stanza_iov(const struct stanza *s, struct iovec iov[3])
{
	size_t	head = 1 + s->name_len;

	if (s->decls_len == 0) {
		iov[0].iov_base = (void *)(uintptr_t)s->raw;
		iov[0].iov_len = s->len;
		return (1);
	}
	iov[0].iov_base = (void *)(uintptr_t)s->raw;
	iov[0].iov_len = head;
	iov[1].iov_base = (void *)(uintptr_t)s->decls;
	iov[1].iov_len = s->decls_len;
	iov[2].iov_base = (void *)(uintptr_t)(s->raw + head);
	iov[2].iov_len = s->len - head;
	return (3);
}

static void
router_deliver(struct route *r, struct route *dest, const struct stanza *s)
{
	struct iovec	iov[3];
	int		n = router_stanza_iov(s, iov);

	conn_queuev(dest->r_conn, conn_id(r->r_conn), iov, n);
}

/* r waits until dest drains below half its limit, or closes. */
static void
router_block(struct route *r, struct route *dest)
{
	const struct gw_global	*g = &running->global;

	r->r_blocked_on = dest;
	TAILQ_INSERT_TAIL(&dest->r_waiters, r, r_wait_entry);
	conn_watch(dest->r_conn, g->max_queue / 2);
	conn_stall_start(dest->r_conn, g->queue_timeout);
}

/* The destination of r's current stanza, or NULL with it bounced. */
static struct route *
router_destination(struct route *r, const struct stanza *s)
{
	struct rcomp	*comp;

	if (r->r_bounce != NULL) {
		router_bounce(r, s->raw, s->len, r->r_bounce, r->r_bounce_type,
		    s->hdr_decls);
		return (NULL);
	}
	/* From the server: to the component, if it is connected. */
	if (r->r_uplink && r->r_comp == NULL)
		return (NULL);
	if (r->r_uplink)
		comp = r->r_comp;
	else
		comp = router_lookup(r->r_dest);
	if (comp != NULL) {
		if (comp->bound == NULL) {
			/* Ours, but not connected: not the default route's. */
			if (!r->r_uplink || !router_hold(r, comp,
			    &comp->held_down, s))
				router_bounce(r, s->raw, s->len,
				    "remote-server-timeout", "wait",
				    s->hdr_decls);
			return (NULL);
		}
		return (comp->bound);
	}
	/* Beyond us: up the sender's uplink, if it has one. */
	if (r->r_comp != NULL && r->r_comp->conf.upstream_id != 0) {
		comp = r->r_comp;
		/*
		 * The server knows the component by its name alone, and ends
		 * the uplink for a stanza from an alias: it is refused here.
		 */
		if (r->r_from_alias) {
			router_bounce(r, s->raw, s->len, "not-allowed",
			    "cancel", s->hdr_decls);
			return (NULL);
		}
		if (comp->uplink == NULL) {
			if (!router_hold(r, comp, &comp->held_up, s))
				router_bounce(r, s->raw, s->len,
				    "remote-server-timeout", "wait",
				    s->hdr_decls);
			return (NULL);
		}
		return (comp->uplink);
	}
	comp = running->default_route;
	if (r->r_dest[0] == '\0' || comp == NULL || comp->bound == NULL) {
		router_bounce(r, s->raw, s->len, "remote-server-not-found",
		    "cancel", s->hdr_decls);
		return (NULL);
	}
	return (comp->bound);
}

/*
 * A whole stanza of r's: to its destination, or back to r as a bounce.
 * When the destination is full the stanza stays with its sender, which
 * waits.
 */
enum stanza_verdict
router_stanza(struct route *r, const struct stanza *s)
{
	const struct gw_global	*g = &running->global;
	struct route		*dest;

	if ((dest = router_destination(r, s)) != NULL) {
		if (conn_queued(dest->r_conn) >= g->max_queue) {
			router_block(r, dest);
			return (STANZA_HOLD);
		}
		router_deliver(r, dest, s);
	}
	r->r_stanzas_in++;
	stats.stanzas_in++;
	/* Bounces pile up for a sender that does not read: it waits too. */
	if (conn_queued(r->r_conn) >= g->max_queue) {
		router_block(r, r);
		return (STANZA_DONE_PAUSE);
	}
	return (STANZA_DONE);
}

/* dest drained below the low mark, or closed: its waiters go on. */
static void
router_unblock_waiters(struct route *dest)
{
	TAILQ_HEAD(, route)	 list;
	struct route		*w;

	conn_stall_stop(dest->r_conn);
	if (TAILQ_EMPTY(&dest->r_waiters))
		return;
	TAILQ_INIT(&list);
	TAILQ_CONCAT(&list, &dest->r_waiters, r_wait_entry);
	while ((w = TAILQ_FIRST(&list)) != NULL) {
		TAILQ_REMOVE(&list, w, r_wait_entry);
		w->r_blocked_on = NULL;
		ops->resume(w);
	}
}

void
router_drained(struct route *dest)
{
	router_unblock_waiters(dest);
}

void
router_bounce_one(uint64_t sender, const char *raw, size_t len, void *arg)
{
	struct route	*dest = arg, *from;

	if (sender == 0 || sender == conn_id(dest->r_conn) ||
	    (from = ops->find(sender)) == NULL)
		return;
	router_bounce(from, raw, len, "remote-server-timeout", "wait", NULL);
}

/* A stream's undelivered stanzas go back to their senders. */
static void
router_bounce_queue(struct route *dest)
{
	conn_take_queue(dest->r_conn, router_bounce_one, dest);
}

/*
 * The stream is closed for good: off the queue it waited on, those that
 * waited on it go on, and what it did not get goes back to the senders.
 */
void
router_release(struct route *r)
{
	router_unbind(r);
	if (r->r_blocked_on != NULL) {
		TAILQ_REMOVE(&r->r_blocked_on->r_waiters, r, r_wait_entry);
		r->r_blocked_on = NULL;
	}
	router_bounce_queue(r);
	router_unblock_waiters(r);
}

/*
 * dest did not read for the queue timeout (why: its queue stayed full,
 * or its peer acknowledged nothing): what it had queued goes back to its
 * senders now, and the stream error goes out if the socket takes it.
 */
void
router_stalled(struct route *dest, const char *why)
{
	stats.stalls++;
	if (dest->r_comp != NULL)
		dest->r_comp->counts.stalls++;
	router_bounce_queue(dest);
	router_end(dest, "resource-constraint", "%s for %u seconds", why,
	    running->global.queue_timeout);
	router_unblock_waiters(dest);
}

/*
 * Sends to r an error stanza for a stanza of its own (raw): addresses
 * swapped, the same id, the original payload, our name in by.  Never
 * for a stream that is not open, nor (bounce_build) for an error, an iq
 * result or unavailable presence.  decls are declarations the bytes may
 * rely on (the sender's header).
 */
void
router_bounce(struct route *r, const char *raw, size_t len,
    const char *condition, const char *etype, const char *decls)
{
	struct bounce	b;
	int		ret;

	if (r->r_comp == NULL)
		return;
	if ((ret = bounce_build(&b, raw, len, decls, condition, etype,
	    running->global.name)) == -1) {
		log_warnx("connection %llu: cannot bounce a stanza",
		    (unsigned long long)conn_id(r->r_conn));
		return;
	}
	if (ret == 0)
		return;
	conn_write(r->r_conn, b.out, b.outlen);
	free(b.out);
	r->r_bounces++;
	stats.bounces++;
	if (strcmp(condition, "jid-malformed") == 0)
		stats.bounce_malformed++;
	else if (strcmp(condition, "remote-server-not-found") == 0)
		stats.bounce_not_found++;
	else
		stats.bounce_timeout++;
	log_debug("connection %llu: bounced a %s: %s",
	    (unsigned long long)conn_id(r->r_conn), b.name, condition);
}
