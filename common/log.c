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

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static int		 log_debug_mode;	/* stderr instead of syslog */
static int		 log_verbose;
static const char	*log_procname;
static void		(*log_sink)(int, const char *);
static int		(*log_sink_flush)(void);
static int		 log_in_sink;	/* the sink itself logs: not to it */
static void		(*log_tee)(int, const char *);

/*
 * Called first with debug set (stderr only, so that early errors are
 * seen), then for real once the options are known.  The syslog socket is
 * opened now, before any chroot, because it cannot be opened afterwards.
 */
void
log_init(int debug, int facility)
{
	extern char	*__progname;

	log_debug_mode = debug;
	log_verbose = debug;
	if (!log_debug_mode)
		openlog(__progname, LOG_PID | LOG_NDELAY, facility);
	tzset();
}

/* Children name themselves; their stderr lines and fatal messages say so. */
void
log_procinit(const char *procname)
{
	log_procname = procname;
}

/*
 * A child's lines go to sink (its pipe to the parent, which writes them
 * where they belong), and flush pushes out what is queued before a fatal
 * exit.  NULL: written here again.
 */
void
log_set_sink(void (*sink)(int, const char *), int (*flush)(void))
{
	log_sink = sink;
	log_sink_flush = flush;
}

/* Every line logged also goes to tee (NULL: no more), as it is logged. */
void
log_set_tee(void (*tee)(int, const char *))
{
	log_tee = tee;
}

void
log_setverbose(int verbose)
{
	log_verbose = verbose;
}

int
log_getverbose(void)
{
	return (log_verbose);
}

void
vlog(int pri, const char *fmt, va_list ap)
{
	char		 line[1024];
	int		 saved_errno = errno;
	void		(*tee)(int, const char *) = log_tee;
	va_list		 aq;

	if (tee != NULL) {
		va_copy(aq, ap);
		vsnprintf(line, sizeof(line), fmt, aq);
		va_end(aq);
		log_tee = NULL;		/* what it logs itself is not teed */
		tee(pri, line);
		log_tee = tee;
	}
	if (log_sink != NULL && !log_in_sink) {
		vsnprintf(line, sizeof(line), fmt, ap);
		log_in_sink = 1;
		log_sink(pri, line);
		log_in_sink = 0;
	} else if (log_debug_mode) {
		vsnprintf(line, sizeof(line), fmt, ap);
		if (log_procname != NULL)
			fprintf(stderr, "%s: %s\n", log_procname, line);
		else
			fprintf(stderr, "%s\n", line);
		fflush(stderr);
	} else
		vsyslog(pri, fmt, ap);
	errno = saved_errno;
}

static void	vlog_errno(int, const char *, va_list)
		    __attribute__((__format__ (printf, 2, 0)));
static __dead void vfatalc(int, const char *, va_list)
		    __attribute__((__format__ (printf, 2, 0)));

static void
vlog_errno(int pri, const char *fmt, va_list ap)
{
	char	msg[1024];
	int	saved_errno = errno;

	if (fmt == NULL)
		logit(pri, "%s", strerror(saved_errno));
	else {
		vsnprintf(msg, sizeof(msg), fmt, ap);
		logit(pri, "%s: %s", msg, strerror(saved_errno));
	}
	errno = saved_errno;
}

void
logit(int pri, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(pri, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog_errno(LOG_ERR, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (log_verbose < 1)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

static __dead void
vfatalc(int with_errno, const char *fmt, va_list ap)
{
	char		 msg[1024], line[1200];
	const char	*who = log_procname != NULL ? log_procname : "parent";
	int		 saved_errno = errno;

	if (fmt != NULL)
		vsnprintf(msg, sizeof(msg), fmt, ap);
	else
		msg[0] = '\0';
	if (with_errno)
		snprintf(line, sizeof(line), "fatal in %s: %s%s%s", who, msg,
		    msg[0] != '\0' ? ": " : "", strerror(saved_errno));
	else
		snprintf(line, sizeof(line), "fatal in %s: %s", who, msg);
	logit(LOG_CRIT, "%s", line);
	/* The last words reach the parent, or are written here. */
	if (log_sink != NULL && !log_in_sink) {
		log_in_sink = 1;
		if (log_sink_flush() == -1)
			logit(LOG_CRIT, "%s", line);
	}
	exit(1);
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vfatalc(1, fmt, ap);
	va_end(ap);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vfatalc(0, fmt, ap);
	va_end(ap);
}
