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
 * The stream layer: one XEP-0114 stream, the expat parser and the state
 * machine from the peer's header to an authenticated stream, the stream
 * errors of RFC 6120 4.9 and the limits checked while parsing.  Its
 * caller hands it the bytes as they come (stream_input); it reports what
 * happened through struct stream_ops and what it wants through its
 * state.  It never touches a socket, a queue or a route.
 */

#ifndef STREAM_H
#define STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "compat.h"
#include "msg.h"
#include "stanza.h"

struct stream;

/*
 * A stream gatewayd initiates (to an XMPP server, for a component) goes
 * HEADER (ours is out), STREAMID (waiting for stream_digest), HANDSHAKE
 * (ours is out; waiting for the server's <handshake/>), OPEN.
 */
enum stream_state {
	STREAM_HEADER,		/* waiting for the peer's header */
	STREAM_STREAMID,	/* waiting for stream_streamid */
	STREAM_HANDSHAKE,	/* our header is out; waiting for <handshake> */
	STREAM_AUTHWAIT,	/* waiting for stream_verdict */
	STREAM_OPEN,		/* authenticated */
	STREAM_CLOSING		/* our closing tag is out; no more input */
};

struct stream_limits {
	uint32_t	 max_preauth;	/* bytes before authentication */
	uint32_t	 max_stanza;	/* unless stream_set_max_stanza */
	uint32_t	 max_depth;
	uint32_t	 max_attrs;
};

/* What a stream tells its owner; each call gets stream_new's arg. */
struct stream_ops {
	/* Bytes for the peer: headers, errors, the closing tag. */
	void		 (*output)(void *, const char *, size_t);
	/* The header's to: NULL if it is ours, else a stream error. */
	const char	*(*domain)(void *, const char *);
	/* The header is good: ask for a stream id; -1 if nobody can. */
	int		 (*want_id)(void *, const char *);
	/* The handshake's digest: ask for a verdict; -1 if nobody can. */
	int		 (*handshake)(void *, const uint8_t [GW_DIGEST_LEN]);
	/* A stanza's start tag: NULL, or a stream error and its reason. */
	const char	*(*stanza_start)(void *, const struct stanza_head *,
			    const char **);
	/* A whole stanza. */
	enum stanza_verdict (*stanza)(void *, const struct stanza *);
	/* Our closing tag is out: the stream takes no more input. */
	void		 (*closing)(void *);
	/* Who this is, for the log: "connection 7 from 192.0.2.1". */
	const char	*(*label)(void *);
	/* A line for the log (how the stream ended); NULL: log_info. */
	void		 (*log)(void *, const char *);
	/*
	 * Initiating (stream_initiate): the server's stream id; ask for
	 * the handshake (stream_digest).  -1 if nobody can.
	 */
	int		 (*server_id)(void *, const char *);
	/* Initiating: the server took our handshake; the stream is open. */
	void		 (*accepted)(void *);
};

struct stream	*stream_new(const struct stream_ops *, void *,
		    const struct stream_limits *);
void		 stream_free(struct stream *);

uint64_t	 stream_input(struct stream *, const char *, uint64_t, size_t);
void		 stream_streamid(struct stream *, const char *);
void		 stream_verdict(struct stream *, int);
void		 stream_initiate(struct stream *, const char *);
void		 stream_digest(struct stream *, const char *);
int		 stream_initiating(const struct stream *);
void		 stream_go(struct stream *);
void		 stream_peer_closed(struct stream *);
void		 stream_finish(struct stream *, const char *);
void		 stream_error(struct stream *, const char *, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
void		 stream_keepalive(struct stream *);

enum stream_state stream_state(const struct stream *);
int		 stream_waiting(const struct stream *);
int		 stream_deferred(const struct stream *);
void		 stream_flush(struct stream *);
const char	*stream_domain(const struct stream *);
void		 stream_set_max_stanza(struct stream *, uint32_t);
int		 stream_can_rest(const struct stream *);
void		 stream_rest(struct stream *);

int		 stream_preinit(void);

/* stream_text.c: what gatewayd writes of a stream. */
int		 stream_header_text(char *, size_t, const char *,
		    const char *);
int		 stream_initiate_text(char *, size_t, const char *);
int		 stream_error_text(char *, size_t, const char *);
size_t		 stream_refusal(char *, size_t, const char *);

#endif /* STREAM_H */
