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
 * The router's own: its components and names, and what its two files
 * share, router.c (names, binding, checks, destinations, bounces) and
 * router_grace.c (what is held while a component or its uplink is
 * away).  Nothing else includes it.
 */

#ifndef ROUTER_LOCAL_H
#define ROUTER_LOCAL_H

#include <sys/queue.h>
#include <sys/tree.h>
#include <sys/uio.h>

#include "hold.h"
#include "router.h"

/* A configured component, and what routing remembers of it. */
struct rcomp {
	TAILQ_ENTRY(rcomp)	 entry;
	struct gw_component_conf conf;
	struct gw_alias_conf	*aliases;
	size_t			 naliases;
	/* Runtime state, carried over to the same name on a reload. */
	struct route		*bound;
	struct route		*uplink;	/* open, to its server */
	/* With an upstream: held while the component or uplink is away. */
	struct hold		 held_down;	/* from the server */
	struct hold		 held_up;	/* for the server */
	uint32_t		 grace;
	uint32_t		 grace_size;
	time_t			 flap_start;
	uint32_t		 flap_count;
	time_t			 flap_holddown;
	struct router_counts	 counts;	/* of the streams unbound */
};
TAILQ_HEAD(rcomps, rcomp);

/* A name a stream may bind: a component's own, or one of its aliases. */
struct rname {
	RB_ENTRY(rname)		 entry;
	const char		*name;
	struct rcomp		*comp;
};
RB_HEAD(rnames, rname);

struct rtable {
	struct gw_global	 global;
	struct rcomps		 comps;
	struct rnames		 names;
	struct rname		*namebuf;
	struct rcomp		*default_route;
	struct gw_upstream_conf	*ups;
	size_t			 nups;
};

/* router.c */
struct rcomp	*router_comp(const char *);
struct rcomps	*router_comps(void);
int		 router_stanza_iov(const struct stanza *, struct iovec [3]);
void		 router_bounce_one(uint64_t, const char *, size_t, void *);

/* router_grace.c */
void		 router_hold_back(struct rcomp *, struct route *,
		    struct route *, struct hold *);
int		 router_hold(struct route *, struct rcomp *, struct hold *,
		    const struct stanza *);
void		 router_hold_over(struct hold *, struct route *);

#endif /* ROUTER_LOCAL_H */
