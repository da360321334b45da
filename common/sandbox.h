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

#ifndef SANDBOX_H
#define SANDBOX_H

#include <stdint.h>

/*
 * The system-specific half of a child's bring-up.  The caller has done
 * everything that needs files or privileges; after this the process can
 * only use what it already holds.
 */
#define SANDBOX_ENGINE	1	/* network: accept, fd passing */
#define SANDBOX_AUTHD	2	/* no network at all */

void	sandbox_child(int);
void	sandbox_parent(void);

/* Gives freed memory back to the system (glibc keeps it otherwise). */
void	compat_release_memory(void);

/* How much of what was written to a TCP socket its peer acknowledged. */
int	compat_sock_acked(int, uint64_t *);

/* Re-executing ourselves: Linux runs the very image the parent runs. */
void	compat_init(int, char **);
int	compat_self_open(void);
__dead void compat_self_exec(int, char **);

#endif /* SANDBOX_H */
