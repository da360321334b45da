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
 * Byte buffers (ibuf), buffer queues (ibufqueue) and the socket side of
 * the message layer (msgbuf): an output queue drained with writev(2) or
 * sendmsg(2), and an optional framing reader that cuts the input stream
 * into one ibuf per message with the help of a header callback.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"

#ifndef IOV_MAX
#define IOV_MAX		1024
#endif

/* ibuf->flags */
#define IBUF_F_VIEW	0x01	/* borrowed memory: never resized or freed */

/* first allocation of a dynamic buffer created with an initial size of 0 */
#define IBUF_DYN_MIN	64

struct ibufqueue {
	TAILQ_HEAD(, ibuf)	 bufs;
	uint32_t		 queued;
};

struct msgbuf {
	struct ibufqueue	 out;		/* waiting to be written */
	struct ibufqueue	 in;		/* complete messages read */
	unsigned char		*rbuf;		/* NULL unless a reader */
	size_t			 rlen;		/* bytes held in rbuf */
	size_t			 hdrsz;
	struct ibuf		*(*parse)(struct ibuf *, void *, int *);
	void			*parse_arg;
	struct ibuf		*partial;	/* message being assembled */
	int			 heldfd;	/* fd waiting for its header */
	int			 rerror;	/* sticky reader failure */
};

static void	 ibufq_init(struct ibufqueue *);
static void	 msgbuf_drain(struct msgbuf *, size_t);
static int	 msgbuf_read_common(int, struct msgbuf *, int);
static ssize_t	 msgbuf_recv(int, struct msgbuf *, int, int *);
static int	 msgbuf_frame(struct msgbuf *, int *);
static void	 close_keep_errno(int);

/*
 * Buffer creation.
 */

struct ibuf *
ibuf_open(size_t len)
{
	struct ibuf	*buf;

	if (len == 0) {
		errno = EINVAL;
		return (NULL);
	}
	if ((buf = calloc(1, sizeof(*buf))) == NULL)
		return (NULL);
	if ((buf->buf = calloc(len, 1)) == NULL) {
		free(buf);
		return (NULL);
	}
	buf->size = buf->max = len;
	buf->fd = -1;
	return (buf);
}

struct ibuf *
ibuf_dynamic(size_t len, size_t max)
{
	struct ibuf	*buf;
	size_t		 alloc;

	if (max == 0 || max < len) {
		errno = EINVAL;
		return (NULL);
	}
	alloc = len;
	if (alloc == 0)
		alloc = max < IBUF_DYN_MIN ? max : IBUF_DYN_MIN;

	if ((buf = calloc(1, sizeof(*buf))) == NULL)
		return (NULL);
	if ((buf->buf = calloc(alloc, 1)) == NULL) {
		free(buf);
		return (NULL);
	}
	buf->size = alloc;
	buf->max = max;
	buf->fd = -1;
	return (buf);
}

/*
 * Writing into a buffer.
 */

void *
ibuf_reserve(struct ibuf *buf, size_t len)
{
	unsigned char	*p;
	size_t		 need, nsize;

	if (len > buf->max - buf->wpos) {
		errno = ERANGE;
		return (NULL);
	}
	need = buf->wpos + len;
	if (need > buf->size) {
		/* only heap buffers can have max > size */
		nsize = buf->size > buf->max / 2 ? buf->max : buf->size * 2;
		if (nsize < need)
			nsize = need;
		p = recallocarray(buf->buf, buf->size, nsize, 1);
		if (p == NULL)
			return (NULL);
		buf->buf = p;
		buf->size = nsize;
	}
	p = buf->buf + buf->wpos;
	buf->wpos = need;
	return (p);
}

int
ibuf_add(struct ibuf *buf, const void *data, size_t len)
{
	uintptr_t	 src, lo, hi;
	size_t		 off = 0;
	int		 inside = 0;
	void		*dst;

	if (len == 0)
		return (0);

	/*
	 * The source may live in this very buffer (adding a buffer or a
	 * view of it to itself); growing would move it, so remember the
	 * offset instead of the pointer.
	 */
	if (buf->buf != NULL) {
		src = (uintptr_t)data;
		lo = (uintptr_t)buf->buf;
		hi = lo + buf->size;
		if (src >= lo && src < hi) {
			inside = 1;
			off = src - lo;
		}
	}

	if ((dst = ibuf_reserve(buf, len)) == NULL)
		return (-1);
	if (inside)
		memmove(dst, buf->buf + off, len);
	else
		memcpy(dst, data, len);
	return (0);
}

int
ibuf_add_ibuf(struct ibuf *buf, const struct ibuf *from)
{
	return (ibuf_add(buf, ibuf_data(from), ibuf_size(from)));
}

int
ibuf_add_buf(struct ibuf *buf, const struct ibuf *from)
{
	return (ibuf_add_ibuf(buf, from));
}

int
ibuf_add_zero(struct ibuf *buf, size_t len)
{
	void	*p;

	if (len == 0)
		return (0);
	if ((p = ibuf_reserve(buf, len)) == NULL)
		return (-1);
	memset(p, 0, len);
	return (0);
}

int
ibuf_add_n8(struct ibuf *buf, uint64_t value)
{
	uint8_t	 v;

	if (value > UINT8_MAX) {
		errno = EINVAL;
		return (-1);
	}
	v = (uint8_t)value;
	return (ibuf_add(buf, &v, sizeof(v)));
}

int
ibuf_add_n16(struct ibuf *buf, uint64_t value)
{
	uint16_t v;

	if (value > UINT16_MAX) {
		errno = EINVAL;
		return (-1);
	}
	v = htobe16((uint16_t)value);
	return (ibuf_add(buf, &v, sizeof(v)));
}

int
ibuf_add_n32(struct ibuf *buf, uint64_t value)
{
	uint32_t v;

	if (value > UINT32_MAX) {
		errno = EINVAL;
		return (-1);
	}
	v = htobe32((uint32_t)value);
	return (ibuf_add(buf, &v, sizeof(v)));
}

int
ibuf_add_n64(struct ibuf *buf, uint64_t value)
{
	uint64_t v;

	v = htobe64(value);
	return (ibuf_add(buf, &v, sizeof(v)));
}

int
ibuf_add_h16(struct ibuf *buf, uint64_t value)
{
	uint16_t v;

	if (value > UINT16_MAX) {
		errno = EINVAL;
		return (-1);
	}
	v = (uint16_t)value;
	return (ibuf_add(buf, &v, sizeof(v)));
}

int
ibuf_add_h32(struct ibuf *buf, uint64_t value)
{
	uint32_t v;

	if (value > UINT32_MAX) {
		errno = EINVAL;
		return (-1);
	}
	v = (uint32_t)value;
	return (ibuf_add(buf, &v, sizeof(v)));
}

int
ibuf_add_h64(struct ibuf *buf, uint64_t value)
{
	return (ibuf_add(buf, &value, sizeof(value)));
}

/*
 * Append str as a fixed field of len bytes, NUL padded.  The string and
 * its terminator must fit; otherwise nothing is added.
 */
int
ibuf_add_strbuf(struct ibuf *buf, const char *str, size_t len)
{
	unsigned char	*p;
	size_t		 slen;

	slen = strnlen(str, len);
	if (slen >= len) {
		errno = EOVERFLOW;
		return (-1);
	}
	if ((p = ibuf_reserve(buf, len)) == NULL)
		return (-1);
	memcpy(p, str, slen);
	memset(p + slen, 0, len - slen);
	return (0);
}

/*
 * Random access to the unread part of a buffer; pos is relative to the
 * read position.
 */

void *
ibuf_seek(struct ibuf *buf, size_t pos, size_t len)
{
	size_t	 have;

	have = ibuf_size(buf);
	if (pos > have || len > have - pos || buf->buf == NULL) {
		errno = ERANGE;
		return (NULL);
	}
	return (buf->buf + buf->rpos + pos);
}

int
ibuf_set(struct ibuf *buf, size_t pos, const void *data, size_t len)
{
	void	*p;

	if (len == 0) {
		if (pos > ibuf_size(buf)) {
			errno = ERANGE;
			return (-1);
		}
		return (0);
	}
	if ((p = ibuf_seek(buf, pos, len)) == NULL)
		return (-1);
	memmove(p, data, len);
	return (0);
}

int
ibuf_set_n8(struct ibuf *buf, size_t pos, uint64_t value)
{
	uint8_t	 v;

	if (value > UINT8_MAX) {
		errno = EINVAL;
		return (-1);
	}
	v = (uint8_t)value;
	return (ibuf_set(buf, pos, &v, sizeof(v)));
}

int
ibuf_set_n16(struct ibuf *buf, size_t pos, uint64_t value)
{
	uint16_t v;

	if (value > UINT16_MAX) {
		errno = EINVAL;
		return (-1);
	}
	v = htobe16((uint16_t)value);
	return (ibuf_set(buf, pos, &v, sizeof(v)));
}

int
ibuf_set_n32(struct ibuf *buf, size_t pos, uint64_t value)
{
	uint32_t v;

	if (value > UINT32_MAX) {
		errno = EINVAL;
		return (-1);
	}
	v = htobe32((uint32_t)value);
	return (ibuf_set(buf, pos, &v, sizeof(v)));
}

int
ibuf_set_n64(struct ibuf *buf, size_t pos, uint64_t value)
{
	uint64_t v;

	v = htobe64(value);
	return (ibuf_set(buf, pos, &v, sizeof(v)));
}

int
ibuf_set_h16(struct ibuf *buf, size_t pos, uint64_t value)
{
	uint16_t v;

	if (value > UINT16_MAX) {
		errno = EINVAL;
		return (-1);
	}
	v = (uint16_t)value;
	return (ibuf_set(buf, pos, &v, sizeof(v)));
}

int
ibuf_set_h32(struct ibuf *buf, size_t pos, uint64_t value)
{
	uint32_t v;

	if (value > UINT32_MAX) {
		errno = EINVAL;
		return (-1);
	}
	v = (uint32_t)value;
	return (ibuf_set(buf, pos, &v, sizeof(v)));
}

int
ibuf_set_h64(struct ibuf *buf, size_t pos, uint64_t value)
{
	return (ibuf_set(buf, pos, &value, sizeof(value)));
}

/*
 * Lower the growth limit of a buffer.  It can neither be raised nor drop
 * below what the buffer already holds.
 */
int
ibuf_set_maxsize(struct ibuf *buf, size_t max)
{
	if (buf->flags & IBUF_F_VIEW) {
		errno = EINVAL;
		return (-1);
	}
	if (max > buf->max || max < buf->wpos) {
		errno = ERANGE;
		return (-1);
	}
	buf->max = max;
	return (0);
}

/*
 * Accessors.
 */

void *
ibuf_data(const struct ibuf *buf)
{
	if (buf->buf == NULL)
		return (NULL);
	return (buf->buf + buf->rpos);
}

size_t
ibuf_size(const struct ibuf *buf)
{
	return (buf->wpos - buf->rpos);
}

size_t
ibuf_left(const struct ibuf *buf)
{
	return (buf->max - buf->wpos);
}

int
ibuf_truncate(struct ibuf *buf, size_t len)
{
	size_t	 have;

	have = ibuf_size(buf);
	if (len <= have) {
		buf->wpos = buf->rpos + len;
		return (0);
	}
	return (ibuf_add_zero(buf, len - have));
}

void
ibuf_rewind(struct ibuf *buf)
{
	buf->rpos = 0;
}

void
ibuf_close(struct msgbuf *msgbuf, struct ibuf *buf)
{
	if (buf == NULL)
		return;
	if (msgbuf == NULL) {
		ibuf_free(buf);
		return;
	}
	ibufq_push(&msgbuf->out, buf);
}

/*
 * Read-only views.  They borrow memory and must not outlive it;
 * ibuf_free() on a view is a no-op.
 */

void
ibuf_from_buffer(struct ibuf *buf, void *data, size_t len)
{
	memset(buf, 0, sizeof(*buf));
	buf->buf = data;
	buf->size = buf->max = buf->wpos = len;
	buf->fd = -1;
	buf->flags = IBUF_F_VIEW;
}

void
ibuf_from_ibuf(struct ibuf *buf, const struct ibuf *from)
{
	ibuf_from_buffer(buf, ibuf_data(from), ibuf_size(from));
}

/*
 * Consuming a buffer.  Short data fails with EBADMSG and leaves the
 * read position alone.
 */

int
ibuf_get(struct ibuf *buf, void *data, size_t len)
{
	if (len > ibuf_size(buf)) {
		errno = EBADMSG;
		return (-1);
	}
	if (len > 0)
		memcpy(data, buf->buf + buf->rpos, len);
	buf->rpos += len;
	return (0);
}

int
ibuf_get_ibuf(struct ibuf *buf, size_t len, struct ibuf *new)
{
	if (len > ibuf_size(buf)) {
		errno = EBADMSG;
		return (-1);
	}
	ibuf_from_buffer(new, ibuf_data(buf), len);
	buf->rpos += len;
	return (0);
}

int
ibuf_get_n8(struct ibuf *buf, uint8_t *value)
{
	return (ibuf_get(buf, value, sizeof(*value)));
}

int
ibuf_get_n16(struct ibuf *buf, uint16_t *value)
{
	uint16_t v;

	if (ibuf_get(buf, &v, sizeof(v)) == -1)
		return (-1);
	*value = be16toh(v);
	return (0);
}

int
ibuf_get_n32(struct ibuf *buf, uint32_t *value)
{
	uint32_t v;

	if (ibuf_get(buf, &v, sizeof(v)) == -1)
		return (-1);
	*value = be32toh(v);
	return (0);
}

int
ibuf_get_n64(struct ibuf *buf, uint64_t *value)
{
	uint64_t v;

	if (ibuf_get(buf, &v, sizeof(v)) == -1)
		return (-1);
	*value = be64toh(v);
	return (0);
}

int
ibuf_get_h16(struct ibuf *buf, uint16_t *value)
{
	return (ibuf_get(buf, value, sizeof(*value)));
}

int
ibuf_get_h32(struct ibuf *buf, uint32_t *value)
{
	return (ibuf_get(buf, value, sizeof(*value)));
}

int
ibuf_get_h64(struct ibuf *buf, uint64_t *value)
{
	return (ibuf_get(buf, value, sizeof(*value)));
}

/*
 * Consume len bytes and return them as a newly allocated C string, cut
 * at the first NUL if there is one.
 */
char *
ibuf_get_string(struct ibuf *buf, size_t len)
{
	char	*str;
	size_t	 slen;

	if (len > ibuf_size(buf)) {
		errno = EBADMSG;
		return (NULL);
	}
	slen = len > 0 ? strnlen(ibuf_data(buf), len) : 0;
	if ((str = malloc(slen + 1)) == NULL)
		return (NULL);
	if (slen > 0)
		memcpy(str, ibuf_data(buf), slen);
	str[slen] = '\0';
	buf->rpos += len;
	return (str);
}

/*
 * Consume a fixed field of len bytes into str.  The field must end in a
 * NUL; if it does not, str is still terminated (truncated) and EOVERFLOW
 * is reported.
 */
int
ibuf_get_strbuf(struct ibuf *buf, char *str, size_t len)
{
	if (len == 0) {
		errno = EINVAL;
		return (-1);
	}
	if (ibuf_get(buf, str, len) == -1)
		return (-1);
	if (str[len - 1] != '\0') {
		str[len - 1] = '\0';
		errno = EOVERFLOW;
		return (-1);
	}
	return (0);
}

int
ibuf_skip(struct ibuf *buf, size_t len)
{
	if (len > ibuf_size(buf)) {
		errno = EBADMSG;
		return (-1);
	}
	buf->rpos += len;
	return (0);
}

void
ibuf_free(struct ibuf *buf)
{
	int	 saved_errno;

	if (buf == NULL || (buf->flags & IBUF_F_VIEW))
		return;
	saved_errno = errno;
	if (buf->fd >= 0)
		close(buf->fd);
	freezero(buf->buf, buf->size);
	freezero(buf, sizeof(*buf));
	errno = saved_errno;
}

/*
 * File descriptors riding along with a buffer.
 */

int
ibuf_fd_avail(struct ibuf *buf)
{
	return (buf != NULL && buf->fd >= 0);
}

int
ibuf_fd_get(struct ibuf *buf)
{
	int	 fd;

	if (buf == NULL)
		return (-1);
	fd = buf->fd;
	buf->fd = -1;
	return (fd);
}

void
ibuf_fd_set(struct ibuf *buf, int fd)
{
	if (buf->fd >= 0)
		close_keep_errno(buf->fd);
	buf->fd = fd >= 0 ? fd : -1;
}

/*
 * Buffer queues.
 */

static void
ibufq_init(struct ibufqueue *q)
{
	TAILQ_INIT(&q->bufs);
	q->queued = 0;
}

struct ibufqueue *
ibufq_new(void)
{
	struct ibufqueue *q;

	if ((q = malloc(sizeof(*q))) == NULL)
		return (NULL);
	ibufq_init(q);
	return (q);
}

void
ibufq_free(struct ibufqueue *q)
{
	if (q == NULL)
		return;
	ibufq_flush(q);
	freezero(q, sizeof(*q));
}

struct ibuf *
ibufq_pop(struct ibufqueue *q)
{
	struct ibuf	*buf;

	if (q == NULL || (buf = TAILQ_FIRST(&q->bufs)) == NULL)
		return (NULL);
	TAILQ_REMOVE(&q->bufs, buf, entry);
	q->queued--;
	return (buf);
}

void
ibufq_push(struct ibufqueue *q, struct ibuf *buf)
{
	TAILQ_INSERT_TAIL(&q->bufs, buf, entry);
	q->queued++;
}

uint32_t
ibufq_queuelen(struct ibufqueue *q)
{
	return (q == NULL ? 0 : q->queued);
}

/* Move every buffer of from to the end of to. */
void
ibufq_concat(struct ibufqueue *to, struct ibufqueue *from)
{
	if (from == NULL || to == from)
		return;
	TAILQ_CONCAT(&to->bufs, &from->bufs, entry);
	to->queued += from->queued;
	from->queued = 0;
}

void
ibufq_flush(struct ibufqueue *q)
{
	struct ibuf	*buf;

	while ((buf = ibufq_pop(q)) != NULL)
		ibuf_free(buf);
}

/*
 * Message buffers.
 */

struct msgbuf *
msgbuf_new(void)
{
	struct msgbuf	*msgbuf;

	if ((msgbuf = calloc(1, sizeof(*msgbuf))) == NULL)
		return (NULL);
	ibufq_init(&msgbuf->out);
	ibufq_init(&msgbuf->in);
	msgbuf->heldfd = -1;
	return (msgbuf);
}

/*
 * A msgbuf that can also read.  Whenever hdrsz bytes of a new message
 * are available, parse is called with a view of them, its argument and
 * a pointer to the file descriptor received with the current read (or
 * -1).  It returns a fixed-size ibuf (ibuf_open) sized to the whole
 * message, header included, taking the fd by setting it to -1 if the
 * message owns it; or NULL with errno set to reject the stream.
 */
struct msgbuf *
msgbuf_new_reader(size_t hdrsz,
    struct ibuf *(*parse)(struct ibuf *, void *, int *), void *arg)
{
	struct msgbuf	*msgbuf;

	if (hdrsz == 0 || hdrsz > IBUF_READ_SIZE || parse == NULL) {
		errno = EINVAL;
		return (NULL);
	}
	if ((msgbuf = msgbuf_new()) == NULL)
		return (NULL);
	if ((msgbuf->rbuf = calloc(IBUF_READ_SIZE, 1)) == NULL) {
		free(msgbuf);
		return (NULL);
	}
	msgbuf->hdrsz = hdrsz;
	msgbuf->parse = parse;
	msgbuf->parse_arg = arg;
	return (msgbuf);
}

void
msgbuf_free(struct msgbuf *msgbuf)
{
	if (msgbuf == NULL)
		return;
	msgbuf_clear(msgbuf);
	freezero(msgbuf->rbuf, msgbuf->rbuf != NULL ? IBUF_READ_SIZE : 0);
	freezero(msgbuf, sizeof(*msgbuf));
}

/* Drop everything queued or half read; descriptors are closed. */
void
msgbuf_clear(struct msgbuf *msgbuf)
{
	if (msgbuf == NULL)
		return;
	ibufq_flush(&msgbuf->out);
	ibufq_flush(&msgbuf->in);
	ibuf_free(msgbuf->partial);
	msgbuf->partial = NULL;
	if (msgbuf->heldfd >= 0)
		close_keep_errno(msgbuf->heldfd);
	msgbuf->heldfd = -1;
	if (msgbuf->rbuf != NULL)
		explicit_bzero(msgbuf->rbuf, msgbuf->rlen);
	msgbuf->rlen = 0;
	msgbuf->rerror = 0;
}

void
msgbuf_concat(struct msgbuf *msgbuf, struct ibufqueue *q)
{
	if (msgbuf == NULL)
		return;
	ibufq_concat(&msgbuf->out, q);
}

uint32_t
msgbuf_queuelen(struct msgbuf *msgbuf)
{
	return (msgbuf == NULL ? 0 : msgbuf->out.queued);
}

struct ibuf *
msgbuf_get(struct msgbuf *msgbuf)
{
	if (msgbuf == NULL)
		return (NULL);
	return (ibufq_pop(&msgbuf->in));
}

/* Account for n bytes written from the head of the output queue. */
static void
msgbuf_drain(struct msgbuf *msgbuf, size_t n)
{
	struct ibuf	*buf;
	size_t		 sz;

	while ((buf = TAILQ_FIRST(&msgbuf->out.bufs)) != NULL) {
		sz = ibuf_size(buf);
		if (n < sz) {
			buf->rpos += n;
			break;
		}
		n -= sz;
		TAILQ_REMOVE(&msgbuf->out.bufs, buf, entry);
		msgbuf->out.queued--;
		/* an fd still attached here was not passed: close it */
		ibuf_free(buf);
	}
}

/*
 * Write as much of the queue as one writev(2) takes.  Descriptors are not
 * passed; each is closed once its buffer has gone out.  Returns 0, also
 * when the socket is full, or -1 on error (EPIPE if the peer is gone).
 */
int
ibuf_write(int fd, struct msgbuf *msgbuf)
{
	struct iovec	 iov[IOV_MAX];
	struct ibuf	*buf;
	ssize_t		 n;
	int		 cnt = 0;

	if (msgbuf == NULL) {
		errno = EINVAL;
		return (-1);
	}
	TAILQ_FOREACH(buf, &msgbuf->out.bufs, entry) {
		if (cnt >= IOV_MAX)
			break;
		iov[cnt].iov_base = ibuf_data(buf);
		iov[cnt].iov_len = ibuf_size(buf);
		cnt++;
	}
	if (cnt == 0)
		return (0);

	do {
		n = writev(fd, iov, cnt);
	} while (n == -1 && errno == EINTR);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == ENOBUFS)
			return (0);
		return (-1);
	}
	msgbuf_drain(msgbuf, (size_t)n);
	return (0);
}

/*
 * Like ibuf_write() but with sendmsg(2), passing descriptors.  A buffer
 * carrying an fd always starts a batch so that the fd travels with the
 * first byte of its message; the batch ends before the next such buffer.
 * The fd is closed as soon as the kernel has accepted it.
 */
int
msgbuf_write(int fd, struct msgbuf *msgbuf)
{
	struct iovec	 iov[IOV_MAX];
	union {
		struct cmsghdr	hdr;
		unsigned char	buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct msghdr	 msg;
	struct cmsghdr	*cmsg;
	struct ibuf	*buf, *first;
	ssize_t		 n;
	int		 cnt = 0, sendfd = -1;

	if (msgbuf == NULL) {
		errno = EINVAL;
		return (-1);
	}
	first = TAILQ_FIRST(&msgbuf->out.bufs);
	TAILQ_FOREACH(buf, &msgbuf->out.bufs, entry) {
		if (cnt >= IOV_MAX)
			break;
		if (buf->fd >= 0) {
			if (cnt > 0)
				break;
			sendfd = buf->fd;
		}
		iov[cnt].iov_base = ibuf_data(buf);
		iov[cnt].iov_len = ibuf_size(buf);
		cnt++;
	}
	if (cnt == 0)
		return (0);

	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	msg.msg_iov = iov;
	msg.msg_iovlen = cnt;
	if (sendfd >= 0) {
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = sizeof(cmsgbuf.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(cmsg), &sendfd, sizeof(int));
	}

	do {
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == ENOBUFS)
			return (0);
		return (-1);
	}

	if (sendfd >= 0) {
		/* the descriptor is in flight now; ours is no longer needed */
		first->fd = -1;
		close(sendfd);
	}
	msgbuf_drain(msgbuf, (size_t)n);
	return (0);
}

static void
close_keep_errno(int fd)
{
	int	 saved_errno = errno;

	close(fd);
	errno = saved_errno;
}

/*
 * One read(2) or recvmsg(2) into the free part of the read buffer.  With
 * fdpass the first descriptor received is returned in *fdp; any further
 * ones are closed.  Returns the byte count, 0 on EOF, -1 on error, and
 * sets errno to EAGAIN if nothing was there.
 */
static ssize_t
msgbuf_recv(int fd, struct msgbuf *msgbuf, int fdpass, int *fdp)
{
	union {
		struct cmsghdr	hdr;
		unsigned char	buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct msghdr	 msg;
	struct cmsghdr	*cmsg;
	struct iovec	 iov;
	unsigned char	*space;
	size_t		 room, i, nfds;
	ssize_t		 n;
	int		 rfd;

	*fdp = -1;
	space = msgbuf->rbuf + msgbuf->rlen;
	room = IBUF_READ_SIZE - msgbuf->rlen;

	if (!fdpass) {
		do {
			n = read(fd, space, room);
		} while (n == -1 && errno == EINTR);
		return (n);
	}

	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	iov.iov_base = space;
	iov.iov_len = room;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);

	do {
		n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return (-1);

	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS ||
		    cmsg->cmsg_len < CMSG_LEN(0))
			continue;
		nfds = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfds; i++) {
			memcpy(&rfd, CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(int));
			if (*fdp == -1)
				*fdp = rfd;
			else
				close(rfd);
		}
	}

	/*
	 * Descriptors were dropped, either because more were sent than we
	 * take or because RLIMIT_NOFILE was hit.  The stream can no longer
	 * be trusted.
	 */
	if (msg.msg_flags & MSG_CTRUNC) {
		if (*fdp != -1)
			close(*fdp);
		*fdp = -1;
		errno = EMSGSIZE;
		return (-1);
	}
	return (n);
}

/*
 * Cut the read buffer into messages.  The descriptor in *fdp, if any,
 * is offered to the headers parsed in this round; a descriptor held
 * back from the previous round belongs to the first of them.
 */
static int
msgbuf_frame(struct msgbuf *msgbuf, int *fdp)
{
	struct ibuf	 hdr;
	struct ibuf	*msg;
	size_t		 pos = 0, avail, n;
	int		*slot;

	while (pos < msgbuf->rlen) {
		avail = msgbuf->rlen - pos;
		if (msgbuf->partial == NULL) {
			if (avail < msgbuf->hdrsz)
				break;
			ibuf_from_buffer(&hdr, msgbuf->rbuf + pos,
			    msgbuf->hdrsz);
			slot = msgbuf->heldfd >= 0 ? &msgbuf->heldfd : fdp;
			msg = msgbuf->parse(&hdr, msgbuf->parse_arg, slot);
			if (msgbuf->heldfd >= 0) {
				/* it was meant for this header only */
				close_keep_errno(msgbuf->heldfd);
				msgbuf->heldfd = -1;
			}
			if (msg == NULL)
				return (-1);
			if (ibuf_size(msg) != 0 ||
			    ibuf_left(msg) < msgbuf->hdrsz) {
				ibuf_free(msg);
				errno = EBADMSG;
				return (-1);
			}
			msgbuf->partial = msg;
		}
		msg = msgbuf->partial;
		n = ibuf_left(msg);
		if (n > avail)
			n = avail;
		if (ibuf_add(msg, msgbuf->rbuf + pos, n) == -1)
			return (-1);
		pos += n;
		if (ibuf_left(msg) == 0) {
			msgbuf->partial = NULL;
			ibufq_push(&msgbuf->in, msg);
		}
	}

	/* keep what is left of an incomplete header at the front */
	if (pos > 0) {
		n = msgbuf->rlen - pos;
		if (n > 0)
			memmove(msgbuf->rbuf, msgbuf->rbuf + pos, n);
		explicit_bzero(msgbuf->rbuf + n, msgbuf->rlen - n);
		msgbuf->rlen = n;
	}
	return (0);
}

static int
msgbuf_read_common(int fd, struct msgbuf *msgbuf, int fdpass)
{
	ssize_t		 n;
	int		 rfd = -1;

	if (msgbuf == NULL || msgbuf->rbuf == NULL) {
		errno = EINVAL;
		return (-1);
	}
	if (msgbuf->rerror != 0) {
		errno = msgbuf->rerror;
		return (-1);
	}

	n = msgbuf_recv(fd, msgbuf, fdpass, &rfd);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return (1);
		msgbuf->rerror = errno;
		return (-1);
	}
	if (n == 0) {
		if (rfd != -1)
			close_keep_errno(rfd);
		return (0);
	}
	msgbuf->rlen += (size_t)n;

	if (msgbuf_frame(msgbuf, &rfd) == -1) {
		msgbuf->rerror = errno;
		if (rfd != -1)
			close_keep_errno(rfd);
		return (-1);
	}

	if (rfd != -1) {
		/*
		 * Unclaimed.  If the message it came with has only part of
		 * its header here yet, keep it for that header.
		 */
		if (msgbuf->partial == NULL && msgbuf->rlen > 0 &&
		    msgbuf->heldfd == -1)
			msgbuf->heldfd = rfd;
		else
			close_keep_errno(rfd);
	}
	return (1);
}

/*
 * Read once from fd and queue the complete messages for msgbuf_get().
 * Returns 1 on success (also when no data was ready), 0 on EOF and -1
 * on error, after which the reader stays failed.
 */
int
ibuf_read(int fd, struct msgbuf *msgbuf)
{
	return (msgbuf_read_common(fd, msgbuf, 0));
}

/* As ibuf_read() but with recvmsg(2), accepting one fd per read. */
int
msgbuf_read(int fd, struct msgbuf *msgbuf)
{
	return (msgbuf_read_common(fd, msgbuf, 1));
}
