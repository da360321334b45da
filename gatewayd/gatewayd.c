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
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "authd.h"
#include "gatewayd.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"

#define PARENT_SHUTDOWN_GRACE	15	/* seconds children get to finish */
#define PARENT_PING_INTERVAL	2	/* seconds between pings of a child */
#define PARENT_PING_TIMEOUT	5	/* seconds of silence worth a warning */
#define PARENT_RELOAD_REFUSED	"configuration not reloaded, keeping the old one"

struct child {
	struct imsgev	 iev;
	pid_t		 pid;
	int		 alive;		/* its pipe is still open */
	uint32_t	 ping_sent, ping_answered;
	time_t		 ping_time;	/* of the unanswered one */
	int		 silent;	/* warned that it does not answer */
};

static struct gatewayd_conf	*conf;
static const char		*conffile = GATEWAYD_CONF;
static struct child		 children[PROC_MAX];
static struct event		 ev_sighup, ev_sigterm, ev_sigint;
static struct event		 ev_grace, ev_ping;
static int			 shutting_down;
static int			 exit_status;
static pid_t			 parent_pid;
static uint64_t			 ctl_reload_id;	/* while gatewayctl reloads */
static char			 ctl_paths[GW_CTLSOCK_MAX][GW_CTLSOCK_PATH_MAX];
static size_t			 nctl_paths;

static __dead void	usage(void);
static void		parent_sig_handler(int, short, void *);
static void		parent_child_ack(struct imsg *, const void *, void *);
static void		parent_child_pong(struct imsg *, const void *, void *);
static void		parent_child_log(struct imsg *, const void *, void *);
static void		parent_ctl_reload(struct imsg *, const void *, void *);
static void		parent_ctl_verbose(struct imsg *, const void *, void *);
static void		parent_uplink_connect(struct imsg *, const void *,
			    void *);
static void		parent_ping(int, short, void *);
static void		parent_child_gone(struct imsgev *);
static int		parent_reload(void);
static void		parent_shutdown(int);
static void		parent_grace_expired(int, short, void *);
static void		parent_reap(struct child *);

static const struct imsg_handler child_handlers[] = {
	{ IMSG_RECONF_ACK, "RECONF_ACK", 0, 0, parent_child_ack },
	{ IMSG_PONG, "PONG", sizeof(struct gw_ping), 0, parent_child_pong },
	{ IMSG_LOG, "LOG", sizeof(struct gw_log) + 1, IMSGF_MIN,
	    parent_child_log },
	{ IMSG_CTL_RELOAD, "CTL_RELOAD", sizeof(struct gw_ctl_req), 0,
	    parent_ctl_reload },
	{ IMSG_CTL_VERBOSE, "CTL_VERBOSE", sizeof(struct gw_ctl_verbose), 0,
	    parent_ctl_verbose },
	{ IMSG_UPLINK_CONNECT, "UPLINK_CONNECT", sizeof(struct gw_uplink_req),
	    0, parent_uplink_connect }
};
static const struct imsg_channel child_channels[PROC_MAX] = {
	[PROC_ENGINE] = { "the engine", child_handlers,
	    nitems(child_handlers), NULL },
	[PROC_AUTHD] = { "authd", child_handlers, nitems(child_handlers),
	    NULL }
};
static int		parent_bind(struct gatewayd_conf *,
			    const struct gatewayd_conf *);
static int		parent_ctlsocks(struct gatewayd_conf *);
static void		parent_ctlsocks_remove(void);
static void		parent_ctlsocks_check(const struct gatewayd_conf *);
static void		parent_ctl_line(int, const char *);
static void		parent_check_privsep(const struct gatewayd_conf *);
static void		parent_send_config(struct gatewayd_conf *);

static __dead void
usage(void)
{
	extern char	*__progname;

	fprintf(stderr, "usage: %s [-dnv] [-D macro=value] [-f file]\n",
	    __progname);
	exit(1);
}

int
main(int argc, char *argv[])
{
	const char	*child_user = NULL, *child_chroot = NULL;
	enum gw_proc	 role = PROC_PARENT;
	int		 ch, debug = 0, noaction = 0, verbose = 0;
	int		 self_fd, pipes[PROC_MAX][2], peer[2];
	enum gw_proc	 p;

	compat_init(argc, argv);
	log_init(1, LOG_DAEMON);	/* stderr until we know better */

	while ((ch = getopt(argc, argv, "c:D:df:nP:u:v")) != -1) {
		switch (ch) {
		case 'c':
			child_chroot = optarg;
			break;
		case 'D':
			if (cmdline_symset(optarg) < 0)
				log_warnx("could not parse macro definition %s",
				    optarg);
			break;
		case 'd':
			debug = 1;
			break;
		case 'f':
			conffile = optarg;
			break;
		case 'n':
			noaction = 1;
			break;
		case 'P':
			if (strcmp(optarg, "engine") == 0)
				role = PROC_ENGINE;
			else if (strcmp(optarg, "authd") == 0)
				role = PROC_AUTHD;
			else
				fatalx("unknown process %s", optarg);
			break;
		case 'u':
			child_user = optarg;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	if (argc > 0)
		usage();

	if (role != PROC_PARENT) {
		if (child_user == NULL || child_chroot == NULL)
			fatalx("%s: -u and -c are required", gw_procnames[role]);
		log_init(debug, LOG_DAEMON);
		log_setverbose(verbose);
		log_procinit(gw_procnames[role]);
		if (role == PROC_ENGINE)
			engine_main(debug, verbose, child_user, child_chroot);
		authd_main(debug, verbose, child_user, child_chroot);
	}

	sandbox_parent();
	if ((conf = parse_config(conffile, 0)) == NULL)
		exit(1);
	if (noaction) {
		if (verbose)
			config_print(stdout, conf);
		fprintf(stderr, "configuration OK\n");
		config_free(conf);
		exit(0);
	}
	conf->global.verbose = verbose;
	parent_check_privsep(conf);

	/* Errors binding still reach the terminal. */
	parent_pid = getpid();
	if (parent_bind(conf, NULL) == -1 || parent_ctlsocks(conf) == -1)
		exit(1);
	log_init(debug, LOG_DAEMON);
	log_setverbose(verbose);
	if (!debug && daemon(1, 0) == -1)
		fatal("daemon");
	log_info("startup");
	signal(SIGPIPE, SIG_IGN);

	self_fd = compat_self_open();
	for (p = PROC_ENGINE; p < PROC_MAX; p++)
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, 0, pipes[p]) == -1)
			fatal("socketpair");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
	    peer) == -1)
		fatal("socketpair");
	for (p = PROC_ENGINE; p < PROC_MAX; p++)
		children[p].pid = proc_exec(p, self_fd, pipes[p][1],
		    p == PROC_ENGINE ? peer[0] : peer[1], debug, conf->user,
		    conf->chroot);
	for (p = PROC_ENGINE; p < PROC_MAX; p++)
		close(pipes[p][1]);
	close(peer[0]);
	close(peer[1]);
	if (self_fd != -1)
		close(self_fd);

	setproctitle("%s", gw_procnames[PROC_PARENT]);
	event_init();
	signal_set(&ev_sighup, SIGHUP, parent_sig_handler, NULL);
	signal_set(&ev_sigterm, SIGTERM, parent_sig_handler, NULL);
	signal_set(&ev_sigint, SIGINT, parent_sig_handler, NULL);
	signal_add(&ev_sighup, NULL);
	signal_add(&ev_sigterm, NULL);
	signal_add(&ev_sigint, NULL);

	for (p = PROC_ENGINE; p < PROC_MAX; p++) {
		imsgev_init(&children[p].iev, pipes[p][0], &child_channels[p],
		    &children[p], parent_child_gone);
		imsgbuf_allow_fdpass(&children[p].iev.ibuf);
		children[p].alive = 1;
	}
	parent_send_config(conf);
	evtimer_set(&ev_ping, parent_ping, NULL);
	parent_ping(-1, 0, NULL);

	event_dispatch();
	fatalx("event loop ended");
}

/*
 * Without root we cannot chroot or change user: say so loudly, and go on
 * with the process split and the sandbox, for development.  With root,
 * check what the children will need before starting them.
 */
static void
parent_check_privsep(const struct gatewayd_conf *c)
{
	struct stat	st;

	if (geteuid() != 0) {
		log_warnx("WARNING: not running as root: no chroot and no "
		    "change of user for the engine and authd, which still "
		    "run sandboxed; do not use this in production");
		return;
	}
	if (getpwnam(c->user) == NULL)
		fatalx("unknown user %s", c->user);
	if (stat(c->chroot, &st) == -1)
		fatal("chroot %s", c->chroot);
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		fatalx("chroot %s must be a directory owned by root and "
		    "writable by nobody else", c->chroot);
}

/* Configuration to both children; then the parent forgets the secrets. */
static void
parent_send_config(struct gatewayd_conf *c)
{
	if (config_send_authd(&children[PROC_AUTHD].iev, c) == -1 ||
	    config_send_engine(&children[PROC_ENGINE].iev, c) == -1)
		fatal("sending configuration");
	config_purge_secrets(c);
}

/*
 * A peer that vanishes without a word (power, cable) must not hold its
 * name forever: TCP keepalive probes an idle connection, and with the
 * whitespace keepalive of the engine in flight, the user timeout fails a
 * connection whose peer acknowledges nothing for the idle and the queue
 * timeout together (a live peer that merely stopped reading is the queue
 * timeout's to handle, with its stream error).  Accepted sockets inherit
 * these from the listener; the uplinks' sockets get them too.
 */
void
socket_liveness(int fd, const struct gw_global *g)
{
	int	on = 1, idle = g->idle_timeout, intvl = 10, cnt = 3;
#ifdef TCP_USER_TIMEOUT
	unsigned int	ms = (g->idle_timeout + g->queue_timeout) * 1000;
#endif

	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) == -1)
		log_warn("SO_KEEPALIVE");
#ifdef TCP_KEEPIDLE
	if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle,
	    sizeof(idle)) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl,
	    sizeof(intvl)) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt)) == -1)
		log_warn("TCP keepalive options");
#else
	(void)idle;
	(void)intvl;
	(void)cnt;
#endif
#ifdef TCP_USER_TIMEOUT
	if (setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms,
	    sizeof(ms)) == -1)
		log_warn("TCP_USER_TIMEOUT");
#endif
}

static int
listen_socket(const struct gw_listen *l, const struct gw_global *g)
{
	char	addr[NI_MAXHOST + 16];
	int	fd, on = 1;

	sockaddr_print(&l->conf.ss, addr, sizeof(addr));
	if ((fd = socket(l->conf.ss.ss_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("socket for %s", addr);
		return (-1);
	}
	/* Accepted sockets inherit these: the engine need not set them. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == -1 ||
	    (l->conf.ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1)) {
		log_warn("setsockopt for %s", addr);
		goto fail;
	}
	socket_liveness(fd, g);
	if (bind(fd, (const struct sockaddr *)&l->conf.ss,
	    sockaddr_len(&l->conf.ss)) == -1) {
		log_warn("cannot listen on %s", addr);
		goto fail;
	}
	if (listen(fd, 128) == -1) {
		log_warn("listen on %s", addr);
		goto fail;
	}
	return (fd);
 fail:
	close(fd);
	return (-1);
}

/*
 * Binds the listeners of newconf that the running configuration old does
 * not have; the engine keeps the others (fd -1).  All or nothing.
 */
static int
parent_bind(struct gatewayd_conf *newconf, const struct gatewayd_conf *old)
{
	struct gw_listen	*l, *ol;

	TAILQ_FOREACH(l, &newconf->listeners, entry) {
		ol = NULL;
		if (old != NULL)
			TAILQ_FOREACH(ol, &old->listeners, entry)
				if (sockaddr_cmp(&ol->conf.ss,
				    &l->conf.ss) == 0)
					break;
		if (ol != NULL)
			continue;
		if ((l->fd = listen_socket(l, &newconf->global)) == -1)
			return (-1);
	}
	return (0);
}

static int
parent_reload(void)
{
	struct gatewayd_conf	*newconf;

	log_info("reloading configuration from %s", conffile);
	if ((newconf = parse_config(conffile, 0)) == NULL) {
		log_warnx("%s", PARENT_RELOAD_REFUSED);
		return (-1);
	}
	if (strcmp(newconf->user, conf->user) != 0 ||
	    strcmp(newconf->chroot, conf->chroot) != 0) {
		log_warnx("a new user or chroot takes effect only after a "
		    "restart");
		strlcpy(newconf->user, conf->user, sizeof(newconf->user));
		strlcpy(newconf->chroot, conf->chroot,
		    sizeof(newconf->chroot));
	}
	parent_ctlsocks_check(newconf);
	if (parent_bind(newconf, conf) == -1) {
		log_warnx("%s", PARENT_RELOAD_REFUSED);
		config_free(newconf);
		return (-1);
	}
	newconf->global.verbose = log_getverbose();
	parent_send_config(newconf);
	config_free(conf);
	conf = newconf;
	return (0);
}

/*
 * gatewayctl reload: the reload, with every warning and error it logs
 * sent back, a line each, then whether it took.
 */
static void
parent_ctl_reload(struct imsg *imsg, const void *data, void *arg)
{
	const struct gw_ctl_req	*req = data;
	struct gw_ctl_end	 end;
	int			 ret = -1;

	(void)imsg;
	(void)arg;
	memset(&end, 0, sizeof(end));
	end.ctl_id = ctl_reload_id = req->ctl_id;
	if (!shutting_down) {
		log_set_tee(parent_ctl_line);
		ret = parent_reload();
		log_set_tee(NULL);
	}
	end.status = ret == 0 ? 0 : 1;
	strlcpy(end.message, shutting_down ? "shutting down" : ret == 0 ?
	    "reloaded" : PARENT_RELOAD_REFUSED, sizeof(end.message));
	if (imsgev_compose(&children[PROC_ENGINE].iev, IMSG_CTL_END, 0, -1,
	    &end, sizeof(end)) == -1)
		fatal("imsgev_compose");
}

/* The engine wants a socket for an uplink of the configuration. */
static void
parent_uplink_connect(struct imsg *imsg, const void *data, void *arg)
{
	const struct gw_uplink_req	*req = data;

	(void)imsg;
	if (arg != &children[PROC_ENGINE])
		fatalx("UPLINK_CONNECT from authd");
	imsg_check_string(req->domain, sizeof(req->domain), "uplink domain");
	if (!shutting_down)
		connector_request(&children[PROC_ENGINE].iev, req, conf);
}

/* A line the reload logged, for gatewayctl; what was not sent is lost. */
static void
parent_ctl_line(int pri, const char *line)
{
	struct gw_ctl_line	l;

	/* The last one is the answer's own. */
	if (pri > LOG_WARNING || strcmp(line, PARENT_RELOAD_REFUSED) == 0)
		return;
	memset(&l, 0, sizeof(l));
	l.ctl_id = ctl_reload_id;
	strlcpy(l.line, line, sizeof(l.line));
	(void)imsgev_compose(&children[PROC_ENGINE].iev, IMSG_CTL_LINE, 0, -1,
	    &l, sizeof(l));
}

/* gatewayctl log verbose|brief: ours, and authd's (the engine has it). */
static void
parent_ctl_verbose(struct imsg *imsg, const void *data, void *arg)
{
	const struct gw_ctl_verbose	*v = data;

	(void)imsg;
	(void)arg;
	log_setverbose(v->verbose);
	log_info("logging %s", v->verbose ? "verbose" : "brief");
	if (children[PROC_AUTHD].alive &&
	    imsgev_compose(&children[PROC_AUTHD].iev, IMSG_CTL_VERBOSE, 0, -1,
	    v, sizeof(*v)) == -1)
		fatal("imsgev_compose");
}

/*
 * The directory of a control socket, if it is missing (a /run that was
 * emptied at boot, without systemd-tmpfiles): made as root, 0755, one
 * level only.
 */
static void
parent_ctlsock_dir(const char *path)
{
	char	 dir[GW_CTLSOCK_PATH_MAX], *slash;

	strlcpy(dir, path, sizeof(dir));
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return;
	*slash = '\0';
	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		log_warn("control socket directory %s", dir);
}

/*
 * The control sockets, made once at the start (the engine keeps them):
 * one that answers belongs to a gatewayd that runs, and is not taken
 * from it.  Owner root, mode 0660.
 */
static int
parent_ctlsock(struct gw_ctlsock *cs)
{
	struct sockaddr_un	 sun;
	mode_t			 old;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, cs->path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		log_warnx("control socket %s: path too long", cs->path);
		return (-1);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		log_warnx("control socket %s: in use by a running gatewayd",
		    cs->path);
		close(fd);
		return (-1);
	}
	close(fd);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		fatal("socket");
	if (unlink(cs->path) == -1 && errno != ENOENT) {
		log_warn("control socket %s", cs->path);
		close(fd);
		return (-1);
	}
	parent_ctlsock_dir(cs->path);
	old = umask(S_IXUSR | S_IXGRP | S_IRWXO);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		log_warn("control socket %s", cs->path);
		umask(old);
		close(fd);
		return (-1);
	}
	umask(old);
	if (chmod(cs->path, 0660) == -1 || listen(fd, 16) == -1) {
		log_warn("control socket %s", cs->path);
		(void)unlink(cs->path);
		close(fd);
		return (-1);
	}
	strlcpy(ctl_paths[nctl_paths++], cs->path, sizeof(ctl_paths[0]));
	cs->fd = fd;
	return (0);
}

/* Every control socket, or none: the daemon does not start without. */
static int
parent_ctlsocks(struct gatewayd_conf *c)
{
	struct gw_ctlsock	*cs;
	int			 ret = 0;

	TAILQ_FOREACH(cs, &c->ctlsocks, entry)
		if (parent_ctlsock(cs) == -1)
			ret = -1;
	if (ret == 0)
		atexit(parent_ctlsocks_remove);
	else
		parent_ctlsocks_remove();
	return (ret);
}

/* At the parent's exit (not a child's, between its fork and exec). */
static void
parent_ctlsocks_remove(void)
{
	size_t	i;

	if (getpid() != parent_pid)
		return;
	for (i = 0; i < nctl_paths; i++)
		(void)unlink(ctl_paths[i]);
	nctl_paths = 0;
}

/* A reload keeps the control sockets; another set waits for a restart. */
static void
parent_ctlsocks_check(const struct gatewayd_conf *newconf)
{
	const struct gw_ctlsock	*a, *b;

	a = TAILQ_FIRST(&conf->ctlsocks);
	b = TAILQ_FIRST(&newconf->ctlsocks);
	for (; a != NULL && b != NULL; a = TAILQ_NEXT(a, entry),
	    b = TAILQ_NEXT(b, entry))
		if (strcmp(a->path, b->path) != 0 ||
		    a->restricted != b->restricted)
			break;
	if (a != NULL || b != NULL)
		log_warnx("new control sockets take effect only after a "
		    "restart");
}

static void
parent_sig_handler(int sig, short event, void *arg)
{
	(void)event;
	(void)arg;

	switch (sig) {
	case SIGHUP:
		if (!shutting_down)
			parent_reload();
		break;
	case SIGTERM:
	case SIGINT:
		if (!shutting_down)
			log_info("received signal %d, shutting down", sig);
		parent_shutdown(0);
		break;
	}
}

static void
parent_child_ack(struct imsg *imsg, const void *data, void *arg)
{
	struct child	*c = arg;

	(void)imsg;
	(void)data;
	log_debug("%s uses the new configuration",
	    gw_procnames[c - children]);
}

/*
 * Every few seconds each child is asked whether it still runs.  One
 * that does not answer (stopped, or stuck) is logged once, and again
 * when it answers: its pipe closing is what ends the daemon.
 */
static void
parent_ping(int fd, short event, void *arg)
{
	struct timeval	 tv = { PARENT_PING_INTERVAL, 0 };
	struct gw_ping	 ping;
	struct child	*c;
	enum gw_proc	 p;
	time_t		 now = monotime();

	(void)fd;
	(void)event;
	(void)arg;
	for (p = PROC_ENGINE; p < PROC_MAX; p++) {
		c = &children[p];
		if (!c->alive || shutting_down)
			continue;
		if (c->ping_sent != c->ping_answered) {
			if (!c->silent && now - c->ping_time >=
			    PARENT_PING_TIMEOUT) {
				log_warnx("%s (pid %d) has not answered for "
				    "%lld seconds", gw_procnames[p], (int)c->pid,
				    (long long)(now - c->ping_time));
				c->silent = 1;
			}
			continue;
		}
		ping.seq = ++c->ping_sent;
		c->ping_time = now;
		if (imsgev_compose(&c->iev, IMSG_PING, 0, -1, &ping,
		    sizeof(ping)) == -1)
			fatal("imsgev_compose");
	}
	evtimer_add(&ev_ping, &tv);
}

static void
parent_child_pong(struct imsg *imsg, const void *data, void *arg)
{
	const struct gw_ping	*pong = data;
	struct child		*c = arg;

	(void)imsg;
	if (pong->seq != c->ping_sent)
		return;
	c->ping_answered = pong->seq;
	if (c->silent) {
		log_warnx("%s (pid %d) answers again",
		    gw_procnames[c - children], (int)c->pid);
		c->silent = 0;
	}
}

/*
 * A child's log line (at most a line of log.c's and its NUL), written as
 * if our own, under the name of the child it came from.
 */
static void
parent_child_log(struct imsg *imsg, const void *data, void *arg)
{
	union {
		struct gw_log	hdr;
		char		bytes[sizeof(struct gw_log) + 1024];
	}			 msg;
	size_t			 len = imsg_get_len(imsg);
	struct child		*c = arg;

	(void)data;
	if (len > sizeof(msg) || imsg_get_data(imsg, &msg, len) == -1 ||
	    memchr(msg.bytes + sizeof(msg.hdr), '\0',
	    len - sizeof(msg.hdr)) == NULL)
		fatalx("LOG from %s: %zu bytes, not a line",
		    gw_procnames[c - children], len);
	logit(msg.hdr.pri & LOG_PRIMASK, "%s: %s", gw_procnames[c - children],
	    msg.bytes + sizeof(msg.hdr));
}

static void
parent_child_gone(struct imsgev *iev)
{
	parent_reap(iev->data);
}

/*
 * A child's pipe closed: it exited or was killed.  Outside a shutdown this
 * ends the daemon (fail closed): nobody restarts a child that may have
 * died from an attack.
 */
static void
parent_reap(struct child *c)
{
	enum gw_proc	 p = (enum gw_proc)(c - children), q;
	int		 status;

	imsgev_clear(&c->iev);
	close(c->iev.ibuf.fd);
	c->alive = 0;
	while (waitpid(c->pid, &status, 0) == -1)
		if (errno != EINTR)
			fatal("waitpid");
	if (WIFSIGNALED(status))
		log_warnx("lost child: %s (pid %d) terminated by signal %d%s",
		    gw_procnames[p], (int)c->pid, WTERMSIG(status),
		    WTERMSIG(status) == SIGSYS ? ", a sandbox violation" : "");
	else if (!shutting_down || WEXITSTATUS(status) != 0)
		log_warnx("lost child: %s (pid %d) exited with status %d",
		    gw_procnames[p], (int)c->pid, WEXITSTATUS(status));
	else
		log_debug("%s exited", gw_procnames[p]);
	if (!shutting_down || WIFSIGNALED(status) || WEXITSTATUS(status) != 0)
		exit_status = 1;

	parent_shutdown(exit_status);
	for (q = PROC_ENGINE; q < PROC_MAX; q++)
		if (children[q].alive)
			return;
	log_info("terminating");
	exit(exit_status);
}

/*
 * Closing our side of the pipes tells the children to finish; we wait for
 * their pipes to close, at most PARENT_SHUTDOWN_GRACE seconds.
 */
static void
parent_shutdown(int status)
{
	struct timeval	tv = { PARENT_SHUTDOWN_GRACE, 0 };
	enum gw_proc	p;

	if (status != 0)
		exit_status = status;
	if (shutting_down)
		return;
	shutting_down = 1;
	connector_cancel_all();
	for (p = PROC_ENGINE; p < PROC_MAX; p++)
		if (children[p].alive)
			shutdown(children[p].iev.ibuf.fd, SHUT_WR);
	evtimer_set(&ev_grace, parent_grace_expired, NULL);
	evtimer_add(&ev_grace, &tv);
}

static void
parent_grace_expired(int fd, short event, void *arg)
{
	enum gw_proc	p;

	(void)fd;
	(void)event;
	(void)arg;
	for (p = PROC_ENGINE; p < PROC_MAX; p++)
		if (children[p].alive) {
			log_warnx("%s did not stop in time, killing it",
			    gw_procnames[p]);
			kill(children[p].pid, SIGKILL);
		}
}
