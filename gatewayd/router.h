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
 * The router: the components and their names, which stream holds which
 * name, what a stanza may say of itself, where it goes, backpressure and
 * bounces.  It acts on connections only through the connection layer
 * (queue these bytes, how much is queued, watch that queue), and on
 * streams only through struct router_ops.
 */

#ifndef ROUTER_H
#define ROUTER_H

#include <sys/queue.h>

#include <stdint.h>

#include "msg.h"
#include "stanza.h"

struct conn;
struct rcomp;

/* A stream as the router sees it; the caller embeds one per stream. */
struct route {
	struct conn		*r_conn;
	void			*r_arg;		/* the caller's */
	struct rcomp		*r_comp;	/* bound: the stream is open */
	int			 r_uplink;	/* r_comp's stream to its server */
	int			 r_from_alias;	/* the current stanza's */
	struct route		*r_blocked_on;	/* the full destination */
	TAILQ_ENTRY(route)	 r_wait_entry;
	TAILQ_HEAD(, route)	 r_waiters;	/* blocked on this one */
	const char		*r_bounce;	/* the current stanza's */
	const char		*r_bounce_type;
	char			 r_dest[GW_NAME_MAX];
	uint64_t		 r_stanzas_in;
	uint64_t		 r_bounces;
};

struct router_ops {
	/* Blocked no more: the stream goes on with its held stanza. */
	void		 (*resume)(struct route *);
	/* The route of a connection id, NULL if it is gone. */
	struct route	*(*find)(uint64_t);
	/* The stream must end with this stream error. */
	void		 (*end)(struct route *, const char *, const char *);
};

struct router_stats {
	uint64_t	 stanzas_in;		/* routed or bounced */
	uint64_t	 bounces;
	uint64_t	 bounce_malformed;	/* jid-malformed */
	uint64_t	 bounce_not_found;	/* remote-server-not-found */
	uint64_t	 bounce_timeout;	/* remote-server-timeout */
	uint64_t	 takeovers;
	uint64_t	 stalls;		/* ended for not reading */
};

/* What the streams of one component did, since the engine started. */
struct router_counts {
	uint64_t	 stanzas_in;
	uint64_t	 stanzas_out;
	uint64_t	 bytes_in;
	uint64_t	 bytes_out;
	uint64_t	 stalls;
	uint64_t	 takeovers;
	uint64_t	 bounces;	/* sent to it */
	uint64_t	 streams;	/* authenticated */
	time_t		 since;		/* time(3) of the last one */
};

/* What is held for a component with an upstream, each way. */
struct router_held {
	size_t		 down_stanzas;	/* from the server, for it */
	size_t		 down_bytes;
	size_t		 up_stanzas;	/* from it, for the server */
	size_t		 up_bytes;
};

/* A configured component, as router_walk shows it. */
struct router_comp_view {
	const char			*name;
	const struct gw_alias_conf	*aliases;
	size_t				 naliases;
	const struct route		*bound;		/* NULL: not connected */
	struct router_counts		 counts;	/* the bound one's too */
};

void		 router_init(const struct router_ops *);
void		 router_stage_begin(void);
void		 router_stage_component(const struct gw_component_conf *);
void		 router_stage_alias(const struct gw_alias_conf *);
void		 router_stage_upstream(const struct gw_upstream_conf *);
void		 router_stage_commit(const struct gw_global *);
int		 router_known(const char *);
const struct router_stats *router_stats(void);
size_t		 router_walk(const char *, void (*)(const struct
		    router_comp_view *, void *), void *);
size_t		 router_count(size_t *);
int		 router_kick(const char *, const char *);
int		 router_held(const char *, struct router_held *);

void		 router_route_init(struct route *, struct conn *, void *);
int		 router_bind(struct route *, const char *);
int		 router_uplink_bind(struct route *, const char *);
void		 router_unbind(struct route *);
void		 router_opened(struct route *);
void		 router_tick(void);
void		 router_release(struct route *);
uint32_t	 router_max_stanza(const struct route *);
int		 router_blocked(const struct route *);

const char	*router_stanza_start(struct route *,
		    const struct stanza_head *, const char **);
enum stanza_verdict router_stanza(struct route *, const struct stanza *);
void		 router_drained(struct route *);
void		 router_stalled(struct route *, const char *);
void		 router_bounce(struct route *, const char *, size_t,
		    const char *, const char *, const char *);

#endif /* ROUTER_H */
