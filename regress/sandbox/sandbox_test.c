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
 * Applies each process's sandbox in a forked child and checks what it
 * still may do: allowed calls work, soft-denied calls fail with EACCES,
 * everything else kills the process with SIGSYS.
 */

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

enum expect {
	WORKS,		/* the call succeeds, the child exits 0 */
	EACCES_,	/* the call fails with EACCES */
	EBADF_,		/* allowed, but fails on a bad descriptor */
	KILLED		/* SIGSYS */
};

static int	failures;

static int
try_getpid(void)
{
	return (getpid() > 0 ? 0 : -1);
}

static int
try_open(void)
{
	return (open("/etc/passwd", O_RDONLY));
}

static int
try_socket(void)
{
	return (socket(AF_INET, SOCK_STREAM, 0));
}

static int
try_unix_socket(void)
{
	return (socket(AF_UNIX, SOCK_STREAM, 0));
}

static int
try_execve(void)
{
	char	*argv[] = { (char *)"true", NULL };

	return (execve("/bin/true", argv, NULL));
}

static int
try_fork(void)
{
	return ((int)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0));
}

static int
try_ptrace(void)
{
	return ((int)ptrace(PTRACE_TRACEME, 0, NULL, NULL));
}

static int
try_kill(void)
{
	return (kill(getppid(), 0));
}

static int
try_mmap_exec(void)
{
	void	*p;

	p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	return (p == MAP_FAILED ? -1 : 0);
}

static int
try_mprotect_exec(void)
{
	void	*p;

	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return (-1);
	return (mprotect(p, 4096, PROT_READ | PROT_EXEC));
}

static int
try_malloc(void)
{
	char	*p;

	/* Large enough to be mmap'd, not taken from the heap. */
	if ((p = malloc(4 * 1024 * 1024)) == NULL)
		return (-1);
	memset(p, 1, 4 * 1024 * 1024);
	free(p);
	return (0);
}

static int
try_accept4(void)
{
	return (accept4(-1, NULL, NULL, SOCK_NONBLOCK));
}

static int
try_recvmsg(void)
{
	struct msghdr	msg;

	memset(&msg, 0, sizeof(msg));
	return ((int)recvmsg(-1, &msg, 0));
}

static int
try_tcp_info(void)
{
	char		buf[256];
	socklen_t	len = sizeof(buf);

	return (getsockopt(-1, IPPROTO_TCP, TCP_INFO, buf, &len));
}

static int
try_other_sockopt(void)
{
	int		val;
	socklen_t	len = sizeof(val);

	return (getsockopt(-1, SOL_SOCKET, SO_RCVBUF, &val, &len));
}

static int
try_chroot(void)
{
	return (chroot("/"));
}

static int
try_setuid(void)
{
	return (setuid(0));
}

static int
try_bind(void)
{
	return (bind(-1, NULL, 0));
}

struct testcase {
	const char	*name;
	int		 role;
	int		(*fn)(void);
	enum expect	 expect;
};

static const struct testcase cases[] = {
	{ "engine getpid", SANDBOX_ENGINE, try_getpid, WORKS },
	{ "engine malloc", SANDBOX_ENGINE, try_malloc, WORKS },
	{ "engine accept4", SANDBOX_ENGINE, try_accept4, EBADF_ },
	{ "engine recvmsg", SANDBOX_ENGINE, try_recvmsg, EBADF_ },
	{ "engine getsockopt TCP_INFO", SANDBOX_ENGINE, try_tcp_info, EBADF_ },
	{ "engine getsockopt SO_RCVBUF", SANDBOX_ENGINE, try_other_sockopt,
	    KILLED },
	{ "engine open file", SANDBOX_ENGINE, try_open, EACCES_ },
	{ "engine inet socket", SANDBOX_ENGINE, try_socket, EACCES_ },
	{ "engine unix socket", SANDBOX_ENGINE, try_unix_socket, EACCES_ },
	{ "engine bind", SANDBOX_ENGINE, try_bind, KILLED },
	{ "engine execve", SANDBOX_ENGINE, try_execve, KILLED },
	{ "engine fork", SANDBOX_ENGINE, try_fork, KILLED },
	{ "engine ptrace", SANDBOX_ENGINE, try_ptrace, KILLED },
	{ "engine kill", SANDBOX_ENGINE, try_kill, KILLED },
	{ "engine mmap exec", SANDBOX_ENGINE, try_mmap_exec, KILLED },
	{ "engine mprotect exec", SANDBOX_ENGINE, try_mprotect_exec, KILLED },
	{ "engine chroot", SANDBOX_ENGINE, try_chroot, KILLED },
	{ "engine setuid", SANDBOX_ENGINE, try_setuid, KILLED },
	{ "authd getpid", SANDBOX_AUTHD, try_getpid, WORKS },
	{ "authd malloc", SANDBOX_AUTHD, try_malloc, WORKS },
	{ "authd open file", SANDBOX_AUTHD, try_open, EACCES_ },
	{ "authd inet socket", SANDBOX_AUTHD, try_socket, EACCES_ },
	{ "authd accept4", SANDBOX_AUTHD, try_accept4, KILLED },
	{ "authd recvmsg", SANDBOX_AUTHD, try_recvmsg, KILLED },
	{ "authd getsockopt TCP_INFO", SANDBOX_AUTHD, try_tcp_info, KILLED },
	{ "authd execve", SANDBOX_AUTHD, try_execve, KILLED },
	{ "authd fork", SANDBOX_AUTHD, try_fork, KILLED },
	{ "authd ptrace", SANDBOX_AUTHD, try_ptrace, KILLED },
	{ "authd mmap exec", SANDBOX_AUTHD, try_mmap_exec, KILLED }
};

static void
result(const char *name, int good, const char *why)
{
	if (good)
		printf("ok - sandbox %s\n", name);
	else {
		printf("not ok - sandbox %s: %s\n", name, why);
		failures++;
	}
	fflush(stdout);
}

static void
run_case(const struct testcase *tc)
{
	char	why[128];
	pid_t	pid;
	int	status, ret;

	fflush(stdout);
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		sandbox_child(tc->role);
		errno = 0;
		ret = tc->fn();
		switch (tc->expect) {
		case WORKS:
			_exit(ret == 0 ? 0 : 10);
		case EACCES_:
			_exit(ret == -1 && errno == EACCES ? 0 : 11);
		case EBADF_:
			_exit(ret == -1 && errno == EBADF ? 0 : 12);
		case KILLED:
			_exit(13);
		}
		_exit(14);
	}
	if (waitpid(pid, &status, 0) == -1)
		fatal("waitpid");
	if (tc->expect == KILLED) {
		snprintf(why, sizeof(why), "not killed by SIGSYS (status %d)",
		    status);
		result(tc->name, WIFSIGNALED(status) &&
		    WTERMSIG(status) == SIGSYS, why);
	} else {
		snprintf(why, sizeof(why), "child status %d", status);
		result(tc->name, WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0, why);
	}
}

/* What /proc shows of a sandboxed process: the administrator's audit. */
static void
check_status(int role, const char *name)
{
	char	 path[64], line[256], why[128];
	FILE	*fp;
	pid_t	 pid;
	int	 p[2], seccomp = -1, nnp = -1, nproc_zero = 0, core_zero = 0;
	int	 tries = 100000;
	char	 c;

	if (pipe(p) == -1)
		fatal("pipe");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		close(p[1]);
		sandbox_child(role);
		(void)read(p[0], &c, 1);	/* until the parent has looked */
		_exit(0);
	}
	close(p[0]);
	/* The filter is in place once the child can be seen with it. */
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	for (;;) {
		if ((fp = fopen(path, "r")) == NULL)
			fatal("%s", path);
		while (fgets(line, sizeof(line), fp) != NULL) {
			sscanf(line, "Seccomp: %d", &seccomp);
			sscanf(line, "NoNewPrivs: %d", &nnp);
		}
		fclose(fp);
		if (seccomp == 2 || --tries == 0)
			break;
		sched_yield();
	}
	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		fatal("%s", path);
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (strncmp(line, "Max processes", 13) == 0 &&
		    strstr(line, " 0 ") != NULL)
			nproc_zero = 1;
		if (strncmp(line, "Max core file size", 18) == 0 &&
		    strstr(line, " 0 ") != NULL)
			core_zero = 1;
	}
	fclose(fp);
	close(p[1]);
	waitpid(pid, NULL, 0);

	snprintf(why, sizeof(why), "Seccomp %d NoNewPrivs %d", seccomp, nnp);
	snprintf(line, sizeof(line), "%s status Seccomp 2 NoNewPrivs 1", name);
	result(line, seccomp == 2 && nnp == 1, why);
	snprintf(line, sizeof(line), "%s rlimits nproc 0 core 0", name);
	result(line, nproc_zero && core_zero, "limits not set");
}

int
main(void)
{
	size_t	i;

	log_init(1, 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	check_status(SANDBOX_ENGINE, "engine");
	check_status(SANDBOX_AUTHD, "authd");
	return (failures ? 1 : 0);
}
