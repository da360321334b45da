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
 * The input a connection keeps: the bytes from stream offset base on
 * that the layer above still needs (an unfinished stanza, or what a
 * paused stream has not parsed), contiguous, with room behind them for
 * the next read.  An empty one holds no memory.
 */

#ifndef INBUF_H
#define INBUF_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

struct inbuf {
	char		*buf;
	uint64_t	 base;		/* the stream offset of buf[0] */
	size_t		 len, cap;
};

char		*inbuf_reserve(struct inbuf *, size_t);
void		 inbuf_grew(struct inbuf *, size_t);
int		 inbuf_keep(struct inbuf *, const char *, uint64_t, size_t,
		    uint64_t);
void		 inbuf_free(struct inbuf *);

#endif /* INBUF_H */
