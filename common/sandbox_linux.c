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
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/tcp.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

#if defined(__x86_64__)
#define SANDBOX_ARCH	AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SANDBOX_ARCH	AUDIT_ARCH_AARCH64
#else
#error "the seccomp filter knows only x86_64 and aarch64"
#endif

#ifdef SANDBOX_DEBUG
#define SANDBOX_DENY	SECCOMP_RET_TRAP
#else
#define SANDBOX_DENY	SECCOMP_RET_KILL_PROCESS
#endif

#define ARG_LO(n)	(offsetof(struct seccomp_data, args[n]))

/* Every process: its pipes, memory, time, randomness, syslog, exit. */
static const int sc_common[] = {
	SYS_read, SYS_readv, SYS_write, SYS_writev, SYS_close,
	SYS_sendto,			/* syslog(3) on its socket */
	SYS_brk, SYS_munmap, SYS_mremap, SYS_madvise, SYS_futex,
	SYS_clock_gettime, SYS_gettimeofday, SYS_getrandom,
	SYS_getpid, SYS_gettid,
	SYS_rt_sigreturn, SYS_rt_sigprocmask, SYS_restart_syscall,
	SYS_sigaltstack,		/* sanitizer runtimes at exit */
	SYS_exit, SYS_exit_group
};

/* The engine: libevent on epoll, accepting, receiving descriptors. */
static const int sc_engine[] = {
#ifdef SYS_epoll_wait
	SYS_epoll_wait,
#endif
	SYS_epoll_pwait, SYS_epoll_ctl,
#ifdef SYS_epoll_pwait2
	SYS_epoll_pwait2,
#endif
	SYS_accept4, SYS_recvmsg, SYS_sendmsg, SYS_shutdown,
	SYS_getsockname, SYS_getpeername,
#ifdef SYS_poll
	SYS_poll,
#endif
	SYS_ppoll		/* its last log lines out, at exit */
};

/* authd: a poll(2) loop over its two pipes. */
static const int sc_authd[] = {
#ifdef SYS_poll
	SYS_poll,
#endif
	SYS_ppoll
};

/*
 * Calls that libc may try on its own (stdio, syslog reconnecting): they
 * fail with EACCES instead of killing the process.
 */
static const int sc_soft[] = {
#ifdef SYS_open
	SYS_open,
#endif
#ifdef SYS_stat
	SYS_stat, SYS_lstat,
#endif
	SYS_openat, SYS_newfstatat, SYS_fstat, SYS_statx, SYS_ioctl,
	SYS_socket, SYS_connect
};

/*
 * The engine may read one socket option: TCP_INFO, how much a peer has
 * acknowledged (compat_sock_acked).
 */
static const int sc_engine_sockopt[] = { IPPROTO_TCP, TCP_INFO };

/* Mapping memory is fine, executable memory is not. */
static const int sc_noexec[] = { SYS_mmap, SYS_mprotect };

struct filter {
	struct sock_filter	prog[128];
	size_t			len;
};

static void
emit(struct filter *f, struct sock_filter insn)
{
	if (f->len >= sizeof(f->prog) / sizeof(f->prog[0]))
		fatalx("%s: seccomp program too long", __func__);
	f->prog[f->len++] = insn;
}

static void
emit_ret_if(struct filter *f, int nr, uint32_t action)
{
	emit(f, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
	    (uint32_t)nr, 0, 1));
	emit(f, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, action));
}

static void
emit_list(struct filter *f, const int *nrs, size_t n, uint32_t action)
{
	size_t	i;

	for (i = 0; i < n; i++)
		emit_ret_if(f, nrs[i], action);
}

/* Allowed when the protection argument (2) lacks PROT_EXEC, else denied. */
static void
emit_noexec(struct filter *f, int nr)
{
	emit(f, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
	    (uint32_t)nr, 0, 5));
	emit(f, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    ARG_LO(2)));
	emit(f, (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K,
	    PROT_EXEC));
	emit(f, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
	    0, 0, 1));
	emit(f, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_ALLOW));
	emit(f, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SANDBOX_DENY));
}

/* getsockopt with level and option (arguments 1 and 2) as given, else denied. */
static void
emit_getsockopt(struct filter *f, const int opt[2])
{
	emit(f, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
	    SYS_getsockopt, 0, 6));
	emit(f, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    ARG_LO(1)));
	emit(f, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
	    (uint32_t)opt[0], 0, 2));
	emit(f, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    ARG_LO(2)));
	emit(f, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
	    (uint32_t)opt[1], 1, 0));
	emit(f, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SANDBOX_DENY));
	emit(f, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_ALLOW));
}

static void
build_filter(struct filter *f, int role)
{
	size_t	i;

	f->len = 0;
	/* Wrong architecture, or the x32 ABI: die. */
	emit(f, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    offsetof(struct seccomp_data, arch)));
	emit(f, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
	    SANDBOX_ARCH, 1, 0));
	emit(f, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_KILL_PROCESS));
	emit(f, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    offsetof(struct seccomp_data, nr)));
	emit(f, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K,
	    0x40000000, 0, 1));
	emit(f, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_KILL_PROCESS));

	emit_list(f, sc_common, sizeof(sc_common) / sizeof(sc_common[0]),
	    SECCOMP_RET_ALLOW);
	if (role == SANDBOX_ENGINE) {
		emit_list(f, sc_engine, sizeof(sc_engine) / sizeof(sc_engine[0]),
		    SECCOMP_RET_ALLOW);
		emit_getsockopt(f, sc_engine_sockopt);
	} else
		emit_list(f, sc_authd, sizeof(sc_authd) / sizeof(sc_authd[0]),
		    SECCOMP_RET_ALLOW);
	emit_list(f, sc_soft, sizeof(sc_soft) / sizeof(sc_soft[0]),
	    SECCOMP_RET_ERRNO | (EACCES & SECCOMP_RET_DATA));
	for (i = 0; i < sizeof(sc_noexec) / sizeof(sc_noexec[0]); i++)
		emit_noexec(f, sc_noexec[i]);
	emit(f, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SANDBOX_DENY));
}

#ifdef SANDBOX_DEBUG
static void
sandbox_violation(int sig, siginfo_t *info, void *ctx)
{
	char	msg[64];
	int	len;

	(void)sig;
	(void)ctx;
	len = snprintf(msg, sizeof(msg), "sandbox: forbidden syscall %d\n",
	    info->si_syscall);
	if (len > 0)
		(void)write(STDERR_FILENO, msg, (size_t)len);
	_exit(1);
}
#endif

static void
set_limit(int resource, rlim_t soft, rlim_t hard)
{
	struct rlimit	rl;

	rl.rlim_cur = soft;
	rl.rlim_max = hard;
	if (setrlimit(resource, &rl) == -1)
		fatal("setrlimit %d", resource);
}

/*
 * The parent reads the secrets file: its memory may hold them, so it is
 * no more dumpable than its children, and leaves no core.
 */
void
sandbox_parent(void)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("prctl PR_SET_DUMPABLE");
	set_limit(RLIMIT_CORE, 0, 0);
}

void
sandbox_child(int role)
{
	struct filter		 f;
	struct sock_fprog	 prog;
	struct rlimit		 rl;
#ifdef SANDBOX_DEBUG
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_violation;
	sa.sa_flags = SA_SIGINFO;
	if (sigaction(SIGSYS, &sa, NULL) == -1)
		fatal("sigaction");
#endif

	/* Nobody, not even our own user, may read this memory. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("prctl PR_SET_DUMPABLE");
	set_limit(RLIMIT_CORE, 0, 0);
	set_limit(RLIMIT_NPROC, 0, 0);
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("getrlimit");
	if (role == SANDBOX_ENGINE)
		set_limit(RLIMIT_NOFILE, rl.rlim_max, rl.rlim_max);
	else
		set_limit(RLIMIT_NOFILE, 16, 16);

	build_filter(&f, role);
	prog.len = (unsigned short)f.len;
	prog.filter = f.prog;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("prctl PR_SET_NO_NEW_PRIVS");
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == -1)
		fatal("prctl PR_SET_SECCOMP");
}

void
compat_release_memory(void)
{
	malloc_trim(0);
}

/*
 * The bytes of ours that the peer of a TCP socket has acknowledged since
 * it was accepted; -1 where the system does not say (not TCP).
 */
int
compat_sock_acked(int fd, uint64_t *acked)
{
	struct tcp_info	ti;
	socklen_t	len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
		return (-1);
	if (len < offsetof(struct tcp_info, tcpi_bytes_acked) +
	    sizeof(ti.tcpi_bytes_acked))
		return (-1);
	*acked = ti.tcpi_bytes_acked;
	return (0);
}

void
compat_init(int argc, char **argv)
{
	extern char	**environ;

	setproctitle_init(argc, argv, environ);
}

/*
 * Children run the image the parent runs, even if the file on disk was
 * replaced by an upgrade since: parent and children always agree on the
 * messages between them.
 */
int
compat_self_open(void)
{
	int	fd;

	if ((fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)) == -1)
		fatal("open /proc/self/exe");
	return (fd);
}

void
compat_self_exec(int fd, char **argv)
{
	extern char	**environ;

	fexecve(fd, argv, environ);
	fatal("fexecve");
}
