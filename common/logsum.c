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
#include <sys/queue.h>
#include <sys/tree.h>

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "logsum.h"
#include "util.h"

struct logsum {
	RB_ENTRY(logsum)	 entry;
	TAILQ_ENTRY(logsum)	 age;		/* oldest interval first */
	char			 source[64];
	char			 kind[48];
	time_t			 since;
	unsigned long		 suppressed;
};
RB_HEAD(logsums, logsum);
TAILQ_HEAD(logsum_ages, logsum);

static struct logsums		sums = RB_INITIALIZER(&sums);
static struct logsum_ages	ages = TAILQ_HEAD_INITIALIZER(ages);
static size_t			nsums;

static int
logsum_cmp(struct logsum *a, struct logsum *b)
{
	int	r;

	if ((r = strcmp(a->source, b->source)) != 0)
		return (r);
	return (strcmp(a->kind, b->kind));
}
RB_GENERATE_STATIC(logsums, logsum, entry, logsum_cmp)

/* The interval of ls is over: its count, if any, and it goes. */
static void
logsum_end(struct logsum *ls, time_t now)
{
	if (ls->suppressed > 0)
		log_warnx("%lu more %s from %s in %lld seconds",
		    ls->suppressed, ls->kind, ls->source,
		    (long long)(now - ls->since));
	RB_REMOVE(logsums, &sums, ls);
	TAILQ_REMOVE(&ages, ls, age);
	free(ls);
	nsums--;
}

/*
 * May a line of this kind for this source be written now?  The first of
 * an interval may; the others are counted.  Without memory, or with the
 * table full of others, it is written: better a line too many.
 */
int
logsum_allow(const char *source, const char *kind)
{
	struct logsum	 key, *ls;
	time_t		 now = monotime();

	strlcpy(key.source, source, sizeof(key.source));
	strlcpy(key.kind, kind, sizeof(key.kind));
	if ((ls = RB_FIND(logsums, &sums, &key)) != NULL) {
		ls->suppressed++;
		return (0);
	}
	if (nsums >= LOGSUM_MAX)
		logsum_end(TAILQ_FIRST(&ages), now);
	if ((ls = calloc(1, sizeof(*ls))) == NULL)
		return (1);
	memcpy(ls->source, key.source, sizeof(ls->source));
	memcpy(ls->kind, key.kind, sizeof(ls->kind));
	ls->since = now;
	RB_INSERT(logsums, &sums, ls);
	TAILQ_INSERT_TAIL(&ages, ls, age);
	nsums++;
	return (1);
}

/* Every second or so: the intervals that are over. */
void
logsum_tick(void)
{
	struct logsum	*ls;
	time_t		 now = monotime();

	while ((ls = TAILQ_FIRST(&ages)) != NULL &&
	    now - ls->since >= LOGSUM_INTERVAL)
		logsum_end(ls, now);
}
