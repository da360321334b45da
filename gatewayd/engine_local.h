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
 * The engine's own: a session (one connection's conn, stream and route)
 * and what its two files share, engine.c (the process, the streams
 * components open) and engine_uplink.c (the streams gatewayd opens to
 * the servers).  Nothing else includes it.
 */

#ifndef ENGINE_LOCAL_H
#define ENGINE_LOCAL_H

#include <stdint.h>

#include "msg.h"
#include "proc.h"
#include "router.h"

struct conn;
struct stream;
struct uplink;

struct session {
	struct conn		*s_conn;
	struct stream		*s_stream;
	struct route		 s_route;
	int			 s_auth_pending;	/* authd holds our id */
	int			 s_authenticated;
	struct uplink		*s_uplink;	/* a stream to a server */
};

/* engine.c */
struct session	*session_alloc(void);
void		 session_attach(struct session *, struct conn *);
struct session	*session_of(uint64_t);
void		 session_continue(struct session *);
int		 engine_compose(enum gw_proc, uint32_t, int, const void *,
		    size_t);
void		 engine_staged_check(const char *);

/* engine_auth.c */
void		 engine_auth_streamid(struct imsg *, const void *, void *);
int		 session_want_id(void *, const char *);
int		 session_handshake(void *, const uint8_t [GW_DIGEST_LEN]);
void		 session_auth_forget(struct session *);

/* engine_uplink.c */
void		 engine_uplink_init(void);
void		 engine_reconf_upstream(struct imsg *, const void *, void *);
void		 engine_uplink_socket(struct imsg *, const void *, void *);
void		 engine_uplink_failed(struct imsg *, const void *, void *);
void		 engine_uplink_answer(struct imsg *, const void *, void *);
int		 session_server_id(void *, const char *);
void		 session_accepted(void *);

#endif /* ENGINE_LOCAL_H */
