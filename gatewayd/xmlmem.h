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

#ifndef XMLMEM_H
#define XMLMEM_H

#include <stddef.h>

/*
 * An arena for one parser: expat's memory, kept apart from the heap and
 * given back whole (xmlmem.c says why).
 */
struct xmlmem;

struct xmlmem_stats {
	size_t	arenas;		/* alive */
	size_t	pages_used;	/* by arenas, their large blocks too */
	size_t	pages_kept;	/* free and still touched */
	size_t	chunks;		/* mapped, of XMLMEM_CHUNK_PAGES each */
	size_t	mapped;		/* large blocks mapped alone */
	size_t	page_size;
};

#define XMLMEM_CHUNK_PAGES	64
#define XMLMEM_KEEP		64	/* free pages kept touched, at most */

struct xmlmem	*xmlmem_new(void);
void		 xmlmem_free(struct xmlmem *);
struct xmlmem	*xmlmem_enter(struct xmlmem *);
void		 xmlmem_leave(struct xmlmem *);
size_t		 xmlmem_pages(const struct xmlmem *);
void		 xmlmem_get_stats(struct xmlmem_stats *);

/* Expat's memory functions (XML_Memory_Handling_Suite). */
void		*xmlmem_malloc(size_t);
void		*xmlmem_realloc(void *, size_t);
void		 xmlmem_release(void *);

#endif /* XMLMEM_H */
