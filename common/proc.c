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
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "sandbox.h"

const char	*gw_procnames[PROC_MAX] = {
	"parent",
	"engine",
	"authd"
};

static char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		fatal("strdup");
	return (p);
}

/* Moves fd to the fixed number target in a freshly forked child. */
static void
proc_place_fd(int fd, int target)
{
	if (fd == target) {
		if (fcntl(fd, F_SETFD, 0) == -1)
			fatal("fcntl");
	} else if (dup2(fd, target) == -1)
		fatal("dup2");
}

/*
 * Fork and re-execute ourselves as a child, so that it starts from a fresh
 * image (its own ASLR layout, none of the parent's memory).  The child
 * finds its pipe to the parent on fd 3 and the engine-authd pipe on fd 4.
 */
pid_t
proc_exec(enum gw_proc role, int self_fd, int parent_fd, int peer_fd,
    int debug, const char *user, const char *chrootdir)
{
	char	*argv[16];
	char	 verbose[16];
	int	 argc = 0, v, hi_parent, hi_peer;
	pid_t	 pid;

	switch (pid = fork()) {
	case -1:
		fatal("fork");
	case 0:
		break;
	default:
		return (pid);
	}

	/* Out of the way first, so that placing one cannot clobber the other. */
	if ((hi_parent = fcntl(parent_fd, F_DUPFD_CLOEXEC, 10)) == -1 ||
	    (hi_peer = fcntl(peer_fd, F_DUPFD_CLOEXEC, 10)) == -1 ||
	    (self_fd != -1 &&
	    (self_fd = fcntl(self_fd, F_DUPFD_CLOEXEC, 10)) == -1))
		fatal("fcntl");
	proc_place_fd(hi_parent, PROC_PARENT_FD);
	proc_place_fd(hi_peer, PROC_PEER_FD);
	/* Our own image stays open (close-on-exec) for fexecve. */
	if (self_fd != -1) {
		if (dup3(self_fd, PROC_PEER_FD + 1, O_CLOEXEC) == -1)
			fatal("dup3");
		self_fd = PROC_PEER_FD + 1;
	}
	closefrom(PROC_PEER_FD + 2);

	argv[argc++] = xstrdup("gatewayd");
	argv[argc++] = xstrdup("-P");
	argv[argc++] = xstrdup(gw_procnames[role]);
	argv[argc++] = xstrdup("-u");
	argv[argc++] = xstrdup(user);
	argv[argc++] = xstrdup("-c");
	argv[argc++] = xstrdup(chrootdir);
	if (debug)
		argv[argc++] = xstrdup("-d");
	v = log_getverbose();
	if (v > 0) {
		verbose[0] = '-';
		memset(verbose + 1, 'v', v > 8 ? 8 : v);
		verbose[1 + (v > 8 ? 8 : v)] = '\0';
		argv[argc++] = verbose;
	}
	argv[argc] = NULL;
	compat_self_exec(self_fd, argv);
}

static void
proc_drop_privileges(struct passwd *pw, const char *chrootdir)
{
	uid_t	ruid, euid, suid;
	gid_t	rgid, egid, sgid;

	if (chroot(chrootdir) == -1)
		fatal("chroot %s", chrootdir);
	if (chdir("/") == -1)
		fatal("chdir /");
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		fatal("cannot drop privileges");
	if (getresuid(&ruid, &euid, &suid) == -1 ||
	    getresgid(&rgid, &egid, &sgid) == -1)
		fatal("getresuid");
	if (ruid != pw->pw_uid || euid != pw->pw_uid || suid != pw->pw_uid ||
	    rgid != pw->pw_gid || egid != pw->pw_gid || sgid != pw->pw_gid)
		fatalx("privileges were not dropped");
}

/*
 * The common part of a child's bring-up, called once the child has
 * prepared everything that needs the file system (event base, libraries).
 * As root: chroot and become the unprivileged user.  Started by a normal
 * user (development), the parent has warned and we keep the user.  Then
 * the system's sandbox.
 */
void
proc_child_setup(enum gw_proc role, const char *user, const char *chrootdir)
{
	struct passwd	*pw;

	if (geteuid() == 0) {
		if ((pw = getpwnam(user)) == NULL)
			fatalx("unknown user %s", user);
		proc_drop_privileges(pw, chrootdir);
	}
	setproctitle("%s", gw_procnames[role]);
	sandbox_child(role == PROC_ENGINE ? SANDBOX_ENGINE : SANDBOX_AUTHD);
}

/* The largest fixed payload a table may name. */
#define IMSG_FIXED_MAX	2048
#define PROC_BURST	1024	/* messages queued: trim the heap after */

static const struct imsg_handler *
imsg_handler_find(const struct imsg_channel *ch, uint32_t type)
{
	size_t	i;

	for (i = 0; i < ch->nhandlers; i++)
		if (ch->handlers[i].type == type)
			return (&ch->handlers[i]);
	return (NULL);
}

/*
 * The checks every message gets before its handler sees it: a type the
 * far end may send on this channel, the size its table entry says, a
 * descriptor only where one may come.  A sibling that breaks these is
 * broken itself: fatal.
 */
static void
imsg_dispatch_one(const struct imsg_channel *ch, struct imsg *imsg,
    void *arg)
{
	static union {
		uint64_t	align;
		unsigned char	bytes[IMSG_FIXED_MAX];
	}				 copy;
	const struct imsg_handler	*h;
	size_t				 len = imsg_get_len(imsg);
	int				 fd;

	if ((h = imsg_handler_find(ch, imsg_get_type(imsg))) == NULL)
		fatalx("unexpected message %u from %s", imsg_get_type(imsg),
		    ch->peer);
	if ((h->flags & IMSGF_MIN) ? len < h->len : len != h->len)
		fatalx("%s from %s: %zu bytes", h->name, ch->peer, len);
	if (!(h->flags & IMSGF_FD) && (fd = imsg_get_fd(imsg)) != -1)
		fatalx("%s from %s: an unexpected descriptor", h->name,
		    ch->peer);
	if ((h->flags & IMSGF_MIN) || h->len == 0) {
		h->fn(imsg, NULL, arg);
		return;
	}
	if (h->len > sizeof(copy.bytes))
		fatalx("%s: payload too large for the table", h->name);
	if (imsg_get_data(imsg, copy.bytes, h->len) == -1)
		fatal("%s from %s", h->name, ch->peer);
	h->fn(imsg, copy.bytes, arg);
	/* Payloads may be secrets. */
	explicit_bzero(copy.bytes, h->len);
}

/*
 * Reads what the channel has and hands each complete message to its
 * handler.  Returns -1 when the far end is gone (EOF or a reset), 0
 * otherwise.
 */
int
imsg_dispatch(struct imsgbuf *ibuf, const struct imsg_channel *ch, void *arg)
{
	struct imsg	imsg;
	int		n;

	if ((n = imsgbuf_read(ibuf)) == -1) {
		if (errno == ECONNRESET)
			return (-1);
		fatal("imsgbuf_read from %s", ch->peer);
	}
	if (n == 0)
		return (-1);
	for (;;) {
		if ((n = imsgbuf_get(ibuf, &imsg)) == -1)
			fatal("imsgbuf_get from %s", ch->peer);
		if (n == 0)
			break;
		imsg_dispatch_one(ch, &imsg, arg);
		imsg_free(&imsg);
	}
	if (ch->done != NULL)
		ch->done(arg);
	return (0);
}

/* A received string: NUL terminated within its field, not empty. */
void
imsg_check_string(const char *s, size_t size, const char *what)
{
	if (memchr(s, '\0', size) == NULL || s[0] == '\0')
		fatalx("%s: bad string", what);
}

static void	imsgev_event(int, short, void *);

/*
 * A child's log lines go to the parent, which can always reach syslog:
 * the child's own socket to it dies when the log daemon restarts, and
 * the sandbox allows no new one.  At most PROC_LOG_QUEUE lines wait in
 * the pipe; beyond, lines are dropped and counted, so that a parent that
 * does not read cannot make the child grow.
 */
#define PROC_LOG_QUEUE	4096

static struct imsgbuf	*log_ibuf;
static void		(*log_queued)(void);
static uint64_t		 log_dropped;

static int
proc_log_compose(int pri, const char *line)
{
	struct gw_log	hdr;
	struct iovec	iov[2];

	hdr.pri = pri;
	iov[0].iov_base = &hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (void *)(uintptr_t)line;
	iov[1].iov_len = strlen(line) + 1;
	return (imsg_composev(log_ibuf, IMSG_LOG, 0, 0, -1, iov, 2));
}

static void
proc_log_send(int pri, const char *line)
{
	char	note[64];

	if (imsgbuf_queuelen(log_ibuf) >= PROC_LOG_QUEUE) {
		log_dropped++;
		return;
	}
	if (log_dropped > 0) {
		snprintf(note, sizeof(note), "%llu log lines dropped",
		    (unsigned long long)log_dropped);
		if (proc_log_compose(LOG_WARNING, note) == -1)
			return;
		log_dropped = 0;
	}
	if (proc_log_compose(pri, line) == -1)
		log_dropped++;
	else if (log_queued != NULL)
		log_queued();
}

static int
proc_log_flush(void)
{
	return (imsgbuf_flush(log_ibuf));
}

/* From now on the lines go to the parent over ibuf; queued tells the loop. */
void
proc_log_to_parent(struct imsgbuf *ibuf, void (*queued)(void))
{
	log_ibuf = ibuf;
	log_queued = queued;
	log_set_sink(proc_log_send, proc_log_flush);
}

/* The pipe to the parent is gone: the lines are written here again. */
void
proc_log_detach(struct imsgbuf *ibuf)
{
	if (log_ibuf != ibuf)
		return;
	log_set_sink(NULL, NULL);
	log_ibuf = NULL;
	log_queued = NULL;
}

void
imsgev_init(struct imsgev *iev, int fd, const struct imsg_channel *ch,
    void *data, void (*gone)(struct imsgev *))
{
	if (imsgbuf_init(&iev->ibuf, fd) == -1)
		fatal("imsgbuf_init");
	iev->channel = ch;
	iev->data = data;
	iev->gone = gone;
	iev->room = NULL;
	iev->paused = iev->eof = iev->burst = 0;
	iev->events = 0;
	imsgev_add(iev);
}

/*
 * (Re)arm the channel's event: readable unless paused, writable while
 * queued.
 */
void
imsgev_add(struct imsgev *iev)
{
	short	events = iev->paused || iev->eof ? 0 : EV_READ;

	if (imsgbuf_queuelen(&iev->ibuf) > 0)
		events |= EV_WRITE;
	if (iev->events == events)
		return;
	if (iev->events != 0)
		event_del(&iev->ev);
	iev->events = events;
	if (events == 0)
		return;
	event_set(&iev->ev, iev->ibuf.fd, events | EV_PERSIST, imsgev_event,
	    iev);
	event_add(&iev->ev, NULL);
}

/*
 * A channel that passes descriptors may come when the table has no room
 * for one, and recvmsg(2) would drop it: room says whether a read may
 * go now.  When it may not, the channel stops reading until
 * imsgev_resume.
 */
void
imsgev_set_room(struct imsgev *iev, int (*room)(void))
{
	iev->room = room;
}

void
imsgev_resume(struct imsgev *iev)
{
	if (!iev->paused)
		return;
	iev->paused = 0;
	imsgev_add(iev);
}

void
imsgev_clear(struct imsgev *iev)
{
	if (iev->events != 0)
		event_del(&iev->ev);
	iev->events = 0;
	imsgbuf_clear(&iev->ibuf);
}

int
imsgev_compose(struct imsgev *iev, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len)
{
	int	ret;

	if ((ret = imsg_compose(&iev->ibuf, type, peerid, 0, fd, data,
	    len)) != -1)
		imsgev_add(iev);
	if (imsgbuf_queuelen(&iev->ibuf) >= PROC_BURST)
		iev->burst = 1;
	return (ret);
}

/*
 * Writes what is queued, reads and dispatches what came.  When the far
 * end is gone (EOF, or EPIPE on write), its owner is told: for the
 * parent a lost child, for a child the end of its life.  After EOF the
 * channel still writes; once a write fails it is cleared.  Anything
 * else going wrong is fatal.
 */
static void
imsgev_event(int fd, short event, void *arg)
{
	struct imsgev	*iev = arg;

	(void)fd;
	if ((event & EV_WRITE) && imsgbuf_write(&iev->ibuf) == -1) {
		if (errno != EPIPE && errno != ECONNRESET)
			fatal("imsgbuf_write to %s", iev->channel->peer);
		goto gone;
	}
	if (iev->burst && imsgbuf_queuelen(&iev->ibuf) == 0) {
		/* A configuration's worth of messages out, freed. */
		iev->burst = 0;
		compat_release_memory();
	}
	if ((event & EV_READ) && iev->room != NULL && !iev->room())
		iev->paused = 1;
	else if ((event & EV_READ) &&
	    imsg_dispatch(&iev->ibuf, iev->channel, iev->data) == -1) {
		/*
		 * The far end sends no more, but may read on (a parent
		 * stopping its children half-closes their pipes): what is
		 * queued, log lines above all, still goes out.
		 */
		iev->eof = 1;
		imsgev_add(iev);
		iev->gone(iev);
		return;
	}
	imsgev_add(iev);
	return;
 gone:
	proc_log_detach(&iev->ibuf);
	imsgev_clear(iev);
	if (!iev->eof)
		iev->gone(iev);
}
