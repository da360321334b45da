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
 * The one place that knows which system we are built on.  Everything else
 * includes this and writes OpenBSD code.
 */

#ifndef COMPAT_H
#define COMPAT_H

#include <sys/types.h>

#ifndef __dead
#define __dead		__attribute__((__noreturn__))
#endif
#ifndef nitems
#define nitems(_a)	(sizeof((_a)) / sizeof((_a)[0]))
#endif
#ifndef __unused
#define __unused	__attribute__((__unused__))	/* sys/tree.h */
#endif

/*
 * How free pages go back to the system at once: on Linux MADV_DONTNEED
 * (its MADV_FREE waits for memory pressure, and until then the pages
 * still count as the process's); on OpenBSD MADV_FREE.
 */
#ifdef __linux__
#define COMPAT_MADV_RELEASE	MADV_DONTNEED
#else
#define COMPAT_MADV_RELEASE	MADV_FREE
#endif

#ifdef __linux__
/* libbsd-overlay supplies strlcpy, freezero, setproctitle, sys/tree.h. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline int
pledge(const char *promises, const char *execpromises)
{
	(void)promises;
	(void)execpromises;
	return (0);
}

static inline int
unveil(const char *path, const char *permissions)
{
	(void)path;
	(void)permissions;
	return (0);
}
#endif /* __linux__ */

#endif /* COMPAT_H */
