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
 * libFuzzer target: the configuration parser (gatewayd/parse.y, with
 * gatewayd/config.c).  The input is written to fuzz.conf in a scratch
 * directory (in $FUZZ_TMPDIR, else /tmp) that also holds inc.conf (to
 * include) and open.secrets (mode 0644, refused); /tmp/fuzz-secrets is
 * a good secrets file, mode 0600, for a.example.org.  parse_config
 * reads the input twice, and config_free frees what it returns.
 *
 * parse.o is built with fopen, open and getaddrinfo renamed to the
 * fuzz_ functions here: files outside the scratch directory and the
 * secrets file are not there for the parser (no device, no FIFO, no
 * system file is opened), and names are not resolved (no DNS).
 *
 * It aborts when a parse leaves a file descriptor open, or when the
 * second parse of the same file does not end as the first did (the
 * result, config_print's text of it, every line logged): what one
 * parse leaves behind must not change the next, as on a reload.
 *
 * FUZZ_VERBOSE=1 keeps the log on stderr.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "gatewayd.h"
#include "log.h"

#define SECRETS		"/tmp/fuzz-secrets"
#define SECRETS_TEXT	"a.example.org longsecretlongsecret\n"
#define INC_TEXT	"component \"inc.example.org\" {\n" \
			"\talias \"inc2.example.org\"\n}\n" \
			"max depth 16\n"
#define LOG_MAX		(64 * 1024)

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
FILE	*fuzz_fopen(const char *, const char *);
int	 fuzz_open(const char *, int, ...);
int	 fuzz_getaddrinfo(const char *, const char *, const struct addrinfo *,
	    struct addrinfo **);

/* What one parse did. */
struct outcome {
	int	 ok;
	char	*text;		/* config_print's */
	size_t	 textlen;
	char	 log[LOG_MAX];
	size_t	 loglen;
};

static void	breach(const char *, ...)
		    __attribute__((__format__ (printf, 1, 2)))
		    __attribute__((__noreturn__));

static char		 dir[64], path[128];
static FILE		*errfp;
static int		 verbose;
static struct outcome	*logto;

static void
breach(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fprintf(errfp, "config_fuzz: ORACLE: ");
	vfprintf(errfp, fmt, ap);
	fprintf(errfp, "\n");
	va_end(ap);
	fflush(errfp);
	abort();
}

/* The parser's files: only the scratch directory and the secrets. */
static int
allowed(const char *p)
{
	size_t	n = strlen(dir);

	if (strcmp(p, SECRETS) == 0)
		return (1);
	return (strncmp(p, dir, n) == 0 && p[n] == '/' &&
	    strstr(p, "..") == NULL);
}

FILE *
fuzz_fopen(const char *p, const char *mode)
{
	if (!allowed(p)) {
		errno = ENOENT;
		return (NULL);
	}
	return (fopen(p, mode));
}

int
fuzz_open(const char *p, int flags, ...)
{
	va_list	ap;
	mode_t	mode = 0;

	if (flags & O_CREAT) {
		va_start(ap, flags);
		mode = va_arg(ap, int);
		va_end(ap);
	}
	if (!allowed(p)) {
		errno = ENOENT;
		return (-1);
	}
	return (open(p, flags, mode));
}

/* Numeric addresses only, and localhost. */
int
fuzz_getaddrinfo(const char *node, const char *service,
    const struct addrinfo *hints, struct addrinfo **res)
{
	struct addrinfo	h;

	memset(&h, 0, sizeof(h));
	if (hints != NULL)
		h = *hints;
	h.ai_flags |= AI_NUMERICHOST;
	if (node != NULL && strcmp(node, "localhost") == 0)
		node = "127.0.0.1";
	return (getaddrinfo(node, service, &h, res));
}

/* Writes a file whole, then renames it into place. */
static void
put_file(const char *name, const void *p, size_t len, mode_t mode)
{
	char	tmp[256];
	int	fd;

	snprintf(tmp, sizeof(tmp), "%s.%ld", name, (long)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode)) == -1 ||
	    fchmod(fd, mode) == -1 || write(fd, p, len) != (ssize_t)len ||
	    close(fd) == -1 || rename(tmp, name) == -1) {
		fprintf(errfp, "config_fuzz: %s: %s\n", name, strerror(errno));
		abort();
	}
}

static void
cleanup(void)
{
	char	p[128];

	if (dir[0] == '\0')
		return;
	unlink(path);
	snprintf(p, sizeof(p), "%s/inc.conf", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/open.secrets", dir);
	unlink(p);
	rmdir(dir);
}

#ifdef __GLIBC__
/* The log, kept for the comparison; on stderr only if verbose or fatal. */
static ssize_t
log_write(void *cookie, const char *p, size_t len)
{
	size_t	n;

	(void)cookie;
	if (verbose || (len > 9 && strncmp(p, "fatal in ", 9) == 0))
		(void)fwrite(p, 1, len, errfp);
	if (logto != NULL) {
		n = LOG_MAX - 1 - logto->loglen;
		n = len < n ? len : n;
		memcpy(logto->log + logto->loglen, p, n);
		logto->loglen += n;
		logto->log[logto->loglen] = '\0';
	}
	return (len);
}
#endif

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
#ifdef __GLIBC__
	cookie_io_functions_t	 io = { NULL, log_write, NULL, NULL };
	FILE			*fp;
#endif
	const char		*tmp;
	char			 p[128];

	(void)argc;
	(void)argv;
	errfp = stderr;
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	log_init(1, LOG_DAEMON);
	log_setverbose(1);
#ifdef __GLIBC__
	if ((fp = fopencookie(NULL, "w", io)) != NULL) {
		setvbuf(fp, NULL, _IOFBF, 4096);
		stderr = fp;
	}
#endif
	if ((tmp = getenv("FUZZ_TMPDIR")) == NULL || tmp[0] != '/' ||
	    strlen(tmp) > 32)
		tmp = "/tmp";
	snprintf(dir, sizeof(dir), "%s/fuzz-config.XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		fprintf(errfp, "config_fuzz: mkdtemp: %s\n", strerror(errno));
		abort();
	}
	atexit(cleanup);
	snprintf(path, sizeof(path), "%s/fuzz.conf", dir);
	snprintf(p, sizeof(p), "%s/inc.conf", dir);
	put_file(p, INC_TEXT, sizeof(INC_TEXT) - 1, 0644);
	snprintf(p, sizeof(p), "%s/open.secrets", dir);
	put_file(p, SECRETS_TEXT, sizeof(SECRETS_TEXT) - 1, 0644);
	put_file(SECRETS, SECRETS_TEXT, sizeof(SECRETS_TEXT) - 1, 0600);
	return (0);
}

/* The lowest descriptor free: it moves if a parse leaves one open. */
static int
lowest_fd(void)
{
	int	fd;

	if ((fd = dup(0)) == -1 && (fd = open("/dev/null", O_RDONLY)) == -1)
		abort();
	close(fd);
	return (fd);
}

static void
parse_once(struct outcome *o)
{
	struct gatewayd_conf	*conf;
	FILE			*fp;
	int			 fd = lowest_fd();

	memset(o, 0, sizeof(*o));
	logto = o;
	conf = parse_config(path, 0);
	logto = NULL;
	o->ok = conf != NULL;
	if (conf != NULL) {
		if ((fp = open_memstream(&o->text, &o->textlen)) == NULL)
			abort();
		config_print(fp, conf);
		fclose(fp);
	}
	config_free(conf);
	if (lowest_fd() != fd)
		breach("a descriptor left open (%d free before, %d after)",
		    fd, lowest_fd());
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct outcome	one, two;
	int			fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1 ||
	    write(fd, data, size) != (ssize_t)size || close(fd) == -1)
		abort();
	parse_once(&one);
	parse_once(&two);
	if (one.ok != two.ok || one.textlen != two.textlen ||
	    (one.text != NULL && memcmp(one.text, two.text,
	    one.textlen) != 0) || strcmp(one.log, two.log) != 0)
		breach("parsed again, the file %s: %s\n--- first:\n%s%s"
		    "--- second:\n%s%s", two.ok ? "is good" : "is not",
		    one.ok ? "it was" : "it was not", one.log,
		    one.text ? one.text : "", two.log,
		    two.text ? two.text : "");
	free(one.text);
	free(two.text);
	return (0);
}
