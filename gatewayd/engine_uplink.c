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
 * The engine's part of the uplinks: a socket from the parent becomes a
 * session whose stream gatewayd initiates; the server's stream id goes
 * to authd, which answers with the handshake (the secret never comes
 * here); the server's <handshake/> opens the uplink for the router.
 * uplink.c decides when to connect.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "engine_local.h"
#include "log.h"
#include "stream.h"
#include "uplink.h"

static void	 engine_uplink_connect(const struct gw_uplink_req *);
static void	*engine_uplink_open(struct uplink *, int,
		    const struct sockaddr_storage *);
static void	 engine_uplink_close(void *, const char *);

static const struct uplink_ops uplink_ops = {
	engine_uplink_connect, engine_uplink_open, engine_uplink_close
};

void
engine_uplink_init(void)
{
	uplink_init(&uplink_ops);
}

void
engine_reconf_upstream(struct imsg *imsg, const void *data, void *arg)
{
	const struct gw_upstream_conf	*up = data;

	(void)imsg;
	(void)arg;
	engine_staged_check("RECONF_UPSTREAM");
	imsg_check_string(up->name, sizeof(up->name), "upstream");
	if (up->id == 0)
		fatalx("RECONF_UPSTREAM: id 0");
	uplink_stage_upstream(up);
	router_stage_upstream(up);
}

static void
engine_uplink_connect(const struct gw_uplink_req *req)
{
	(void)engine_compose(PROC_PARENT, IMSG_UPLINK_CONNECT, -1, req,
	    sizeof(*req));
}

void
engine_uplink_socket(struct imsg *imsg, const void *data, void *arg)
{
	int	fd;

	(void)arg;
	if ((fd = imsg_get_fd(imsg)) == -1)
		fatalx("UPLINK_FD without a descriptor");
	uplink_socket(data, fd);
	conn_flush_all();
}

void
engine_uplink_failed(struct imsg *imsg, const void *data, void *arg)
{
	(void)imsg;
	(void)arg;
	uplink_failed(data);
}

/* The stream starts with our header, to the component's name. */
static void *
engine_uplink_open(struct uplink *ul, int fd,
    const struct sockaddr_storage *peer)
{
	struct session	*s;
	struct conn	*c;

	if ((s = session_alloc()) == NULL) {
		close(fd);
		return (NULL);
	}
	s->s_uplink = ul;
	if ((c = conn_connected(fd, peer, s)) == NULL) {
		stream_free(s->s_stream);
		free(s);
		return (NULL);
	}
	session_attach(s, c);
	stream_initiate(s->s_stream, uplink_domain(ul));
	return (s);
}

static void
engine_uplink_close(void *arg, const char *why)
{
	struct session	*s = arg;

	stream_finish(s->s_stream, why);
}

/* The server's stream id, for authd to answer with our handshake. */
int
session_server_id(void *arg, const char *id)
{
	struct session		*s = arg;
	struct gw_uplink_digest	 req;

	memset(&req, 0, sizeof(req));
	req.conn_id = conn_id(s->s_conn);
	strlcpy(req.domain, stream_domain(s->s_stream), sizeof(req.domain));
	strlcpy(req.stream_id, id, sizeof(req.stream_id));
	return (engine_compose(PROC_AUTHD, IMSG_UPLINK_DIGEST, -1, &req,
	    sizeof(req)));
}

void
engine_uplink_answer(struct imsg *imsg, const void *data, void *arg)
{
	const struct gw_uplink_answer	*ans = data;
	struct session			*s;
	size_t				 len;

	(void)imsg;
	(void)arg;
	len = strnlen(ans->hex, sizeof(ans->hex));
	if ((len != 0 && len != 2 * GW_DIGEST_LEN) ||
	    strspn(ans->hex, "0123456789abcdef") != len)
		fatalx("UPLINK_ANSWER: bad digest");
	if ((s = session_of(ans->conn_id)) == NULL || s->s_uplink == NULL ||
	    stream_state(s->s_stream) != STREAM_STREAMID)
		return;
	if (len == 0)
		stream_finish(s->s_stream, "no upstream secret");
	else
		stream_digest(s->s_stream, ans->hex);
	session_continue(s);
	conn_flush_all();
}

/* The server took the handshake: the uplink is open. */
void
session_accepted(void *arg)
{
	struct session	*s = arg;

	conn_authenticated(s->s_conn);
	if (router_uplink_bind(&s->s_route, stream_domain(s->s_stream)) == -1)
		return;
	s->s_authenticated = 1;
	uplink_up(s->s_uplink);
	router_opened(&s->s_route);
}
