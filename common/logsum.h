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

#ifndef LOGSUM_H
#define LOGSUM_H

#include <time.h>

/*
 * Lines that a peer can make us write again and again (refusals,
 * unauthenticated streams ending) are written once per source and kind
 * and interval; the rest are counted, and logsum_tick writes one line
 * for them when the interval is over.
 */
#define LOGSUM_INTERVAL	10	/* seconds */
#define LOGSUM_MAX	1024	/* sources and kinds followed at once */

int	logsum_allow(const char *, const char *);
void	logsum_tick(void);

#endif /* LOGSUM_H */
