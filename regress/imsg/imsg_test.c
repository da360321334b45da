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
 * Unit tests for common/imsg.c and common/imsg-buffer.c.  Everything runs
 * in one process over nonblocking socketpairs.  One line is printed per
 * case: "ok - NAME", "not ok - NAME: reason" or "skip - NAME: reason".
 */

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <imsg.h>

#define TEST_OK		0
#define TEST_FAIL	-1
#define TEST_SKIP	1

/* bound on read attempts while waiting for data that should be there */
#define MAX_SPIN	100000

static char	reason[512];

#define FAIL(...) do {							\
	snprintf(reason, sizeof(reason), __VA_ARGS__);			\
	goto out;							\
} while (0)

#define CHECK(cond) do {						\
	if (!(cond))							\
		FAIL("line %d: %s", __LINE__, #cond);			\
} while (0)

/* cond must hold and errno must then be want */
#define CHECK_ERRNO(cond, want) do {					\
	errno = 0;							\
	if (!(cond))							\
		FAIL("line %d: %s", __LINE__, #cond);			\
	if (errno != (want))						\
		FAIL("line %d: %s: errno %d (%s), want %s", __LINE__,	\
		    #cond, errno, strerror(errno), #want);		\
} while (0)

struct test {
	const char	*name;
	int		(*fn)(void);
};

/*
 * Helpers.
 */

static unsigned char
pat(size_t msg, size_t off)
{
	return ((unsigned char)((msg * 131 + off * 7 + 13) & 0xff));
}

static int
count_fds(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return (-1);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return (n);
}

static int
fd_is_open(int fd)
{
	return (fcntl(fd, F_GETFD) != -1);
}

static int
pair_init(int sv[2], struct imsgbuf *a, struct imsgbuf *b, int fdpass)
{
	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	sv[0] = sv[1] = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1)
		return (-1);
	if (imsgbuf_init(a, sv[0]) == -1)
		return (-1);
	if (imsgbuf_init(b, sv[1]) == -1)
		return (-1);
	if (fdpass) {
		imsgbuf_allow_fdpass(a);
		imsgbuf_allow_fdpass(b);
	}
	return (0);
}

static void
pair_done(int sv[2], struct imsgbuf *a, struct imsgbuf *b)
{
	imsgbuf_clear(a);
	imsgbuf_clear(b);
	if (sv[0] != -1)
		close(sv[0]);
	if (sv[1] != -1)
		close(sv[1]);
	sv[0] = sv[1] = -1;
}

/*
 * Fetch one message, reading as needed.  Returns what imsg_get() returned
 * for it, or 0 on EOF, -1 on a read error, -2 if nothing arrived.
 */
static ssize_t
recv_one(struct imsgbuf *ib, struct imsg *imsg)
{
	ssize_t	 n;
	int	 i, r;

	for (i = 0; i < MAX_SPIN; i++) {
		if ((n = imsg_get(ib, imsg)) != 0)
			return (n);
		if ((r = imsgbuf_read(ib)) != 1)
			return (r);
	}
	return (-2);
}

static int
write_all(int fd, const void *data, size_t len)
{
	const unsigned char	*p = data;
	ssize_t			 n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1)
			return (-1);
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

/* sendmsg() a chunk of raw bytes with nfds descriptors attached */
static int
send_raw_fds(int sock, const void *data, size_t len, const int *fds,
    int nfds)
{
	union {
		struct cmsghdr	hdr;
		unsigned char	buf[CMSG_SPACE(8 * sizeof(int))];
	} cmsgbuf;
	struct msghdr	 msg;
	struct cmsghdr	*cmsg;
	struct iovec	 iov;

	if (nfds < 1 || nfds > 8)
		return (-1);
	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	iov.iov_base = (void *)(uintptr_t)data;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	memcpy(CMSG_DATA(cmsg), fds, nfds * sizeof(int));
	if (sendmsg(sock, &msg, 0) != (ssize_t)len)
		return (-1);
	return (0);
}

static void
mkhdr(struct imsg_hdr *hdr, uint32_t type, uint32_t len, uint32_t id,
    uint32_t pid)
{
	memset(hdr, 0, sizeof(*hdr));
	hdr->type = type;
	hdr->len = len;
	hdr->peerid = id;
	hdr->pid = pid;
}

/*
 * Message layer.
 */

static int
test_roundtrip(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	char		 payload[] = "round trip payload";
	char		 out[sizeof(payload)];
	int		 sv[2], rv = TEST_FAIL, have = 0;

	memset(&imsg, 0, sizeof(imsg));
	if (pair_init(sv, &a, &b, 0) == -1)
		FAIL("pair_init: %s", strerror(errno));
	CHECK(a.fd == sv[0]);
	CHECK(a.pid == getpid());
	CHECK(imsg_compose(&a, 42, 7, 1234, -1, payload, sizeof(payload)) == 1);
	CHECK(imsg_compose(&a, 43, 8, 0, -1, NULL, 0) == 1);
	CHECK(imsgbuf_queuelen(&a) == 2);
	CHECK(imsgbuf_flush(&a) == 0);
	CHECK(imsgbuf_queuelen(&a) == 0);

	CHECK(recv_one(&b, &imsg) ==
	    (ssize_t)(IMSG_HEADER_SIZE + sizeof(payload)));
	have = 1;
	CHECK(imsg_get_type(&imsg) == 42);
	CHECK(imsg_get_id(&imsg) == 7);
	CHECK(imsg_get_pid(&imsg) == 1234);
	CHECK(imsg.hdr.len == IMSG_HEADER_SIZE + sizeof(payload));
	CHECK(imsg_get_len(&imsg) == sizeof(payload));
	CHECK(imsg.data != NULL);
	CHECK(memcmp(imsg.data, payload, sizeof(payload)) == 0);
	CHECK(imsg_get_fd(&imsg) == -1);
	CHECK(imsg_get_data(&imsg, out, sizeof(out)) == 0);
	CHECK(memcmp(out, payload, sizeof(payload)) == 0);
	CHECK(imsg_get_len(&imsg) == 0);
	imsg_free(&imsg);
	have = 0;
	CHECK(imsg.buf == NULL && imsg.data == NULL);

	CHECK(recv_one(&b, &imsg) == (ssize_t)IMSG_HEADER_SIZE);
	have = 1;
	CHECK(imsg_get_type(&imsg) == 43);
	CHECK(imsg_get_id(&imsg) == 8);
	CHECK(imsg_get_pid(&imsg) == getpid());
	CHECK(imsg.data == NULL);
	CHECK(imsg_get_len(&imsg) == 0);
	CHECK_ERRNO(imsg_get_data(&imsg, out, 1) == -1, EBADMSG);
	imsg_free(&imsg);
	have = 0;

	CHECK(imsg_get(&b, &imsg) == 0);
	CHECK(imsgbuf_get(&b, &imsg) == 0);
	/* neither init nor clear touch the descriptor */
	imsgbuf_clear(&a);
	CHECK(fd_is_open(sv[0]));
	rv = TEST_OK;
 out:
	if (have)
		imsg_free(&imsg);
	pair_done(sv, &a, &b);
	return (rv);
}

static int
test_many_one_read(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	uint64_t	 v;
	int		 sv[2], rv = TEST_FAIL, i, n;

	if (pair_init(sv, &a, &b, 0) == -1)
		FAIL("pair_init: %s", strerror(errno));
	for (i = 0; i < 1000; i++) {
		v = (uint64_t)i * 0x0101010101ULL;
		CHECK(imsg_compose(&a, 1, (uint32_t)i, 0, -1, &v,
		    sizeof(v)) == 1);
	}
	CHECK(imsgbuf_queuelen(&a) == 1000);
	CHECK(imsgbuf_flush(&a) == 0);

	/* 24000 bytes: a single read must deliver all of them */
	CHECK(imsgbuf_read(&b) == 1);
	for (i = 0; i < 1000; i++) {
		n = imsgbuf_get(&b, &imsg);
		if (n != 1)
			FAIL("message %d: imsgbuf_get returned %d", i, n);
		if (imsg_get_id(&imsg) != (uint32_t)i ||
		    imsg_get_data(&imsg, &v, sizeof(v)) == -1 ||
		    v != (uint64_t)i * 0x0101010101ULL) {
			imsg_free(&imsg);
			FAIL("message %d: wrong id or payload", i);
		}
		imsg_free(&imsg);
	}
	CHECK(imsgbuf_get(&b, &imsg) == 0);
	rv = TEST_OK;
 out:
	pair_done(sv, &a, &b);
	return (rv);
}

static int
test_split_reads(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct imsg_hdr	 hdr;
	unsigned char	 raw[2 * (sizeof(hdr) + 50)];
	size_t		 i, off, first;
	int		 sv[2], rv = TEST_FAIL, have = 0, n;

	if (pair_init(sv, &a, &b, 0) == -1)
		FAIL("pair_init: %s", strerror(errno));
	/* two messages, 50 and 37 payload bytes */
	mkhdr(&hdr, 77, sizeof(hdr) + 50, 5, 99);
	memcpy(raw, &hdr, sizeof(hdr));
	for (i = 0; i < 50; i++)
		raw[sizeof(hdr) + i] = pat(1, i);
	first = sizeof(hdr) + 50;
	mkhdr(&hdr, 78, sizeof(hdr) + 37, 6, 98);
	memcpy(raw + first, &hdr, sizeof(hdr));
	for (i = 0; i < 37; i++)
		raw[first + sizeof(hdr) + i] = pat(2, i);

	for (off = 0; off < first + sizeof(hdr) + 37; off++) {
		if (write(sv[0], raw + off, 1) != 1)
			FAIL("write: %s", strerror(errno));
		if ((n = imsgbuf_read(&b)) != 1)
			FAIL("byte %zu: imsgbuf_read returned %d", off, n);
		n = imsgbuf_get(&b, &imsg);
		if (off == first - 1 || off == first + sizeof(hdr) + 36) {
			if (n != 1)
				FAIL("byte %zu: no message", off);
			have = 1;
			if (off == first - 1) {
				CHECK(imsg_get_type(&imsg) == 77);
				CHECK(imsg_get_id(&imsg) == 5);
				CHECK(imsg_get_pid(&imsg) == 99);
				CHECK(imsg_get_len(&imsg) == 50);
				CHECK(memcmp(imsg.data, raw + sizeof(hdr),
				    50) == 0);
			} else {
				CHECK(imsg_get_type(&imsg) == 78);
				CHECK(imsg_get_len(&imsg) == 37);
				CHECK(memcmp(imsg.data,
				    raw + first + sizeof(hdr), 37) == 0);
			}
			imsg_free(&imsg);
			have = 0;
		} else if (n != 0)
			FAIL("byte %zu: early message (%d)", off, n);
	}
	rv = TEST_OK;
 out:
	if (have)
		imsg_free(&imsg);
	pair_done(sv, &a, &b);
	return (rv);
}

static int
test_large_message(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	unsigned char	*buf = NULL;
	size_t		 max = MAX_IMSGSIZE - IMSG_HEADER_SIZE, i;
	int		 sv[2], rv = TEST_FAIL, have = 0;

	if (pair_init(sv, &a, &b, 0) == -1)
		FAIL("pair_init: %s", strerror(errno));
	if ((buf = malloc(max + 1)) == NULL)
		FAIL("malloc");
	for (i = 0; i <= max; i++)
		buf[i] = pat(3, i);
	CHECK_ERRNO(imsg_compose(&a, 1, 0, 0, -1, buf, max + 1) == -1, ERANGE);
	CHECK_ERRNO(imsg_create(&a, 1, 0, 0, max + 1) == NULL, ERANGE);
	CHECK(imsgbuf_queuelen(&a) == 0);
	CHECK(imsg_compose(&a, 2, 0, 0, -1, buf, max) == 1);
	CHECK(imsgbuf_flush(&a) == 0);
	CHECK(recv_one(&b, &imsg) == MAX_IMSGSIZE);
	have = 1;
	CHECK(imsg_get_type(&imsg) == 2);
	CHECK(imsg_get_len(&imsg) == max);
	CHECK(memcmp(imsg.data, buf, max) == 0);
	rv = TEST_OK;
 out:
	if (have)
		imsg_free(&imsg);
	free(buf);
	pair_done(sv, &a, &b);
	return (rv);
}

static int
test_set_maxsize(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	unsigned char	*buf = NULL;
	size_t		 len = 150000, i;
	int		 sv[2], rv = TEST_FAIL, have = 0, spin, n;

	if (pair_init(sv, &a, &b, 0) == -1)
		FAIL("pair_init: %s", strerror(errno));
	CHECK_ERRNO(imsgbuf_set_maxsize(&a, UINT32_MAX) == -1, ERANGE);
	CHECK_ERRNO(imsgbuf_set_maxsize(&a, UINT32_MAX - 15) == -1, ERANGE);
	CHECK_ERRNO(imsgbuf_set_maxsize(&a, IMSG_FD_MARK) == -1, EINVAL);
	CHECK_ERRNO(imsgbuf_set_maxsize(&a, IMSG_FD_MARK - IMSG_HEADER_SIZE)
	    == -1, EINVAL);
	CHECK(imsgbuf_set_maxsize(&a, IMSG_FD_MARK - IMSG_HEADER_SIZE - 1)
	    == 0);
	CHECK(imsgbuf_set_maxsize(&a, 10) == 0);
	CHECK_ERRNO(imsg_compose(&a, 1, 0, 0, -1, "12345678901", 11) == -1,
	    ERANGE);
	CHECK(imsg_compose(&a, 1, 0, 0, -1, "1234567890", 10) == 1);
	imsgbuf_clear(&a);
	CHECK(imsgbuf_init(&a, sv[0]) == 0);

	if ((buf = malloc(len)) == NULL)
		FAIL("malloc");
	for (i = 0; i < len; i++)
		buf[i] = pat(4, i);
	CHECK_ERRNO(imsg_compose(&a, 1, 0, 0, -1, buf, len) == -1, ERANGE);
	CHECK(imsgbuf_set_maxsize(&a, (uint32_t)len) == 0);
	CHECK(imsgbuf_set_maxsize(&b, (uint32_t)len) == 0);
	CHECK(imsg_compose(&a, 9, 0, 0, -1, buf, len) == 1);

	/* bigger than the read buffer and the socket buffer: interleave */
	for (spin = 0; spin < MAX_SPIN; spin++) {
		if (imsgbuf_queuelen(&a) > 0)
			CHECK(imsgbuf_write(&a) == 0);
		CHECK(imsgbuf_read(&b) == 1);
		if ((n = imsgbuf_get(&b, &imsg)) != 0)
			break;
	}
	CHECK(n == 1);
	have = 1;
	CHECK(imsg_get_type(&imsg) == 9);
	CHECK(imsg_get_len(&imsg) == len);
	CHECK(memcmp(imsg.data, buf, len) == 0);
	rv = TEST_OK;
 out:
	if (have)
		imsg_free(&imsg);
	free(buf);
	pair_done(sv, &a, &b);
	return (rv);
}

static int
test_oversize_rejected(void)
{
	struct imsgbuf	 a, b;
	struct imsg_hdr	 hdr;
	unsigned char	*buf = NULL;
	int		 sv[2], rv = TEST_FAIL;

	if (pair_init(sv, &a, &b, 0) == -1)
		FAIL("pair_init: %s", strerror(errno));
	mkhdr(&hdr, 1, MAX_IMSGSIZE + 1, 0, 0);
	CHECK(write_all(sv[0], &hdr, sizeof(hdr)) == 0);
	CHECK_ERRNO(imsgbuf_read(&b) == -1, ERANGE);
	/* the channel stays dead, valid data or not */
	mkhdr(&hdr, 1, sizeof(hdr), 0, 0);
	CHECK(write_all(sv[0], &hdr, sizeof(hdr)) == 0);
	CHECK_ERRNO(imsgbuf_read(&b) == -1, ERANGE);
	pair_done(sv, &a, &b);

	/* a sender allowed more than the receiver accepts */
	if (pair_init(sv, &a, &b, 0) == -1)
		FAIL("pair_init: %s", strerror(errno));
	if ((buf = calloc(1, 20000)) == NULL)
		FAIL("calloc");
	CHECK(imsgbuf_set_maxsize(&a, 20000) == 0);
	CHECK(imsg_compose(&a, 1, 0, 0, -1, buf, 17000) == 1);
	CHECK(imsgbuf_flush(&a) == 0);
	CHECK_ERRNO(imsgbuf_read(&b) == -1, ERANGE);
	pair_done(sv, &a, &b);

	/* the fd bit does not count towards the length */
	if (pair_init(sv, &a, &b, 0) == -1)
		FAIL("pair_init: %s", strerror(errno));
	mkhdr(&hdr, 1, IMSG_FD_MARK | (MAX_IMSGSIZE + 1), 0, 0);
	CHECK(write_all(sv[0], &hdr, sizeof(hdr)) == 0);
	CHECK_ERRNO(imsgbuf_read(&b) == -1, ERANGE);
	rv = TEST_OK;
 out:
	free(buf);
	pair_done(sv, &a, &b);
	return (rv);
}

static int
test_short_header_rejected(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct imsg_hdr	 hdr;
	int		 sv[2], rv = TEST_FAIL;

	if (pair_init(sv, &a, &b, 0) == -1)
		FAIL("pair_init: %s", strerror(errno));
	mkhdr(&hdr, 1, IMSG_HEADER_SIZE - 1, 0, 0);
	CHECK(write_all(sv[0], &hdr, sizeof(hdr)) == 0);
	CHECK_ERRNO(imsgbuf_read(&b) == -1, ERANGE);
	CHECK(imsgbuf_get(&b, &imsg) == 0);
	pair_done(sv, &a, &b);

	if (pair_init(sv, &a, &b, 0) == -1)
		FAIL("pair_init: %s", strerror(errno));
	mkhdr(&hdr, 1, 0, 0, 0);
	CHECK(write_all(sv[0], &hdr, sizeof(hdr)) == 0);
	CHECK_ERRNO(imsgbuf_read(&b) == -1, ERANGE);
	rv = TEST_OK;
 out:
	pair_done(sv, &a, &b);
	return (rv);
}

static int
test_eof(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct imsg_hdr	 hdr;
	unsigned char	 half[sizeof(hdr) + 5];
	int		 sv[2], rv = TEST_FAIL, n, spin, got = 0;

	if (pair_init(sv, &a, &b, 0) == -1)
		FAIL("pair_init: %s", strerror(errno));
	imsgbuf_clear(&a);
	close(sv[0]);
	sv[0] = -1;
	CHECK(imsgbuf_read(&b) == 0);
	pair_done(sv, &a, &b);

	/* two whole messages, then half of a third, then EOF */
	if (pair_init(sv, &a, &b, 0) == -1)
		FAIL("pair_init: %s", strerror(errno));
	CHECK(imsg_compose(&a, 1, 0, 0, -1, "one", 3) == 1);
	CHECK(imsg_compose(&a, 2, 0, 0, -1, "two", 3) == 1);
	CHECK(imsgbuf_flush(&a) == 0);
	mkhdr(&hdr, 3, sizeof(hdr) + 10, 0, 0);
	memcpy(half, &hdr, sizeof(hdr));
	memset(half + sizeof(hdr), 'x', 5);
	CHECK(write_all(sv[0], half, sizeof(half)) == 0);
	imsgbuf_clear(&a);
	close(sv[0]);
	sv[0] = -1;

	for (spin = 0; spin < MAX_SPIN; spin++)
		if ((n = imsgbuf_read(&b)) != 1)
			break;
	CHECK(n == 0);
	while ((n = imsgbuf_get(&b, &imsg)) == 1) {
		got++;
		if (imsg_get_type(&imsg) != (uint32_t)got) {
			imsg_free(&imsg);
			FAIL("message %d has type %u", got,
			    imsg_get_type(&imsg));
		}
		imsg_free(&imsg);
	}
	CHECK(n == 0);
	CHECK(got == 2);
	CHECK(imsgbuf_read(&b) == 0);
	rv = TEST_OK;
 out:
	pair_done(sv, &a, &b);
	return (rv);
}

static int
test_epipe(void)
{
	struct imsgbuf	 a, b;
	void		(*old)(int);
	int		 sv[2], rv = TEST_FAIL, base, p[2] = { -1, -1 };

	/* writev path; SIGPIPE is ignored by main() */
	if (pair_init(sv, &a, &b, 0) == -1)
		FAIL("pair_init: %s", strerror(errno));
	base = count_fds();
	CHECK(pipe(p) == 0);
	imsgbuf_clear(&b);
	close(sv[1]);
	sv[1] = -1;
	CHECK(imsg_compose(&a, 1, 0, 0, p[0], "x", 1) == 1);
	p[0] = -1;
	CHECK_ERRNO(imsgbuf_write(&a) == -1, EPIPE);
	CHECK_ERRNO(imsgbuf_flush(&a) == -1, EPIPE);
	/* the undelivered fd is closed with the queue */
	imsgbuf_clear(&a);
	close(p[1]);
	p[1] = -1;
	CHECK(count_fds() == base - 1);
	pair_done(sv, &a, &b);

	/* sendmsg path must not raise SIGPIPE even when it is not ignored */
	if (pair_init(sv, &a, &b, 1) == -1)
		FAIL("pair_init: %s", strerror(errno));
	imsgbuf_clear(&b);
	close(sv[1]);
	sv[1] = -1;
	CHECK(imsg_compose(&a, 1, 0, 0, -1, "x", 1) == 1);
	old = signal(SIGPIPE, SIG_DFL);
	errno = 0;
	if (imsgbuf_write(&a) != -1 || errno != EPIPE) {
		signal(SIGPIPE, old);
		FAIL("sendmsg: want -1/EPIPE, errno %d", errno);
	}
	signal(SIGPIPE, old);
	rv = TEST_OK;
 out:
	if (p[0] != -1)
		close(p[0]);
	if (p[1] != -1)
		close(p[1]);
	pair_done(sv, &a, &b);
	return (rv);
}

/*
 * Descriptor passing.
 */

static int
test_fdpass(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	char		 out[16];
	int		 sv[2], rv = TEST_FAIL, have = 0, base, rfd = -1;
	int		 p[2] = { -1, -1 };

	if (pair_init(sv, &a, &b, 1) == -1)
		FAIL("pair_init: %s", strerror(errno));
	base = count_fds();
	CHECK(pipe(p) == 0);
	CHECK(imsg_compose(&a, 5, 1, 0, p[0], "fd", 2) == 1);
	CHECK(imsgbuf_flush(&a) == 0);
	/* the sender's copy is closed once it is in flight */
	CHECK(!fd_is_open(p[0]));
	p[0] = -1;
	CHECK(write_all(p[1], "hello", 5) == 0);
	close(p[1]);
	p[1] = -1;

	CHECK(recv_one(&b, &imsg) == (ssize_t)IMSG_HEADER_SIZE + 2);
	have = 1;
	CHECK(imsg.hdr.len == IMSG_HEADER_SIZE + 2);
	CHECK(imsg_get_type(&imsg) == 5);
	CHECK((rfd = imsg_get_fd(&imsg)) >= 0);
	CHECK(imsg_get_fd(&imsg) == -1);
	CHECK(fcntl(rfd, F_GETFD) & FD_CLOEXEC);
	CHECK(read(rfd, out, sizeof(out)) == 5);
	CHECK(memcmp(out, "hello", 5) == 0);
	CHECK(read(rfd, out, sizeof(out)) == 0);
	close(rfd);
	rfd = -1;
	imsg_free(&imsg);
	have = 0;
	CHECK(count_fds() == base);
	rv = TEST_OK;
 out:
	if (have)
		imsg_free(&imsg);
	if (rfd != -1)
		close(rfd);
	if (p[0] != -1)
		close(p[0]);
	if (p[1] != -1)
		close(p[1]);
	pair_done(sv, &a, &b);
	return (rv);
}

/* fd, none, fd, fd, none: each descriptor must land on its own message */
static int
test_fdpass_sequence(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct stat	 st;
	const int	 withfd[5] = { 1, 0, 1, 1, 0 };
	char		 c;
	int		 sv[2], rv = TEST_FAIL, have = 0, base, i, fd, rfd = -1;
	int		 p[5][2];

	for (i = 0; i < 5; i++)
		p[i][0] = p[i][1] = -1;
	if (pair_init(sv, &a, &b, 1) == -1)
		FAIL("pair_init: %s", strerror(errno));
	base = count_fds();
	for (i = 0; i < 5; i++) {
		fd = -1;
		if (withfd[i]) {
			CHECK(pipe(p[i]) == 0);
			c = (char)('A' + i);
			CHECK(write(p[i][1], &c, 1) == 1);
			close(p[i][1]);
			p[i][1] = -1;
			fd = p[i][0];
		}
		CHECK(imsg_compose(&a, 100 + i, 0, 0, fd, &i, sizeof(i)) == 1);
		p[i][0] = -1;
	}
	CHECK(imsgbuf_flush(&a) == 0);
	for (i = 0; i < 5; i++) {
		CHECK(recv_one(&b, &imsg) > 0);
		have = 1;
		CHECK(imsg_get_type(&imsg) == (uint32_t)(100 + i));
		rfd = imsg_get_fd(&imsg);
		if (withfd[i]) {
			if (rfd == -1)
				FAIL("message %d: fd missing", i);
			CHECK(fstat(rfd, &st) == 0 && S_ISFIFO(st.st_mode));
			CHECK(read(rfd, &c, 1) == 1);
			if (c != 'A' + i)
				FAIL("message %d: got fd of message %d", i,
				    c - 'A');
			close(rfd);
			rfd = -1;
		} else if (rfd != -1)
			FAIL("message %d: unexpected fd", i);
		imsg_free(&imsg);
		have = 0;
	}
	CHECK(count_fds() == base);
	rv = TEST_OK;
 out:
	if (have)
		imsg_free(&imsg);
	if (rfd != -1)
		close(rfd);
	for (i = 0; i < 5; i++) {
		if (p[i][0] != -1)
			close(p[i][0]);
		if (p[i][1] != -1)
			close(p[i][1]);
	}
	pair_done(sv, &a, &b);
	return (rv);
}

static int
test_no_fdpass(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	int		 sv[2], rv = TEST_FAIL, have = 0, base, rfd = -1;
	int		 p[2] = { -1, -1 };

	if (pair_init(sv, &a, &b, 0) == -1)
		FAIL("pair_init: %s", strerror(errno));
	base = count_fds();
	CHECK(pipe(p) == 0);
	CHECK(imsg_compose(&a, 6, 0, 0, p[0], "nofd", 4) == 1);
	CHECK(imsgbuf_flush(&a) == 0);
	/* not sent, but closed */
	CHECK(!fd_is_open(p[0]));
	p[0] = -1;
	CHECK(recv_one(&b, &imsg) == (ssize_t)IMSG_HEADER_SIZE + 4);
	have = 1;
	CHECK(imsg.hdr.len == IMSG_HEADER_SIZE + 4);
	CHECK(memcmp(imsg.data, "nofd", 4) == 0);
	CHECK((rfd = imsg_get_fd(&imsg)) == -1);
	imsg_free(&imsg);
	have = 0;
	close(p[1]);
	p[1] = -1;
	CHECK(count_fds() == base);
	rv = TEST_OK;
 out:
	if (have)
		imsg_free(&imsg);
	if (rfd != -1)
		close(rfd);
	if (p[0] != -1)
		close(p[0]);
	if (p[1] != -1)
		close(p[1]);
	pair_done(sv, &a, &b);
	return (rv);
}

/* Two fds on one fd-marked message: the first is kept, the other closed. */
static int
test_fdpass_extra_fd(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct imsg_hdr	 hdr;
	struct stat	 st;
	int		 sv[2], rv = TEST_FAIL, have = 0, base, rfd = -1;
	int		 fds[2] = { -1, -1 }, p[2] = { -1, -1 };

	if (CMSG_SPACE(sizeof(int)) < CMSG_LEN(2 * sizeof(int))) {
		snprintf(reason, sizeof(reason),
		    "control buffer holds one fd only on this ABI");
		return (TEST_SKIP);
	}
	if (pair_init(sv, &a, &b, 1) == -1)
		FAIL("pair_init: %s", strerror(errno));
	base = count_fds();
	CHECK(pipe(p) == 0);
	CHECK((fds[1] = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
	fds[0] = p[0];
	mkhdr(&hdr, 1, IMSG_FD_MARK | sizeof(hdr), 0, 0);
	CHECK(send_raw_fds(sv[0], &hdr, sizeof(hdr), fds, 2) == 0);
	close(p[0]);
	close(p[1]);
	close(fds[1]);
	p[0] = p[1] = fds[0] = fds[1] = -1;

	CHECK(recv_one(&b, &imsg) == (ssize_t)IMSG_HEADER_SIZE);
	have = 1;
	CHECK(imsg.hdr.len == IMSG_HEADER_SIZE);
	CHECK((rfd = imsg_get_fd(&imsg)) >= 0);
	CHECK(fstat(rfd, &st) == 0 && S_ISFIFO(st.st_mode));
	close(rfd);
	rfd = -1;
	imsg_free(&imsg);
	have = 0;
	CHECK(count_fds() == base);
	rv = TEST_OK;
 out:
	if (have)
		imsg_free(&imsg);
	if (rfd != -1)
		close(rfd);
	if (p[0] != -1)
		close(p[0]);
	if (p[1] != -1)
		close(p[1]);
	if (fds[1] != -1)
		close(fds[1]);
	pair_done(sv, &a, &b);
	return (rv);
}

/* More fds than the control buffer holds: MSG_CTRUNC kills the channel. */
static int
test_fdpass_ctrunc(void)
{
	struct imsgbuf	 a, b;
	struct imsg_hdr	 hdr;
	int		 sv[2], rv = TEST_FAIL, base, i, fds[6];

	for (i = 0; i < 6; i++)
		fds[i] = -1;
	if (pair_init(sv, &a, &b, 1) == -1)
		FAIL("pair_init: %s", strerror(errno));
	base = count_fds();
	for (i = 0; i < 6; i++)
		CHECK((fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC))
		    != -1);
	mkhdr(&hdr, 1, IMSG_FD_MARK | sizeof(hdr), 0, 0);
	CHECK(send_raw_fds(sv[0], &hdr, sizeof(hdr), fds, 6) == 0);
	for (i = 0; i < 6; i++) {
		close(fds[i]);
		fds[i] = -1;
	}
	CHECK_ERRNO(imsgbuf_read(&b) == -1, EMSGSIZE);
	CHECK(count_fds() == base);
	rv = TEST_OK;
 out:
	for (i = 0; i < 6; i++)
		if (fds[i] != -1)
			close(fds[i]);
	pair_done(sv, &a, &b);
	return (rv);
}

/* An fd that no header asks for is closed; so is one left on an imsg. */
static int
test_fd_unclaimed(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct imsg_hdr	 hdr;
	int		 sv[2], rv = TEST_FAIL, have = 0, base, fd = -1;

	if (pair_init(sv, &a, &b, 1) == -1)
		FAIL("pair_init: %s", strerror(errno));
	base = count_fds();
	CHECK((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
	mkhdr(&hdr, 1, sizeof(hdr), 0, 0);
	CHECK(send_raw_fds(sv[0], &hdr, sizeof(hdr), &fd, 1) == 0);
	close(fd);
	fd = -1;
	CHECK(recv_one(&b, &imsg) == (ssize_t)IMSG_HEADER_SIZE);
	have = 1;
	CHECK(imsg_get_fd(&imsg) == -1);
	imsg_free(&imsg);
	have = 0;
	CHECK(count_fds() == base);

	/* claimed by the message but never taken: imsg_free closes it */
	CHECK((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
	CHECK(imsg_compose(&a, 2, 0, 0, fd, NULL, 0) == 1);
	fd = -1;
	CHECK(imsgbuf_flush(&a) == 0);
	CHECK(recv_one(&b, &imsg) == (ssize_t)IMSG_HEADER_SIZE);
	have = 1;
	CHECK(count_fds() == base + 1);
	imsg_free(&imsg);
	have = 0;
	CHECK(count_fds() == base);
	rv = TEST_OK;
 out:
	if (have)
		imsg_free(&imsg);
	if (fd != -1)
		close(fd);
	pair_done(sv, &a, &b);
	return (rv);
}

/* The fd arrives with only part of its header: it must wait for the rest. */
static int
test_fd_split_header(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct imsg_hdr	 hdr;
	unsigned char	 raw[sizeof(hdr) + 3];
	struct stat	 st;
	int		 sv[2], rv = TEST_FAIL, have = 0, base, fd = -1;
	int		 rfd = -1;

	if (pair_init(sv, &a, &b, 1) == -1)
		FAIL("pair_init: %s", strerror(errno));
	base = count_fds();
	mkhdr(&hdr, 4, IMSG_FD_MARK | sizeof(raw), 0, 0);
	memcpy(raw, &hdr, sizeof(hdr));
	memcpy(raw + sizeof(hdr), "abc", 3);
	CHECK((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
	CHECK(send_raw_fds(sv[0], raw, 6, &fd, 1) == 0);
	close(fd);
	fd = -1;
	CHECK(imsgbuf_read(&b) == 1);
	CHECK(imsgbuf_get(&b, &imsg) == 0);
	CHECK(write_all(sv[0], raw + 6, sizeof(raw) - 6) == 0);
	CHECK(recv_one(&b, &imsg) == (ssize_t)sizeof(raw));
	have = 1;
	CHECK((rfd = imsg_get_fd(&imsg)) >= 0);
	CHECK(fstat(rfd, &st) == 0 && S_ISCHR(st.st_mode));
	close(rfd);
	rfd = -1;
	CHECK(memcmp(imsg.data, "abc", 3) == 0);
	imsg_free(&imsg);
	have = 0;
	CHECK(count_fds() == base);

	/* held for a header that does not want it: closed once it is parsed */
	mkhdr(&hdr, 5, sizeof(raw), 0, 0);
	memcpy(raw, &hdr, sizeof(hdr));
	CHECK((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
	CHECK(send_raw_fds(sv[0], raw, 6, &fd, 1) == 0);
	close(fd);
	fd = -1;
	CHECK(imsgbuf_read(&b) == 1);
	CHECK(count_fds() == base + 1);
	CHECK(write_all(sv[0], raw + 6, sizeof(raw) - 6) == 0);
	CHECK(recv_one(&b, &imsg) == (ssize_t)sizeof(raw));
	have = 1;
	CHECK(imsg_get_type(&imsg) == 5);
	CHECK(imsg_get_fd(&imsg) == -1);
	imsg_free(&imsg);
	have = 0;
	CHECK(count_fds() == base);

	/* a held fd is released by imsgbuf_clear() */
	CHECK((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
	CHECK(send_raw_fds(sv[0], raw, 6, &fd, 1) == 0);
	close(fd);
	fd = -1;
	CHECK(imsgbuf_read(&b) == 1);
	CHECK(count_fds() == base + 1);
	imsgbuf_clear(&b);
	CHECK(count_fds() == base);
	rv = TEST_OK;
 out:
	if (have)
		imsg_free(&imsg);
	if (fd != -1)
		close(fd);
	if (rfd != -1)
		close(rfd);
	pair_done(sv, &a, &b);
	return (rv);
}

static int
test_clear_closes_fds(void)
{
	struct imsgbuf	 a, b;
	struct imsg_hdr	 hdr;
	int		 sv[2], rv = TEST_FAIL, base, fd = -1;

	if (pair_init(sv, &a, &b, 1) == -1)
		FAIL("pair_init: %s", strerror(errno));
	base = count_fds();
	/* queued for writing */
	CHECK((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
	CHECK(imsg_compose(&a, 1, 0, 0, fd, "q", 1) == 1);
	fd = -1;
	/* received, message incomplete */
	CHECK((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
	mkhdr(&hdr, 1, IMSG_FD_MARK | (sizeof(hdr) + 10), 0, 0);
	CHECK(send_raw_fds(sv[0], &hdr, sizeof(hdr), &fd, 1) == 0);
	close(fd);
	fd = -1;
	CHECK(imsgbuf_read(&b) == 1);
	CHECK(count_fds() == base + 2);
	CHECK(imsgbuf_queuelen(&a) == 1);
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	CHECK(imsgbuf_queuelen(&a) == 0);
	CHECK(count_fds() == base);
	CHECK(fd_is_open(sv[0]) && fd_is_open(sv[1]));
	rv = TEST_OK;
 out:
	if (fd != -1)
		close(fd);
	pair_done(sv, &a, &b);
	return (rv);
}

/*
 * Accessors and composition.
 */

static int
test_get_data_errors(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	uint64_t	 v = 0x1122334455667788ULL, out = 0;
	uint32_t	 small;
	int		 sv[2], rv = TEST_FAIL, have = 0;

	if (pair_init(sv, &a, &b, 0) == -1)
		FAIL("pair_init: %s", strerror(errno));
	CHECK(imsg_compose(&a, 1, 0, 0, -1, &v, sizeof(v)) == 1);
	CHECK(imsgbuf_flush(&a) == 0);
	CHECK(recv_one(&b, &imsg) > 0);
	have = 1;
	CHECK_ERRNO(imsg_get_data(&imsg, &small, sizeof(small)) == -1,
	    EBADMSG);
	CHECK_ERRNO(imsg_get_data(&imsg, &out, 0) == -1, EINVAL);
	CHECK(imsg_get_len(&imsg) == sizeof(v));
	CHECK(imsg_get_data(&imsg, &out, sizeof(out)) == 0);
	CHECK(out == v);
	CHECK(imsg_get_len(&imsg) == 0);
	CHECK_ERRNO(imsg_get_data(&imsg, &out, sizeof(out)) == -1, EBADMSG);
	rv = TEST_OK;
 out:
	if (have)
		imsg_free(&imsg);
	pair_done(sv, &a, &b);
	return (rv);
}

static int
test_get_strbuf(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	char		 str[32];
	int		 sv[2], rv = TEST_FAIL, have = 0;

	if (pair_init(sv, &a, &b, 0) == -1)
		FAIL("pair_init: %s", strerror(errno));
	CHECK(imsg_compose(&a, 1, 0, 0, -1, "hello", 6) == 1);
	CHECK(imsg_compose(&a, 2, 0, 0, -1, "hello", 5) == 1);
	CHECK(imsg_compose(&a, 3, 0, 0, -1, "hi", 3) == 1);
	CHECK(imsgbuf_flush(&a) == 0);

	CHECK(recv_one(&b, &imsg) > 0);
	have = 1;
	memset(str, 'z', sizeof(str));
	CHECK(imsg_get_strbuf(&imsg, str, 6) == 0);
	CHECK(strcmp(str, "hello") == 0);
	imsg_free(&imsg);
	have = 0;

	CHECK(recv_one(&b, &imsg) > 0);
	have = 1;
	memset(str, 'z', sizeof(str));
	CHECK_ERRNO(imsg_get_strbuf(&imsg, str, 5) == -1, EOVERFLOW);
	CHECK(strcmp(str, "hell") == 0);
	imsg_free(&imsg);
	have = 0;

	CHECK(recv_one(&b, &imsg) > 0);
	have = 1;
	CHECK_ERRNO(imsg_get_strbuf(&imsg, str, 0) == -1, EINVAL);
	CHECK_ERRNO(imsg_get_strbuf(&imsg, str, sizeof(str)) == -1, EBADMSG);
	CHECK(imsg_get_len(&imsg) == 3);
	CHECK(imsg_get_strbuf(&imsg, str, 3) == 0);
	CHECK(strcmp(str, "hi") == 0);
	rv = TEST_OK;
 out:
	if (have)
		imsg_free(&imsg);
	pair_done(sv, &a, &b);
	return (rv);
}

static int
test_get_buf_ibuf(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct ibuf	 view;
	unsigned char	 data[12], head[4], big[100];
	uint32_t	 w;
	uint64_t	 q;
	size_t		 i;
	int		 sv[2], rv = TEST_FAIL, have = 0;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i + 1);
	if (pair_init(sv, &a, &b, 0) == -1)
		FAIL("pair_init: %s", strerror(errno));
	CHECK(imsg_compose(&a, 1, 0, 0, -1, data, sizeof(data)) == 1);
	CHECK(imsgbuf_flush(&a) == 0);
	CHECK(recv_one(&b, &imsg) > 0);
	have = 1;
	CHECK_ERRNO(imsg_get_buf(&imsg, big, sizeof(big)) == -1, EBADMSG);
	CHECK(imsg_get_len(&imsg) == sizeof(data));
	CHECK(imsg_get_buf(&imsg, head, sizeof(head)) == 0);
	CHECK(memcmp(head, data, 4) == 0);
	CHECK(imsg_get_len(&imsg) == 8);
	CHECK(imsg_get_ibuf(&imsg, &view) == 0);
	CHECK(imsg_get_len(&imsg) == 0);
	CHECK(ibuf_size(&view) == 8);
	CHECK(ibuf_left(&view) == 0);
	CHECK(ibuf_get_n32(&view, &w) == 0);
	CHECK(w == 0x05060708);
	CHECK(ibuf_get_h32(&view, &w) == 0);
	CHECK(memcmp(&w, data + 8, 4) == 0);
	CHECK_ERRNO(ibuf_get_n64(&view, &q) == -1, EBADMSG);
	/* views cannot grow, and freeing them is harmless */
	CHECK_ERRNO(ibuf_add(&view, "x", 1) == -1, ERANGE);
	ibuf_free(&view);
	CHECK_ERRNO(imsg_get_ibuf(&imsg, &view) == -1, EBADMSG);
	rv = TEST_OK;
 out:
	if (have)
		imsg_free(&imsg);
	pair_done(sv, &a, &b);
	return (rv);
}

static int
test_compose_ibuf(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct ibuf	*buf = NULL;
	struct ibuf	 view;
	struct stat	 st;
	uint32_t	 v;
	int		 sv[2], rv = TEST_FAIL, have = 0, i, base, fd = -1;

	if (pair_init(sv, &a, &b, 1) == -1)
		FAIL("pair_init: %s", strerror(errno));
	base = count_fds();
	CHECK((buf = ibuf_dynamic(0, 1000)) != NULL);
	for (i = 0; i < 50; i++)
		CHECK(ibuf_add_n32(buf, (uint64_t)i * 1000) == 0);
	CHECK((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
	ibuf_fd_set(buf, fd);
	fd = -1;
	CHECK(imsg_compose_ibuf(&a, 5, 6, 7, buf) == 1);
	buf = NULL;
	CHECK(imsgbuf_queuelen(&a) == 2);
	/* the fd rides on the header, so header and payload go together */
	CHECK(imsgbuf_write(&a) == 0);
	CHECK(imsgbuf_queuelen(&a) == 0);

	CHECK(recv_one(&b, &imsg) == (ssize_t)IMSG_HEADER_SIZE + 200);
	have = 1;
	CHECK(imsg_get_type(&imsg) == 5);
	CHECK(imsg_get_id(&imsg) == 6);
	CHECK(imsg_get_pid(&imsg) == 7);
	CHECK((fd = imsg_get_fd(&imsg)) >= 0);
	CHECK(fstat(fd, &st) == 0 && S_ISCHR(st.st_mode));
	close(fd);
	fd = -1;
	CHECK(imsg_get_ibuf(&imsg, &view) == 0);
	for (i = 0; i < 50; i++) {
		CHECK(ibuf_get_n32(&view, &v) == 0);
		if (v != (uint32_t)i * 1000)
			FAIL("value %d is %u", i, v);
	}
	CHECK(ibuf_size(&view) == 0);
	imsg_free(&imsg);
	have = 0;

	/* too big: refused, and the buffer is consumed all the same */
	CHECK(imsgbuf_set_maxsize(&a, 4) == 0);
	CHECK((buf = ibuf_open(8)) != NULL);
	CHECK(ibuf_add_zero(buf, 8) == 0);
	CHECK((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
	ibuf_fd_set(buf, fd);
	fd = -1;
	CHECK_ERRNO(imsg_compose_ibuf(&a, 1, 0, 0, buf) == -1, ERANGE);
	buf = NULL;
	CHECK(imsgbuf_queuelen(&a) == 0);
	CHECK(count_fds() == base);
	rv = TEST_OK;
 out:
	if (have)
		imsg_free(&imsg);
	if (fd != -1)
		close(fd);
	ibuf_free(buf);
	pair_done(sv, &a, &b);
	return (rv);
}

static int
test_forward(void)
{
	struct imsgbuf	 a, b, c, d;
	struct imsg	 imsg, fwd;
	int		 sv[2], sv2[2], rv = TEST_FAIL, have = 0, havefwd = 0;
	int		 fd = -1, base;

	sv2[0] = sv2[1] = -1;
	if (pair_init(sv, &a, &b, 1) == -1)
		FAIL("pair_init: %s", strerror(errno));
	if (pair_init(sv2, &c, &d, 1) == -1)
		FAIL("pair_init: %s", strerror(errno));
	base = count_fds();
	CHECK((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
	CHECK(imsg_compose(&a, 11, 22, 33, fd, "forward me", 10) == 1);
	fd = -1;
	CHECK(imsgbuf_flush(&a) == 0);
	CHECK(recv_one(&b, &imsg) > 0);
	have = 1;

	CHECK(imsg_forward(&c, &imsg) == 1);
	/* the original is untouched */
	CHECK(imsg_get_len(&imsg) == 10);
	CHECK(imsgbuf_flush(&c) == 0);
	CHECK(recv_one(&d, &fwd) == (ssize_t)IMSG_HEADER_SIZE + 10);
	havefwd = 1;
	CHECK(imsg_get_type(&fwd) == 11);
	CHECK(imsg_get_id(&fwd) == 22);
	CHECK(imsg_get_pid(&fwd) == 33);
	CHECK(memcmp(fwd.data, "forward me", 10) == 0);
	CHECK(imsg_get_fd(&fwd) == -1);
	CHECK((fd = imsg_get_fd(&imsg)) >= 0);
	close(fd);
	fd = -1;
	imsg_free(&fwd);
	havefwd = 0;
	imsg_free(&imsg);
	have = 0;
	CHECK(count_fds() == base);

	/* forwarding to a smaller limit fails cleanly */
	CHECK(imsg_compose(&a, 12, 0, 0, -1, "0123456789", 10) == 1);
	CHECK(imsgbuf_flush(&a) == 0);
	CHECK(recv_one(&b, &imsg) > 0);
	have = 1;
	CHECK(imsgbuf_set_maxsize(&c, 5) == 0);
	CHECK_ERRNO(imsg_forward(&c, &imsg) == -1, ERANGE);
	CHECK(imsgbuf_queuelen(&c) == 0);
	rv = TEST_OK;
 out:
	if (have)
		imsg_free(&imsg);
	if (havefwd)
		imsg_free(&fwd);
	if (fd != -1)
		close(fd);
	pair_done(sv, &a, &b);
	pair_done(sv2, &c, &d);
	return (rv);
}

static int
test_create_add_close(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct ibuf	*m = NULL;
	unsigned char	 more[100];
	size_t		 i;
	int		 sv[2], rv = TEST_FAIL, have = 0;

	for (i = 0; i < sizeof(more); i++)
		more[i] = pat(5, i);
	if (pair_init(sv, &a, &b, 0) == -1)
		FAIL("pair_init: %s", strerror(errno));
	CHECK((m = imsg_create(&a, 1, 2, 0, 4)) != NULL);
	CHECK(imsg_add(m, "head", 4) == 4);
	/* grows past the announced size */
	CHECK(imsg_add(m, more, sizeof(more)) == (int)sizeof(more));
	CHECK(imsg_add(m, NULL, 0) == 0);
	CHECK(imsgbuf_queuelen(&a) == 0);
	imsg_close(&a, m);
	m = NULL;
	CHECK(imsgbuf_queuelen(&a) == 1);
	CHECK(imsgbuf_flush(&a) == 0);
	CHECK(recv_one(&b, &imsg) == (ssize_t)(IMSG_HEADER_SIZE + 104));
	have = 1;
	CHECK(imsg_get_type(&imsg) == 1);
	CHECK(imsg_get_id(&imsg) == 2);
	CHECK(imsg_get_pid(&imsg) == getpid());
	CHECK(imsg_get_len(&imsg) == 104);
	CHECK(memcmp(imsg.data, "head", 4) == 0);
	CHECK(memcmp((unsigned char *)imsg.data + 4, more, sizeof(more)) == 0);
	imsg_free(&imsg);
	have = 0;

	/* adding past the limit fails and frees the message */
	CHECK(imsgbuf_set_maxsize(&a, 10) == 0);
	CHECK((m = imsg_create(&a, 1, 0, 0, 0)) != NULL);
	CHECK(imsg_add(m, more, 10) == 10);
	CHECK_ERRNO(imsg_add(m, more, 1) == -1, ERANGE);
	m = NULL;
	CHECK(imsgbuf_queuelen(&a) == 0);

	/* lowering a message's own limit */
	CHECK((m = imsg_create(&a, 1, 0, 0, 0)) != NULL);
	CHECK(imsg_set_maxsize(m, 3) == 0);
	CHECK_ERRNO(imsg_set_maxsize(m, 8) == -1, ERANGE);
	CHECK(imsg_add(m, "abc", 3) == 3);
	CHECK_ERRNO(imsg_add(m, "d", 1) == -1, ERANGE);
	m = NULL;
	rv = TEST_OK;
 out:
	if (have)
		imsg_free(&imsg);
	ibuf_free(m);
	pair_done(sv, &a, &b);
	return (rv);
}

static int
test_composev(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct iovec	 iov[3];
	int		 sv[2], rv = TEST_FAIL, have = 0;

	if (pair_init(sv, &a, &b, 0) == -1)
		FAIL("pair_init: %s", strerror(errno));
	iov[0].iov_base = (void *)(uintptr_t)"abc";
	iov[0].iov_len = 3;
	iov[1].iov_base = NULL;
	iov[1].iov_len = 0;
	iov[2].iov_base = (void *)(uintptr_t)"defgh";
	iov[2].iov_len = 5;
	CHECK(imsg_composev(&a, 3, 4, 5, -1, iov, 3) == 1);
	CHECK(imsg_composev(&a, 4, 0, 0, -1, NULL, 0) == 1);
	CHECK_ERRNO(imsg_composev(&a, 4, 0, 0, -1, iov, -1) == -1, EINVAL);
	CHECK(imsgbuf_flush(&a) == 0);
	CHECK(recv_one(&b, &imsg) == (ssize_t)IMSG_HEADER_SIZE + 8);
	have = 1;
	CHECK(imsg_get_type(&imsg) == 3);
	CHECK(memcmp(imsg.data, "abcdefgh", 8) == 0);
	imsg_free(&imsg);
	have = 0;
	CHECK(recv_one(&b, &imsg) == (ssize_t)IMSG_HEADER_SIZE);
	have = 1;
	CHECK(imsg_get_type(&imsg) == 4);
	rv = TEST_OK;
 out:
	if (have)
		imsg_free(&imsg);
	pair_done(sv, &a, &b);
	return (rv);
}

static int
test_ibufq(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct ibufqueue *q = NULL;
	int		 sv[2], rv = TEST_FAIL, have = 0, i;

	if (pair_init(sv, &a, &b, 0) == -1)
		FAIL("pair_init: %s", strerror(errno));
	CHECK((q = ibufq_new()) != NULL);
	for (i = 0; i < 3; i++)
		CHECK(imsg_compose(&a, 20 + i, 0, 0, -1, &i, sizeof(i)) == 1);
	CHECK(imsgbuf_flush(&a) == 0);
	for (i = 0; i < 3; i++) {
		CHECK(recv_one(&b, &imsg) > 0);
		imsg_ibufq_push(q, &imsg);
		CHECK(imsg.buf == NULL);
	}
	CHECK(ibufq_queuelen(q) == 3);
	for (i = 0; i < 3; i++) {
		CHECK(imsg_ibufq_pop(q, &imsg) == 1);
		have = 1;
		CHECK(imsg_get_type(&imsg) == (uint32_t)(20 + i));
		CHECK(imsg_get_len(&imsg) == sizeof(i));
		CHECK(memcmp(imsg.data, &i, sizeof(i)) == 0);
		imsg_free(&imsg);
		have = 0;
	}
	CHECK(imsg_ibufq_pop(q, &imsg) == 0);
	CHECK(ibufq_queuelen(q) == 0);
	rv = TEST_OK;
 out:
	if (have)
		imsg_free(&imsg);
	ibufq_free(q);
	pair_done(sv, &a, &b);
	return (rv);
}

/*
 * ibuf layer.
 */

static int
test_ibuf_add_range(void)
{
	struct ibuf	*b = NULL;
	const unsigned char want[] = {
	    0xff, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef,
	    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08 };
	uint16_t	 h16;
	uint32_t	 h32;
	uint64_t	 h64;
	size_t		 off;
	int		 rv = TEST_FAIL;

	CHECK((b = ibuf_dynamic(4, 1024)) != NULL);
	CHECK_ERRNO(ibuf_add_n8(b, 0x100) == -1, EINVAL);
	CHECK_ERRNO(ibuf_add_n16(b, 0x10000) == -1, EINVAL);
	CHECK_ERRNO(ibuf_add_n32(b, 0x100000000ULL) == -1, EINVAL);
	CHECK_ERRNO(ibuf_add_h16(b, 0x10000) == -1, EINVAL);
	CHECK_ERRNO(ibuf_add_h32(b, 0x100000000ULL) == -1, EINVAL);
	CHECK(ibuf_size(b) == 0);
	CHECK(ibuf_add_n8(b, 0xff) == 0);
	CHECK(ibuf_add_n16(b, 0x1234) == 0);
	CHECK(ibuf_add_n32(b, 0xdeadbeef) == 0);
	CHECK(ibuf_add_n64(b, 0x0102030405060708ULL) == 0);
	CHECK(ibuf_size(b) == sizeof(want));
	CHECK(memcmp(ibuf_data(b), want, sizeof(want)) == 0);
	off = ibuf_size(b);
	CHECK(ibuf_add_h16(b, 0xbeef) == 0);
	CHECK(ibuf_add_h32(b, 0xcafef00d) == 0);
	CHECK(ibuf_add_h64(b, 0x1122334455667788ULL) == 0);
	h16 = 0xbeef;
	h32 = 0xcafef00d;
	h64 = 0x1122334455667788ULL;
	CHECK(memcmp((unsigned char *)ibuf_data(b) + off, &h16, 2) == 0);
	CHECK(memcmp((unsigned char *)ibuf_data(b) + off + 2, &h32, 4) == 0);
	CHECK(memcmp((unsigned char *)ibuf_data(b) + off + 6, &h64, 8) == 0);

	/* and read back */
	{
		uint8_t	 r8;
		uint16_t r16;
		uint32_t r32;
		uint64_t r64;

		CHECK(ibuf_get_n8(b, &r8) == 0 && r8 == 0xff);
		CHECK(ibuf_get_n16(b, &r16) == 0 && r16 == 0x1234);
		CHECK(ibuf_get_n32(b, &r32) == 0 && r32 == 0xdeadbeef);
		CHECK(ibuf_get_n64(b, &r64) == 0 &&
		    r64 == 0x0102030405060708ULL);
		CHECK(ibuf_get_h16(b, &r16) == 0 && r16 == 0xbeef);
		CHECK(ibuf_get_h32(b, &r32) == 0 && r32 == 0xcafef00d);
		CHECK(ibuf_get_h64(b, &r64) == 0 &&
		    r64 == 0x1122334455667788ULL);
		CHECK(ibuf_size(b) == 0);
	}
	rv = TEST_OK;
 out:
	ibuf_free(b);
	return (rv);
}

static int
test_ibuf_get_short(void)
{
	struct ibuf	 v, sub;
	unsigned char	 data[3] = { 1, 2, 3 };
	uint8_t		 r8;
	uint16_t	 r16;
	uint32_t	 r32 = 0xaaaaaaaa;
	uint64_t	 r64;
	char		*s = NULL, str[8];
	int		 rv = TEST_FAIL;

	ibuf_from_buffer(&v, data, sizeof(data));
	CHECK_ERRNO(ibuf_get_n32(&v, &r32) == -1, EBADMSG);
	CHECK(r32 == 0xaaaaaaaa);
	CHECK_ERRNO(ibuf_get_h32(&v, &r32) == -1, EBADMSG);
	CHECK_ERRNO(ibuf_get_n64(&v, &r64) == -1, EBADMSG);
	CHECK_ERRNO(ibuf_get_h64(&v, &r64) == -1, EBADMSG);
	CHECK_ERRNO(ibuf_get(&v, str, 4) == -1, EBADMSG);
	CHECK_ERRNO(ibuf_skip(&v, 4) == -1, EBADMSG);
	CHECK_ERRNO(ibuf_get_ibuf(&v, 4, &sub) == -1, EBADMSG);
	CHECK_ERRNO((s = ibuf_get_string(&v, 4)) == NULL, EBADMSG);
	CHECK_ERRNO(ibuf_get_strbuf(&v, str, 4) == -1, EBADMSG);
	CHECK(ibuf_size(&v) == 3);
	CHECK(ibuf_get_n16(&v, &r16) == 0 && r16 == 0x0102);
	CHECK_ERRNO(ibuf_get_n16(&v, &r16) == -1, EBADMSG);
	CHECK(ibuf_get_n8(&v, &r8) == 0 && r8 == 3);
	CHECK_ERRNO(ibuf_get_n8(&v, &r8) == -1, EBADMSG);
	CHECK(ibuf_skip(&v, 0) == 0);
	ibuf_rewind(&v);
	CHECK(ibuf_skip(&v, 1) == 0);
	CHECK(ibuf_get_ibuf(&v, 2, &sub) == 0);
	CHECK(ibuf_size(&v) == 0);
	CHECK(ibuf_size(&sub) == 2);
	CHECK(ibuf_get_n8(&sub, &r8) == 0 && r8 == 2);
	rv = TEST_OK;
 out:
	free(s);
	return (rv);
}

static int
test_ibuf_seek_set(void)
{
	struct ibuf	*b = NULL;
	unsigned char	*p;
	const unsigned char want[] = { 0xab, 0x12, 0x34, 0, 0x01, 0x02, 0x03,
	    0x04, 9, 9 };
	uint32_t	 h;
	int		 rv = TEST_FAIL;

	CHECK((b = ibuf_open(16)) != NULL);
	CHECK(ibuf_add_zero(b, 10) == 0);
	CHECK(ibuf_left(b) == 6);
	CHECK((p = ibuf_seek(b, 8, 2)) != NULL);
	p[0] = p[1] = 9;
	CHECK(ibuf_seek(b, 10, 0) != NULL);
	CHECK_ERRNO(ibuf_seek(b, 9, 2) == NULL, ERANGE);
	CHECK_ERRNO(ibuf_seek(b, 11, 0) == NULL, ERANGE);
	CHECK_ERRNO(ibuf_seek(b, 1, SIZE_MAX) == NULL, ERANGE);
	CHECK(ibuf_set_n8(b, 0, 0xab) == 0);
	CHECK(ibuf_set_n16(b, 1, 0x1234) == 0);
	CHECK(ibuf_set_n32(b, 4, 0x01020304) == 0);
	CHECK(memcmp(ibuf_data(b), want, sizeof(want)) == 0);
	CHECK_ERRNO(ibuf_set_n16(b, 1, 0x10000) == -1, EINVAL);
	CHECK_ERRNO(ibuf_set_n32(b, 7, 1) == -1, ERANGE);
	CHECK_ERRNO(ibuf_set(b, 10, "x", 1) == -1, ERANGE);
	CHECK_ERRNO(ibuf_set_n64(b, 4, 1) == -1, ERANGE);
	CHECK(ibuf_set_n64(b, 2, 0x0102030405060708ULL) == 0);
	CHECK(ibuf_set_h32(b, 0, 0xfeedface) == 0);
	memcpy(&h, ibuf_data(b), sizeof(h));
	CHECK(h == 0xfeedface);
	CHECK(ibuf_size(b) == 10);

	/* seek and set are relative to the read position */
	CHECK(ibuf_skip(b, 4) == 0);
	CHECK(ibuf_set_n8(b, 0, 0x77) == 0);
	ibuf_rewind(b);
	CHECK(((unsigned char *)ibuf_data(b))[4] == 0x77);

	/* truncate both ways */
	CHECK(ibuf_truncate(b, 4) == 0);
	CHECK(ibuf_size(b) == 4);
	CHECK(ibuf_truncate(b, 12) == 0);
	CHECK(ibuf_size(b) == 12);
	CHECK(((unsigned char *)ibuf_data(b))[11] == 0);
	CHECK_ERRNO(ibuf_truncate(b, 17) == -1, ERANGE);
	rv = TEST_OK;
 out:
	ibuf_free(b);
	return (rv);
}

static int
test_ibuf_dynamic(void)
{
	struct ibuf	*b = NULL, *f = NULL;
	unsigned char	 chunk[7];
	size_t		 i, total = 0;
	int		 rv = TEST_FAIL;

	CHECK_ERRNO(ibuf_dynamic(10, 5) == NULL, EINVAL);
	CHECK_ERRNO(ibuf_dynamic(0, 0) == NULL, EINVAL);
	CHECK((b = ibuf_dynamic(4, 200)) != NULL);
	while (total + sizeof(chunk) <= 200) {
		for (i = 0; i < sizeof(chunk); i++)
			chunk[i] = pat(6, total + i);
		CHECK(ibuf_add(b, chunk, sizeof(chunk)) == 0);
		total += sizeof(chunk);
	}
	CHECK(ibuf_size(b) == total);
	CHECK(ibuf_left(b) == 200 - total);
	CHECK_ERRNO(ibuf_add(b, chunk, sizeof(chunk)) == -1, ERANGE);
	CHECK_ERRNO(ibuf_reserve(b, 200 - total + 1) == NULL, ERANGE);
	CHECK(ibuf_size(b) == total);
	CHECK(ibuf_add_zero(b, 200 - total) == 0);
	CHECK(ibuf_left(b) == 0);
	CHECK_ERRNO(ibuf_add_n8(b, 1) == -1, ERANGE);
	for (i = 0; i < total; i++)
		if (((unsigned char *)ibuf_data(b))[i] != pat(6, i))
			FAIL("byte %zu corrupted by growth", i);

	/* fixed buffers do not grow */
	CHECK_ERRNO(ibuf_open(0) == NULL, EINVAL);
	CHECK((f = ibuf_open(8)) != NULL);
	CHECK(ibuf_add(f, "12345678", 8) == 0);
	CHECK_ERRNO(ibuf_add(f, "9", 1) == -1, ERANGE);
	CHECK(memcmp(ibuf_data(f), "12345678", 8) == 0);

	/* maxsize can only go down, and not below the content */
	CHECK_ERRNO(ibuf_set_maxsize(b, 300) == -1, ERANGE);
	CHECK_ERRNO(ibuf_set_maxsize(b, 100) == -1, ERANGE);
	ibuf_free(b);
	CHECK((b = ibuf_dynamic(0, 100)) != NULL);
	CHECK(ibuf_set_maxsize(b, 10) == 0);
	CHECK(ibuf_add_zero(b, 10) == 0);
	CHECK_ERRNO(ibuf_add_zero(b, 1) == -1, ERANGE);
	rv = TEST_OK;
 out:
	ibuf_free(b);
	ibuf_free(f);
	return (rv);
}

static int
test_ibuf_misc(void)
{
	struct ibuf	*b = NULL, *c = NULL;
	struct ibuf	 view, copy;
	unsigned char	 stackbuf[4] = { 'w', 'x', 'y', 'z' };
	char		*s = NULL, str[8];
	int		 rv = TEST_FAIL, base, fd = -1;

	/* a view of stack memory: readable, freeing it is a no-op */
	ibuf_from_buffer(&view, stackbuf, sizeof(stackbuf));
	CHECK(ibuf_size(&view) == 4 && ibuf_data(&view) == stackbuf);
	ibuf_from_ibuf(&copy, &view);
	CHECK(ibuf_skip(&copy, 1) == 0);
	CHECK(ibuf_size(&view) == 4 && ibuf_size(&copy) == 3);
	ibuf_free(&view);
	ibuf_free(&copy);
	CHECK(stackbuf[0] == 'w');

	/* ibuf_free keeps errno */
	CHECK((b = ibuf_open(4)) != NULL);
	errno = EDOM;
	ibuf_free(b);
	b = NULL;
	CHECK(errno == EDOM);

	/* adding a buffer, and a buffer to itself across growth */
	CHECK((b = ibuf_dynamic(2, 1024)) != NULL);
	CHECK(ibuf_add(b, "ab", 2) == 0);
	CHECK(ibuf_add_ibuf(b, b) == 0);
	CHECK(ibuf_add_buf(b, b) == 0);
	CHECK(ibuf_size(b) == 8);
	CHECK(memcmp(ibuf_data(b), "abababab", 8) == 0);
	CHECK((c = ibuf_dynamic(0, 64)) != NULL);
	CHECK(ibuf_add_ibuf(c, b) == 0);
	CHECK(ibuf_size(c) == 8);

	/* strings */
	ibuf_free(b);
	CHECK((b = ibuf_dynamic(0, 64)) != NULL);
	CHECK(ibuf_add_strbuf(b, "abc", 8) == 0);
	CHECK(ibuf_size(b) == 8);
	CHECK_ERRNO(ibuf_add_strbuf(b, "abcdefgh", 8) == -1, EOVERFLOW);
	CHECK_ERRNO(ibuf_add_strbuf(b, "", 0) == -1, EOVERFLOW);
	CHECK(ibuf_size(b) == 8);
	CHECK(ibuf_add(b, "xyz", 3) == 0);
	CHECK(ibuf_get_strbuf(b, str, 8) == 0);
	CHECK(strcmp(str, "abc") == 0);
	CHECK((s = ibuf_get_string(b, 3)) != NULL);
	CHECK(strcmp(s, "xyz") == 0);
	CHECK(ibuf_size(b) == 0);

	/* descriptors */
	base = count_fds();
	CHECK(!ibuf_fd_avail(b));
	CHECK((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
	ibuf_fd_set(b, fd);
	CHECK(ibuf_fd_avail(b));
	CHECK(ibuf_fd_get(b) == fd);
	CHECK(!ibuf_fd_avail(b));
	CHECK(ibuf_fd_get(b) == -1);
	ibuf_fd_set(b, fd);
	fd = -1;
	/* replacing an fd closes the old one */
	CHECK((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
	ibuf_fd_set(b, fd);
	fd = -1;
	CHECK(count_fds() == base + 1);
	ibuf_free(b);
	b = NULL;
	CHECK(count_fds() == base);
	rv = TEST_OK;
 out:
	if (fd != -1)
		close(fd);
	free(s);
	ibuf_free(b);
	ibuf_free(c);
	return (rv);
}

static int
test_msgbuf_raw(void)
{
	struct msgbuf	*mb = NULL;
	struct ibuf	*b;
	struct ibufqueue *q = NULL;
	char		 out[16];
	int		 sv[2] = { -1, -1 }, rv = TEST_FAIL;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
	CHECK((mb = msgbuf_new()) != NULL);
	CHECK((q = ibufq_new()) != NULL);
	CHECK((b = ibuf_open(3)) != NULL);
	CHECK(ibuf_add(b, "one", 3) == 0);
	ibufq_push(q, b);
	CHECK((b = ibuf_open(3)) != NULL);
	CHECK(ibuf_add(b, "two", 3) == 0);
	ibufq_push(q, b);
	CHECK(ibufq_queuelen(q) == 2);
	CHECK((b = ibuf_open(4)) != NULL);
	CHECK(ibuf_add(b, "zero", 4) == 0);
	ibuf_close(mb, b);
	msgbuf_concat(mb, q);
	CHECK(ibufq_queuelen(q) == 0);
	CHECK(msgbuf_queuelen(mb) == 3);
	/* a writer-only msgbuf cannot read */
	CHECK_ERRNO(ibuf_read(sv[0], mb) == -1, EINVAL);
	CHECK(msgbuf_get(mb) == NULL);
	CHECK(ibuf_write(sv[0], mb) == 0);
	CHECK(msgbuf_queuelen(mb) == 0);
	CHECK(read(sv[1], out, sizeof(out)) == 10);
	CHECK(memcmp(out, "zeroonetwo", 10) == 0);
	/* an empty queue writes nothing */
	CHECK(msgbuf_write(sv[0], mb) == 0);
	CHECK(read(sv[1], out, sizeof(out)) == -1 && errno == EAGAIN);
	rv = TEST_OK;
 out:
	msgbuf_free(mb);
	ibufq_free(q);
	if (sv[0] != -1)
		close(sv[0]);
	if (sv[1] != -1)
		close(sv[1]);
	return (rv);
}

/*
 * Partial writes: tiny socket buffers, nonblocking writer, big queue.
 */

#define PW_COUNT	300
#define PW_FDEVERY	10

static size_t
pw_len(size_t i)
{
	return ((i * 997) % 8000 + 1);
}

static int
partial_writes(int fdpass)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct stat	 st;
	unsigned char	*buf = NULL, *d;
	size_t		*bound = NULL, i, j, len, k = 0, got = 0;
	size_t		 consumed = 0, sent;
	long		 spins;
	int		 sv[2], rv = TEST_FAIL, have = 0, base, n, fd = -1;
	int		 sz = 4096, writes = 0, partial = 0, avail, before;

	if (pair_init(sv, &a, &b, fdpass) == -1)
		FAIL("pair_init: %s", strerror(errno));
	CHECK(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)) == 0);
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)) == 0);
	base = count_fds();
	if ((buf = malloc(8000)) == NULL ||
	    (bound = calloc(PW_COUNT + 1, sizeof(*bound))) == NULL)
		FAIL("malloc");

	for (i = 0; i < PW_COUNT; i++) {
		len = pw_len(i);
		bound[i + 1] = bound[i] + IMSG_HEADER_SIZE + len;
		for (j = 0; j < len; j++)
			buf[j] = pat(i, j);
		fd = -1;
		if (fdpass && i % PW_FDEVERY == 3)
			CHECK((fd = open("/dev/null", O_RDONLY | O_CLOEXEC))
			    != -1);
		if (imsg_compose(&a, 1000 + (uint32_t)i, (uint32_t)i, 0, fd,
		    buf, len) != 1)
			FAIL("compose %zu: %s", i, strerror(errno));
		fd = -1;
	}
	CHECK(imsgbuf_queuelen(&a) == PW_COUNT);

	for (spins = 0; got < PW_COUNT && spins < 10 * MAX_SPIN; spins++) {
		if (imsgbuf_queuelen(&a) > 0) {
			CHECK(imsgbuf_write(&a) == 0);
			writes++;
			/* where does the written stream end? */
			CHECK(ioctl(sv[1], FIONREAD, &avail) == 0);
			sent = consumed + (size_t)avail;
			while (k < PW_COUNT && bound[k + 1] <= sent)
				k++;
			if (bound[k] != sent)
				partial++;
		}
		CHECK(ioctl(sv[1], FIONREAD, &before) == 0);
		CHECK(imsgbuf_read(&b) == 1);
		CHECK(ioctl(sv[1], FIONREAD, &avail) == 0);
		consumed += (size_t)(before - avail);

		while ((n = imsgbuf_get(&b, &imsg)) == 1) {
			have = 1;
			len = pw_len(got);
			if (imsg_get_type(&imsg) != 1000 + got ||
			    imsg_get_id(&imsg) != got ||
			    imsg_get_len(&imsg) != len)
				FAIL("message %zu: type %u id %u len %zu", got,
				    imsg_get_type(&imsg), imsg_get_id(&imsg),
				    imsg_get_len(&imsg));
			d = imsg.data;
			for (j = 0; j < len; j++)
				if (d[j] != pat(got, j))
					FAIL("message %zu byte %zu", got, j);
			fd = imsg_get_fd(&imsg);
			if (fdpass && got % PW_FDEVERY == 3) {
				if (fd == -1)
					FAIL("message %zu: fd missing", got);
				CHECK(fstat(fd, &st) == 0 &&
				    S_ISCHR(st.st_mode));
				close(fd);
				fd = -1;
			} else if (fd != -1)
				FAIL("message %zu: stray fd", got);
			imsg_free(&imsg);
			have = 0;
			got++;
		}
		CHECK(n == 0);
	}
	CHECK(got == PW_COUNT);
	CHECK(imsgbuf_queuelen(&a) == 0);
	CHECK(consumed == bound[PW_COUNT]);
	/* the socket really did cut messages apart */
	if (partial == 0)
		FAIL("no write ended inside a message (%d writes)", writes);
	CHECK(count_fds() == base);
	rv = TEST_OK;
 out:
	if (have)
		imsg_free(&imsg);
	if (fd != -1)
		close(fd);
	free(buf);
	free(bound);
	pair_done(sv, &a, &b);
	return (rv);
}

static int
test_partial_writes(void)
{
	return (partial_writes(0));
}

static int
test_partial_writes_fdpass(void)
{
	return (partial_writes(1));
}

static const struct test tests[] = {
	{ "roundtrip", test_roundtrip },
	{ "many_messages_one_read", test_many_one_read },
	{ "split_byte_by_byte", test_split_reads },
	{ "large_message", test_large_message },
	{ "set_maxsize", test_set_maxsize },
	{ "oversize_header_rejected", test_oversize_rejected },
	{ "short_header_rejected", test_short_header_rejected },
	{ "eof", test_eof },
	{ "epipe", test_epipe },
	{ "fdpass", test_fdpass },
	{ "fdpass_sequence", test_fdpass_sequence },
	{ "no_fdpass", test_no_fdpass },
	{ "fdpass_extra_fd_closed", test_fdpass_extra_fd },
	{ "fdpass_ctrunc", test_fdpass_ctrunc },
	{ "fd_unclaimed_closed", test_fd_unclaimed },
	{ "fd_split_header", test_fd_split_header },
	{ "clear_closes_fds", test_clear_closes_fds },
	{ "get_data_errors", test_get_data_errors },
	{ "get_strbuf", test_get_strbuf },
	{ "get_buf_ibuf", test_get_buf_ibuf },
	{ "compose_ibuf", test_compose_ibuf },
	{ "forward", test_forward },
	{ "create_add_close", test_create_add_close },
	{ "composev", test_composev },
	{ "imsg_ibufq", test_ibufq },
	{ "ibuf_add_range", test_ibuf_add_range },
	{ "ibuf_get_short", test_ibuf_get_short },
	{ "ibuf_seek_set", test_ibuf_seek_set },
	{ "ibuf_dynamic", test_ibuf_dynamic },
	{ "ibuf_misc", test_ibuf_misc },
	{ "msgbuf_raw", test_msgbuf_raw },
	{ "partial_writes", test_partial_writes },
	{ "partial_writes_fdpass", test_partial_writes_fdpass },
};

int
main(void)
{
	size_t	 i;
	int	 r, failed = 0, base, after;

	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		perror("signal");
		return (1);
	}
	base = count_fds();
	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		reason[0] = '\0';
		r = tests[i].fn();
		if (r == TEST_OK)
			printf("ok - %s\n", tests[i].name);
		else if (r == TEST_SKIP)
			printf("skip - %s: %s\n", tests[i].name, reason);
		else {
			printf("not ok - %s: %s\n", tests[i].name,
			    reason[0] != '\0' ? reason : "failed");
			failed++;
		}
		fflush(stdout);
	}
	after = count_fds();
	if (base == -1 || after != base) {
		printf("not ok - fd_leak_overall: %d fds before, %d after\n",
		    base, after);
		failed++;
	} else
		printf("ok - fd_leak_overall\n");
	return (failed == 0 ? 0 : 1);
}
