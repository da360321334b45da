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
 * An output queue: the bytes waiting to be written to a connection, and
 * a record of who sent each stanza in them (0: gatewayd itself), so that
 * what is never delivered can go back to its sender.
 */

#ifndef OUTQ_H
#define OUTQ_H

#include <sys/types.h>
#include <sys/uio.h>

#include <stddef.h>
#include <stdint.h>

struct qrec {
	uint64_t	 sender;
	uint32_t	 len;
};

struct outq {
	char		*data;
	size_t		 off;		/* written so far */
	size_t		 len;		/* queued, incl. written */
	size_t		 cap;
	struct qrec	*recs;		/* a ring */
	size_t		 rfirst, rnum, rcap;
	size_t		 rdone;		/* of the first, written */
};

size_t		 outq_queued(const struct outq *);
size_t		 outq_appendv(struct outq *, uint64_t, const struct iovec *,
		    int);
const char	*outq_head(const struct outq *, size_t *);
void		 outq_consume(struct outq *, size_t);
void		 outq_take(struct outq *, int, void (*)(uint64_t,
		    const char *, size_t, void *), void *);
void		 outq_free(struct outq *);

#endif /* OUTQ_H */
