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
 * The namespace declarations (and xml:lang) of a peer's stream header:
 * its stanzas may rely on them, the receiver's stream does not have
 * them, so forwarding adds them to each stanza's start tag, less those
 * the stanza declares itself.
 */

#ifndef SPLICE_H
#define SPLICE_H

#include <stddef.h>

struct splice {
	char		*decls;		/* " xmlns:p='uri' xml:lang='en'" */
	size_t		 len;
	char		*redecl;	/* the stanza's own: "p\0q\0" */
	size_t		 redecl_len;
	char		*filtered;	/* decls less those */
};

void		 splice_add(struct splice *, const char *, const char *);
void		 splice_redeclare(struct splice *, const char *);
const char	*splice_for_stanza(struct splice *, size_t *);
void		 splice_stanza_done(struct splice *);
void		 splice_free(struct splice *);

#endif /* SPLICE_H */
