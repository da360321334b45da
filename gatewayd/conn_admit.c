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
 * Who gets in.  A newcomer over a limit is not refused while an older
 * connection can make room: one that is closing already, else the oldest
 * unauthenticated one (of the same source, for the per-source limit)
 * that waits for nobody but its peer.  Sources are IPv4 addresses and
 * IPv6 /64s (sockaddr_key).
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "conn_local.h"
#include "log.h"

RB_HEAD(addr_tree, addr_count);

static const struct conn_events	*events;
static struct addr_tree		 unauth_addrs = RB_INITIALIZER(&unauth_addrs);
static struct conn_list		 unauth = TAILQ_HEAD_INITIALIZER(unauth);
static uint32_t			 nunauth;

void
conn_admit_init(const struct conn_events *ev)
{
	events = ev;
}

static int
addr_count_cmp(struct addr_count *a, struct addr_count *b)
{
	return (memcmp(a->addr, b->addr, sizeof(a->addr)));
}
RB_GENERATE_STATIC(addr_tree, addr_count, entry, addr_count_cmp)

uint32_t
conn_unauth_count(void)
{
	return (nunauth);
}

static struct addr_count *
addr_count_get(const struct sockaddr_storage *ss)
{
	struct addr_count	 key, *ac;

	sockaddr_key(ss, key.addr);
	if ((ac = RB_FIND(addr_tree, &unauth_addrs, &key)) != NULL)
		return (ac);
	if ((ac = calloc(1, sizeof(*ac))) == NULL)
		return (NULL);
	memcpy(ac->addr, key.addr, sizeof(ac->addr));
	TAILQ_INIT(&ac->conns);
	RB_INSERT(addr_tree, &unauth_addrs, ac);
	return (ac);
}

/* An entry nobody is counted in goes. */
void
addr_count_drop(struct addr_count *ac)
{
	if (ac->count == 0) {
		RB_REMOVE(addr_tree, &unauth_addrs, ac);
		free(ac);
	}
}

void
conn_unauth_add(struct conn *c, struct addr_count *ac)
{
	c->c_unauth = ac;
	ac->count++;
	nunauth++;
	TAILQ_INSERT_TAIL(&unauth, c, c_unauth_entry);
	TAILQ_INSERT_TAIL(&ac->conns, c, c_source_entry);
}

/* Authenticated, or closing: it holds an unauthenticated slot no more. */
void
conn_unauth_release(struct conn *c)
{
	struct addr_count	*ac = c->c_unauth;

	if (ac == NULL)
		return;
	TAILQ_REMOVE(&unauth, c, c_unauth_entry);
	TAILQ_REMOVE(&ac->conns, c, c_source_entry);
	ac->count--;
	addr_count_drop(ac);
	c->c_unauth = NULL;
	nunauth--;
}

/* Waiting for gatewayd (authd), not for its peer: never shed. */
void
conn_set_protected(struct conn *c, int on)
{
	c->c_protected = on != 0;
}

/*
 * Ends c to make room for a newcomer: its stream error if the socket
 * takes it, and its slot is free at once.
 */
static void
conn_shed(struct conn *c)
{
	events->shed(c->c_arg);
	conn_unauth_release(c);
	if (!c->c_closing)
		conn_close(c);
}

/*
 * The oldest unauthenticated connection that waits for nobody but its
 * peer, of one source (source_list) or of all.
 */
static struct conn *
conn_sheddable(struct conn_list *list, int source_list)
{
	struct conn	*c;

	if (source_list) {
		TAILQ_FOREACH(c, list, c_source_entry)
			if (!c->c_protected)
				return (c);
	} else {
		TAILQ_FOREACH(c, list, c_unauth_entry)
			if (!c->c_protected)
				return (c);
	}
	return (NULL);
}

/*
 * A descriptor for a newcomer: a closing connection goes, or one is
 * shed.  -1 if none may go.
 */
int
conn_make_room(void)
{
	struct conn	*c;

	if ((c = conn_first_closing()) == NULL &&
	    (c = conn_sheddable(&unauth, 0)) != NULL)
		conn_shed(c);
	if (c == NULL)
		return (-1);
	conn_flush(c);
	conn_close(c);
	conn_reap();
	return (0);
}

/* A refused connection gets its reply in one write and is closed. */
void
conn_admit_refuse(int s, const char *host, enum conn_refusal why)
{
	char	buf[512];
	size_t	len;

	/* One try: what the socket does not take is lost with it. */
	if ((len = events->refused(buf, sizeof(buf), host, why)) > 0 &&
	    write(s, buf, len) == -1)
		log_debug("refused connection from %s: write: %s", host,
		    strerror(errno));
	close(s);
}

/*
 * The limit a new connection from ss would break, or -1 for none.
 * Older connections that can go make room first.
 */
int
conn_admit(const struct sockaddr_storage *ss, struct addr_count **acp)
{
	struct conn	*c;

	*acp = NULL;
	if (conn_count() >= conn_max())
		(void)conn_make_room();
	if (conn_count() >= conn_max())
		return (CONN_REFUSE_FULL);
	if (nunauth >= conn_get_limits()->max_unauth &&
	    (c = conn_sheddable(&unauth, 0)) != NULL)
		conn_shed(c);
	if (nunauth >= conn_get_limits()->max_unauth)
		return (CONN_REFUSE_UNAUTH);
	if ((*acp = addr_count_get(ss)) == NULL)
		return (CONN_REFUSE_NOMEM);
	if ((*acp)->count >= conn_get_limits()->max_unauth_per_addr &&
	    (c = conn_sheddable(&(*acp)->conns, 1)) != NULL) {
		conn_shed(c);
		/* Its entry may have gone with it. */
		if ((*acp = addr_count_get(ss)) == NULL)
			return (CONN_REFUSE_NOMEM);
	}
	if ((*acp)->count >= conn_get_limits()->max_unauth_per_addr)
		return (CONN_REFUSE_PER_ADDR);
	return (-1);
}

