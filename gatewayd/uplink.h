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
 * The uplinks: for each component with an upstream, the stream gatewayd
 * keeps to that XMPP server on the component's behalf, whether or not
 * the component is connected.  This file keeps each one's state and
 * decides when to connect (at once, then with backoff); the engine does
 * the rest through struct uplink_ops: it asks the parent for sockets and
 * runs the streams.
 */

#ifndef UPLINK_H
#define UPLINK_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stdint.h>
#include <time.h>

#include "msg.h"

#define UPLINK_BACKOFF_MIN	1	/* seconds before the first retry */
#define UPLINK_BACKOFF_MAX	60
#define UPLINK_STABLE		60	/* up this long: backoff starts over */

struct uplink;

enum uplink_state {
	UPLINK_WAITING,		/* for its next try */
	UPLINK_CONNECTING,	/* the parent connects */
	UPLINK_SETUP,		/* stream header and handshake */
	UPLINK_UP
};

struct uplink_ops {
	/* Ask the parent for a socket: IMSG_UPLINK_CONNECT. */
	void	(*connect)(const struct gw_uplink_req *);
	/* A socket for the uplink: its stream starts (NULL: it did not). */
	void	*(*open)(struct uplink *, int, const struct sockaddr_storage *);
	/* End the uplink's stream (removed, or changed by a reload). */
	void	(*close)(void *, const char *);
};

/* An uplink as uplink_walk shows it. */
struct uplink_view {
	const char		*domain;
	const char		*upstream;
	enum uplink_state	 state;
	time_t			 since;		/* time(3) */
	uint64_t		 reconnects;
	const char		*last_error;	/* "" for none */
};

void		 uplink_init(const struct uplink_ops *);
void		 uplink_stage_begin(void);
void		 uplink_stage_upstream(const struct gw_upstream_conf *);
void		 uplink_stage_component(const struct gw_component_conf *);
void		 uplink_stage_commit(void);
void		 uplink_shutdown(void);

void		 uplink_socket(const struct gw_uplink_conn *, int);
void		 uplink_failed(const struct gw_uplink_conn *);
void		 uplink_up(struct uplink *);
void		 uplink_note(struct uplink *, const char *);
void		 uplink_down(struct uplink *);
const char	*uplink_domain(const struct uplink *);
size_t		 uplink_walk(void (*)(const struct uplink_view *, void *),
		    void *);

#endif /* UPLINK_H */
