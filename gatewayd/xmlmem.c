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
 * The parsers' memory.  An expat parser is about 9 KB in some twenty
 * blocks; a stream has one from its first byte until it rests.  In the
 * heap those blocks lie between the connections' own structures, made
 * at the same time and living far longer, so what a resting stream
 * frees stays as holes the heap cannot give back: measured at 10,000
 * idle components, 10 KB of holes each, four times what the streams
 * themselves hold.  So each parser allocates from an arena of its own,
 * in pages kept apart from the heap; freeing the parser gives all of
 * them back at once, and free pages beyond XMLMEM_KEEP go back to the
 * system.
 *
 * Pages come from chunks of XMLMEM_CHUNK_PAGES, aligned to their size,
 * whose first page holds a bitmap of the rest.  An arena carves blocks
 * of size classes out of the first of its pages with room and keeps
 * those freed for the same class; a block too large for a class gets a
 * run of pages of its own (mapped alone past XM_MAX_RUN).  Every block
 * has a header: its arena, so that freeing and growing need no arena
 * entered, and a magic number, so that a foreign or twice freed pointer
 * is fatal rather than corruption.
 *
 * Expat's memory functions take no argument: the arena a new block
 * comes from is the one entered around each call into expat that may
 * allocate (xmlmem_enter).
 */

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/queue.h>

#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "log.h"
#include "xmlmem.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define XM_ASAN	1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define XM_ASAN	1
#endif
#ifdef XM_ASAN
#include <sanitizer/asan_interface.h>
#define XM_POISON(p, n)		ASAN_POISON_MEMORY_REGION((p), (n))
#define XM_UNPOISON(p, n)	ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define XM_POISON(p, n)		do { (void)(p); (void)(n); } while (0)
#define XM_UNPOISON(p, n)	do { (void)(p); (void)(n); } while (0)
#endif

#define XM_MAX_RUN	16		/* pages of a run from a chunk */
#define XM_LIVE		0x786d6c31U	/* a block in use */
#define XM_DEAD		0x786d6c30U	/* a block freed, in its class */
#define XM_LARGE	0x786d6c32U	/* a block in use, on pages alone */
#define XM_ALL		(~(uint64_t)1)	/* a chunk's pages but its first */

/* Before every block. */
struct xm_block {
	void		*link;		/* live: its arena; dead: the next */
	uint32_t	 magic;
	uint16_t	 class;		/* small */
	uint16_t	 len;		/* small: asked for */
};

/* Before a large block's header, at the start of its pages. */
struct xm_large {
	LIST_ENTRY(xm_large)	 entry;
	struct xmlmem		*arena;
	uint32_t		 npages;
	uint32_t		 len;		/* asked for */
};
#define XM_LARGE_HDR	32		/* xm_large, rounded to 16 */
_Static_assert(sizeof(struct xm_block) == 16, "a block's header is 16 bytes");
_Static_assert(sizeof(struct xm_large) <= XM_LARGE_HDR, "XM_LARGE_HDR");

/* At the start of each page an arena carves blocks from. */
struct xm_page {
	struct xm_page		*next;
	uint32_t		 used;	/* bytes from the page's start */
	uint32_t		 pad;
};
#define XM_FIT_PAGES	8	/* the newest, tried for room in turn */

/* In its first page, whose header it begins with. */
struct xmlmem {
	struct xm_page		 page;
	struct xm_page		*pages;	/* the newest first, this one last */
	LIST_HEAD(, xm_large)	 large;
	struct xm_block		*dead[23];
	size_t			 npages;
};

/*
 * Sizes of the classes, the header included: expat asks for powers of
 * two (and 1036, its string pools' blocks), so a power and a header
 * fit one class, its 2 KB input buffer too.
 */
static const uint32_t xm_class[] = {
	32, 48, 64, 80, 96, 112, 128, 144, 192, 224, 272, 320, 384, 448, 528,
	640, 768, 896, 1056, 1280, 1536, 1792, 2064
};
#define XM_NCLASS	(sizeof(xm_class) / sizeof(xm_class[0]))
#define XM_SMALL_MAX	(2064 - sizeof(struct xm_block))
_Static_assert(sizeof(((struct xmlmem *)0)->dead) / sizeof(void *) ==
    XM_NCLASS, "a dead list a class");

struct xm_chunk {
	TAILQ_ENTRY(xm_chunk)	 entry;
	uint64_t		 free;	/* a bit a page */
	uint64_t		 kept;	/* free, still touched */
};
TAILQ_HEAD(xm_chunks, xm_chunk);

static struct xm_chunks	 chunks = TAILQ_HEAD_INITIALIZER(chunks);
static struct xmlmem	*current;
static size_t		 pagesz;
static size_t		 nempty;	/* chunks with every page free */
static struct xmlmem_stats stats;

static size_t
xm_chunk_size(void)
{
	if (pagesz == 0)
		pagesz = (size_t)sysconf(_SC_PAGESIZE);
	return (pagesz * XMLMEM_CHUNK_PAGES);
}

static struct xm_chunk *
xm_chunk_new(void)
{
	size_t		 size = xm_chunk_size();
	uintptr_t	 base, aligned;
	char		*p;
	struct xm_chunk	*c;

	/* Twice the size, then the part beyond an aligned chunk unmapped. */
	p = mmap(NULL, 2 * size, PROT_READ | PROT_WRITE, MAP_ANON |
	    MAP_PRIVATE, -1, 0);
	if (p == MAP_FAILED)
		return (NULL);
	base = (uintptr_t)p;
	aligned = (base + size - 1) & ~(uintptr_t)(size - 1);
	if (aligned > base)
		munmap(p, aligned - base);
	if (aligned + size < base + 2 * size)
		munmap((char *)aligned + size, base + 2 * size - aligned - size);
	c = (struct xm_chunk *)aligned;
	XM_POISON((char *)c + pagesz, size - pagesz);
	c->free = XM_ALL;
	c->kept = 0;
	TAILQ_INSERT_HEAD(&chunks, c, entry);
	stats.chunks++;
	nempty++;
	return (c);
}

/* The first of n free pages in a row in c, or -1. */
static int
xm_run_find(const struct xm_chunk *c, size_t n)
{
	uint64_t	m = c->free;
	size_t		i;

	for (i = 1; i < n; i++)
		m &= c->free >> i;
	return (m == 0 ? -1 : __builtin_ctzll(m));
}

static uint64_t
xm_mask(int first, size_t n)
{
	return ((((uint64_t)1 << n) - 1) << first);
}

/* n pages in a row, 1 <= n <= XM_MAX_RUN; poisoned until used. */
static void *
xm_pages_get(size_t n)
{
	struct xm_chunk	*c;
	uint64_t	 m;
	int		 first = -1;

	TAILQ_FOREACH(c, &chunks, entry)
		if ((first = xm_run_find(c, n)) != -1)
			break;
	if (c == NULL) {
		if ((c = xm_chunk_new()) == NULL)
			return (NULL);
		first = xm_run_find(c, n);
	}
	m = xm_mask(first, n);
	if (c->free == XM_ALL)
		nempty--;
	c->free &= ~m;
	stats.pages_kept -= __builtin_popcountll(c->kept & m);
	c->kept &= ~m;
	stats.pages_used += n;
	if (c->free == 0) {
		/* Full: behind those that have room, which come first. */
		TAILQ_REMOVE(&chunks, c, entry);
		TAILQ_INSERT_TAIL(&chunks, c, entry);
	}
	return ((char *)c + (size_t)first * pagesz);
}

static void
xm_pages_put(void *p, size_t n)
{
	size_t		 size = xm_chunk_size();
	struct xm_chunk	*c;
	uint64_t	 m;
	int		 first;

	c = (struct xm_chunk *)((uintptr_t)p & ~(uintptr_t)(size - 1));
	first = (int)(((char *)p - (char *)c) / pagesz);
	m = xm_mask(first, n);
	if (first == 0 || (c->free & m) != 0)
		fatalx("%s: pages not in use", __func__);
	XM_POISON(p, n * pagesz);
	if (c->free == 0) {
		TAILQ_REMOVE(&chunks, c, entry);
		TAILQ_INSERT_HEAD(&chunks, c, entry);
	}
	c->free |= m;
	stats.pages_used -= n;
	if (c->free == XM_ALL && nempty > 0) {
		/* One chunk wholly free is kept for the next parsers. */
		stats.pages_kept -= __builtin_popcountll(c->kept);
		TAILQ_REMOVE(&chunks, c, entry);
		XM_UNPOISON(c, size);
		munmap(c, size);
		stats.chunks--;
		return;
	}
	if (c->free == XM_ALL)
		nempty++;
	if (stats.pages_kept + n > XMLMEM_KEEP)
		madvise(p, n * pagesz, COMPAT_MADV_RELEASE);
	else {
		c->kept |= m;
		stats.pages_kept += n;
	}
}

static size_t
xm_class_of(size_t len)
{
	size_t	i, total = len + sizeof(struct xm_block);

	for (i = 0; i < XM_NCLASS; i++)
		if (total <= xm_class[i])
			break;
	return (i);
}

static void *
xm_block_live(struct xm_block *b, struct xmlmem *a, size_t k, size_t len)
{
	b->link = a;
	b->magic = XM_LIVE;
	b->class = (uint16_t)k;
	b->len = (uint16_t)len;
	XM_UNPOISON(b + 1, len);
	return (b + 1);
}

static void *
xm_alloc_large(struct xmlmem *a, size_t len)
{
	struct xm_large	*l;
	struct xm_block	*b;
	size_t		 npages;

	if (len > UINT32_MAX / 2)
		return (NULL);
	npages = (XM_LARGE_HDR + sizeof(*b) + len + pagesz - 1) / pagesz;
	if (npages <= XM_MAX_RUN)
		l = xm_pages_get(npages);
	else {
		l = mmap(NULL, npages * pagesz, PROT_READ | PROT_WRITE,
		    MAP_ANON | MAP_PRIVATE, -1, 0);
		if (l == MAP_FAILED)
			l = NULL;
		else {
			stats.mapped++;
			stats.pages_used += npages;
		}
	}
	if (l == NULL)
		return (NULL);
	XM_UNPOISON(l, XM_LARGE_HDR + sizeof(*b));
	l->arena = a;
	l->npages = (uint32_t)npages;
	l->len = (uint32_t)len;
	LIST_INSERT_HEAD(&a->large, l, entry);
	a->npages += npages;
	b = (struct xm_block *)((char *)l + XM_LARGE_HDR);
	b->link = a;
	b->magic = XM_LARGE;
	b->class = b->len = 0;
	XM_UNPOISON(b + 1, len);
	return (b + 1);
}

static void
xm_free_large(struct xm_large *l)
{
	LIST_REMOVE(l, entry);
	l->arena->npages -= l->npages;
	if (l->npages <= XM_MAX_RUN)
		xm_pages_put(l, l->npages);
	else {
		stats.mapped--;
		stats.pages_used -= l->npages;
		/* What maps these addresses next must not find them poisoned. */
		XM_UNPOISON(l, l->npages * pagesz);
		munmap(l, l->npages * pagesz);
	}
}

static void *
xm_alloc(struct xmlmem *a, size_t len)
{
	struct xm_block	*b;
	struct xm_page	*pg;
	size_t		 k, tried = 0;

	if (len == 0)
		len = 1;
	if (len > XM_SMALL_MAX)
		return (xm_alloc_large(a, len));
	k = xm_class_of(len);
	if ((b = a->dead[k]) != NULL) {
		a->dead[k] = b->link;
		return (xm_block_live(b, a, k, len));
	}
	/* The first of the newest pages with room: few pages stay half full. */
	for (pg = a->pages; pg != NULL && tried < XM_FIT_PAGES;
	    pg = pg->next, tried++)
		if (pagesz - pg->used >= xm_class[k])
			break;
	if (pg == NULL || tried == XM_FIT_PAGES) {
		if ((pg = xm_pages_get(1)) == NULL)
			return (NULL);
		XM_UNPOISON(pg, sizeof(*pg));
		pg->next = a->pages;
		pg->used = sizeof(*pg);
		a->pages = pg;
		a->npages++;
	}
	b = (struct xm_block *)((char *)pg + pg->used);
	pg->used += xm_class[k];
	XM_UNPOISON(b, sizeof(*b));
	return (xm_block_live(b, a, k, len));
}

static struct xm_block *
xm_header(void *p)
{
	struct xm_block	*b = (struct xm_block *)p - 1;

	if ((b->magic != XM_LIVE || b->class >= XM_NCLASS) &&
	    b->magic != XM_LARGE)
		fatalx("xmlmem: %p is not a live block", p);
	return (b);
}

static struct xm_large *
xm_large_of(struct xm_block *b)
{
	return ((struct xm_large *)((char *)b - XM_LARGE_HDR));
}

struct xmlmem *
xmlmem_new(void)
{
	struct xmlmem	*a;
	char		*page;

	xm_chunk_size();
	if ((page = xm_pages_get(1)) == NULL)
		return (NULL);
	XM_UNPOISON(page, sizeof(*a));
	a = (struct xmlmem *)page;
	memset(a, 0, sizeof(*a));
	LIST_INIT(&a->large);
	a->page.used = (sizeof(*a) + 15) & ~(uint32_t)15;
	a->pages = &a->page;
	a->npages = 1;
	stats.arenas++;
	return (a);
}

/* All of it, whatever was not freed block by block. */
void
xmlmem_free(struct xmlmem *a)
{
	struct xm_large	*l;
	struct xm_page	*pg, *next;

	if (a == NULL)
		return;
	if (current == a)
		fatalx("%s: the arena in use", __func__);
	while ((l = LIST_FIRST(&a->large)) != NULL)
		xm_free_large(l);
	/* The others first: the first page holds the arena. */
	for (pg = a->pages; pg != &a->page; pg = next) {
		next = pg->next;
		xm_pages_put(pg, 1);
	}
	stats.arenas--;
	xm_pages_put(a, 1);
}

/* Where new blocks come from until xmlmem_leave; returns the one before. */
struct xmlmem *
xmlmem_enter(struct xmlmem *a)
{
	struct xmlmem	*prev = current;

	current = a;
	return (prev);
}

void
xmlmem_leave(struct xmlmem *prev)
{
	current = prev;
}

size_t
xmlmem_pages(const struct xmlmem *a)
{
	return (a == NULL ? 0 : a->npages);
}

void
xmlmem_get_stats(struct xmlmem_stats *s)
{
	*s = stats;
	s->page_size = pagesz != 0 ? pagesz : (size_t)sysconf(_SC_PAGESIZE);
}

void *
xmlmem_malloc(size_t len)
{
	if (current == NULL)
		fatalx("%s: no arena entered", __func__);
	return (xm_alloc(current, len));
}

void
xmlmem_release(void *p)
{
	struct xm_block	*b;
	struct xmlmem	*a;
	size_t		 k;

	if (p == NULL)
		return;
	b = xm_header(p);
	if (b->magic == XM_LARGE) {
		xm_free_large(xm_large_of(b));
		return;
	}
	a = b->link;
	k = b->class;
	XM_POISON(p, xm_class[k] - sizeof(*b));
	b->magic = XM_DEAD;
	b->link = a->dead[k];
	a->dead[k] = b;
}

/* In place while it fits; else a new block of the same arena. */
void *
xmlmem_realloc(void *p, size_t len)
{
	struct xm_block	*b;
	struct xm_large	*l = NULL;
	struct xmlmem	*a;
	size_t		 room, had;
	void		*q;

	if (p == NULL)
		return (xmlmem_malloc(len));
	b = xm_header(p);
	if (b->magic == XM_LARGE) {
		l = xm_large_of(b);
		a = l->arena;
		had = l->len;
		room = (size_t)l->npages * pagesz - XM_LARGE_HDR - sizeof(*b);
	} else {
		a = b->link;
		had = b->len;
		room = xm_class[b->class] - sizeof(*b);
	}
	if (len != 0 && len <= room) {
		XM_POISON(p, room);
		XM_UNPOISON(p, len);
		if (l != NULL)
			l->len = (uint32_t)len;
		else
			b->len = (uint16_t)len;
		return (p);
	}
	if ((q = xm_alloc(a, len)) == NULL)
		return (NULL);
	memcpy(q, p, had < len ? had : len);
	xmlmem_release(p);
	return (q);
}
