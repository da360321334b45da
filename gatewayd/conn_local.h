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
 * The connection layer's own: struct conn and what its two files share,
 * conn.c (sockets, queues, timers, close and reap) and conn_admit.c (who
 * gets in: the limits, the unauthenticated slots per source, shedding).
 * Nothing else includes it.
 */

#ifndef CONN_LOCAL_H
#define CONN_LOCAL_H

#include <sys/queue.h>
#include <sys/tree.h>

#include <event.h>

#include "conn.h"
#include "inbuf.h"
#include "outq.h"

TAILQ_HEAD(conn_list, conn);

/* Unauthenticated connections per source, oldest first. */
struct addr_count {
	RB_ENTRY(addr_count)	 entry;
	uint8_t			 addr[16];
	uint32_t		 count;
	struct conn_list	 conns;
};

struct conn {
	RB_ENTRY(conn)		 c_entry;
	TAILQ_ENTRY(conn)	 c_dirty_entry;	/* output to flush */
	TAILQ_ENTRY(conn)	 c_dead_entry;
	TAILQ_ENTRY(conn)	 c_unauth_entry;	/* oldest first */
	TAILQ_ENTRY(conn)	 c_source_entry;	/* the same, per source */
	TAILQ_ENTRY(conn)	 c_closing_entry;
	uint64_t		 c_id;
	int			 c_fd;
	void			*c_arg;
	struct event		 c_ev_read;
	struct event		 c_ev_write;
	struct event		 c_ev_timer;	/* handshake, close grace */
	struct event		 c_ev_stall;
	struct event		 c_ev_quiet;	/* the end of a rest */
	unsigned int		 c_reading:1, c_writing:1, c_dirty:1,
				 c_want_read:1, c_closing:1, c_shut_wr:1,
				 c_eof:1, c_dead:1, c_stalled:1, c_watching:1,
				 c_protected:1, c_in_closing:1, c_resting:1,
				 c_ack_timing:1;
	struct inbuf		 c_in;
	struct outq		 c_out;
	size_t			 c_watch_mark;
	struct addr_count	*c_unauth;	/* counted while set */
	struct sockaddr_storage	 c_peer;
	char			 c_peername[64]; /* numeric, with a scope */
	time_t			 c_last_in;
	time_t			 c_last_out;
	uint64_t		 c_written;	/* all bytes, ours too */
	uint64_t		 c_acked;	/* of those, at the last look */
	time_t			 c_ack_since;	/* no progress since */
	struct conn_stats	 c_stats;
};


/* conn.c */
uint32_t	 conn_max(void);
const struct conn_limits *conn_get_limits(void);
struct conn	*conn_first_closing(void);
void		 conn_flush(struct conn *);
void		 conn_reap(void);

/* conn_admit.c */
void		 conn_admit_init(const struct conn_events *);
int		 conn_admit(const struct sockaddr_storage *,
		    struct addr_count **);
void		 conn_admit_refuse(int, const char *, enum conn_refusal);
void		 conn_unauth_add(struct conn *, struct addr_count *);
void		 conn_unauth_release(struct conn *);
void		 addr_count_drop(struct addr_count *);

#endif /* CONN_LOCAL_H */
