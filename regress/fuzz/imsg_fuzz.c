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
 * The libFuzzer entry points of the imsg targets, and what they share:
 * the input, the two pipes, log.c and proc.c (included for their statics:
 * log.c's lines are seen and its exit longjmps back; what proc.c was
 * dispatching when a fatal came is freed after), the oracles on how a
 * run ends, and the descriptor count.  fz_target is the target's.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "addr.h"
#include "proc.h"
#include "util.h"
#include "imsg_fuzz.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* log.c: every line it makes is seen, its stderr and exit are ours. */
static int		fz_vsnprintf(char *, size_t, const char *, va_list)
			    __attribute__((__format__ (printf, 3, 0)));
static __dead void	fz_log_exit(int);
#define vsnprintf	fz_vsnprintf
#define fprintf(f, ...)	((void)0)
#define exit(x)		fz_log_exit(x)
#include "../../common/log.c"
#undef vsnprintf
#undef fprintf
#undef exit

/*
 * What proc.c dispatches, a descriptor taken from it (only the engine's
 * pipe from the parent passes them), and what the handler allocated
 * meanwhile (fz_kept): a fatal leaves the message on a stack that is
 * gone, and may come before the handler linked what it allocated.
 */
static struct imsg	fz_pending;
static int		fz_pending_set, fz_taken_fd = -1, fz_nallocs;
static void		*fz_allocs[4];

static int	fz_imsgbuf_get(struct imsgbuf *, struct imsg *);
static void	fz_imsg_free(struct imsg *);
#define imsgbuf_get	fz_imsgbuf_get
#define imsg_get_fd	fz_imsg_get_fd
#define imsg_free	fz_imsg_free
#include "../../common/proc.c"
#undef imsgbuf_get
#undef imsg_get_fd
#undef imsg_free

int		 fz_parent_fd, fz_peer_fd;
struct fz_pipe	 fz_pipes[FZ_PIPES];
jmp_buf		 fz_jmp;
int		 fz_armed;

/* What gatewayd.c's table for its children (child_handlers) takes. */
static const struct fz_type fz_parent_takes[] = {
	{ FZ_PARENT, IMSG_RECONF_ACK, 0 },
	{ FZ_PARENT, IMSG_PONG, sizeof(struct gw_ping) },
	{ FZ_PARENT, IMSG_LOG, 0 },	/* a gw_log and a line */
	{ FZ_PARENT, IMSG_CTL_RELOAD, sizeof(struct gw_ctl_req) },
	{ FZ_PARENT, IMSG_CTL_VERBOSE, sizeof(struct gw_ctl_verbose) },
	{ FZ_PARENT, IMSG_UPLINK_CONNECT, sizeof(struct gw_uplink_req) }
};

static const uint8_t	*in_p;
static size_t		 in_left;
static int		 fz_verbose;
static char		 fz_fatalmsg[1024], fz_fataltag[64];

void
breach(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: ORACLE: ", fz_target.prog);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	fflush(stderr);
	abort();
}

/* The input's next n bytes, zeros past its end. */
void
fz_bytes(void *dst, size_t n)
{
	size_t	k = n < in_left ? n : in_left;

	memcpy(dst, in_p, k);
	memset((char *)dst + k, 0, n - k);
	in_p += k;
	in_left -= k;
}

uint8_t
fz_byte(void)
{
	uint8_t	b;

	fz_bytes(&b, 1);
	return (b);
}

size_t
fz_left(void)
{
	return (in_left);
}

static int
fz_imsgbuf_get(struct imsgbuf *ibuf, struct imsg *imsg)
{
	int	n;

	fz_taken_fd = -1;
	fz_nallocs = 0;
	if ((n = imsgbuf_get(ibuf, imsg)) == 1) {
		fz_pending = *imsg;
		fz_pending_set = 1;
	}
	return (n);
}

int
fz_imsg_get_fd(struct imsg *imsg)
{
	int	fd;

	if ((fd = imsg_get_fd(imsg)) != -1)
		fz_taken_fd = fd;
	return (fd);
}

static void
fz_imsg_free(struct imsg *imsg)
{
	fz_pending_set = 0;
	fz_taken_fd = -1;
	imsg_free(imsg);
}

/* An allocation while a message is dispatched: a fatal may orphan it. */
void
fz_kept(void *p)
{
	if (p != NULL && fz_pending_set && fz_nallocs < (int)nitems(fz_allocs))
		fz_allocs[fz_nallocs++] = p;
}

/* After a fatal: what it left behind, but what the target holds. */
static void
fz_unwind(void)
{
	int	i;

	for (i = 0; fz_pending_set && i < fz_nallocs; i++)
		if (fz_target.linked == NULL || !fz_target.linked(fz_allocs[i]))
			free(fz_allocs[i]);
	if (fz_pending_set)
		imsg_free(&fz_pending);
	if (fz_taken_fd != -1)
		close(fz_taken_fd);
	fz_pending_set = fz_nallocs = 0;
	fz_taken_fd = -1;
	log_in_sink = 0;
}

void
fz_lower(char *dst, const char *src, size_t size)
{
	size_t	i;

	for (i = 0; src[i] != '\0' && i < size - 1; i++)
		dst[i] = tolower((unsigned char)src[i]);
	dst[i] = '\0';
}

/* What log.c formats: checked by the target, and a fatal's kept. */
static int
fz_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	const char	*m;
	char		 low[1200];
	int		 ret = vsnprintf(buf, size, fmt, ap);

	fz_lower(low, buf, sizeof(low));
	if (fz_verbose)
		fprintf(stderr, "%s\n", buf);
	if ((m = strstr(buf, fz_fataltag)) != NULL)
		strlcpy(fz_fatalmsg, m + strlen(fz_fataltag),
		    sizeof(fz_fatalmsg));
	fz_target.line(buf, low);
	return (ret);
}

/* Whether m is one of why, the fatals on what a sibling sent. */
int
fz_designed(const char *m, const char *const *why, size_t n)
{
	size_t	i;

	/* "^": at the start of the line. */
	for (i = 0; i < n; i++)
		if (why[i][0] == '^' ? strncmp(m, why[i] + 1,
		    strlen(why[i] + 1)) == 0 : strstr(m, why[i]) != NULL)
			return (1);
	return (0);
}

/* fatal() and fatalx() end here, after their line. */
static void
fz_log_exit(int code)
{
	if (!fz_armed)
		breach("fatal outside a run: %s", fz_fatalmsg);
	longjmp(fz_jmp, fz_target.fatal(code, fz_fatalmsg));
}

/* A descriptor to pass: 0 a socketpair's end, 1 a pipe's, 2 /dev/null. */
int
fz_passfd(int kind)
{
	int	p[2];

	if (kind == 2)
		return (open("/dev/null", O_RDWR | O_CLOEXEC));
	if ((kind == 0 ? socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    p) : pipe2(p, O_CLOEXEC)) == -1)
		abort();
	close(p[1]);
	return (p[0]);
}

void
fz_flush(int chn)
{
	struct fz_pipe	*p = &fz_pipes[chn];

	if (p->fd != -1 && imsgbuf_queuelen(&p->ibuf) > 0 &&
	    imsgbuf_write(&p->ibuf) == -1)
		breach("a write to %s's pipe: %s", fz_target.self,
		    strerror(errno));
}

/* A message into a pipe: -1 if it is closed (fd is, then). */
int
fz_compose(int chn, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len)
{
	if (fz_pipes[chn].fd == -1 || imsg_compose(&fz_pipes[chn].ibuf, type,
	    peerid, 0, fd, data, len) == -1) {
		if (fd != -1)
			close(fd);
		return (-1);
	}
	fz_flush(chn);
	return (0);
}

/*
 * A built message's size, from mode & 3: 2 its bytes from the input, 3 a
 * size other than len by a few bytes, or 2048, or none.
 */
size_t
fz_shape(uint8_t mode, void *buf, size_t len)
{
	uint8_t	b;
	size_t	i;

	if ((mode & 3) == 2)
		fz_bytes(buf, len);
	else if ((mode & 3) == 3) {
		b = fz_byte();
		i = 1 + (b >> 2) % 8;
		len = (b & 3) == 0 ? (len > i ? len - i : 2048) :
		    (b & 3) == 1 ? len + i : (len > 0 ? 0 : i);
	}
	return (len);
}

/* mode 0xc0: a peer id from the input. */
uint32_t
fz_peerid(uint8_t mode)
{
	return ((mode & 0xc0) == 0xc0 ? fz_byte() : 0);
}

/* Any type (a byte, or four past 23), up to 63 bytes: their length. */
size_t
fz_any(uint32_t *type, void *buf)
{
	size_t	len;

	*type = fz_byte();
	if (*type >= 24)
		fz_bytes(type, sizeof(*type));
	len = fz_byte() % 64;
	fz_bytes(buf, len);
	return (len);
}

/* Our end closed: -1 if it was already. */
int
fz_pipe_close(int chn)
{
	struct fz_pipe	*p = &fz_pipes[chn];

	if (p->fd == -1)
		return (-1);
	close(p->fd);
	imsgbuf_clear(&p->ibuf);
	p->fd = -1;
	return (0);
}

/*
 * What the child wrote into a pipe, each message as the peer's table
 * says, then to fz_target.got; -1 if it closed its end.
 */
int
fz_read(int chn)
{
	struct fz_pipe		*p = &fz_pipes[chn];
	const struct fz_type	*t = chn == FZ_PARENT ? fz_parent_takes :
				    fz_target.takes;
	struct imsg		 imsg;
	struct pollfd		 pfd = { p->fd, POLLIN, 0 };
	union {
		uint8_t		 b[FZ_PAYLOAD];
		max_align_t	 align;	/* as the target reads it */
	}			 u;
	uint32_t		 type;
	size_t			 len, i, n = chn == FZ_PARENT ?
				    nitems(fz_parent_takes) : fz_target.ntakes;
	size_t			 hdr = sizeof(struct gw_log);
	int			 r;

	while (p->fd != -1 && poll(&pfd, 1, 0) == 1) {
		if ((r = imsgbuf_read(&p->ibuf)) == -1)
			breach("the pipe to %s: %s", fz_target.peer[chn],
			    strerror(errno));
		if (r == 0)
			return (-1);
		while ((r = imsgbuf_get(&p->ibuf, &imsg)) == 1) {
			type = imsg_get_type(&imsg);
			len = imsg_get_len(&imsg);
			for (i = 0; i < n && (t[i].chn != chn ||
			    t[i].type != type); i++)
				;
			/* A LOG is one line, as the parent reads it. */
			if (i == n || imsg_get_fd(&imsg) != -1 ||
			    (type == IMSG_LOG ? len <= hdr || len > hdr +
			    GW_LINE_MAX : len != t[i].len) || (len > 0 &&
			    imsg_get_data(&imsg, u.b, len) == -1) ||
			    (type == IMSG_LOG &&
			    !memchr(u.b + hdr, 0, len - hdr)))
				breach("message %u of %zu bytes to %s: not as "
				    "its table says", type, len,
				    fz_target.peer[chn]);
			imsg_free(&imsg);
			fz_target.got(chn, type, u.b);
		}
		if (r == -1)
			breach("a broken message to %s", fz_target.peer[chn]);
	}
	return (0);
}

static int
fz_fds(void)
{
	DIR	*d;
	int	 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return (-1);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return (n);
}

/* A socket's two ends, for a descriptor the input left open. */
static void
fz_fd_ends(int fd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	char			 addr[NI_MAXHOST + 16];

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return;
	fprintf(stderr, " %s", sockaddr_print(&ss, addr, sizeof(addr)));
	len = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		fprintf(stderr, " to %s", sockaddr_print(&ss, addr,
		    sizeof(addr)));
}

static void
fz_fds_show(void)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[64], to[256];
	ssize_t		 len;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		if ((len = readlink(path, to, sizeof(to) - 1)) == -1)
			continue;
		to[len] = '\0';
		fprintf(stderr, "fd %s: %s", de->d_name, to);
		if (strncmp(to, "socket:", 7) == 0)
			fz_fd_ends(atoi(de->d_name));
		fprintf(stderr, "\n");
	}
	closedir(d);
}

static void
fz_pipes_open(void)
{
	int	i, p[2];

	for (i = 0; i < FZ_PIPES; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0, p) == -1 ||
		    imsgbuf_init(&fz_pipes[i].ibuf, p[0]) == -1)
			abort();
		imsgbuf_allow_fdpass(&fz_pipes[i].ibuf);
		fz_pipes[i].fd = p[0];
		fz_pipes[i].theirs = p[1];
	}
	fz_parent_fd = fz_pipes[0].theirs;
	fz_peer_fd = fz_pipes[1].theirs;
}

/* log.c and proc.c as at exec (the target detached the sink), no pipes. */
static void
fz_pipes_close(void)
{
	int	i;

	log_dropped = 0;
	log_setverbose(0);
	for (i = 0; i < FZ_PIPES; i++) {
		imsgbuf_clear(&fz_pipes[i].ibuf);
		if (fz_pipes[i].fd != -1)
			close(fz_pipes[i].fd);
		close(fz_pipes[i].theirs);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_verbose = getenv("FUZZ_VERBOSE") != NULL;
	snprintf(fz_fataltag, sizeof(fz_fataltag), "fatal in %s: ",
	    fz_target.proc);
	signal(SIGPIPE, SIG_IGN);
	log_init(1, LOG_DAEMON);
	log_procinit(fz_target.proc);
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int	before = fz_fds();

	fz_target.start();
	fz_pipes_open();
	in_p = data;
	in_left = size;
	if (setjmp(fz_jmp) == FZ_RUN) {
		fz_armed = 1;
		fz_target.run();
	}
	fz_armed = 0;
	fz_unwind();
	fz_target.teardown();
	fz_pipes_close();
	if (before != -1 && fz_fds() != before) {
		fz_fds_show();
		breach("%d descriptors open after the input, %d before",
		    fz_fds(), before);
	}
	return (0);
}
