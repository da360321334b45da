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

struct engine_component {
	TAILQ_ENTRY(engine_component)	 entry;
	struct gw_component_conf	 conf;
	struct gw_alias_conf		*aliases;
	size_t				 naliases;
};
TAILQ_HEAD(engine_components, engine_component);

struct engine_conf {
	struct gw_global		 global;
	struct engine_listeners		 listeners;
	struct engine_components	 components;
};

/* Unauthenticated connections per source address. */
struct addr_count {
	RB_ENTRY(addr_count)		 entry;
	uint8_t				 addr[16];
	uint32_t			 count;
};

/* Bytes waiting to be written to a connection. */
struct obuf {
	char				*data;
	size_t				 off;	/* written so far */
	size_t				 len;	/* queued, incl. written */
	size_t				 cap;
};

enum conn_state {
	CONN_HEADER,		/* waiting for the stream header */
	CONN_STREAMID,		/* waiting for authd to issue the id */
	CONN_HANDSHAKE,		/* our header is out; waiting for <handshake> */
	CONN_AUTHWAIT,		/* waiting for authd's verdict */
	CONN_OPEN,		/* authenticated */
	CONN_CLOSING		/* our closing tag is queued; no more input */
};

struct conn {
	RB_ENTRY(conn)			 entry;
	uint32_t			 id;
	int				 fd;
	enum conn_state			 state;
	struct event			 ev_read;
	struct event			 ev_write;
	struct event			 ev_timer;
	int				 reading;
	int				 writing;
	int				 in_parse;	/* inside XML_Parse */
	int				 suspended;	/* parser paused */
	int				 header_sent;
	int				 shut_wr;	/* SHUT_WR done */
	int				 dead;		/* free when unwound */
	XML_Parser			 parser;
	char				*in;		/* what XML_Parse reads */
	size_t				 inlen;
	struct obuf			 out;
	struct addr_count		*unauth;	/* counted while set */
	struct sockaddr_storage		 peer;
	char				 peername[NI_MAXHOST];
	char				 domain[GW_NAME_MAX];
	uint32_t			 depth;
	uint64_t			 bytes_in;	/* fed to expat */
	uint64_t			 boundary;	/* start of the item */
	int				 default_ns_ok;
	int				 peer_error;
	int				 auth_pending;	/* authd holds our id */
	char				 handshake[2 * GW_DIGEST_LEN + 1];
	size_t				 handshake_len;
	int				 handshake_bad;
	const char			*stop_condition;
	const char			*stop_reason;
	uint64_t			 stanzas_in;
};

/* engine.c */
extern struct engine_conf	*engine_running;
struct engine_component	*engine_find_component(const char *);
void			 conn_write(struct conn *, const char *, size_t);
void			 conn_close_after_flush(struct conn *);
void			 conn_authenticated(struct conn *);
int			 engine_auth_stream(struct conn *);
int			 engine_auth_handshake(struct conn *,
			    const uint8_t [GW_DIGEST_LEN]);

/* stream.c */
XML_Parser		 stream_parser_new(struct conn *);
void			 stream_input(struct conn *, const char *, size_t);
void			 stream_resume(struct conn *);
void			 stream_error(struct conn *, const char *, const char *,
			    ...) __attribute__((__format__ (printf, 3, 4)));
void			 stream_streamid(struct conn *, const char *);
void			 stream_verdict(struct conn *, int);
void			 stream_peer_closed(struct conn *);
void			 stream_refuse(int, const char *);

#endif /* ENGINE_H */
