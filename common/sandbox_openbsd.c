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

#include <sys/types.h>
#include <sys/resource.h>

#include <err.h>
#include <fcntl.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

#ifndef GATEWAYD_PATH
#define GATEWAYD_PATH	"/usr/local/sbin/gatewayd"
#endif

/* The parent reads the secrets file: it leaves no core. */
void
sandbox_parent(void)
{
	struct rlimit	rl;

	rl.rlim_cur = rl.rlim_max = 0;
	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		fatal("setrlimit");
}

/* Chroot and the user change were done by the caller; pledge is the rest. */
void
sandbox_child(int role)
{
	const char	*promises;

	if (role == SANDBOX_ENGINE)
		promises = "stdio inet unix recvfd";
	else
		promises = "stdio";
	if (pledge(promises, NULL) == -1)
		fatal("pledge");
}

/* OpenBSD's malloc returns freed pages by itself. */
void
compat_release_memory(void)
{
}

/*
 * OpenBSD's TCP does not tell a process how much its peer acknowledged:
 * unknown, so that a peer is never judged by it.
 */
int
compat_sock_acked(int fd, uint64_t *acked)
{
	(void)fd;
	(void)acked;
	return (-1);
}

void
compat_init(int argc, char **argv)
{
	(void)argc;
	(void)argv;
}

/* OpenBSD re-executes the installed binary, as its base daemons do. */
int
compat_self_open(void)
{
	return (-1);
}

void
compat_self_exec(int fd, char **argv)
{
	(void)fd;
	execv(GATEWAYD_PATH, argv);
	fatal("execv %s", GATEWAYD_PATH);
}
