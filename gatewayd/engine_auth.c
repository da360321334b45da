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
 * The handshake of a component's stream, as the engine asks authd: a
 * stream id for the header, a verdict on the digest.  authd issues each
 * id, keeps it with the connection and answers for it once; an id the
 * stream will not use is forgotten.
 */

#include <sys/types.h>

#include <string.h>

#include "conn.h"
#include "engine_local.h"
#include "log.h"
#include "stream.h"

void
engine_auth_streamid(struct imsg *imsg, const void *data, void *arg)
{
	const struct gw_auth_streamid	*sid = data;
	struct session			*s;
	size_t				 len;

	(void)imsg;
	(void)arg;
	/* It goes into a stream header as it is: hex, nothing else. */
	len = strnlen(sid->id, sizeof(sid->id));
	if ((len != GW_STREAMID_LEN && len != 0) ||
	    strspn(sid->id, "0123456789abcdef") != len)
		fatalx("AUTH_STREAMID: bad id");
	if ((s = session_of(sid->conn_id)) == NULL)
		return;
	if (len == 0) {
		/* authd has no room: this one waits no longer. */
		s->s_auth_pending = 0;
		stream_error(s->s_stream, "resource-constraint",
		    "authd issued no stream id");
		return;
	}
	stream_streamid(s->s_stream, sid->id);
	session_continue(s);
}

int
session_want_id(void *arg, const char *domain)
{
	struct session		*s = arg;
	struct gw_auth_stream	 req;

	memset(&req, 0, sizeof(req));
	req.conn_id = conn_id(s->s_conn);
	strlcpy(req.domain, domain, sizeof(req.domain));
	req.peer = *conn_peer(s->s_conn);
	if (engine_compose(PROC_AUTHD, IMSG_AUTH_STREAM, -1, &req,
	    sizeof(req)) == -1)
		return (-1);
	s->s_auth_pending = 1;
	return (0);
}

int
session_handshake(void *arg, const uint8_t digest[GW_DIGEST_LEN])
{
	struct session			*s = arg;
	struct gw_auth_handshake	 hs;

	int				 ret;

	memset(&hs, 0, sizeof(hs));
	hs.conn_id = conn_id(s->s_conn);
	memcpy(hs.digest, digest, sizeof(hs.digest));
	ret = engine_compose(PROC_AUTHD, IMSG_AUTH_HANDSHAKE, -1, &hs,
	    sizeof(hs));
	explicit_bzero(&hs, sizeof(hs));
	return (ret);
}

/* The stream will not use the id authd holds for it: authd forgets it. */
void
session_auth_forget(struct session *s)
{
	struct gw_auth_forget	f;

	if (!s->s_auth_pending)
		return;
	s->s_auth_pending = 0;
	memset(&f, 0, sizeof(f));
	f.conn_id = conn_id(s->s_conn);
	(void)engine_compose(PROC_AUTHD, IMSG_AUTH_FORGET, -1, &f, sizeof(f));
}
