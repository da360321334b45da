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
 * The grace of the components with an upstream: while a component or
 * its uplink is away, what the other side sends is held in order, for
 * the upstream's grace and within its size, and delivered first when it
 * is back (router_opened); past either, it is answered (router_tick).
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/uio.h>

#include <stdint.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "hold.h"
#include "log.h"
#include "outq.h"
#include "router_local.h"
#include "util.h"

struct hold_back {
	struct rcomp	*comp;
	struct route	*r;
	struct hold	*hold;
	uint64_t	 from;		/* whose stanzas are held */
};

/* A stanza of a queue, into another (arg). */
static void
router_take_one(uint64_t sender, const char *raw, size_t len, void *arg)
{
	struct iovec	iov;

	iov.iov_base = (void *)(uintptr_t)raw;
	iov.iov_len = len;
	outq_appendv(arg, sender, &iov, 1);
}

/*
 * A stanza that was queued for the stream going away: the other side's
 * is held for the next stream (or, over the bound, bounced); the rest
 * stays queued as it was.
 */
static void
router_hold_back_one(uint64_t sender, const char *raw, size_t len,
    void *arg)
{
	struct hold_back	*hb = arg;
	struct iovec		 iov;

	iov.iov_base = (void *)(uintptr_t)raw;
	iov.iov_len = len;
	if (sender == 0 || sender != hb->from)
		conn_queuev(hb->r->r_conn, sender, &iov, 1);
	else if (hold_add(hb->hold, sender, &iov, 1, hb->comp->grace,
	    hb->comp->grace_size, monotime()) == -1)
		router_bounce_one(sender, raw, len, hb->r);
}

/*
 * The component's stream, or its uplink, goes away: the grace starts,
 * and what the other side had queued for it that was not yet written
 * is held for its next stream.
 */
void
router_hold_back(struct rcomp *comp, struct route *r, struct route *other,
    struct hold *hold)
{
	struct hold_back	hb;
	struct outq		all;

	hold_start(hold, monotime());
	if (other == NULL || comp->grace == 0)
		return;
	hb.comp = comp;
	hb.r = r;
	hb.hold = hold;
	hb.from = conn_id(other->r_conn);
	/* Taken out first: what stays is queued again behind. */
	memset(&all, 0, sizeof(all));
	conn_take_queue(r->r_conn, router_take_one, &all);
	outq_take(&all, 0, router_hold_back_one, &hb);
	outq_free(&all);
}

static void
router_bounce_held(uint64_t sender, const char *raw, size_t len, void *arg)
{
	struct route	*to = arg;

	(void)sender;
	if (to != NULL)
		router_bounce(to, raw, len, "remote-server-timeout", "wait",
		    NULL);
}

/*
 * Bounces what hold has: the grace is over.  Each goes back to to, the
 * stream that stands for its senders' side now (their own may have been
 * replaced since); with none, they are lost.
 */
void
router_hold_over(struct hold *hold, struct route *to)
{
	hold_take(hold, router_bounce_held, to);
	hold->h_over = 1;
}

/*
 * r's stanza s for comp, away: held while its grace lasts and the bound
 * allows.  Returns 0 when it is not (the caller bounces it); over the
 * bound, what was held is bounced too.
 */
int
router_hold(struct route *r, struct rcomp *comp, struct hold *hold,
    const struct stanza *s)
{
	struct iovec	iov[3];
	size_t		held;
	int		n = router_stanza_iov(s, iov), over = hold->h_over;

	if (comp->grace == 0)
		return (0);
	held = hold_bytes(hold);
	if (hold_add(hold, conn_id(r->r_conn), iov, n, comp->grace,
	    comp->grace_size, monotime()) == 0) {
		if (held == 0)
			log_info("%s: %s away, holding stanzas for up to %u "
			    "seconds", comp->conf.name, r->r_uplink ?
			    "component" : "uplink", comp->grace);
		return (1);
	}
	if (!over) {
		log_warnx("%s: %s, held stanzas bounced", comp->conf.name,
		    hold_bytes(hold) + s->len > comp->grace_size ?
		    "grace size reached" : "grace over");
		router_hold_over(hold, r);
	}
	return (0);
}

/*
 * The stream r has just opened (a component authenticated, or its
 * uplink): what was held for it goes first, in order, from its senders.
 */
static void
router_deliver_held(uint64_t sender, const char *raw, size_t len, void *arg)
{
	struct route	*r = arg;
	struct iovec	 iov;

	iov.iov_base = (void *)(uintptr_t)raw;
	iov.iov_len = len;
	conn_queuev(r->r_conn, sender, &iov, 1);
}

void
router_opened(struct route *r)
{
	struct rcomp	*comp = r->r_comp;
	struct hold	*hold;

	if (comp == NULL || comp->conf.upstream_id == 0)
		return;
	hold = r->r_uplink ? &comp->held_up : &comp->held_down;
	if (hold_bytes(hold) > 0)
		log_info("%s: %zu bytes held delivered to %s", comp->conf.name,
		    hold_bytes(hold), r->r_uplink ? "the uplink" :
		    "the component");
	hold_take(hold, router_deliver_held, r);
	hold_end(hold);
}

/* Every second: the grace of those away for too long is over. */
void
router_tick(void)
{
	struct rcomp	*comp;
	time_t		 now = monotime();

	TAILQ_FOREACH(comp, router_comps(), entry) {
		if (comp->conf.upstream_id == 0)
			continue;
		if (hold_due(&comp->held_down, comp->grace, now)) {
			log_warnx("%s: not back within %u seconds, held "
			    "stanzas bounced", comp->conf.name, comp->grace);
			router_hold_over(&comp->held_down, comp->uplink);
		}
		if (hold_due(&comp->held_up, comp->grace, now)) {
			log_warnx("%s: uplink not back within %u seconds, held "
			    "stanzas bounced", comp->conf.name, comp->grace);
			router_hold_over(&comp->held_up, comp->bound);
		}
	}
}

/* What is held for the component name: -1 if there is none such. */
int
router_held(const char *name, struct router_held *h)
{
	struct rcomp	*comp;

	memset(h, 0, sizeof(*h));
	if ((comp = router_comp(name)) == NULL)
		return (-1);
	h->down_stanzas = hold_stanzas(&comp->held_down);
	h->down_bytes = hold_bytes(&comp->held_down);
	h->up_stanzas = hold_stanzas(&comp->held_up);
	h->up_bytes = hold_bytes(&comp->held_up);
	return (0);
}
