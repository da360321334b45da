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
 * A load generator for make bench: pairs of components, each sender
 * pushing stanzas of a given size to its receiver through gatewayd (or
 * any XEP-0114 server) as fast as the server takes them.  Prints
 * stanzas per second.
 *
 * loadgen [-o] port pairs stanzas size secret
 * loadgen [-t seconds] [-r rate] port pairs stanzas size secret
 * loadgen -H [-c inflight] [-t seconds] port handshakes secret
 * loadgen -I [-c inflight] port components secret
 * Components are s<i>.bench and r<i>.bench, all with the one secret.
 *
 * -o checks order (make stress): each sender writes exactly its share,
 * each stanza carrying the sender's sequence number in its id, and its
 * receiver checks that they come 0, 1, 2, ... with none missing, none
 * twice; a last stanza with id 'end' shows that nothing follows.  Off,
 * the batches are written as they are, unchanged, for make bench.
 *
 * -t and -r measure: every socket is read, an error stanza or a stream
 * error on any counts as an error, and a stanza written but not read at
 * its receiver within 10 s as lost; the line printed ends with "sent N,
 * received N, lost N, errors N" and the status is 1 if any was lost or
 * errored.  At the end each stream is closed and its close awaited, so
 * that the next run can take the names again at once.
 * -t: the senders write for that long (then finish the stanza they are
 * in), stanzas at most if not 0; the rate is what was received over
 * the time from the first write to the last stanza read.
 * -r: the senders write rate stanzas a second in all, paced (each
 * stanza written when due, several at once only when late), each
 * carrying in its id the time it was written; the receivers take the
 * time of each read and the line adds the rate offered, the rate at
 * which they could be written, and the latency from write to read:
 * p50, p99, p99.9 and max, in microseconds.
 * -H: handshakes, each on a fresh TCP connection: inflight at a time
 * (default 16), each as h<slot>.bench, which connects, authenticates,
 * closes its stream (</stream:stream>) and waits for the server to
 * close the connection before the slot starts again; handshakes of
 * them, or as many as fit in -t seconds; prints handshakes per second.
 * -I: idle components i0.bench ... i<components-1>.bench, inflight at
 * a time (default 1), connected, authenticated and kept open; prints a
 * line once all are in, then reads them until its standard input ends
 * and prints how many are still connected, were closed or were sent
 * anything but white space (the status is 1 for either); a line "talk"
 * on standard input has them exchange messages first (talk_send).
 */

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "digest.h"
#include "util.h"

struct peer {
	int	 fd;
	char	*batch;		/* sender: what it writes, again and again */
	char	 name[64];
	long	 todo;		/* sender: stanzas left to write */
	long	 got;		/* receiver: stanzas read */
	size_t	 off;		/* sender: offset in the batch */
	int	 match;		/* receiver: bytes of "</message>" matched */
	/* -o only */
	size_t	 len;		/* sender: bytes of the batch to write */
	size_t	 id_off;	/* sender: where a stanza's id digits are */
	long	 seq;		/* sender: the next sequence number */
	long	 next;		/* receiver: the sequence number expected */
	int	 idmatch;	/* receiver: bytes of "id='" matched */
	int	 idlen;		/* receiver: bytes of the id read, or -1 */
	char	 id[16];	/* receiver: the id being read */
	int	 ended;		/* receiver: the id 'end' came */
};

#define ID_DIGITS	10	/* the sequence number in an id, -o */

static const char	*secret;
static size_t		 batchlen;
static int		 per_batch;
static int		 order;		/* -o */
static size_t		 stanza_size;	/* -o: bytes of one stanza */

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

static void
readfor(int fd, char *buf, size_t len, const char *want)
{
	size_t	n = 0;
	ssize_t	r;

	while (n < len - 1) {
		if ((r = read(fd, buf + n, len - 1 - n)) <= 0)
			errx(1, "connection closed during the handshake");
		n += r;
		buf[n] = '\0';
		if (strstr(buf, want) != NULL)
			return;
	}
	errx(1, "no %s", want);
}

/* A component stream, authenticated, non-blocking. */
static int
component(int port, const char *name)
{
	struct sockaddr_in	 sin;
	char			 buf[4096], hex[41], *id, *end;
	uint8_t			 md[AUTH_DIGEST_LEN];
	int			 fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		err(1, "socket");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		err(1, "connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	dprintf(fd, "<?xml version='1.0'?><stream:stream "
	    "xmlns='jabber:component:accept' "
	    "xmlns:stream='http://etherx.jabber.org/streams' to='%s'>", name);
	readfor(fd, buf, sizeof(buf), "id='");
	while (strchr(strstr(buf, "id='") + 4, '\'') == NULL)
		readfor(fd, buf + strlen(buf), sizeof(buf) - strlen(buf), "'");
	id = strstr(buf, "id='") + 4;
	end = strchr(id, '\'');
	*end = '\0';
	if (auth_digest(id, secret, strlen(secret), md) == -1)
		errx(1, "digest");
	hex_encode(md, AUTH_DIGEST_LEN, hex);
	dprintf(fd, "<handshake>%s</handshake>", hex);
	readfor(fd, buf, sizeof(buf), "<handshake/>");
	if (fcntl(fd, F_SETFL, O_NONBLOCK) == -1)
		err(1, "fcntl");
	return (fd);
}

/*
 * Stanzas of size bytes, about 64 KiB of them, for one write; with
 * digits (-o, -r), each has an id of that many digits, at *id_off in
 * the stanza.
 */
static char *
make_batch(const char *from, const char *to, size_t size, int digits,
    size_t *id_off)
{
	char	 head[256], *batch;
	size_t	 i;
	int	 n;

	if (digits > 0)
		n = snprintf(head, sizeof(head), "<message from='%s' to='%s' "
		    "type='chat' id='%0*d'><body>", from, to, digits, 0);
	else
		n = snprintf(head, sizeof(head), "<message from='%s' to='%s' "
		    "type='chat'><body>", from, to);
	if (n < 0 || (size_t)n >= sizeof(head))
		errx(1, "names too long");
	if (size < (size_t)n + 17)
		size = n + 17;
	stanza_size = size;
	*id_off = n - strlen("'><body>") - digits;
	per_batch = 65536 / size + 1;
	batchlen = per_batch * size;
	if ((batch = malloc(batchlen)) == NULL)
		err(1, "malloc");
	for (i = 0; i < (size_t)per_batch; i++) {
		memcpy(batch + i * size, head, n);
		memset(batch + i * size + n, 'x', size - n - 17);
		memcpy(batch + (i + 1) * size - 17, "</body></message>", 17);
	}
	return (batch);
}

/*
 * -o: the next batch of a sender, numbered from its sequence number,
 * no more stanzas than it has left to write.
 */
static void
stamp_batch(struct peer *p)
{
	char	 digits[ID_DIGITS + 1];
	long	 i, count;

	count = p->todo < per_batch ? p->todo : per_batch;
	for (i = 0; i < count; i++) {
		snprintf(digits, sizeof(digits), "%0*ld", ID_DIGITS,
		    p->seq++);
		memcpy(p->batch + i * stanza_size + p->id_off, digits,
		    ID_DIGITS);
	}
	p->len = count * stanza_size;
}

/* -o: an id has been read whole; it must be the one expected. */
static void
check_id(struct peer *p, int pair)
{
	char	*end;
	long	 seq;

	p->id[p->idlen] = '\0';
	if (strcmp(p->id, "end") == 0) {
		p->ended = 1;
		return;
	}
	if (p->ended)
		errx(1, "pair %d: stanza '%s' after the end", pair, p->id);
	seq = strtol(p->id, &end, 10);
	if (p->idlen != ID_DIGITS || *end != '\0')
		errx(1, "pair %d: unexpected id '%s'", pair, p->id);
	if (seq != p->next)
		errx(1, "pair %d: stanza %ld arrived where %ld was expected "
		    "(%s)", pair, seq, p->next,
		    seq > p->next ? "lost or reordered" : "twice or reordered");
	p->next++;
}

/* -o: the ids in what a receiver read. */
static void
scan_ids(struct peer *p, int pair, const char *buf, ssize_t n)
{
	const char	*pat = "id='";
	ssize_t		 j;

	for (j = 0; j < n; j++) {
		if (p->idlen >= 0) {
			if (buf[j] == '\'') {
				check_id(p, pair);
				p->idlen = -1;
			} else if (p->idlen == (int)sizeof(p->id) - 1)
				errx(1, "pair %d: an id too long", pair);
			else
				p->id[p->idlen++] = buf[j];
		} else if (buf[j] == pat[p->idmatch]) {
			if (++p->idmatch == 4) {
				p->idmatch = 0;
				p->idlen = 0;
			}
		} else
			p->idmatch = buf[j] == 'i' ? 1 : 0;
	}
}

/*
 * -o: after the last stanza, each sender writes one with id 'end',
 * and its receiver reads until it comes: nothing came after the last.
 */
static void
finish_order(struct peer *snd, struct peer *rcv, int pairs,
    struct pollfd *pfd)
{
	char	 buf[65536], end[256];
	int	 i, left, n;
	ssize_t	 r;

	for (i = 0; i < pairs; i++) {
		if (rcv[i].next != snd[i].seq)
			errx(1, "pair %d: %ld stanzas came of %ld", i,
			    rcv[i].next, snd[i].seq);
		n = snprintf(end, sizeof(end), "<message from='s%d.bench' "
		    "to='r%d.bench' type='chat' id='end'/>", i, i);
		if (fcntl(snd[i].fd, F_SETFL, 0) == -1)
			err(1, "fcntl");
		if (write(snd[i].fd, end, n) != n)
			err(1, "write");
	}
	for (left = pairs; left > 0;) {
		for (i = 0; i < pairs; i++) {
			pfd[i].fd = rcv[i].ended ? -1 : rcv[i].fd;
			pfd[i].events = POLLIN;
		}
		if (poll(pfd, pairs, 10000) <= 0)
			errx(1, "stalled before the end stanzas");
		for (i = 0; i < pairs; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLHUP)))
				continue;
			if ((r = read(rcv[i].fd, buf, sizeof(buf))) <= 0)
				errx(1, "receiver %d closed", i);
			scan_ids(&rcv[i], i, buf, r);
			if (rcv[i].ended)
				left--;
		}
	}
}

/*
 * -t, -r: a receiver's ids are read byte by byte, matching "id=", whose
 * first byte occurs nowhere else in it, so that a mismatch restarts the
 * match at that byte or at the start.
 */
struct match {
	const char	*pat;
	int		 m;
};

static int
match_byte(struct match *mt, char c)
{
	if (c == mt->pat[mt->m]) {
		if (mt->pat[++mt->m] == '\0') {
			mt->m = 0;
			return (1);
		}
	} else
		mt->m = c == mt->pat[0] ? 1 : 0;
	return (0);
}

#define NERRPATS	3
static const char *const errpats[NERRPATS] = {
	"type='error'", "type=\"error\"", "<stream:error"
};

/*
 * -t, -r: the end of what a stream read before, so that a pattern
 * counted with count_pat is found across two reads.
 */
#define CARRY		15	/* the longest pattern, less one */
struct carry {
	char	 buf[CARRY];
	size_t	 len;
};

/* The patterns in buf, those that begin in the carry included. */
static long
count_pat(const struct carry *cr, const char *buf, size_t n,
    const char *pat)
{
	char		 win[2 * CARRY];
	const char	*p, *end = buf + n;
	size_t		 plen = strlen(pat), k, head;
	long		 c = 0;

	k = cr->len < plen - 1 ? cr->len : plen - 1;
	head = n < plen - 1 ? n : plen - 1;
	memcpy(win, cr->buf + cr->len - k, k);
	memcpy(win + k, buf, head);
	for (p = win; (p = memmem(p, win + k + head - p, pat, plen)) != NULL &&
	    p < win + k; p++)
		c++;
	for (p = buf; (p = memmem(p, end - p, pat, plen)) != NULL; p += plen)
		c++;
	return (c);
}

static void
carry_on(struct carry *cr, const char *buf, size_t n)
{
	size_t	 keep;

	if (n >= CARRY) {
		memcpy(cr->buf, buf + n - CARRY, CARRY);
		cr->len = CARRY;
		return;
	}
	keep = cr->len + n > CARRY ? CARRY - n : cr->len;
	memmove(cr->buf, cr->buf + cr->len - keep, keep);
	memcpy(cr->buf + keep, buf, n);
	cr->len = keep + n;
}

#define STALL_SECS	10	/* nothing read or written: the rest is lost */
#define CLOSE_SECS	5	/* for the server to close after our close */
#define STAMP_DIGITS	16	/* -r: nanoseconds since the start, in an id */

/* A stream of -t and -r: a sender or a receiver. */
struct mpeer {
	int		 fd;
	int		 pair;
	int		 sender;
	char		*buf;		/* sender: the batch */
	size_t		 id_off;	/* sender, -r: the id's digits */
	size_t		 len;		/* sender: bytes of buf to write */
	size_t		 off;		/* sender: bytes of buf written */
	long long	 wbytes;	/* sender: bytes written in all */
	long		 composed;	/* sender, -r: stanzas made */
	int		 done;		/* sender: writes no more */
	long		 got;		/* receiver: stanzas read */
	struct carry	 carry;
	struct match	 idm;		/* receiver, -r: "id=" */
	int		 quote;		/* receiver, -r: the id's quote */
	int		 idlen;		/* receiver, -r: -1 outside an id */
	char		 id[STAMP_DIGITS + 8];
};

static double		 duration;	/* -t */
static double		 rate;		/* -r */
static long		 errors;
static int		 told;		/* an error has been shown */

static long long
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1000000000LL + ts.tv_nsec);
}

/* Error stanzas and stream errors in what a stream read: counted. */
static void
scan_errors(const struct carry *cr, const char *what, int i,
    const char *buf, ssize_t n)
{
	long	 c;
	int	 k;

	for (k = 0; k < NERRPATS; k++) {
		if ((c = count_pat(cr, buf, n, errpats[k])) == 0)
			continue;
		errors += c;
		if (!told++)
			warnx("%s %d: %.*s", what, i, (int)(n > 300 ? 300 : n),
			    buf);
	}
}

static int
cmp_ll(const void *a, const void *b)
{
	long long	x = *(const long long *)a, y = *(const long long *)b;

	return (x < y ? -1 : x > y);
}

/* The nearest-rank percentile q of the n sorted latencies, in us. */
static double
percentile(const long long *lat, long n, double q)
{
	long	k;

	if (n == 0)
		return (0);
	k = (long)(q * n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return (lat[k - 1] / 1e3);
}

/*
 * Closes each stream with </stream:stream> and waits, CLOSE_SECS at
 * most, until the server has closed every one.
 */
static void
close_streams(int *fds, int n)
{
	struct pollfd	*pfd;
	char		 buf[65536];
	const char	*bye = "</stream:stream>";
	double		 until;
	int		 i, left;
	ssize_t		 r;

	if ((pfd = calloc(n, sizeof(*pfd))) == NULL)
		err(1, "calloc");
	for (i = 0, left = 0; i < n; i++) {
		pfd[i].fd = -1;
		if (fds[i] == -1)
			continue;
		if (write(fds[i], bye, strlen(bye)) != (ssize_t)strlen(bye)) {
			close(fds[i]);
			continue;
		}
		pfd[i].fd = fds[i];
		pfd[i].events = POLLIN;
		left++;
	}
	until = now() + CLOSE_SECS;
	while (left > 0 && now() < until) {
		if (poll(pfd, n, 100) == -1 && errno != EINTR)
			err(1, "poll");
		for (i = 0; i < n; i++) {
			if (pfd[i].fd == -1 || pfd[i].revents == 0)
				continue;
			r = read(pfd[i].fd, buf, sizeof(buf));
			if (r > 0 || (r == -1 && errno == EAGAIN))
				continue;
			close(pfd[i].fd);
			pfd[i].fd = -1;
			left--;
		}
	}
	for (i = 0; i < n; i++)
		if (pfd[i].fd != -1)
			close(pfd[i].fd);
	free(pfd);
}

/* -r: a sender's next stanzas, those due now, stamped with the time. */
static void
compose(struct mpeer *p, long due, long long t_ns)
{
	char	 digits[STAMP_DIGITS + 1];
	long	 i, count;

	count = due - p->composed;
	if (count > per_batch)
		count = per_batch;
	snprintf(digits, sizeof(digits), "%0*lld", STAMP_DIGITS, t_ns);
	for (i = 0; i < count; i++)
		memcpy(p->buf + i * stanza_size + p->id_off, digits,
		    STAMP_DIGITS);
	p->composed += count;
	p->len = count * stanza_size;
	p->off = 0;
}

/* -r: an id has been read whole at t_ns; its latency is kept. */
static void
stamp_read(struct mpeer *p, long long t_ns, long long **lat, long *nlat,
    long *maxlat)
{
	char		*end;
	long long	 ts;

	p->id[p->idlen] = '\0';
	ts = strtoll(p->id, &end, 10);
	if (p->idlen != STAMP_DIGITS || *end != '\0') {
		errors++;
		if (!told++)
			warnx("receiver %d: unexpected id '%s'", p->pair, p->id);
		return;
	}
	if (*nlat == *maxlat) {
		*maxlat = *maxlat ? *maxlat * 2 : 65536;
		if ((*lat = reallocarray(*lat, *maxlat, sizeof(**lat))) ==
		    NULL)
			err(1, "reallocarray");
	}
	(*lat)[(*nlat)++] = t_ns - ts;
}

/* What a receiver read: stanzas, and with -r their ids. */
static void
scan_received(struct mpeer *p, const char *buf, ssize_t n, long long t_ns,
    long long **lat, long *nlat, long *maxlat)
{
	ssize_t	 j;
	char	 c;

	p->got += count_pat(&p->carry, buf, n, "</message>");
	if (rate <= 0)
		return;
	for (j = 0; j < n; j++) {
		c = buf[j];
		if (p->idlen >= 0) {
			if (c == p->quote) {
				stamp_read(p, t_ns, lat, nlat, maxlat);
				p->idlen = -1;
				p->quote = 0;
			} else if (p->idlen < (int)sizeof(p->id) - 1)
				p->id[p->idlen++] = c;
		} else if (p->quote == -1) {
			if (c == '\'' || c == '"') {
				p->quote = c;
				p->idlen = 0;
			} else
				p->quote = 0;
		} else if (match_byte(&p->idm, c))
			p->quote = -1;	/* the quote comes next */
		else
			p->quote = 0;
	}
}

static double	 tsend;		/* -t, -r: the last write */
static double	 tlast;		/* -t, -r: the last read or write */

/*
 * -t, -r: a sender writes what it may: what is left of the batch (-t),
 * no more than its cap, and past the deadline only the rest of the
 * stanza it is in; or what was composed (-r).
 */
static void
sender_write(struct mpeer *p, long cap, double deadline)
{
	long long	 lim;
	size_t		 w;
	ssize_t		 r;

	w = p->len - p->off;
	if (rate <= 0) {
		if (cap >= 0) {
			lim = cap * (long long)stanza_size - p->wbytes;
			if ((long long)w > lim)
				w = lim;
		}
		if (now() >= deadline)
			w = (p->wbytes % stanza_size) ? stanza_size -
			    p->wbytes % stanza_size : 0;
		if (w == 0) {
			p->done = 1;
			return;
		}
	}
	if ((r = write(p->fd, p->buf + p->off, w)) > 0) {
		p->off += r;
		p->wbytes += r;
		if (rate <= 0 && p->off == p->len)
			p->off = 0;
		tsend = tlast = now();
	} else if (r == -1 && errno != EAGAIN) {
		errors++;
		warn("sender %d", p->pair);
		p->done = 1;
	}
	if (rate <= 0 && cap >= 0 && p->wbytes >= cap *
	    (long long)stanza_size)
		p->done = 1;
}

/* -t, -r */
static int
run_measured(int port, int pairs, long stanzas, size_t size)
{
	struct mpeer	*mp, *p;
	struct pollfd	*pfd;
	struct timespec	 ts;
	char		 buf[65536], name[64], to[64];
	long long	 t0_ns, t_ns, *lat = NULL, due_ns, wait_ns;
	long		 nlat = 0, maxlat = 0, sent, got, cap, due, before;
	double		 t0, t1, pace, deadline;
	int		 i, k, n, active, *fds;
	ssize_t		 r;

	if (duration <= 0 && stanzas <= 0)
		errx(2, "-r needs stanzas or -t");
	signal(SIGPIPE, SIG_IGN);
	n = 2 * pairs;
	if ((mp = calloc(n, sizeof(*mp))) == NULL ||
	    (pfd = calloc(n, sizeof(*pfd))) == NULL ||
	    (fds = calloc(n, sizeof(*fds))) == NULL)
		err(1, "calloc");
	for (i = 0; i < pairs; i++) {
		/* Even: the receiver; odd: its sender. */
		snprintf(name, sizeof(name), "r%d.bench", i);
		mp[2 * i].fd = component(port, name);
		snprintf(to, sizeof(to), "r%d.bench", i);
		snprintf(name, sizeof(name), "s%d.bench", i);
		mp[2 * i + 1].fd = component(port, name);
		mp[2 * i + 1].sender = 1;
		mp[2 * i + 1].buf = make_batch(name, to, size,
		    rate > 0 ? STAMP_DIGITS : 0, &mp[2 * i + 1].id_off);
		if (rate <= 0)
			mp[2 * i + 1].len = batchlen;
		for (k = 0; k < 2; k++) {
			p = &mp[2 * i + k];
			p->pair = i;
			p->idm.pat = "id=";
			p->idlen = -1;
		}
	}
	/* Stanzas each sender may write: -1, as many as time allows. */
	cap = stanzas > 0 ? stanzas / pairs : -1;
	pace = rate > 0 ? rate / pairs : 0;	/* stanzas a second each */
	if (duration <= 0)
		duration = cap / pace + 1;
	t0 = tlast = now();
	t0_ns = now_ns();
	deadline = t0 + duration;
	tsend = t0;
	t1 = t0;
	for (;;) {
		active = 0;
		wait_ns = STALL_SECS * 1000000000LL;
		t_ns = now_ns() - t0_ns;
		for (i = 0; i < n; i++) {
			p = &mp[i];
			pfd[i].fd = p->fd;
			pfd[i].events = POLLIN;
			if (!p->sender || p->done || p->fd == -1)
				continue;
			if (rate > 0 && p->off == p->len) {
				/* Due: those whose time has come. */
				due = (long)(t_ns / 1e9 * pace) + 1;
				if (cap >= 0 && due > cap)
					due = cap;
				if (now() >= deadline || (cap >= 0 &&
				    p->composed >= cap)) {
					p->done = 1;
					continue;
				}
				if (due > p->composed) {
					/* Written at once, as stamped. */
					compose(p, due, now_ns() - t0_ns);
					sender_write(p, cap, deadline);
				} else {
					due_ns = (long long)(p->composed /
					    pace * 1e9);
					if (due_ns - t_ns < wait_ns)
						wait_ns = due_ns - t_ns;
					active++;
					continue;
				}
			}
			active++;
			if (p->off < p->len || rate <= 0)
				pfd[i].events |= POLLOUT;
		}
		for (i = 0, sent = 0, got = 0, k = 0; i < n; i++) {
			sent += mp[i].wbytes / (long long)stanza_size;
			got += mp[i].got;
			if (!mp[i].sender && mp[i].fd != -1)
				k++;
		}
		if ((active == 0 && got >= sent) || k == 0)
			break;		/* all came, or nothing more can */
		if (active > 0 && rate <= 0 && now() < deadline &&
		    deadline - now() < wait_ns / 1e9)
			wait_ns = (deadline - now()) * 1e9;
		if (wait_ns < 0)
			wait_ns = 0;
		ts.tv_sec = wait_ns / 1000000000LL;
		ts.tv_nsec = wait_ns % 1000000000LL;
		if (ppoll(pfd, n, &ts, NULL) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "ppoll");
		}
		for (i = 0; i < n; i++) {
			p = &mp[i];
			if (p->fd == -1)
				continue;
			if ((pfd[i].revents & POLLOUT) && !p->done &&
			    p->off < p->len)
				sender_write(p, cap, deadline);
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(p->fd, buf, sizeof(buf));
			if (r == -1 && errno == EAGAIN)
				continue;
			if (r <= 0) {
				errors++;
				if (!told++)
					warnx("%s %d: closed by the server",
					    p->sender ? "sender" : "receiver",
					    p->pair);
				close(p->fd);
				p->fd = -1;
				p->done = 1;
				continue;
			}
			tlast = now();
			t_ns = now_ns() - t0_ns;
			scan_errors(&p->carry, p->sender ? "sender" :
			    "receiver", p->pair, buf, r);
			if (!p->sender) {
				before = p->got;
				scan_received(p, buf, r, t_ns, &lat, &nlat,
				    &maxlat);
				if (p->got > before)
					t1 = tlast;
			}
			carry_on(&p->carry, buf, r);
		}
		if (now() - tlast > STALL_SECS) {
			warnx("stalled for %d s", STALL_SECS);
			break;
		}
	}
	for (i = 0, sent = 0, got = 0; i < n; i++) {
		sent += mp[i].wbytes / (long long)stanza_size;
		got += mp[i].got;
		fds[i] = mp[i].fd;
	}
	close_streams(fds, n);
	if (rate > 0 && nlat != got) {
		warnx("%ld stanzas received, %ld of them with a time", got,
		    nlat);
		errors++;
	}
	if (t1 <= t0)
		t1 = now();
	printf("%ld stanzas of %zu bytes, %d pairs: %.2f s, %.0f stanzas/s; "
	    "sent %ld, received %ld, lost %ld, errors %ld", got, size, pairs,
	    t1 - t0, got / (t1 - t0), sent, got, sent > got ? sent - got : 0,
	    errors);
	if (rate > 0) {
		qsort(lat, nlat, sizeof(*lat), cmp_ll);
		printf("; offered %.0f/s, sent at %.0f/s; latency p50 %.1f us, "
		    "p99 %.1f us, p99.9 %.1f us, max %.1f us", rate,
		    tsend > t0 ? sent / (tsend - t0) : 0,
		    percentile(lat, nlat, 0.5), percentile(lat, nlat, 0.99),
		    percentile(lat, nlat, 0.999), percentile(lat, nlat, 1));
	}
	printf("\n");
	return (sent > got || errors > 0);
}

/* -H, -I: a connection on its way to an authenticated stream. */
struct hs {
	int	 fd;
	int	 state;
	int	 name;		/* the number in its name */
	size_t	 n;
	char	 buf[2048];
};

enum { HS_FREE, HS_CONNECT, HS_HEADER, HS_AUTH, HS_CLOSE };

#define MAX_ERRORS	100	/* failed handshakes: no more are started */

static int	 hs_mode;	/* 'H' or 'I' */
static int	 hs_port;

static void
hs_fail(struct hs *h, const char *why)
{
	errors++;
	if (!told++)
		warnx("%c%d.bench: %s%s%.*s", hs_mode == 'H' ? 'h' : 'i',
		    h->name, why, h->n ? ": " : "", (int)h->n, h->buf);
	close(h->fd);
	h->fd = -1;
	h->state = HS_FREE;
}

static void
hs_send(struct hs *h, const char *text, int next)
{
	ssize_t	 len = strlen(text);

	if (write(h->fd, text, len) != len) {
		hs_fail(h, "short write");
		return;
	}
	h->state = next;
	h->n = 0;
}

static void
hs_header(struct hs *h)
{
	char	 hdr[512];

	snprintf(hdr, sizeof(hdr), "<?xml version='1.0'?><stream:stream "
	    "xmlns='jabber:component:accept' "
	    "xmlns:stream='http://etherx.jabber.org/streams' "
	    "to='%c%d.bench'>", hs_mode == 'H' ? 'h' : 'i', h->name);
	hs_send(h, hdr, HS_HEADER);
}

static void
hs_start(struct hs *h, int name)
{
	struct sockaddr_in	 sin;
	int			 one = 1;

	h->name = name;
	h->n = 0;
	if ((h->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		err(1, "socket");
	setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(hs_port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(h->fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
		hs_header(h);
	else if (errno == EINPROGRESS)
		h->state = HS_CONNECT;
	else {
		h->state = HS_CONNECT;
		hs_fail(h, strerror(errno));
	}
}

/*
 * One step of a connection that poll found ready; 1 when its handshake
 * has just been accepted.
 */
static int
hs_step(struct hs *h)
{
	char		 hand[128], hex[41], *id, *end;
	uint8_t		 md[AUTH_DIGEST_LEN];
	socklen_t	 sl = sizeof(int);
	ssize_t		 r;
	int		 e = 0;

	if (h->state == HS_CONNECT) {
		if (getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &e, &sl) == -1 ||
		    e != 0)
			hs_fail(h, strerror(e ? e : errno));
		else
			hs_header(h);
		return (0);
	}
	r = read(h->fd, h->buf + h->n, sizeof(h->buf) - 1 - h->n);
	if (r == -1 && errno == EAGAIN)
		return (0);
	if (h->state == HS_CLOSE) {
		if (r > 0)		/* the server's </stream:stream> */
			return (0);
		close(h->fd);
		h->fd = -1;
		h->state = HS_FREE;
		return (0);
	}
	if (r <= 0) {
		hs_fail(h, "closed by the server");
		return (0);
	}
	h->n += r;
	h->buf[h->n] = '\0';
	if (strstr(h->buf, "<stream:error") != NULL) {
		hs_fail(h, "stream error");
		return (0);
	}
	if (h->state == HS_HEADER) {
		if ((id = strstr(h->buf, " id='")) == NULL &&
		    (id = strstr(h->buf, " id=\"")) == NULL)
			goto more;
		if ((end = strchr(id + 5, id[4])) == NULL)
			goto more;
		*end = '\0';
		if (auth_digest(id + 5, secret, strlen(secret), md) == -1)
			errx(1, "digest");
		hex_encode(md, AUTH_DIGEST_LEN, hex);
		snprintf(hand, sizeof(hand), "<handshake>%s</handshake>", hex);
		hs_send(h, hand, HS_AUTH);
		return (0);
	}
	if (strstr(h->buf, "<handshake/>") == NULL)
		goto more;
	if (hs_mode == 'H')
		hs_send(h, "</stream:stream>", HS_CLOSE);
	else {
		h->state = HS_FREE;	/* the fd stays, idle */
		h->n = 0;
	}
	return (1);
 more:
	if (h->n == sizeof(h->buf) - 1)
		hs_fail(h, "no end in sight");
	return (0);
}

/*
 * -I, a line "talk" on standard input: each idle component sends the
 * next (the last the first) TALK_STANZAS messages, every fourth with a
 * body of TALK_BIG bytes, the others of 200; once the last is in, a line
 * says how many were sent and received, and the components are idle
 * again.  So that memory is measured after traffic too.
 */
#define TALK_STANZAS	4
#define TALK_BIG	8192

struct idler {
	int	fd;
	int	talked;		/* sent something unasked */
	int	match;		/* of "</message>", read so far */
	long	got;		/* messages received while talking */
};

static void
talk_send(struct idler *c, int i, int count)
{
	static char	 body[TALK_BIG + 1];
	char		*buf;
	size_t		 len, off = 0, cap = TALK_STANZAS * (TALK_BIG + 256);
	struct pollfd	 pfd;
	ssize_t		 w;
	int		 k;

	if (body[0] == '\0')
		memset(body, 'x', TALK_BIG);
	if ((buf = malloc(cap)) == NULL)
		err(1, "malloc");
	for (len = 0, k = 0; k < TALK_STANZAS; k++)
		len += snprintf(buf + len, cap - len, "<message from='i%d.bench'"
		    " to='i%d.bench' id='t%d'><body>%.*s</body></message>", i,
		    (i + 1) % count, k, k % 4 == 0 ? TALK_BIG : 200, body);
	/* A few KB, which the socket takes; else wait for it. */
	while (off < len) {
		if ((w = write(c->fd, buf + off, len - off)) > 0) {
			off += w;
			continue;
		}
		if (w == -1 && errno != EAGAIN)
			err(1, "talk: write");
		pfd.fd = c->fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, 10000) <= 0)
			errx(1, "talk: i%d.bench cannot write", i);
	}
	free(buf);
}

/* What a component read: messages while talking, else nothing. */
static void
idle_read(struct idler *c, const char *buf, size_t len, int talking)
{
	static const char	end[] = "</message>";
	size_t			i;

	/* A bounce or a stream error is unasked. */
	if (talking && memmem(buf, len, "error", 5) != NULL)
		c->talked = 1;
	for (i = 0; i < len; i++) {
		if (talking) {
			c->match = buf[i] == end[c->match] ? c->match + 1 :
			    buf[i] == end[0];
			if (c->match == sizeof(end) - 1) {
				c->match = 0;
				c->got++;
			}
		} else if (strchr(" \t\r\n", buf[i]) == NULL)
			c->talked = 1;
	}
}

/* -I: reads the idle streams until standard input ends. */
static int
idle(int *fds, int count)
{
	struct pollfd	*pfd;
	struct idler	*c;
	char		 buf[16384];
	int		 i, closed = 0, talked = 0, talking = 0;
	long		 got = 0;
	double		 t0 = 0;
	ssize_t		 r;

	if ((pfd = calloc(count + 1, sizeof(*pfd))) == NULL ||
	    (c = calloc(count, sizeof(*c))) == NULL)
		err(1, "calloc");
	for (i = 0; i < count; i++) {
		pfd[i].fd = c[i].fd = fds[i];
		pfd[i].events = POLLIN;
	}
	pfd[count].fd = STDIN_FILENO;
	pfd[count].events = POLLIN;
	for (;;) {
		if (poll(pfd, count + 1, -1) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "poll");
		}
		if (pfd[count].revents) {
			r = read(STDIN_FILENO, buf, sizeof(buf));
			if (r <= 0)
				break;
			if (!talking && memmem(buf, r, "talk", 4) != NULL) {
				talking = 1;
				got = 0;
				t0 = now();
				for (i = 0; i < count; i++)
					if (c[i].fd != -1)
						talk_send(&c[i], i, count);
			}
		}
		for (i = 0; i < count; i++) {
			if (pfd[i].fd == -1 || pfd[i].revents == 0)
				continue;
			r = read(pfd[i].fd, buf, sizeof(buf));
			if (r == -1 && errno == EAGAIN)
				continue;
			if (r <= 0) {
				closed++;
				close(pfd[i].fd);
				pfd[i].fd = fds[i] = c[i].fd = -1;
				continue;
			}
			got -= c[i].got;
			idle_read(&c[i], buf, r, talking);
			got += c[i].got;
		}
		if (talking && got == (long)(count - closed) * TALK_STANZAS) {
			printf("talk: %ld messages of %d components received "
			    "in %.2f s\n", got, count - closed, now() - t0);
			fflush(stdout);
			talking = 0;
			for (i = 0; i < count; i++)
				c[i].got = 0;
		}
	}
	for (i = 0; i < count; i++)
		talked += c[i].talked;
	printf("%d idle components: %d connected, %d closed, %d sent "
	    "something\n", count, count - closed, closed, talked);
	close_streams(fds, count);
	free(c);
	free(pfd);
	return (closed > 0 || talked > 0);
}

/* -H, -I */
static int
run_handshakes(int port, int inflight, long count)
{
	struct hs	*hs;
	struct pollfd	*pfd;
	struct rlimit	 rl;
	double		 t0, t1, deadline, last;
	long		 started = 0, done = 0;
	int		 i, busy, *fds = NULL;

	signal(SIGPIPE, SIG_IGN);
	hs_port = port;
	if (hs_mode == 'I') {
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		    rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
		if ((fds = calloc(count, sizeof(*fds))) == NULL)
			err(1, "calloc");
	}
	if (inflight < 1)
		inflight = 1;
	if ((hs = calloc(inflight, sizeof(*hs))) == NULL ||
	    (pfd = calloc(inflight, sizeof(*pfd))) == NULL)
		err(1, "calloc");
	t0 = last = now();
	deadline = duration > 0 ? t0 + duration : 0;
	for (;;) {
		busy = 0;
		for (i = 0; i < inflight; i++) {
			if (hs[i].state == HS_FREE && (count == 0 ||
			    started < count) && (deadline == 0 ||
			    now() < deadline) && errors < MAX_ERRORS) {
				hs_start(&hs[i], hs_mode == 'H' ? i :
				    (int)started);
				started++;
			}
			pfd[i].fd = hs[i].state == HS_FREE ? -1 : hs[i].fd;
			pfd[i].events = hs[i].state == HS_CONNECT ? POLLOUT :
			    POLLIN;
			if (hs[i].state != HS_FREE)
				busy++;
		}
		if (busy == 0)
			break;
		if (poll(pfd, inflight, 1000) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "poll");
		}
		for (i = 0; i < inflight; i++) {
			if (pfd[i].fd == -1 || pfd[i].revents == 0)
				continue;
			last = now();
			if (hs_step(&hs[i])) {
				if (hs_mode == 'I')
					fds[done] = hs[i].fd;
				done++;
			}
		}
		if (now() - last > STALL_SECS) {
			warnx("stalled for %d s", STALL_SECS);
			errors++;
			break;
		}
	}
	t1 = now();
	if (hs_mode == 'H') {
		printf("%ld handshakes, %d in flight: %.2f s, %.0f "
		    "handshakes/s; errors %ld\n", done, inflight, t1 - t0,
		    done / (t1 - t0), errors);
		return (errors > 0);
	}
	printf("%ld components authenticated, %d in flight: %.2f s, %.0f "
	    "handshakes/s; errors %ld\n", done, inflight, t1 - t0,
	    done / (t1 - t0), errors);
	fflush(stdout);
	return (idle(fds, done) || errors > 0);
}

static __dead void
usage(void)
{
	fprintf(stderr, "usage: loadgen [-o] port pairs stanzas size secret\n"
	    "       loadgen [-t seconds] [-r rate] port pairs stanzas size "
	    "secret\n"
	    "       loadgen -H [-c inflight] [-t seconds] port handshakes "
	    "secret\n"
	    "       loadgen -I [-c inflight] port components secret\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct peer	*snd, *rcv;
	struct pollfd	*pfd;
	char		 buf[65536], name[64], to[64];
	const char	*pat = "</message>";
	long		 stanzas, done = 0, total;
	size_t		 size;
	double		 t0, t1;
	int		 port, pairs, i, j, inflight = 0;
	ssize_t		 n;

	while ((i = getopt(argc, argv, "c:HIor:t:")) != -1) {
		switch (i) {
		case 'c':
			inflight = atoi(optarg);
			break;
		case 'H':
		case 'I':
			hs_mode = i;
			break;
		case 'o':
			order = 1;
			break;
		case 'r':
			rate = atof(optarg);
			break;
		case 't':
			duration = atof(optarg);
			break;
		default:
			usage();
		}
	}
	argc -= optind - 1;
	argv += optind - 1;
	if (hs_mode) {
		if (argc != 4 || order || rate > 0 || (hs_mode == 'I' &&
		    (duration > 0 || atol(argv[2]) < 1)) || (hs_mode == 'H' &&
		    duration <= 0 && atol(argv[2]) < 1))
			usage();
		secret = argv[3];
		return (run_handshakes(atoi(argv[1]), inflight ? inflight :
		    hs_mode == 'H' ? 16 : 1, atol(argv[2])));
	}
	if (argc != 6 || (order && (duration > 0 || rate > 0)))
		usage();
	port = atoi(argv[1]);
	pairs = atoi(argv[2]);
	stanzas = atol(argv[3]);
	size = atol(argv[4]);
	secret = argv[5];
	if (pairs < 1)
		usage();
	if (duration > 0 || rate > 0)
		return (run_measured(port, pairs, stanzas, size));
	if ((snd = calloc(pairs, sizeof(*snd))) == NULL ||
	    (rcv = calloc(pairs, sizeof(*rcv))) == NULL ||
	    (pfd = calloc(2 * pairs, sizeof(*pfd))) == NULL)
		err(1, "calloc");
	for (i = 0; i < pairs; i++) {
		snprintf(name, sizeof(name), "r%d.bench", i);
		rcv[i].fd = component(port, name);
		snprintf(name, sizeof(name), "s%d.bench", i);
		snd[i].fd = component(port, name);
		snd[i].todo = stanzas / pairs;
		snprintf(to, sizeof(to), "r%d.bench", i);
		snd[i].batch = make_batch(name, to, size,
		    order ? ID_DIGITS : 0, &snd[i].id_off);
		snd[i].len = batchlen;
		rcv[i].idlen = -1;
		if (order)
			stamp_batch(&snd[i]);
	}
	total = (stanzas / pairs) * pairs;

	t0 = now();
	while (done < total) {
		for (i = 0; i < pairs; i++) {
			pfd[2 * i].fd = snd[i].todo > 0 ? snd[i].fd : -1;
			pfd[2 * i].events = POLLOUT;
			pfd[2 * i + 1].fd = rcv[i].fd;
			pfd[2 * i + 1].events = POLLIN;
		}
		if (poll(pfd, 2 * pairs, 10000) <= 0)
			errx(1, "stalled: %ld of %ld stanzas", done, total);
		for (i = 0; i < pairs; i++) {
			if (pfd[2 * i].revents & POLLOUT) {
				n = write(snd[i].fd, snd[i].batch + snd[i].off,
				    snd[i].len - snd[i].off);
				if (n > 0) {
					snd[i].off += n;
					if (snd[i].off == snd[i].len) {
						snd[i].off = 0;
						snd[i].todo -= per_batch;
						if (order && snd[i].todo > 0)
							stamp_batch(&snd[i]);
					}
				}
			}
			if (pfd[2 * i + 1].revents & (POLLIN | POLLHUP)) {
				if ((n = read(rcv[i].fd, buf, sizeof(buf))) <= 0)
					errx(1, "receiver %d closed", i);
				if (order)
					scan_ids(&rcv[i], i, buf, n);
				for (j = 0; j < n; j++) {
					if (buf[j] == pat[rcv[i].match]) {
						if (++rcv[i].match == 10) {
							rcv[i].match = 0;
							rcv[i].got++;
							done++;
						}
					} else
						rcv[i].match =
						    buf[j] == '<' ? 1 : 0;
				}
			}
		}
	}
	t1 = now();
	if (order)
		finish_order(snd, rcv, pairs, pfd);
	printf("%ld stanzas of %zu bytes, %d pairs: %.2f s, %.0f "
	    "stanzas/s%s\n", done, size, pairs, t1 - t0, done / (t1 - t0),
	    order ? ", none lost, order kept" : "");
	return (0);
}
