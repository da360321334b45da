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
 * A stanza as the stream layer reports it and the router takes it: the
 * one type the two share, so that neither needs the other.
 */

#ifndef STANZA_H
#define STANZA_H

#include <stddef.h>

enum stanza_kind {
	STANZA_MESSAGE = 1,
	STANZA_PRESENCE,
	STANZA_IQ
};

/* A stanza's start tag, what routing needs of it; valid during the call. */
struct stanza_head {
	enum stanza_kind	 kind;
	const char		*from;		/* NULL when it has none */
	const char		*to;		/* NULL when it has none */
};

/*
 * A whole stanza, the bytes as the peer wrote them; valid during the
 * call.  If the sender's stream header declared namespace prefixes (or
 * xml:lang), the receiver's stream does not have them: decls is what to
 * add behind the element's name so that the stanza means the same there
 * (without what the stanza declares itself), and hdr_decls all of them,
 * the context in which raw is to be read again.
 */
struct stanza {
	const char		*raw;
	size_t			 len;
	size_t			 name_len;	/* of the element's name */
	const char		*decls;		/* NULL when none */
	size_t			 decls_len;
	const char		*hdr_decls;	/* NULL when none */
};

/* What became of a stanza handed over. */
enum stanza_verdict {
	STANZA_DONE,		/* routed or bounced */
	STANZA_HOLD,		/* not now: keep it, pause, offer it again */
	STANZA_DONE_PAUSE	/* routed, but pause before the next */
};

#endif /* STANZA_H */
