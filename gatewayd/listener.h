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

#ifndef LISTENER_H
#define LISTENER_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

/* The engine's listening sockets; what they accept goes to conn_new. */
void	listener_stage_begin(void);
void	listener_stage(const struct gw_listen_conf *, int);
void	listener_commit(void);
void	listener_close_all(void);
size_t	listener_count(void);
size_t	listener_staged_fds(void);
void	listener_walk(void (*)(const struct sockaddr_storage *, uint64_t,
	    int, void *), void *);

#endif /* LISTENER_H */
