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

/* The engine's own structures, shared by engine.c and stream.c. */

#ifndef ENGINE_H
#define ENGINE_H

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include <event.h>
#include <expat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <netdb.h>

#include "gatewayd.h"

struct engine_listener {
	TAILQ_ENTRY(engine_listener)	 entry;
	struct gw_listen_conf		 conf;
	int				 fd;
	struct event			 ev;
	struct event			 pause;
	int				 armed;
	int				 paused;
};
TAILQ_HEAD(engine_listeners, engine_listener);

struct engine_component;

/* A name a stream may bind: a component's own, or one of its aliases. */
struct route_name {
	RB_ENTRY(route_name)		 entry;
	const char			*name;
	struct engine_component		*comp;
};
RB_HEAD(route_names, route_name);

struct engine_component {
	TAILQ_ENTRY(engine_component)	 entry;
	struct gw_component_conf	 conf;
	struct gw_alias_conf		*aliases;
	size_t				 naliases;
	/* Runtime state, carried over to the same name on a reload. */
	struct conn			*conn;		/* the bound stream */
	time_t				 flap_start;
	uint32_t			 flap_count;
	time_t				 flap_holddown;
};
TAILQ_HEAD(engine_components, engine_component);

struct engine_conf {
	struct gw_global		 global;
	struct engine_listeners		 listeners;
	struct engine_components	 components;
	struct route_names		 names;
	struct route_name		*namebuf;
	struct engine_component		*default_route;
};

/* Unauthenticated connections per source address. */
struct addr_count {
	RB_ENTRY(addr_count)		 entry;
	uint8_t				 addr[16];
	uint32_t			 count;
};

/*
 * What waits to be written to a connection: bytes, and for each stanza
 * in them who sent it (0: gatewayd itself), so that what is never
 * delivered can be bounced to its sender.
 */
struct qrec {
	uint64_t			 sender;
	uint32_t			 len;
};

struct outq {
	char				*data;
	size_t				 off;	/* written so far */
	size_t				 len;	/* queued, incl. written */
	size_t				 cap;
	struct qrec			*recs;
	size_t				 rfirst, rnum, rcap;
	size_t				 rdone;	/* of the first, written */
};

/* The bytes the parser is working on, at their offset in the stream. */
struct view {
	const char			*ptr;
	uint64_t			 base;
	size_t				 len;
};

enum conn_state {
	CONN_HEADER,		/* waiting for the stream header */
	CONN_STREAMID,		/* waiting for authd to issue the id */
	CONN_HANDSHAKE,		/* our header is out; waiting for <handshake> */
	CONN_AUTHWAIT,		/* waiting for authd's verdict */
	CONN_OPEN,		/* authenticated */
	CONN_CLOSING		/* our closing tag is queued; no more input */
};

TAILQ_HEAD(conn_list, conn);

struct conn {
	RB_ENTRY(conn)			 entry;
	TAILQ_ENTRY(conn)		 dirty_entry;	/* output to flush */
	TAILQ_ENTRY(conn)		 wait_entry;	/* on a waiters list */
	TAILQ_ENTRY(conn)		 dead_entry;
	uint32_t			 id;
	int				 fd;
	enum conn_state			 state;
	struct event			 ev_read;
	struct event			 ev_write;
	struct event			 ev_timer;
	struct event			 ev_stall;
	int				 reading;
	int				 writing;
	int				 dirty;
	int				 in_parse;	/* inside XML_Parse */
	int				 suspended;	/* parser paused */
	int				 header_sent;
	int				 shut_wr;	/* SHUT_WR done */
	int				 eof;		/* the peer closed */
	int				 dead;		/* closed, freed soon */
	int				 stalled;	/* over the high mark */
	XML_Parser			 parser;
	struct view			 view;
	char				*in;		/* retained input */
	uint64_t			 in_base;
	size_t				 in_len, in_cap;
	struct outq			 out;
	struct addr_count		*unauth;	/* counted while set */
	struct engine_component		*comp;		/* bound component */
	struct conn			*blocked_on;	/* full destination */
	struct conn_list		 waiters;	/* blocked on us */
	struct sockaddr_storage		 peer;
	char				 peername[64];	/* numeric, with a scope */
	char				 domain[GW_NAME_MAX];
	uint32_t			 depth;
	uint64_t			 bytes_in;	/* fed to expat */
	uint64_t			 boundary;	/* input still needed */
	int				 default_ns_ok;
	int				 peer_error;
	int				 auth_pending;	/* authd holds our id */
	char				 handshake[2 * GW_DIGEST_LEN + 1];
	size_t				 handshake_len;
	int				 handshake_bad;
	const char			*stop_condition;
	const char			*stop_reason;
	/* The header as a parser made anew needs it (stream_wake). */
	char				*root_qname;
	int				 hdr_stream_decl;
	int				 waking;
	int64_t				 index_adjust;
	time_t				 last_in;
	/* Prefixes the peer declared on its header, for its stanzas. */
	char				*splice;
	size_t				 splice_len;
	/* The current stanza. */
	uint64_t			 st_start;
	uint64_t			 st_end;
	size_t				 st_name_len;
	int				 st_pending;	/* held back, to route */
	int				 st_redeclares;	/* a header prefix */
	char				*st_redecl;	/* which: "p\0q\0" */
	size_t				 st_redecl_len;
	const char			*st_bounce;	/* jid-malformed */
	char				 st_dest[GW_NAME_MAX];
	time_t				 last_out;
	/* Counters. */
	uint64_t			 stanzas_in, stanzas_out;
	uint64_t			 bytes_out;
	uint64_t			 bounces;
};

/* Totals over the engine's life; the streams count their own. */
struct engine_stats {
	uint64_t			 stanzas_in, stanzas_out;
	uint64_t			 bytes_in, bytes_out;
	uint64_t			 bounces;
	uint64_t			 bounce_malformed;	/* jid-malformed */
	uint64_t			 bounce_not_found;
	uint64_t			 bounce_timeout;
	uint64_t			 takeovers;
	uint64_t			 auth_failures;
};

/* engine.c */
extern struct engine_conf	*engine_running;
extern struct engine_stats	 engine_stats;
struct engine_component	*engine_find_component(const char *);
struct conn		*conn_find(uint64_t);
void			 conn_write(struct conn *, const char *, size_t);
void			 conn_queue(struct conn *, uint64_t, const char *,
			    size_t);
void			 conn_queue_end(struct conn *, uint64_t, size_t);
size_t			 conn_queued(const struct conn *);
void			 conn_close_after_flush(struct conn *);
void			 conn_close(struct conn *);
void			 conn_authenticated(struct conn *);
void			 conn_sync(struct conn *);
void			 conn_resume(struct conn *);
void			 conn_view_retained(struct conn *);
void			 conn_stall_start(struct conn *);
void			 conn_stall_stop(struct conn *);
void			 engine_flush(void);
int			 engine_auth_stream(struct conn *);
int			 engine_auth_handshake(struct conn *,
			    const uint8_t [GW_DIGEST_LEN]);

/* router.c */
void			 router_names_build(struct engine_conf *);
struct engine_component	*router_lookup(const char *);
int			 router_bind(struct conn *);
void			 router_unbind(struct conn *);
const char		*router_stanza_start(struct conn *, const XML_Char *,
			    const XML_Char **, const char **);
void			 router_stanza_end(struct conn *);
void			 router_retry(struct conn *);
void			 router_unblock_waiters(struct conn *);
void			 router_bounce_queued(struct conn *);
void			 router_bounce(struct conn *, const char *, size_t,
			    const char *, const char *, const char *);
int			 jid_domain(const char *, char *, size_t);

/* stream.c */
XML_Parser		 stream_parser_new(struct conn *);
void			 stream_feed(struct conn *);
void			 stream_resume(struct conn *);
void			 stream_error(struct conn *, const char *, const char *,
			    ...) __attribute__((__format__ (printf, 3, 4)));
void			 stream_streamid(struct conn *, const char *);
void			 stream_verdict(struct conn *, int);
void			 stream_peer_closed(struct conn *);
void			 stream_refuse(int, const char *);
const char		*stream_raw(struct conn *, uint64_t);
uint64_t		 stream_index(struct conn *);
const XML_Char		*xml_attr(const XML_Char **, const char *);
void			 stream_hibernate(struct conn *);
int			 splice_has(const char *, const char *);
void			 stream_redeclared(struct conn *, const char *);

#endif /* ENGINE_H */
