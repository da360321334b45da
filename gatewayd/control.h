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

#ifndef CONTROL_H
#define CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "ctl.h"

struct imsg;
struct imsgev;

void	control_init(struct imsgev *, struct imsgev *, struct ctl_summary *);
void	control_listen(int, int);
size_t	control_reserve(void);
void	control_tick(void);

/* The engine's handlers of the messages for the control socket. */
void	control_imsg_socket(struct imsg *, const void *, void *);
void	control_imsg_authd(struct imsg *, const void *, void *);
void	control_imsg_line(struct imsg *, const void *, void *);
void	control_imsg_end(struct imsg *, const void *, void *);

#endif /* CONTROL_H */
