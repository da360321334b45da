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
 * loadgen port pairs stanzas size secret
 * Components are s<i>.bench and r<i>.bench, all with the one secret.
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
};

static const char	*secret;
static size_t		 batchlen;
static int		 per_batch;

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

/* Stanzas of size bytes, about 64 KiB of them, for one write. */
static char *
make_batch(const char *from, const char *to, size_t size)
{
	char	 head[256], *batch;
	size_t	 i;
	int	 n;

	n = snprintf(head, sizeof(head), "<message from='%s' to='%s' "
	    "type='chat'><body>", from, to);
	if (n < 0 || (size_t)n >= sizeof(head))
		errx(1, "names too long");
	if (size < (size_t)n + 17)
		size = n + 17;
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

	if (argc != 6)
		errx(2, "usage: loadgen port pairs stanzas size secret");
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
		snd[i].batch = make_batch(name, to, size);
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
				    batchlen - snd[i].off);
				if (n > 0) {
					snd[i].off += n;
					if (snd[i].off == batchlen) {
						snd[i].off = 0;
						snd[i].todo -= per_batch;
					}
				}
			}
			if (pfd[2 * i + 1].revents & (POLLIN | POLLHUP)) {
				if ((n = read(rcv[i].fd, buf, sizeof(buf))) <= 0)
					errx(1, "receiver %d closed", i);
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
	printf("%ld stanzas of %zu bytes, %d pairs: %.2f s, %.0f stanzas/s\n",
	    done, size, pairs, t1 - t0, done / (t1 - t0));
	return (0);
}
