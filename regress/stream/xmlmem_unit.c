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
 * The parsers' arenas (gatewayd/xmlmem.c) alone: what is written stays
 * written, blocks of one arena never lie in another's pages, freeing an
 * arena gives every page back and the system gets them (resident size),
 * freed blocks are reused, expat parses through them, and a pointer that
 * is not a live block, or an allocation with no arena entered, is fatal.
 */

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <err.h>
#include <expat.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "xmlmem.h"

#define NARENAS		8
#define NBLOCKS		64
#define ROUNDS		20000

static int	nchecks, nfailed;

static void
check(int cond, const char *what)
{
	nchecks++;
	if (!cond)
		nfailed++;
	printf("%s - xmlmem unit: %s\n", cond ? "ok" : "not ok", what);
}

static uint32_t	seed = 2463534242U;

static uint32_t
rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 17;
	seed ^= seed << 5;
	return (seed);
}

/* A size of every kind: small classes, runs of pages, mapped alone. */
static size_t
rnd_size(void)
{
	switch (rnd() % 10) {
	case 0:
		return (rnd() % 100000 + 2100);
	case 1:
	case 2:
		return (rnd() % 8000 + 1);
	default:
		return (rnd() % 2100 + 1);
	}
}

struct blk {
	unsigned char	*p;
	size_t		 len;
	unsigned char	 fill;
};

static int
blk_intact(const struct blk *b)
{
	size_t	i;

	for (i = 0; i < b->len; i++)
		if (b->p[i] != (unsigned char)(b->fill + i))
			return (0);
	return (1);
}

static void
blk_fill(struct blk *b, size_t from)
{
	size_t	i;

	for (i = from; i < b->len; i++)
		b->p[i] = (unsigned char)(b->fill + i);
}

static size_t
resident_kb(void)
{
	FILE	*f;
	long	 size, res = -1;

	if ((f = fopen("/proc/self/statm", "r")) == NULL)
		return (0);
	if (fscanf(f, "%ld %ld", &size, &res) != 2)
		res = -1;
	fclose(f);
	return (res < 0 ? 0 : (size_t)res * (size_t)getpagesize() / 1024);
}

/* Random malloc, realloc and free over several arenas at once. */
static void
t_workload(void)
{
	struct xmlmem		*a[NARENAS], *prev;
	struct blk		 b[NARENAS][NBLOCKS];
	struct xmlmem_stats	 st;
	int			 i, j, r, bad = 0, reused;
	size_t			 old, len, sum;

	memset(b, 0, sizeof(b));
	for (i = 0; i < NARENAS; i++)
		if ((a[i] = xmlmem_new()) == NULL)
			errx(1, "xmlmem_new");
	for (r = 0; r < ROUNDS; r++) {
		i = rnd() % NARENAS;
		j = rnd() % NBLOCKS;
		prev = xmlmem_enter(a[i]);
		if (b[i][j].p == NULL) {
			b[i][j].len = rnd_size();
			b[i][j].fill = rnd();
			b[i][j].p = xmlmem_malloc(b[i][j].len);
			blk_fill(&b[i][j], 0);
		} else if (rnd() % 2) {
			bad += !blk_intact(&b[i][j]);
			old = b[i][j].len;
			len = rnd_size();
			/* Grown or shrunk, whichever arena is entered. */
			xmlmem_leave(prev);
			prev = xmlmem_enter(a[(i + 1) % NARENAS]);
			b[i][j].p = xmlmem_realloc(b[i][j].p, len);
			b[i][j].len = old < len ? old : len;
			bad += !blk_intact(&b[i][j]);
			b[i][j].len = len;
			blk_fill(&b[i][j], 0);
		} else {
			bad += !blk_intact(&b[i][j]);
			xmlmem_release(b[i][j].p);
			b[i][j].p = NULL;
		}
		xmlmem_leave(prev);
	}
	for (i = 0; i < NARENAS; i++)
		for (j = 0; j < NBLOCKS; j++)
			if (b[i][j].p != NULL)
				bad += !blk_intact(&b[i][j]);
	check(bad == 0, "20,000 mallocs, reallocs and frees over 8 arenas: "
	    "every byte as written, through growing and shrinking");
	xmlmem_get_stats(&st);
	for (sum = 0, i = 0; i < NARENAS; i++)
		sum += xmlmem_pages(a[i]);
	check(st.arenas == NARENAS && st.pages_used == sum,
	    "the pages in use are the arenas' own");
	/* Freed block by block, then allocated again: no new page. */
	prev = xmlmem_enter(a[0]);
	for (j = 0; j < NBLOCKS; j++) {
		xmlmem_release(b[0][j].p);
		b[0][j].p = xmlmem_malloc(100 + j);
	}
	old = xmlmem_pages(a[0]);
	for (j = 0; j < NBLOCKS; j++) {
		xmlmem_release(b[0][j].p);
		b[0][j].p = NULL;
	}
	for (j = 0; j < NBLOCKS; j++)
		b[0][j].p = xmlmem_malloc(100 + j);
	reused = xmlmem_pages(a[0]) == old;
	xmlmem_leave(prev);
	check(reused, "a freed block is reused for one of its size");
	for (i = 0; i < NARENAS; i++)
		xmlmem_free(a[i]);
	xmlmem_get_stats(&st);
	check(st.arenas == 0 && st.pages_used == 0 && st.mapped == 0,
	    "freed arenas hold no page, whatever blocks they still had");
	check(st.pages_kept <= XMLMEM_KEEP && st.chunks <= 1,
	    "free pages kept touched: at most XMLMEM_KEEP, in one chunk");
}

/* Thousands of parsers' worth, touched, then freed: resident size falls. */
static void
t_resident(void)
{
	enum { N = 4000 };
	static struct xmlmem	*a[N];
	struct xmlmem		*prev;
	size_t			 before, peak, after;
	int			 i, j;
	char			*p;

#if defined(__SANITIZE_ADDRESS__)
	printf("skip - xmlmem unit: resident size: AddressSanitizer's shadow "
	    "of the arenas stays resident\n");
	return;
#endif
	before = resident_kb();
	if (before == 0) {
		printf("skip - xmlmem unit: resident size: no "
		    "/proc/self/statm\n");
		return;
	}
	for (i = 0; i < N; i++) {
		if ((a[i] = xmlmem_new()) == NULL)
			errx(1, "xmlmem_new");
		prev = xmlmem_enter(a[i]);
		for (j = 0; j < 12; j++) {
			p = xmlmem_malloc(700);
			memset(p, 'x', 700);
		}
		memset(xmlmem_malloc(4096), 'y', 4096);
		xmlmem_leave(prev);
	}
	peak = resident_kb();
	for (i = 0; i < N; i++)
		xmlmem_free(a[i]);
	after = resident_kb();
	printf("# 4,000 arenas of about 12 KB: resident %zu KB before, %zu "
	    "KB with them, %zu KB after\n", before, peak, after);
	check(peak >= before + N * 12 && after <= before + 4 * XMLMEM_KEEP +
	    1024, "4,000 arenas freed: the system has their pages back");
}

static int
t_parse_one(void)
{
	static const XML_Memory_Handling_Suite suite = {
		xmlmem_malloc, xmlmem_realloc, xmlmem_release
	};
	static const XML_Char	 sep[] = { ' ', '\0' };
	static const char	 doc[] = "<s:stream xmlns='jabber:component:"
	    "accept' xmlns:s='http://etherx.jabber.org/streams' xmlns:a='urn:"
	    "a'><message to='x' from='y' a:k='v'><body>hello &amp; "
	    "goodbye</body></message>";
	struct xmlmem		*a, *prev;
	struct xmlmem_stats	 st;
	XML_Parser		 p;
	char			 big[8192];
	int			 ok = 1, i;

	if ((a = xmlmem_new()) == NULL)
		errx(1, "xmlmem_new");
	prev = xmlmem_enter(a);
	if ((p = XML_ParserCreate_MM("UTF-8", &suite, sep)) == NULL)
		errx(1, "XML_ParserCreate_MM");
	ok &= XML_Parse(p, doc, sizeof(doc) - 1, XML_FALSE) ==
	    XML_STATUS_OK;
	/* Attributes by the hundred and long values: expat grows. */
	for (i = 0; i < 40 && ok; i++) {
		snprintf(big, sizeof(big), "<message to='x' from='y' b%d='%0*d'"
		    " c%d='1' d%d='2'/>", i, 100 * i, i, i, i);
		ok &= XML_Parse(p, big, strlen(big), XML_FALSE) ==
		    XML_STATUS_OK;
	}
	xmlmem_leave(prev);
	check(ok && xmlmem_pages(a) > 1, "expat parses with its blocks in "
	    "an arena");
	XML_ParserFree(p);
	xmlmem_free(a);
	xmlmem_get_stats(&st);
	return (st.pages_used == 0 && st.arenas == 0);
}

static void
t_parse(void)
{
	check(t_parse_one(), "a parser freed, then its arena: no page left");
}

/* Exits non-zero, as a fatalx does, or not. */
static int
dies(void (*fn)(void))
{
	pid_t	pid;
	int	status;

	fflush(stdout);
	if ((pid = fork()) == -1)
		err(1, "fork");
	if (pid == 0) {
		fclose(stderr);
		fn();
		_exit(0);
	}
	if (waitpid(pid, &status, 0) == -1)
		err(1, "waitpid");
	return (!WIFEXITED(status) || WEXITSTATUS(status) != 0);
}

static void
do_twice(void)
{
	struct xmlmem	*a = xmlmem_new(), *prev;
	void		*p;

	prev = xmlmem_enter(a);
	p = xmlmem_malloc(100);
	xmlmem_leave(prev);
	xmlmem_release(p);
	xmlmem_release(p);
}

static void
do_foreign(void)
{
	char	*p = calloc(1, 64);

	xmlmem_release(p + 32);
}

static void
do_unentered(void)
{
	xmlmem_malloc(10);
}

static void
do_entered(void)
{
	struct xmlmem	*a = xmlmem_new(), *prev;

	prev = xmlmem_enter(a);
	xmlmem_release(xmlmem_malloc(10));
	xmlmem_leave(prev);
	xmlmem_free(a);
}

static void
do_overflow(void)
{
	struct xmlmem		*a = xmlmem_new(), *prev;
	volatile char		*p;

	prev = xmlmem_enter(a);
	p = xmlmem_malloc(100);
	xmlmem_leave(prev);
	p[100] = 'x';
}

static void
do_after_free(void)
{
	struct xmlmem		*a = xmlmem_new(), *prev;
	volatile char		*p;
	char			*q;

	prev = xmlmem_enter(a);
	p = q = xmlmem_malloc(3000);
	xmlmem_release(q);
	xmlmem_leave(prev);
	p[0] = 'x';
}

/* With the address space used up, NULL: expat says it has no memory. */
static void
do_exhaust(void)
{
	struct rlimit	 rl;
	struct xmlmem	*a, *prev;
	int		 i;
	rl.rlim_cur = rl.rlim_max = 256 * 1024 * 1024;
	if (setrlimit(RLIMIT_AS, &rl) == -1)
		_exit(3);
	for (i = 0; i < 1000000; i++) {
		if ((a = xmlmem_new()) == NULL)
			_exit(0);
		prev = xmlmem_enter(a);
		if (xmlmem_malloc(i % 2 ? 100 : 30000) == NULL ||
		    xmlmem_malloc(200000) == NULL)
			_exit(0);
		xmlmem_leave(prev);
	}
	_exit(2);
}

/* A block mapped alone, shrunk, freed: the next mapping there is clean. */
static void
do_remap(void)
{
	struct xmlmem	*a = xmlmem_new(), *prev;
	char		*p, *q;
	size_t		 len = 200000;

	prev = xmlmem_enter(a);
	p = xmlmem_malloc(len);
	p = xmlmem_realloc(p, 10);
	xmlmem_release(p);
	xmlmem_leave(prev);
	q = mmap(NULL, len + 4096, PROT_READ | PROT_WRITE, MAP_ANON |
	    MAP_PRIVATE, -1, 0);
	if (q == MAP_FAILED)
		_exit(3);
	memset(q, 'x', len + 4096);
}

static void
t_fatal(void)
{
	struct xmlmem	*a, *b, *prev, *inner;

	check(!dies(do_entered), "a block allocated and freed: no fatal");
	check(dies(do_twice), "a block freed twice: fatal");
	check(dies(do_foreign), "a pointer not from an arena: fatal");
	check(dies(do_unentered), "an allocation with no arena entered: "
	    "fatal");
#if !defined(__SANITIZE_ADDRESS__)
	check(!dies(do_exhaust), "no memory left: NULL, no crash");
#else
	(void)do_exhaust;	/* its shadow needs more than the limit */
#endif
#if defined(__SANITIZE_ADDRESS__)
	check(!dies(do_remap), "AddressSanitizer: pages unmapped leave no "
	    "poison behind");
	check(dies(do_overflow), "AddressSanitizer: a byte past a block is "
	    "caught");
	check(dies(do_after_free), "AddressSanitizer: a block used after it "
	    "was freed is caught");
#else
	(void)do_overflow;
	(void)do_after_free;
	(void)do_remap;
	printf("skip - xmlmem unit: overflow and use after free: not built "
	    "with AddressSanitizer\n");
#endif
	a = xmlmem_new();
	b = xmlmem_new();
	prev = xmlmem_enter(a);
	inner = xmlmem_enter(b);
	xmlmem_leave(inner);
	check(xmlmem_enter(prev) == a && prev == NULL,
	    "entering nests: leaving gives the arena before back");
	xmlmem_free(a);
	xmlmem_free(b);
}

int
main(void)
{
	log_init(1, LOG_DAEMON);
	log_setverbose(0);
	t_workload();
	t_resident();
	t_parse();
	t_fatal();
	printf("# xmlmem unit: %d checks, %d failed\n", nchecks, nfailed);
	return (nfailed != 0);
}
