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

#include <sys/types.h>
#include <sys/uio.h>

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "outq.h"

#define OUTQ_MIN	4096	/* the first allocation */

size_t
outq_queued(const struct outq *q)
{
	return (q->len - q->off);
}

static void
outq_reserve(struct outq *q, size_t len)
{
	char	*p;
	size_t	 cap, start;

	if (q->off == q->len)
		q->off = q->len = 0;
	else if (q->off > q->rdone && q->len + len > q->cap) {
		/* Keep all of a half-written stanza: it may be bounced. */
		start = q->off - q->rdone;
		memmove(q->data, q->data + start, q->len - start);
		q->len -= start;
		q->off -= start;
	}
	if (q->len + len <= q->cap)
		return;
	cap = q->cap == 0 ? OUTQ_MIN : q->cap;
	while (cap < q->len + len)
		cap *= 2;
	if ((p = realloc(q->data, cap)) == NULL)
		fatal("%s", __func__);
	q->data = p;
	q->cap = cap;
}

/* The record of the last len bytes queued: a stanza of sender's. */
static void
outq_record(struct outq *q, uint64_t sender, size_t len)
{
	struct qrec	*r;
	size_t		 last, i, ncap;

	if (q->rnum > 0) {
		last = (q->rfirst + q->rnum - 1) % q->rcap;
		/* Our own bytes need no boundaries between them. */
		if (sender == 0 && q->recs[last].sender == 0) {
			q->recs[last].len += len;
			return;
		}
	}
	if (q->rnum == q->rcap) {
		ncap = q->rcap ? q->rcap * 2 : 16;
		if ((r = reallocarray(NULL, ncap, sizeof(*r))) == NULL)
			fatal("%s", __func__);
		for (i = 0; i < q->rnum; i++)
			r[i] = q->recs[(q->rfirst + i) % q->rcap];
		free(q->recs);
		q->recs = r;
		q->rcap = ncap;
		q->rfirst = 0;
	}
	r = &q->recs[(q->rfirst + q->rnum) % q->rcap];
	r->sender = sender;
	r->len = len;
	q->rnum++;
}

/* The written bytes leave the queue, and with them their records. */
void
outq_consume(struct outq *q, size_t n)
{
	struct qrec	*r;

	q->off += n;
	while (n > 0 && q->rnum > 0) {
		r = &q->recs[q->rfirst];
		if (n < r->len - q->rdone) {
			q->rdone += n;
			break;
		}
		n -= r->len - q->rdone;
		q->rdone = 0;
		q->rfirst = (q->rfirst + 1) % q->rcap;
		q->rnum--;
	}
	if (q->off == q->len) {
		/* All out: an idle stream keeps no output buffer. */
		free(q->data);
		q->data = NULL;
		q->off = q->len = q->cap = 0;
	}
	if (q->rnum == 0 && q->recs != NULL) {
		/* Nor records (256 bytes a connection, else). */
		free(q->recs);
		q->recs = NULL;
		q->rfirst = q->rcap = q->rdone = 0;
	}
}

/* One stanza of sender's, given in pieces; returns its length. */
size_t
outq_appendv(struct outq *q, uint64_t sender, const struct iovec *iov,
    int iovcnt)
{
	size_t	total = 0;
	int	i;

	for (i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	outq_reserve(q, total);
	for (i = 0; i < iovcnt; i++) {
		memcpy(q->data + q->len, iov[i].iov_base, iov[i].iov_len);
		q->len += iov[i].iov_len;
	}
	outq_record(q, sender, total);
	return (total);
}

/* What is to be written next, NULL when nothing is. */
const char *
outq_head(const struct outq *q, size_t *len)
{
	if ((*len = q->len - q->off) == 0)
		return (NULL);
	return (q->data + q->off);
}

/*
 * Each stanza still queued, with its sender, to fn; then the queue is
 * empty, but for the rest of a stanza partly written when keep_partial
 * says so.
 */
void
outq_take(struct outq *q, int keep_partial, void (*fn)(uint64_t,
    const char *, size_t, void *), void *arg)
{
	struct qrec	*r;
	size_t		 i = 0, pos = q->off - q->rdone, keep = 0;

	if (keep_partial && q->rnum > 0 && q->rdone > 0) {
		r = &q->recs[q->rfirst];
		keep = r->len - q->rdone;
		pos += r->len;
		i = 1;
	}
	for (; i < q->rnum; i++) {
		r = &q->recs[(q->rfirst + i) % q->rcap];
		fn(r->sender, q->data + pos, r->len, arg);
		pos += r->len;
	}
	if (keep > 0) {
		q->len = q->off + keep;
		q->rnum = 1;
		return;
	}
	q->off = q->len = 0;
	q->rnum = q->rdone = 0;
}

void
outq_free(struct outq *q)
{
	free(q->data);
	free(q->recs);
	memset(q, 0, sizeof(*q));
}
