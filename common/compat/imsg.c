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
 * The imsg layer: framing of typed messages on top of msgbuf, plus
 * accessors for received messages.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"

/* imsgbuf->flags */
#define IMSGBUF_FDPASS	0x01

static struct ibuf	*imsg_parse_hdr(struct ibuf *, void *, int *);
static int		 imsg_from_ibuf(struct ibuf *, struct imsg *);
static int		 imsgbuf_wait_writable(struct imsgbuf *);

int
imsgbuf_init(struct imsgbuf *imsgbuf, int fd)
{
	memset(imsgbuf, 0, sizeof(*imsgbuf));
	imsgbuf->w = msgbuf_new_reader(IMSG_HEADER_SIZE, imsg_parse_hdr,
	    imsgbuf);
	if (imsgbuf->w == NULL)
		return (-1);
	imsgbuf->pid = getpid();
	imsgbuf->maxsize = MAX_IMSGSIZE;
	imsgbuf->fd = fd;
	imsgbuf->flags = 0;
	return (0);
}

void
imsgbuf_allow_fdpass(struct imsgbuf *imsgbuf)
{
	imsgbuf->flags |= IMSGBUF_FDPASS;
}

/* Limit the payload of messages composed and accepted. */
int
imsgbuf_set_maxsize(struct imsgbuf *imsgbuf, uint32_t max)
{
	if (max > UINT32_MAX - IMSG_HEADER_SIZE) {
		errno = ERANGE;
		return (-1);
	}
	max += IMSG_HEADER_SIZE;
	if (max & IMSG_FD_MARK) {
		errno = EINVAL;
		return (-1);
	}
	imsgbuf->maxsize = max;
	return (0);
}

int
imsgbuf_read(struct imsgbuf *imsgbuf)
{
	if (imsgbuf->flags & IMSGBUF_FDPASS)
		return (msgbuf_read(imsgbuf->fd, imsgbuf->w));
	return (ibuf_read(imsgbuf->fd, imsgbuf->w));
}

int
imsgbuf_write(struct imsgbuf *imsgbuf)
{
	if (imsgbuf->flags & IMSGBUF_FDPASS)
		return (msgbuf_write(imsgbuf->fd, imsgbuf->w));
	return (ibuf_write(imsgbuf->fd, imsgbuf->w));
}

/* Sleep until the socket takes more data, instead of spinning. */
static int
imsgbuf_wait_writable(struct imsgbuf *imsgbuf)
{
	struct pollfd	 pfd;
	int		 n;

	pfd.fd = imsgbuf->fd;
	pfd.events = POLLOUT;
	pfd.revents = 0;
	do {
		n = poll(&pfd, 1, -1);
	} while (n == -1 && (errno == EINTR || errno == EAGAIN));
	if (n == -1)
		return (-1);
	if (pfd.revents & POLLNVAL) {
		errno = EBADF;
		return (-1);
	}
	/* POLLERR and POLLHUP are reported by the next write */
	return (0);
}

int
imsgbuf_flush(struct imsgbuf *imsgbuf)
{
	while (imsgbuf_queuelen(imsgbuf) > 0) {
		if (imsgbuf_write(imsgbuf) == -1)
			return (-1);
		if (imsgbuf_queuelen(imsgbuf) == 0)
			break;
		if (imsgbuf_wait_writable(imsgbuf) == -1)
			return (-1);
	}
	return (0);
}

/* Free all queued and partial messages; imsgbuf->fd stays open. */
void
imsgbuf_clear(struct imsgbuf *imsgbuf)
{
	msgbuf_free(imsgbuf->w);
	imsgbuf->w = NULL;
}

uint32_t
imsgbuf_queuelen(struct imsgbuf *imsgbuf)
{
	return (msgbuf_queuelen(imsgbuf->w));
}

/* Turn a complete message buffer (read position 0) into an imsg. */
static int
imsg_from_ibuf(struct ibuf *buf, struct imsg *imsg)
{
	struct imsg	 m;

	memset(&m, 0, sizeof(m));
	if (ibuf_get(buf, &m.hdr, sizeof(m.hdr)) == -1)
		return (-1);
	m.hdr.len &= ~IMSG_FD_MARK;
	if (m.hdr.len != ibuf_size(buf) + IMSG_HEADER_SIZE) {
		errno = EBADMSG;
		return (-1);
	}
	m.data = ibuf_size(buf) > 0 ? ibuf_data(buf) : NULL;
	m.buf = buf;
	*imsg = m;
	return (0);
}

ssize_t
imsg_get(struct imsgbuf *imsgbuf, struct imsg *imsg)
{
	struct ibuf	*buf;

	if ((buf = msgbuf_get(imsgbuf->w)) == NULL)
		return (0);
	if (imsg_from_ibuf(buf, imsg) == -1) {
		ibuf_free(buf);
		return (-1);
	}
	return ((ssize_t)imsg->hdr.len);
}

int
imsgbuf_get(struct imsgbuf *imsgbuf, struct imsg *imsg)
{
	ssize_t	 n;

	if ((n = imsg_get(imsgbuf, imsg)) <= 0)
		return ((int)n);
	return (1);
}

int
imsg_ibufq_pop(struct ibufqueue *q, struct imsg *imsg)
{
	struct ibuf	*buf;

	if ((buf = ibufq_pop(q)) == NULL)
		return (0);
	ibuf_rewind(buf);
	if (imsg_from_ibuf(buf, imsg) == -1) {
		ibuf_free(buf);
		return (-1);
	}
	return (1);
}

void
imsg_ibufq_push(struct ibufqueue *q, struct imsg *imsg)
{
	if (imsg->buf != NULL) {
		ibuf_rewind(imsg->buf);
		ibufq_push(q, imsg->buf);
	}
	memset(imsg, 0, sizeof(*imsg));
}

/*
 * Accessors.  The imsg_get_* data functions consume the payload; an
 * imsg without a buffer behaves as an empty one.
 */

int
imsg_get_ibuf(struct imsg *imsg, struct ibuf *ibuf)
{
	if (imsg->buf == NULL || ibuf_size(imsg->buf) == 0) {
		errno = EBADMSG;
		return (-1);
	}
	return (ibuf_get_ibuf(imsg->buf, ibuf_size(imsg->buf), ibuf));
}

int
imsg_get_data(struct imsg *imsg, void *data, size_t len)
{
	if (len == 0) {
		errno = EINVAL;
		return (-1);
	}
	if (imsg->buf == NULL || ibuf_size(imsg->buf) != len) {
		errno = EBADMSG;
		return (-1);
	}
	return (ibuf_get(imsg->buf, data, len));
}

int
imsg_get_buf(struct imsg *imsg, void *data, size_t len)
{
	if (imsg->buf == NULL) {
		if (len == 0)
			return (0);
		errno = EBADMSG;
		return (-1);
	}
	return (ibuf_get(imsg->buf, data, len));
}

int
imsg_get_strbuf(struct imsg *imsg, char *str, size_t len)
{
	if (imsg->buf == NULL) {
		errno = len == 0 ? EINVAL : EBADMSG;
		return (-1);
	}
	return (ibuf_get_strbuf(imsg->buf, str, len));
}

int
imsg_get_fd(struct imsg *imsg)
{
	return (ibuf_fd_get(imsg->buf));
}

uint32_t
imsg_get_id(struct imsg *imsg)
{
	return (imsg->hdr.peerid);
}

size_t
imsg_get_len(struct imsg *imsg)
{
	if (imsg->buf == NULL)
		return (0);
	return (ibuf_size(imsg->buf));
}

pid_t
imsg_get_pid(struct imsg *imsg)
{
	return ((pid_t)imsg->hdr.pid);
}

uint32_t
imsg_get_type(struct imsg *imsg)
{
	return (imsg->hdr.type);
}

/*
 * Queue a copy of msg (type, peer id, pid and unread payload; never the
 * descriptor) on imsgbuf.
 */
int
imsg_forward(struct imsgbuf *imsgbuf, struct imsg *msg)
{
	struct ibuf	 view;
	struct ibuf	*wbuf;
	size_t		 len = 0;

	if (msg->buf != NULL) {
		ibuf_from_ibuf(&view, msg->buf);
		len = ibuf_size(&view);
	}
	wbuf = imsg_create(imsgbuf, msg->hdr.type, msg->hdr.peerid,
	    (pid_t)msg->hdr.pid, len);
	if (wbuf == NULL)
		return (-1);
	if (len > 0 && imsg_add(wbuf, ibuf_data(&view), len) == -1)
		return (-1);
	imsg_close(imsgbuf, wbuf);
	return (1);
}

int
imsg_compose(struct imsgbuf *imsgbuf, uint32_t type, uint32_t id, pid_t pid,
    int fd, const void *data, size_t datalen)
{
	struct ibuf	*wbuf;

	if ((wbuf = imsg_create(imsgbuf, type, id, pid, datalen)) == NULL)
		return (-1);
	if (imsg_add(wbuf, data, datalen) == -1)
		return (-1);
	/* nothing below can fail, so the fd is only taken on success */
	ibuf_fd_set(wbuf, fd);
	imsg_close(imsgbuf, wbuf);
	return (1);
}

int
imsg_composev(struct imsgbuf *imsgbuf, uint32_t type, uint32_t id, pid_t pid,
    int fd, const struct iovec *iov, int iovcnt)
{
	struct ibuf	*wbuf;
	size_t		 total = 0;
	int		 i;

	if (iovcnt < 0 || (iovcnt > 0 && iov == NULL)) {
		errno = EINVAL;
		return (-1);
	}
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > SIZE_MAX - total) {
			errno = ERANGE;
			return (-1);
		}
		total += iov[i].iov_len;
	}

	if ((wbuf = imsg_create(imsgbuf, type, id, pid, total)) == NULL)
		return (-1);
	for (i = 0; i < iovcnt; i++)
		if (imsg_add(wbuf, iov[i].iov_base, iov[i].iov_len) == -1)
			return (-1);
	ibuf_fd_set(wbuf, fd);
	imsg_close(imsgbuf, wbuf);
	return (1);
}

/*
 * Send buf as the payload without copying it: a separate header buffer
 * is queued in front of it.  buf is consumed whatever the outcome; a
 * descriptor attached to it moves to the header so that it is sent with
 * the first byte of the message.
 */
int
imsg_compose_ibuf(struct imsgbuf *imsgbuf, uint32_t type, uint32_t id,
    pid_t pid, struct ibuf *buf)
{
	struct imsg_hdr	 hdr;
	struct ibuf	*hbuf = NULL;
	size_t		 len;

	if (buf == NULL) {
		errno = EINVAL;
		return (-1);
	}
	len = ibuf_size(buf);
	if (imsgbuf->w == NULL) {
		errno = EINVAL;
		goto fail;
	}
	if (len > imsgbuf->maxsize - IMSG_HEADER_SIZE) {
		errno = ERANGE;
		goto fail;
	}

	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = (uint32_t)(len + IMSG_HEADER_SIZE);
	hdr.peerid = id;
	hdr.pid = (uint32_t)(pid != 0 ? pid : imsgbuf->pid);
	if (ibuf_fd_avail(buf))
		hdr.len |= IMSG_FD_MARK;

	if ((hbuf = ibuf_open(IMSG_HEADER_SIZE)) == NULL)
		goto fail;
	if (ibuf_add(hbuf, &hdr, sizeof(hdr)) == -1)
		goto fail;
	if (ibuf_fd_avail(buf))
		ibuf_fd_set(hbuf, ibuf_fd_get(buf));

	ibuf_close(imsgbuf->w, hbuf);
	ibuf_close(imsgbuf->w, buf);
	return (1);

 fail:
	ibuf_free(hbuf);
	ibuf_free(buf);
	return (-1);
}

/*
 * Start a message with room for datalen payload bytes.  It may grow
 * further with imsg_add() up to the imsgbuf's size limit.
 */
struct ibuf *
imsg_create(struct imsgbuf *imsgbuf, uint32_t type, uint32_t id, pid_t pid,
    size_t datalen)
{
	struct imsg_hdr	 hdr;
	struct ibuf	*wbuf;

	if (imsgbuf->w == NULL) {
		errno = EINVAL;
		return (NULL);
	}
	if (datalen > imsgbuf->maxsize - IMSG_HEADER_SIZE) {
		errno = ERANGE;
		return (NULL);
	}

	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.peerid = id;
	hdr.pid = (uint32_t)(pid != 0 ? pid : imsgbuf->pid);
	/* hdr.len is filled in by imsg_close() */

	wbuf = ibuf_dynamic(datalen + IMSG_HEADER_SIZE, imsgbuf->maxsize);
	if (wbuf == NULL)
		return (NULL);
	if (ibuf_add(wbuf, &hdr, sizeof(hdr)) == -1) {
		ibuf_free(wbuf);
		return (NULL);
	}
	return (wbuf);
}

/* Returns datalen, or -1 after freeing msg. */
int
imsg_add(struct ibuf *msg, const void *data, size_t datalen)
{
	if (msg == NULL) {
		errno = EINVAL;
		return (-1);
	}
	if (datalen > INT32_MAX || ibuf_add(msg, data, datalen) == -1) {
		if (datalen > INT32_MAX)
			errno = ERANGE;
		ibuf_free(msg);
		return (-1);
	}
	return ((int)datalen);
}

void
imsg_close(struct imsgbuf *imsgbuf, struct ibuf *msg)
{
	uint32_t	 len;

	if (msg == NULL)
		return;
	len = (uint32_t)ibuf_size(msg);
	if (ibuf_fd_avail(msg))
		len |= IMSG_FD_MARK;
	(void)ibuf_set_h32(msg, offsetof(struct imsg_hdr, len), len);
	ibuf_close(imsgbuf->w, msg);
}

void
imsg_free(struct imsg *imsg)
{
	ibuf_free(imsg->buf);
	explicit_bzero(imsg, sizeof(*imsg));
}

/* Change how large a message under construction may grow. */
int
imsg_set_maxsize(struct ibuf *msg, size_t max)
{
	if (max > UINT32_MAX - IMSG_HEADER_SIZE) {
		errno = ERANGE;
		return (-1);
	}
	if ((max + IMSG_HEADER_SIZE) & IMSG_FD_MARK) {
		errno = EINVAL;
		return (-1);
	}
	return (ibuf_set_maxsize(msg, max + IMSG_HEADER_SIZE));
}

/*
 * Reader callback: validate a header and set up a buffer for the whole
 * message, handing it the received fd if the header asks for one.
 */
static struct ibuf *
imsg_parse_hdr(struct ibuf *hdrbuf, void *arg, int *fd)
{
	struct imsgbuf	*imsgbuf = arg;
	struct imsg_hdr	 hdr;
	struct ibuf	*msg;
	uint32_t	 len;

	if (ibuf_get(hdrbuf, &hdr, sizeof(hdr)) == -1)
		return (NULL);
	len = hdr.len & ~IMSG_FD_MARK;
	if (len < IMSG_HEADER_SIZE || len > imsgbuf->maxsize) {
		errno = ERANGE;
		return (NULL);
	}
	if ((msg = ibuf_open(len)) == NULL)
		return (NULL);
	if ((hdr.len & IMSG_FD_MARK) && *fd >= 0) {
		ibuf_fd_set(msg, *fd);
		*fd = -1;
	}
	return (msg);
}
