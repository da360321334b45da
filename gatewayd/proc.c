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

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gatewayd.h"
#include "log.h"
#include "sandbox.h"

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

void
imsgev_init(struct imsgev *iev, int fd, const char *name,
    void (*handler)(int, short, void *), void *data)
{
	if (imsgbuf_init(&iev->ibuf, fd) == -1)
		fatal("imsgbuf_init");
	iev->handler = handler;
	iev->data = data;
	iev->name = name;
	iev->events = 0;
	imsgev_add(iev);
}

/* (Re)arm the channel's event: always readable, writable while queued. */
void
imsgev_add(struct imsgev *iev)
{
	short	events = EV_READ;

	if (imsgbuf_queuelen(&iev->ibuf) > 0)
		events |= EV_WRITE;
	if (iev->events != 0)
		event_del(&iev->ev);
	iev->events = events;
	event_set(&iev->ev, iev->ibuf.fd, events, iev->handler, iev);
	event_add(&iev->ev, NULL);
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
	return (ret);
}

/*
 * Reads or writes as the event says.  Returns -1 when the far end is gone
 * (EOF, or EPIPE on write): for the parent a lost child, for a child the
 * end of its life.  Anything else going wrong is fatal.
 */
int
imsgev_handle_io(struct imsgev *iev, short event)
{
	int	n;

	if (event & EV_READ) {
		if ((n = imsgbuf_read(&iev->ibuf)) == -1) {
			if (errno == ECONNRESET)
				return (-1);
			fatal("imsgbuf_read from %s", iev->name);
		}
		if (n == 0)
			return (-1);
	}
	if (event & EV_WRITE) {
		if (imsgbuf_write(&iev->ibuf) == -1) {
			if (errno == EPIPE || errno == ECONNRESET)
				return (-1);
			fatal("imsgbuf_write to %s", iev->name);
		}
	}
	return (0);
}

/* A sibling sent a message of the wrong size: it is broken, so are we. */
void
imsg_get_fixed(struct imsg *imsg, void *dst, size_t len, const char *what)
{
	if (imsg_get_data(imsg, dst, len) == -1)
		fatalx("%s: bad message size", what);
}

void
imsg_check_string(const char *s, size_t size, const char *what)
{
	if (memchr(s, '\0', size) == NULL || s[0] == '\0')
		fatalx("%s: bad string", what);
}
