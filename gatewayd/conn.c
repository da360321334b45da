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
 * Connections: sockets, kept input, output queues, timers, close and
 * reap; nothing here knows what the bytes mean.  Input is read into one
 * shared buffer, unless the connection keeps bytes already (an
 * unfinished stanza, or what a paused stream has not parsed): then
 * behind those, in its own buffer, so that what the layer above needs
 * is contiguous.  The shared buffer is valid only during the input event
 * it is handed to: what is still needed is copied out (conn_keep) before
 * the event returns, and reads never nest (shared_busy checks it).
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/queue.h>
#include <sys/tree.h>
#include <sys/uio.h>

#include <errno.h>
#include <event.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "compat.h"
#include "conn_local.h"
#include "log.h"
#include "logsum.h"
#include "sandbox.h"
#include "util.h"

#define CONN_READ_SIZE	32768	/* also what a paused sender holds */

RB_HEAD(conn_tree, conn);

static const struct conn_events	*events;
static struct conn_limits	 limits;
static struct conn_tree		 conns = RB_INITIALIZER(&conns);
static struct conn_list		 dirty = TAILQ_HEAD_INITIALIZER(dirty);
static struct conn_list		 closing = TAILQ_HEAD_INITIALIZER(closing);
static struct conn_list		 dead = TAILQ_HEAD_INITIALIZER(dead);
static struct conn_stats	 totals;
static uint64_t			 next_id = 1;
static uint32_t			 nconns;
static uint32_t			 fd_limit = 1024, fd_reserved = 16;
static char			*shared;
static int			 shared_busy;

static int
conn_cmp(struct conn *a, struct conn *b)
{
	return (a->c_id < b->c_id ? -1 : a->c_id > b->c_id);
}
RB_GENERATE_STATIC(conn_tree, conn, c_entry, conn_cmp)

static void	conn_read(int, short, void *);
static int	conn_read_once(struct conn *);
static void	conn_writable(int, short, void *);
static void	conn_timer(int, short, void *);
static void	conn_stall(int, short, void *);
static void	conn_quiet(int, short, void *);
static void	conn_sync(struct conn *);
static void	conn_start(struct conn *);
static void	conn_mark_dirty(struct conn *);
static void	conn_want_write(struct conn *, int);

void
conn_init(const struct conn_events *ev)
{
	events = ev;
	conn_admit_init(ev);
	if (shared == NULL && (shared = malloc(CONN_READ_SIZE)) == NULL)
		fatal("%s", __func__);
}

void
conn_set_limits(const struct conn_limits *l)
{
	limits = *l;
}

const struct conn_limits *
conn_get_limits(void)
{
	return (&limits);
}

/* The descriptor table's size, and how much of it is not ours to use. */
void
conn_set_fd_limit(uint32_t limit, uint32_t reserved)
{
	fd_limit = limit;
	fd_reserved = reserved;
}

/* The limit on connections, whatever the configuration: the fd table. */
uint32_t
conn_max(void)
{
	uint32_t	max = limits.max_conns;

	if (fd_limit <= fd_reserved)
		return (0);
	if (fd_limit - fd_reserved < max)
		max = fd_limit - fd_reserved;
	return (max);
}

struct conn *
conn_find(uint64_t id)
{
	struct conn	key;

	key.c_id = id;
	return (RB_FIND(conn_tree, &conns, &key));
}

struct conn *
conn_first(void)
{
	return (RB_MIN(conn_tree, &conns));
}

struct conn *
conn_first_closing(void)
{
	return (TAILQ_FIRST(&closing));
}

struct conn *
conn_next(struct conn *c)
{
	return (RB_NEXT(conn_tree, &conns, c));
}

uint32_t
conn_count(void)
{
	return (nconns);
}

/* Of every connection so far; bytes unacknowledged of those closed. */
const struct conn_stats *
conn_totals(void)
{
	return (&totals);
}

uint64_t
conn_id(const struct conn *c)
{
	return (c->c_id);
}

void *
conn_arg(const struct conn *c)
{
	return (c->c_arg);
}

const char *
conn_peername(const struct conn *c)
{
	return (c->c_peername);
}

const struct sockaddr_storage *
conn_peer(const struct conn *c)
{
	return (&c->c_peer);
}

const struct conn_stats *
conn_stats(const struct conn *c)
{
	return (&c->c_stats);
}

time_t
conn_idle_in(const struct conn *c)
{
	return (monotime() - c->c_last_in);
}

time_t
conn_idle_out(const struct conn *c)
{
	return (monotime() - c->c_last_out);
}

size_t
conn_kept(const struct conn *c)
{
	return (c->c_in.len);
}

/*
 * A connection for socket s, with the layer above's part of it: arg, or
 * what its accepted event makes.
 */
static struct conn *
conn_alloc(int s, const struct sockaddr_storage *ss, const char *host,
    void *arg)
{
	struct conn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return (NULL);
	c->c_id = next_id;
	c->c_fd = s;
	c->c_peer = *ss;
	strlcpy(c->c_peername, host, sizeof(c->c_peername));
	if ((c->c_arg = arg) == NULL && (c->c_arg = events->accepted(c)) ==
	    NULL) {
		free(c);
		return (NULL);
	}
	return (c);
}

/*
 * A socket just accepted: a connection, unless a limit says no.  Then it
 * gets its reply at once and is closed, and nobody else notices.
 */
void
conn_new(int s, const struct sockaddr_storage *ss, socklen_t sslen)
{
	struct addr_count	*ac;
	struct conn		*c = NULL;
	char			 host[NI_MAXHOST];
	int			 why;

	if (getnameinfo((const struct sockaddr *)ss, sslen, host,
	    sizeof(host), NULL, 0, NI_NUMERICHOST) != 0)
		strlcpy(host, "?", sizeof(host));
	if ((why = conn_admit(ss, &ac)) == -1 &&
	    (c = conn_alloc(s, ss, host, NULL)) == NULL)
		why = CONN_REFUSE_NOMEM;
	if (why != -1) {
		conn_admit_refuse(s, host, why);
		if (ac != NULL)
			addr_count_drop(ac);
		return;
	}
	conn_unauth_add(c, ac);
	conn_start(c);
	if (logsum_allow(host, "connections"))
		log_info("connection %llu from %s",
		    (unsigned long long)c->c_id, host);
}

/*
 * A socket the parent connected for us (an uplink to a server), for the
 * layer above's arg: not one of the peers the limits are for, never
 * shed, and the server has the handshake timeout to answer.  NULL (the
 * socket closed) without memory.
 */
struct conn *
conn_connected(int s, const struct sockaddr_storage *ss, void *arg)
{
	struct conn	*c;
	char		 host[NI_MAXHOST + 16];

	if ((c = conn_alloc(s, ss, sockaddr_print(ss, host, sizeof(host)),
	    arg)) == NULL) {
		close(s);
		return (NULL);
	}
	c->c_protected = 1;
	conn_start(c);
	return (c);
}

/* A connection begins: it is counted, found by id, and reads. */
static void
conn_start(struct conn *c)
{
	struct timeval	tv = { limits.handshake_timeout, 0 };

	next_id++;
	nconns++;
	if (RB_INSERT(conn_tree, &conns, c) != NULL)
		fatalx("connection id %llu twice", (unsigned long long)c->c_id);
	event_set(&c->c_ev_read, c->c_fd, EV_READ | EV_PERSIST, conn_read, c);
	event_set(&c->c_ev_write, c->c_fd, EV_WRITE | EV_PERSIST,
	    conn_writable, c);
	evtimer_set(&c->c_ev_timer, conn_timer, c);
	evtimer_set(&c->c_ev_stall, conn_stall, c);
	evtimer_set(&c->c_ev_quiet, conn_quiet, c);
	evtimer_add(&c->c_ev_timer, &tv);
	c->c_want_read = 1;
	conn_sync(c);
}

/* The connection proved itself: it leaves the unauthenticated count. */
void
conn_authenticated(struct conn *c)
{
	conn_unauth_release(c);
	evtimer_del(&c->c_ev_timer);
	c->c_last_out = monotime();
}

/*
 * Read while the layer above wants input; once closing, read (and drop)
 * only to see the peer close.
 */
static void
conn_sync(struct conn *c)
{
	int	want = !c->c_dead && !c->c_eof && !c->c_resting &&
		    (c->c_want_read || c->c_closing);

	if (want && !c->c_reading)
		event_add(&c->c_ev_read, NULL);
	else if (!want && c->c_reading)
		event_del(&c->c_ev_read);
	c->c_reading = want;
}

void
conn_set_reading(struct conn *c, int on)
{
	c->c_want_read = on != 0;
	conn_sync(c);
}

/*
 * Nothing is read for ms milliseconds (0: no more rest), so that a peer
 * sending a byte at a time is read in larger pieces; then one read, and
 * if nothing came, the layer above hears that the peer paused (quiet).
 */
void
conn_rest(struct conn *c, int ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	if (c->c_resting)
		evtimer_del(&c->c_ev_quiet);
	c->c_resting = ms > 0 && !c->c_dead;
	if (c->c_resting)
		evtimer_add(&c->c_ev_quiet, &tv);
	conn_sync(c);
}

static void
conn_quiet(int fd, short event, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)event;
	c->c_resting = 0;
	if (!c->c_dead && !c->c_eof && c->c_want_read &&
	    conn_read_once(c) == 0)
		events->quiet(c->c_arg);
	if (!c->c_dead)
		conn_sync(c);
	conn_flush_all();
}

/*
 * After the layer above has had a view of the input: keep from offset
 * keep on, in the connection's own buffer; nothing otherwise.
 */
static void
conn_keep(struct conn *c, const char *view, uint64_t base, size_t len,
    uint64_t keep)
{
	if (inbuf_keep(&c->c_in, view, base, len, keep) == -1)
		fatalx("%s: connection %llu lost input", __func__,
		    (unsigned long long)c->c_id);
}

/* The peer closed: the layer above answers, what is queued goes out. */
static void
conn_eof(struct conn *c)
{
	c->c_eof = 1;
	events->eof(c->c_arg);
	if (!c->c_dead && conn_queued(c) == 0)
		conn_close(c);
	conn_sync(c);
}

static void
conn_input(struct conn *c, char *buf, size_t n)
{
	const char	*view;
	uint64_t	 base, keep;
	size_t		 len;

	if (buf == shared) {
		view = shared;
		base = c->c_stats.bytes_in - n;
		len = n;
		shared_busy = 1;
	} else {
		inbuf_grew(&c->c_in, n);
		view = c->c_in.buf;
		base = c->c_in.base;
		len = c->c_in.len;
	}
	keep = events->input(c->c_arg, view, base, len);
	if (!c->c_dead)
		conn_keep(c, view, base, len, keep);
	shared_busy = 0;
}

/* One read: 1 for input, 0 when there was none to read, -1 if closed. */
static int
conn_read_once(struct conn *c)
{
	size_t		 want = CONN_READ_SIZE;
	uint64_t	 done = c->c_stats.bytes_in;
	char		*buf;
	ssize_t		 n;

	if (shared_busy)
		fatalx("%s: reads nested", __func__);
	/*
	 * Before authentication no more than the limit and a byte are ever
	 * handed up: enough for the layer above to see it is over.
	 */
	if (c->c_unauth != NULL && done <= limits.max_preauth &&
	    limits.max_preauth - done + 1 < want)
		want = limits.max_preauth - done + 1;
	buf = c->c_in.len > 0 ? inbuf_reserve(&c->c_in, want) : shared;
	if ((n = read(c->c_fd, buf, want)) == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return (0);
		log_debug("connection %llu from %s: read: %s",
		    (unsigned long long)c->c_id, c->c_peername,
		    strerror(errno));
		conn_close(c);
		return (-1);
	}
	if (n == 0) {
		conn_eof(c);
		return (-1);
	}
	c->c_stats.bytes_in += n;
	totals.bytes_in += n;
	/* Once closing or over the limit, read only to see the end. */
	if (!c->c_closing && (c->c_unauth == NULL ||
	    done <= limits.max_preauth)) {
		c->c_last_in = monotime();
		conn_input(c, buf, n);
	}
	conn_sync(c);
	return (1);
}

static void
conn_read(int fd, short event, void *arg)
{
	(void)fd;
	(void)event;
	conn_read_once(arg);
	conn_flush_all();
}

/* The kept input, to the layer above again: it can go on now. */
void
conn_replay(struct conn *c)
{
	struct inbuf	*in = &c->c_in;
	uint64_t	 keep;

	if (c->c_dead || c->c_closing)
		return;
	keep = events->input(c->c_arg, in->buf, in->base, in->len);
	if (!c->c_dead)
		conn_keep(c, in->buf, in->base, in->len, keep);
	conn_sync(c);
}

size_t
conn_queued(const struct conn *c)
{
	return (outq_queued(&c->c_out));
}

/*
 * One stanza of sender's (0: our own bytes), given in pieces, queued for
 * the next flush.
 */
void
conn_queuev(struct conn *c, uint64_t sender, const struct iovec *iov,
    int iovcnt)
{
	size_t	len;

	if (c->c_dead)
		return;
	len = outq_appendv(&c->c_out, sender, iov, iovcnt);
	conn_mark_dirty(c);
	if (sender != 0) {
		c->c_stats.stanzas_out++;
		c->c_stats.bytes_out += len;
		totals.stanzas_out++;
		totals.bytes_out += len;
	}
}

/* Bytes of gatewayd's own: headers, errors, keepalives, bounces. */
void
conn_write(struct conn *c, const char *data, size_t len)
{
	struct iovec	iov;

	iov.iov_base = (void *)(uintptr_t)data;
	iov.iov_len = len;
	conn_queuev(c, 0, &iov, 1);
}

/*
 * What is still queued, stanza by stanza with its sender, to fn; then
 * the queue is empty.  A stanza partly written stays, so that whatever
 * follows it (a stream error) starts at a stanza's boundary; once the
 * connection is closed it cannot be finished and is handed over whole.
 */
void
conn_take_queue(struct conn *c, void (*fn)(uint64_t, const char *, size_t,
    void *), void *arg)
{
	outq_take(&c->c_out, !c->c_dead, fn, arg);
	if (conn_queued(c) == 0)
		conn_want_write(c, 0);
}

/* The drained event comes once the queue is down to mark or less. */
void
conn_watch(struct conn *c, size_t mark)
{
	c->c_watching = 1;
	c->c_watch_mark = mark;
}

/* The clock of a queue that does not drain: stalled when it runs out. */
void
conn_stall_start(struct conn *c, unsigned int seconds)
{
	struct timeval	tv = { seconds, 0 };

	if (c->c_stalled || c->c_dead)
		return;
	c->c_stalled = 1;
	evtimer_add(&c->c_ev_stall, &tv);
}

void
conn_stall_stop(struct conn *c)
{
	if (!c->c_stalled)
		return;
	c->c_stalled = 0;
	evtimer_del(&c->c_ev_stall);
}

static void
conn_stall(int fd, short event, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)event;
	c->c_stalled = 0;
	events->stalled(c->c_arg);
	conn_flush_all();
}

/*
 * Seconds for which the peer has acknowledged nothing while bytes of
 * ours were outstanding (in the socket's buffer), 0 when none are or the
 * system does not say.  A peer that stopped reading shows here: TCP
 * would give up on it only at the user timeout, with no stream error.
 */
time_t
conn_unacked_for(struct conn *c)
{
	uint64_t	acked;
	time_t		now;

	if (c->c_dead || c->c_acked >= c->c_written ||
	    compat_sock_acked(c->c_fd, &acked) == -1) {
		c->c_ack_timing = 0;
		return (0);
	}
	now = monotime();
	if (acked != c->c_acked || !c->c_ack_timing) {
		c->c_acked = acked;
		c->c_ack_since = now;
		c->c_ack_timing = acked < c->c_written;
		return (0);
	}
	return (now - c->c_ack_since);
}

/*
 * At the end: what was written and never acknowledged (a FIN counts as
 * a byte), where the system says.
 */
static void
conn_count_unacked(struct conn *c)
{
	uint64_t	acked;

	if (c->c_written > 0 && compat_sock_acked(c->c_fd, &acked) == 0 &&
	    acked < c->c_written)
		c->c_stats.bytes_unacked = c->c_written - acked;
}

static void
conn_mark_dirty(struct conn *c)
{
	if (!c->c_dirty && !c->c_dead) {
		c->c_dirty = 1;
		TAILQ_INSERT_TAIL(&dirty, c, c_dirty_entry);
	}
}

static void
conn_want_write(struct conn *c, int on)
{
	if (on && !c->c_writing)
		event_add(&c->c_ev_write, NULL);
	else if (!on && c->c_writing)
		event_del(&c->c_ev_write);
	c->c_writing = on != 0;
}

/* The queue is out: a closing connection shuts or closes. */
static void
conn_flushed(struct conn *c)
{
	if (!c->c_closing)
		return;
	if (c->c_eof) {
		conn_close(c);
		return;
	}
	if (!c->c_shut_wr) {
		shutdown(c->c_fd, SHUT_WR);
		c->c_shut_wr = 1;
	}
}

/* One write of what is queued. */
void
conn_flush(struct conn *c)
{
	const char	*data;
	size_t		 len;
	ssize_t		 n;

	if (c->c_dead)
		return;
	if ((data = outq_head(&c->c_out, &len)) == NULL) {
		conn_want_write(c, 0);
		conn_flushed(c);
		return;
	}
	if ((n = write(c->c_fd, data, len)) == -1) {
		if (errno != EAGAIN && errno != EINTR) {
			log_debug("connection %llu from %s: write: %s",
			    (unsigned long long)c->c_id, c->c_peername,
			    strerror(errno));
			conn_close(c);
			return;
		}
	} else {
		outq_consume(&c->c_out, n);
		c->c_written += n;
		c->c_last_out = monotime();
		if (c->c_watching && conn_queued(c) <= c->c_watch_mark) {
			c->c_watching = 0;
			events->drained(c->c_arg);
			if (c->c_dead)
				return;
		}
	}
	conn_want_write(c, conn_queued(c) > 0);
	if (conn_queued(c) == 0)
		conn_flushed(c);
}

/*
 * Writes are batched: queuing marks a connection dirty, and this writes
 * each dirty one once, at the end of the callback that queued.  Then
 * what was closed meanwhile is freed.
 */
void
conn_flush_all(void)
{
	struct conn	*c;

	while ((c = TAILQ_FIRST(&dirty)) != NULL) {
		TAILQ_REMOVE(&dirty, c, c_dirty_entry);
		c->c_dirty = 0;
		conn_flush(c);
	}
	conn_reap();
}

static void
conn_writable(int fd, short event, void *arg)
{
	(void)fd;
	(void)event;
	conn_flush(arg);
	/* Below the watched mark, held-back senders went on and queued. */
	conn_flush_all();
}

/*
 * What is queued is the last the peer gets: once it is written the
 * socket is shut for writing, and the peer has grace seconds to close
 * its side.
 */
void
conn_close_after_flush(struct conn *c, unsigned int grace)
{
	struct timeval	tv = { grace, 0 };

	if (c->c_dead)
		return;
	c->c_closing = 1;
	if (!c->c_in_closing) {
		TAILQ_INSERT_TAIL(&closing, c, c_closing_entry);
		c->c_in_closing = 1;
	}
	/* Its last words are not a wait for authentication. */
	conn_unauth_release(c);
	evtimer_del(&c->c_ev_timer);
	evtimer_add(&c->c_ev_timer, &tv);
	conn_mark_dirty(c);
	conn_sync(c);
}

static void
conn_timer(int fd, short event, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)event;
	if (c->c_closing)
		conn_close(c);
	else
		events->timeout(c->c_arg);
	conn_flush_all();
}

/*
 * The connection is finished with.  The layer above hears of it while
 * the queue still holds what was not sent; the memory goes at the next
 * reap, when no caller holds the connection any more.
 */
void
conn_close(struct conn *c)
{
	if (c->c_dead)
		return;
	c->c_dead = 1;
	conn_count_unacked(c);
	events->closed(c->c_arg);
	totals.bytes_unacked += c->c_stats.bytes_unacked;
	conn_unauth_release(c);
	if (c->c_in_closing) {
		TAILQ_REMOVE(&closing, c, c_closing_entry);
		c->c_in_closing = 0;
	}
	conn_sync(c);
	conn_want_write(c, 0);
	evtimer_del(&c->c_ev_timer);
	conn_stall_stop(c);
	conn_rest(c, 0);
	if (c->c_dirty) {
		TAILQ_REMOVE(&dirty, c, c_dirty_entry);
		c->c_dirty = 0;
	}
	close(c->c_fd);
	c->c_fd = -1;
	RB_REMOVE(conn_tree, &conns, c);
	TAILQ_INSERT_TAIL(&dead, c, c_dead_entry);
}

void
conn_reap(void)
{
	struct conn	*c;
	int		 freed = 0;

	while ((c = TAILQ_FIRST(&dead)) != NULL) {
		TAILQ_REMOVE(&dead, c, c_dead_entry);
		nconns--;
		events->freed(c->c_arg);
		inbuf_free(&c->c_in);
		outq_free(&c->c_out);
		free(c);
		freed++;
	}
	if (freed > 0 && nconns == 0 && events->all_closed != NULL)
		events->all_closed();
}
