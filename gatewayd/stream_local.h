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
 * The stream layer's own: struct stream and what its two files,
 * stream.c (feeding, state, output) and stream_xml.c (expat's handlers:
 * the header, the handshake, stanzas), share.  Nothing else includes it.
 */

#ifndef STREAM_LOCAL_H
#define STREAM_LOCAL_H

#include <expat.h>
#include <stdint.h>

#include "splice.h"
#include "stream.h"

/* Who the stream waits for before it parses on. */
enum stream_wait {
	WAIT_NONE,
	WAIT_STREAMID,		/* stream_streamid */
	WAIT_VERDICT,		/* stream_verdict */
	WAIT_ROUTE		/* stream_go */
};

struct stream {
	const struct stream_ops		*ops;
	void				*arg;
	const struct stream_limits	*limits;
	XML_Parser			 parser;
	struct xmlmem			*mem;		/* the parser's */
	enum stream_state		 state;
	enum stream_wait		 wait;
	int				 in_parse;	/* inside expat */
	int				 suspended;	/* expat paused */
	int				 header_sent;
	int				 initiating;	/* to a server */
	int				 peer_error;
	int				 default_ns_ok;
	int				 waking;	/* fed our own header */
	uint32_t			 depth;
	uint32_t			 el_decls;	/* the next element's */
	uint32_t			 max_stanza;	/* 0: the limit's */
	/* The caller's bytes, from view_base on. */
	const char			*view;
	uint64_t			 view_base;
	size_t				 view_len;
	uint64_t			 fed;		/* bytes given expat */
	uint64_t			 parsed_to;	/* its last event's end */
	int				 deferred;	/* input held back */
	int				 force;		/* feed it all now */
	uint64_t			 boundary;	/* input still needed */
	int64_t				 index_adjust;	/* a woken parser's */
	char				 handshake[2 * GW_DIGEST_LEN + 1];
	size_t				 handshake_len;
	int				 handshake_bad;
	const char			*stop_condition;
	const char			*stop_reason;
	/* The header, as a parser made anew needs it (stream_wake). */
	char				*root_qname;
	int				 hdr_stream_decl;
	/* Prefixes the peer declared on its header, for its stanzas. */
	struct splice			 splice;
	/* The current stanza. */
	uint64_t			 st_start;
	uint64_t			 st_end;
	size_t				 st_name_len;
	int				 st_pending;	/* held, to offer */
	char				 domain[GW_NAME_MAX];
};

/* stream.c */
void		 stream_stop(struct stream *, const char *, const char *);
void		 stream_pause(struct stream *, enum stream_wait);
const char	*stream_raw(struct stream *, uint64_t);
uint64_t	 stream_index(struct stream *);
void		 stream_check_size(struct stream *);
int		 stream_offer(struct stream *);
void		 stream_close(struct stream *, const char *);
void		 stream_log(struct stream *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));

void		 stream_accepted(struct stream *);

/* stream_xml.c */
void		 stream_set_handlers(XML_Parser);

#endif /* STREAM_LOCAL_H */
