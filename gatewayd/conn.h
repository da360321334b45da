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
 * The connection layer: sockets, the connection limits, the input kept
 * of an unfinished stanza, the output queue with a record of who sent
 * each stanza in it, batched writes, timers, close and reap.  It knows
 * nothing of XML; it tells the layer above what happens through struct
 * conn_events, each call with that layer's own pointer (conn_arg).
 *
 * When the connections or the unauthenticated slots are full, a newcomer
 * is not refused while an older connection can make room: one that is
 * closing already, else the oldest unauthenticated one (of the same
 * source, for the per-source limit) that waits for nobody but its peer
 * (conn_set_protected marks those waiting for gatewayd).
 *
 * Connections are found by id.  Ids are 64 bits, start at 1 and never
 * repeat while the process runs; 0 stands for gatewayd itself in the
 * sender records.
 */

#ifndef CONN_H
#define CONN_H

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <stdint.h>
#include <time.h>

struct conn;

enum conn_refusal {
	CONN_REFUSE_FULL,	/* max connections, or the descriptor table */
	CONN_REFUSE_UNAUTH,	/* max unauthenticated connections */
	CONN_REFUSE_PER_ADDR,	/* max unauthenticated from one address */
	CONN_REFUSE_NOMEM
};

struct conn_limits {
	uint32_t	 max_conns;
	uint32_t	 max_unauth;
	uint32_t	 max_unauth_per_addr;
	uint32_t	 max_preauth;	/* bytes read before authentication */
	uint32_t	 handshake_timeout;	/* seconds */
};

struct conn_events {
	/* A new connection: the pointer its events carry, NULL to refuse. */
	void		*(*accepted)(struct conn *);
	/* Refused before it began: the reply to write to fd, of len bytes. */
	size_t		 (*refused)(char *, size_t, const char *,
			    enum conn_refusal);
	/*
	 * Input: data holds the stream's bytes from offset base on.  Returns
	 * the offset from which the layer above still needs them: the
	 * connection keeps those, and hands them over again, followed by
	 * what comes next, on the next read or conn_replay.
	 */
	uint64_t	 (*input)(void *, const char *, uint64_t, size_t);
	void		 (*eof)(void *);	/* the peer closed its side */
	void		 (*timeout)(void *);	/* handshake timeout */
	void		 (*stalled)(void *);	/* conn_stall_start ran out */
	void		 (*drained)(void *);	/* down to conn_watch's mark */
	void		 (*closed)(void *);	/* its queue still holds */
	void		 (*freed)(void *);	/* nobody holds it any more */
	void		 (*all_closed)(void);	/* the last one is freed */
	/* Shed to make room: end it now (the slot is freed meanwhile). */
	void		 (*shed)(void *);
	/* After conn_rest: no input came meanwhile. */
	void		 (*quiet)(void *);
};

/* What a connection did, for the log and the counters. */
struct conn_stats {
	uint64_t	 bytes_in;
	uint64_t	 bytes_out;	/* of stanzas queued, not ours */
	uint64_t	 stanzas_out;
	uint64_t	 bytes_unacked;	/* written, never acknowledged */
};

void		 conn_init(const struct conn_events *);
void		 conn_set_limits(const struct conn_limits *);
void		 conn_set_fd_limit(uint32_t, uint32_t);
void		 conn_new(int, const struct sockaddr_storage *, socklen_t);
struct conn	*conn_connected(int, const struct sockaddr_storage *,
		    void *);
int		 conn_make_room(void);

struct conn	*conn_find(uint64_t);
struct conn	*conn_first(void);
struct conn	*conn_next(struct conn *);
uint32_t	 conn_count(void);
uint32_t	 conn_unauth_count(void);
const struct conn_stats *conn_totals(void);

uint64_t	 conn_id(const struct conn *);
void		*conn_arg(const struct conn *);
const char	*conn_peername(const struct conn *);
const struct sockaddr_storage *conn_peer(const struct conn *);
const struct conn_stats *conn_stats(const struct conn *);
time_t		 conn_idle_in(const struct conn *);
time_t		 conn_idle_out(const struct conn *);
size_t		 conn_kept(const struct conn *);

void		 conn_authenticated(struct conn *);
void		 conn_set_protected(struct conn *, int);
void		 conn_set_reading(struct conn *, int);
void		 conn_rest(struct conn *, int);
void		 conn_replay(struct conn *);

void		 conn_write(struct conn *, const char *, size_t);
void		 conn_queuev(struct conn *, uint64_t, const struct iovec *,
		    int);
size_t		 conn_queued(const struct conn *);
void		 conn_take_queue(struct conn *, void (*)(uint64_t,
		    const char *, size_t, void *), void *);
void		 conn_watch(struct conn *, size_t);
void		 conn_stall_start(struct conn *, unsigned int);
void		 conn_stall_stop(struct conn *);
time_t		 conn_unacked_for(struct conn *);

void		 conn_close_after_flush(struct conn *, unsigned int);
void		 conn_close(struct conn *);
void		 conn_flush_all(void);

#endif /* CONN_H */
