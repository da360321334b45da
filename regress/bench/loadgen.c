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
 * pushing stanzas of a given size to its receiver through gatewayd as
 * fast as the gateway takes them.  Prints stanzas per second.
 *
 * loadgen [-o] port pairs stanzas size secret
 * Components are s<i>.bench and r<i>.bench, all with the one secret.
 *
 * -o checks order (make stress): each sender writes exactly its share,
 * each stanza carrying the sender's sequence number in its id, and its
 * receiver checks that they come 0, 1, 2, ... with none missing, none
 * twice; a last stanza with id 'end' shows that nothing follows.  Off,
 * the batches are written as they are, unchanged, for make bench.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
 * Stanzas of size bytes, about 64 KiB of them, for one write; with -o,
 * each has an id, its digits at *id_off in the stanza.
 */
static char *
make_batch(const char *from, const char *to, size_t size, size_t *id_off)
{
	char	 head[256], *batch;
	size_t	 i;
	int	 n;

	if (order)
		n = snprintf(head, sizeof(head), "<message from='%s' to='%s' "
		    "type='chat' id='%0*d'><body>", from, to, ID_DIGITS, 0);
	else
		n = snprintf(head, sizeof(head), "<message from='%s' to='%s' "
		    "type='chat'><body>", from, to);
	if (n < 0 || (size_t)n >= sizeof(head))
		errx(1, "names too long");
	if (size < (size_t)n + 17)
		size = n + 17;
	stanza_size = size;
	*id_off = n - strlen("'><body>") - ID_DIGITS;
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
	int		 port, pairs, i, j;
	ssize_t		 n;

	while ((i = getopt(argc, argv, "o")) != -1) {
		switch (i) {
		case 'o':
			order = 1;
			break;
		default:
			errx(2, "usage: loadgen [-o] port pairs stanzas size "
			    "secret");
		}
	}
	argc -= optind - 1;
	argv += optind - 1;
	if (argc != 6)
		errx(2, "usage: loadgen [-o] port pairs stanzas size secret");
	port = atoi(argv[1]);
	pairs = atoi(argv[2]);
	stanzas = atol(argv[3]);
	size = atol(argv[4]);
	secret = argv[5];
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
		snd[i].batch = make_batch(name, to, size, &snd[i].id_off);
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
