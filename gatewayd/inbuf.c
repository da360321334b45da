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

#include <stdlib.h>
#include <string.h>

#include "inbuf.h"
#include "log.h"

/*
 * Room for want more bytes behind those kept.  It grows by half at
 * least, so that input kept a byte at a time is not copied each time.
 */
char *
inbuf_reserve(struct inbuf *in, size_t want)
{
	size_t	 cap;
	char	*p;

	if (in->cap - in->len < want) {
		cap = in->len + want;
		if (cap < in->cap + in->cap / 2)
			cap = in->cap + in->cap / 2;
		if ((p = realloc(in->buf, cap)) == NULL)
			fatal("%s", __func__);
		in->buf = p;
		in->cap = cap;
	}
	return (in->buf + in->len);
}

/* n bytes were read into the room inbuf_reserve gave. */
void
inbuf_grew(struct inbuf *in, size_t n)
{
	in->len += n;
}

/*
 * After the layer above has had a view (len bytes from offset base on,
 * in buf itself or elsewhere): keep from offset keep on.  -1 if it asks
 * for bytes before the view, which are gone.
 */
int
inbuf_keep(struct inbuf *in, const char *view, uint64_t base, size_t len,
    uint64_t keep)
{
	uint64_t	 end = base + len;
	size_t		 need;
	char		*p;

	if (keep > end)
		keep = end;
	if (keep < base)
		return (-1);
	need = end - keep;
	if (view == in->buf) {
		if (keep > base && need > 0)
			memmove(in->buf, in->buf + (keep - base), need);
	} else if (need > 0) {
		if (need > in->cap) {
			if ((p = realloc(in->buf, need)) == NULL)
				fatal("%s", __func__);
			in->buf = p;
			in->cap = need;
		}
		memcpy(in->buf, view + (keep - base), need);
	}
	in->len = need;
	in->base = keep;
	/* An idle connection holds no input buffer. */
	if (in->len == 0)
		inbuf_free(in);
	return (0);
}

void
inbuf_free(struct inbuf *in)
{
	free(in->buf);
	in->buf = NULL;
	in->len = in->cap = 0;
}
