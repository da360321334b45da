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
 * What is held for a peer that is away for a while: the stanzas, in
 * order, with their senders, for at most a grace period from when it
 * went and at most a number of bytes.  The router says when and for
 * whom; this only keeps them.
 */

#ifndef HOLD_H
#define HOLD_H

#include <sys/types.h>
#include <sys/uio.h>

#include <stdint.h>
#include <time.h>

#include "outq.h"

struct hold {
	struct outq	 h_q;
	time_t		 h_since;	/* monotime: the peer went away */
	int		 h_over;	/* the grace is over: hold no more */
};

void		 hold_start(struct hold *, time_t);
int		 hold_add(struct hold *, uint64_t, const struct iovec *, int,
		    uint32_t, uint32_t, time_t);
int		 hold_due(const struct hold *, uint32_t, time_t);
size_t		 hold_bytes(const struct hold *);
size_t		 hold_stanzas(const struct hold *);
void		 hold_take(struct hold *, void (*)(uint64_t, const char *,
		    size_t, void *), void *);
void		 hold_end(struct hold *);
void		 hold_move(struct hold *, struct hold *);

#endif /* HOLD_H */
