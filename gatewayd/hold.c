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
 * A hold is an output queue that nobody writes: stanzas wait in it,
 * with the records of who sent each, until the peer is back (hold_take
 * hands them over in order) or the grace is over (hold_take hands them
 * over to be bounced).
 */

#include <sys/types.h>
#include <sys/uio.h>

#include <string.h>

#include "hold.h"

/* The peer went away at now: the grace starts, nothing is held yet. */
void
hold_start(struct hold *h, time_t now)
{
	outq_free(&h->h_q);
	h->h_since = now;
	h->h_over = 0;
}

/*
 * Holds one stanza, unless the grace (seconds) is over or the bytes
 * held would pass max: then -1, and the grace is over for all (the
 * caller bounces what is held, and this one).
 */
int
hold_add(struct hold *h, uint64_t sender, const struct iovec *iov,
    int iovcnt, uint32_t grace, uint32_t max, time_t now)
{
	size_t	len = 0;
	int	i;

	for (i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	if (h->h_over || now - h->h_since >= (time_t)grace ||
	    hold_bytes(h) + len > max) {
		h->h_over = 1;
		return (-1);
	}
	outq_appendv(&h->h_q, sender, iov, iovcnt);
	return (0);
}

/* Is the grace over, with stanzas still held? */
int
hold_due(const struct hold *h, uint32_t grace, time_t now)
{
	return (hold_bytes(h) > 0 && now - h->h_since >= (time_t)grace);
}

size_t
hold_bytes(const struct hold *h)
{
	return (outq_queued(&h->h_q));
}

size_t
hold_stanzas(const struct hold *h)
{
	return (h->h_q.rnum);
}

/* Each stanza held, in order, to fn; the hold is empty after. */
void
hold_take(struct hold *h, void (*fn)(uint64_t, const char *, size_t,
    void *), void *arg)
{
	outq_take(&h->h_q, 0, fn, arg);
	outq_free(&h->h_q);
}

/* The peer is back, or gone for good: nothing is held any more. */
void
hold_end(struct hold *h)
{
	outq_free(&h->h_q);
	memset(h, 0, sizeof(*h));
}

/* What from holds is to's now (a reload). */
void
hold_move(struct hold *to, struct hold *from)
{
	*to = *from;
	memset(from, 0, sizeof(*from));
}
