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
 * authd alone, as the engine and the parent see it: the real process,
 * started as gatewayd starts it, with this program at both ends of its
 * pipes.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <imsg.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "digest.h"
#include "msg.h"
#include "util.h"

static struct imsgbuf	 ib_parent, ib_engine;
static pid_t		 authd_pid;
static int		 failures;
static int		 last_streamid_refused;	/* an empty id came */
/* Near 2^32, so that the ids cross it: they are 64 bits. */
static uint64_t		 next_conn = 0xfffffff0ULL;
static char		 scratch[] = "/tmp/gw-authd.XXXXXX";
static char		 logpath[PATH_MAX];

static void
result(const char *name, int good, const char *why)
{
	if (good)
		printf("ok - authd %s\n", name);
	else {
		printf("not ok - authd %s: %s\n", name, why);
		failures++;
	}
	fflush(stdout);
}

static __dead void
die(const char *what)
{
	printf("not ok - authd test harness: %s: %s\n", what, strerror(errno));
	if (authd_pid > 0)
		kill(authd_pid, SIGKILL);
	exit(1);
}

static void
start_authd(const char *gatewayd)
{
	struct timeval	 tv = { 10, 0 };
	struct passwd	*pw;
	const char	*user = "_gatewayd";
	int		 p[2], e[2], logfd;

	if (geteuid() == 0 && (pw = getpwnam(user)) == NULL)
		user = "nobody";
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, p) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, e) == -1)
		die("socketpair");
	snprintf(logpath, sizeof(logpath), "%s/log", scratch);
	if ((logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		die(logpath);
	switch (authd_pid = fork()) {
	case -1:
		die("fork");
	case 0:
		if (dup2(p[1], 3) == -1 || dup2(e[1], 4) == -1 ||
		    dup2(logfd, 2) == -1)
			_exit(1);
		closefrom(5);
		execl(gatewayd, "gatewayd", "-P", "authd", "-u", user, "-c",
		    scratch, "-d", "-v", (char *)NULL);
		_exit(1);
	}
	close(p[1]);
	close(e[1]);
	close(logfd);
	if (setsockopt(p[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(e[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1)
		die("setsockopt");
	if (imsgbuf_init(&ib_parent, p[0]) == -1 ||
	    imsgbuf_init(&ib_engine, e[0]) == -1)
		die("imsgbuf_init");
}

static void
send_msg(struct imsgbuf *ib, uint32_t type, const void *data, size_t len)
{
	if (imsg_compose(ib, type, 0, 0, -1, data, len) == -1 ||
	    imsgbuf_flush(ib) == -1)
		die("send");
}

/* A log line authd sent its parent, written to the log as the parent does. */
static void
take_log(struct imsg *imsg)
{
	char	buf[sizeof(struct gw_log) + 1024];
	size_t	len = imsg_get_len(imsg);
	FILE	*fp;

	if (len <= sizeof(struct gw_log) || len > sizeof(buf) ||
	    imsg_get_data(imsg, buf, len) == -1 || buf[len - 1] != '\0')
		die("a bad LOG message");
	if ((fp = fopen(logpath, "a")) == NULL)
		die(logpath);
	fprintf(fp, "authd: %s\n", buf + sizeof(struct gw_log));
	fclose(fp);
}

/*
 * The next message on the channel, log lines aside; type 0 if none came
 * in time.
 */
static uint32_t
recv_msg(struct imsgbuf *ib, void *data, size_t len)
{
	struct imsg	imsg;
	uint32_t	type;
	int		n;

	for (;;) {
		while ((n = imsgbuf_get(ib, &imsg)) == 0) {
			if ((n = imsgbuf_read(ib)) == -1) {
				if (errno == EAGAIN)
					return (0);
				die("imsgbuf_read");
			}
			if (n == 0)
				return (0);
		}
		if (n == -1)
			die("imsgbuf_get");
		if ((type = imsg_get_type(&imsg)) != IMSG_LOG)
			break;
		take_log(&imsg);
		imsg_free(&imsg);
	}
	if (len > 0 && imsg_get_data(&imsg, data, len) == -1)
		type = 0;
	imsg_free(&imsg);
	return (type);
}

struct secret {
	const char	*domain;
	const char	*secret;
};

static void
configure(const struct secret *secrets, size_t n, uint32_t fail_max,
    uint32_t max_unauth, uint32_t budget)
{
	struct gw_global		g;
	struct gw_component_conf	comp;
	struct gw_secret_conf		sc;
	const char			*domains[] = { "a.example.org",
					    "b.example.org" };
	size_t				i;

	memset(&g, 0, sizeof(g));
	g.auth_fail_max = fail_max;
	g.max_unauth = max_unauth;
	g.auth_budget = budget;
	g.auth_fail_window = 60;
	g.auth_holddown = 60;
	send_msg(&ib_parent, IMSG_RECONF_START, &g, sizeof(g));
	for (i = 0; i < 2; i++) {
		memset(&comp, 0, sizeof(comp));
		strlcpy(comp.name, domains[i], sizeof(comp.name));
		comp.id = i + 1;
		send_msg(&ib_parent, IMSG_RECONF_COMPONENT, &comp,
		    sizeof(comp));
	}
	for (i = 0; i < n; i++) {
		memset(&sc, 0, sizeof(sc));
		strlcpy(sc.domain, secrets[i].domain, sizeof(sc.domain));
		sc.len = strlcpy(sc.secret, secrets[i].secret,
		    sizeof(sc.secret));
		send_msg(&ib_parent, IMSG_RECONF_SECRET, &sc, sizeof(sc));
	}
	send_msg(&ib_parent, IMSG_RECONF_DONE, NULL, 0);
	if (recv_msg(&ib_parent, NULL, 0) != IMSG_RECONF_ACK)
		die("no RECONF_ACK");
}

/* A new stream for domain from addr: the id authd issued, or "". */
static void
new_stream(uint64_t conn, const char *domain, const char *addr,
    char id[GW_STREAMID_LEN + 1])
{
	struct gw_auth_stream	 req;
	struct gw_auth_streamid	 sid;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&req.peer;

	memset(&req, 0, sizeof(req));
	req.conn_id = conn;
	strlcpy(req.domain, domain, sizeof(req.domain));
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, addr, &sin->sin_addr);
	send_msg(&ib_engine, IMSG_AUTH_STREAM, &req, sizeof(req));
	id[0] = '\0';
	last_streamid_refused = 0;
	if (recv_msg(&ib_engine, &sid, sizeof(sid)) == IMSG_AUTH_STREAMID &&
	    sid.conn_id == conn) {
		strlcpy(id, sid.id, GW_STREAMID_LEN + 1);
		last_streamid_refused = sid.id[0] == '\0';
	}
}

/* A handshake on conn with the digest of id and secret: the verdict. */
static int
handshake(uint64_t conn, const char *id, const char *secret, double *secs)
{
	struct gw_auth_handshake	hs;
	struct gw_auth_result		res;
	struct timespec			t0, t1;

	memset(&hs, 0, sizeof(hs));
	hs.conn_id = conn;
	if (auth_digest(id, secret, strlen(secret), hs.digest) == -1)
		die("auth_digest");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	send_msg(&ib_engine, IMSG_AUTH_HANDSHAKE, &hs, sizeof(hs));
	if (recv_msg(&ib_engine, &res, sizeof(res)) != IMSG_AUTH_RESULT ||
	    res.conn_id != conn)
		return (-1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (secs != NULL)
		*secs = (t1.tv_sec - t0.tv_sec) +
		    (t1.tv_nsec - t0.tv_nsec) / 1e9;
	return (res.verdict);
}

/* Stream and handshake in one: the verdict. */
static int
login(const char *domain, const char *addr, const char *secret, double *secs)
{
	char		id[GW_STREAMID_LEN + 1];
	uint64_t	conn = next_conn++;

	new_stream(conn, domain, addr, id);
	if (id[0] == '\0')
		return (-1);
	return (handshake(conn, id, secret, secs));
}

static int
is_hex_id(const char *id)
{
	size_t	i;

	if (strlen(id) != GW_STREAMID_LEN)
		return (0);
	for (i = 0; i < GW_STREAMID_LEN; i++)
		if (hexval(id[i]) == -1 || (id[i] >= 'A' && id[i] <= 'F'))
			return (0);
	return (1);
}

/* What authd logged so far reaches the log: a ping, answered after it. */
static void
drain_log(void)
{
	static uint32_t	seq;
	struct gw_ping	ping, pong;

	ping.seq = ++seq;
	send_msg(&ib_parent, IMSG_PING, &ping, sizeof(ping));
	do {
		if (recv_msg(&ib_parent, &pong, sizeof(pong)) != IMSG_PONG)
			die("no PONG");
	} while (pong.seq != ping.seq);
}

static int
log_contains(const char *needle)
{
	char	 line[1024];
	FILE	*fp;
	int	 found = 0;

	drain_log();
	if ((fp = fopen(logpath, "r")) == NULL)
		die(logpath);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strstr(line, needle) != NULL)
			found = 1;
	fclose(fp);
	return (found);
}

static double
since(const struct timespec *t0)
{
	struct timespec	t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return ((t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) / 1e9);
}

/*
 * 30 sources, each held down by its first failure (handshake failures
 * 1), guess all at once: with "handshake checks 20" their answers come
 * at most 20 a second, all of them in the end; a source with no failure
 * meanwhile is answered at once.
 */
static void
budget_test(void)
{
	static const struct secret	 s[] = {
		{ "a.example.org", "first-secret-of-a" }
	};
	struct gw_auth_handshake	 hs;
	struct gw_auth_result		 res;
	struct timespec			 t0;
	char				 addr[32], why[128];
	char				 ids[30][GW_STREAMID_LEN + 1];
	uint64_t			 conns[30];
	double				 clean, last = 0;
	int				 i, got = 0, early = 0;

	configure(s, 1, 1, 100, 20);
	for (i = 0; i < 30; i++) {
		snprintf(addr, sizeof(addr), "198.51.100.%d", i + 1);
		conns[i] = next_conn++;
		new_stream(conns[i], "a.example.org", addr, ids[i]);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 30; i++) {
		memset(&hs, 0, sizeof(hs));
		hs.conn_id = conns[i];
		auth_digest(ids[i], "wrong", 5, hs.digest);
		send_msg(&ib_engine, IMSG_AUTH_HANDSHAKE, &hs, sizeof(hs));
	}
	clean = -1;
	if (login("a.example.org", "198.51.100.200", "first-secret-of-a",
	    &clean) != AUTH_OK)
		clean = -1;
	while (got < 30 && since(&t0) < 5) {
		if (recv_msg(&ib_engine, &res, sizeof(res)) != IMSG_AUTH_RESULT)
			continue;
		got++;
		last = since(&t0);
		if (last < 2.0)
			early++;
	}
	snprintf(why, sizeof(why), "%d answered, %d within 2 s, the last "
	    "after %.2f s", got, early, last);
	result("held-down sources share 20 answers a second", got == 30 &&
	    early <= 22 && last >= 1.4, why);
	snprintf(why, sizeof(why), "answered after %.2f s", clean);
	result("a source with no failure is answered at once meanwhile",
	    clean >= 0 && clean < 0.5, why);
}

int
main(int argc, char *argv[])
{
	static const struct secret two[] = {
		{ "a.example.org", "first-secret-of-a" },
		{ "a.example.org", "second-secret-of-a" },
		{ "b.example.org", "secret-of-b" }
	};
	static const struct secret one[] = {
		{ "a.example.org", "first-secret-of-a" },
		{ "b.example.org", "secret-of-b" }
	};
	char		 id[GW_STREAMID_LEN + 1], id2[GW_STREAMID_LEN + 1];
	char		 why[128], *dir;
	const char	*gatewayd;
	double		 secs, fast;
	struct gw_auth_forget	 forget;
	uint64_t	 conn;
	int		 i, v, status;

	gatewayd = argc > 1 ? argv[1] : getenv("GATEWAYD");
	if (gatewayd == NULL)
		gatewayd = "obj/bin/gatewayd";
	signal(SIGPIPE, SIG_IGN);
	if ((dir = mkdtemp(scratch)) == NULL)
		die("mkdtemp");
	chmod(dir, 0755);
	start_authd(gatewayd);
	configure(two, 3, 3, 100, 0);

	conn = next_conn++;
	new_stream(conn, "a.example.org", "192.0.2.1", id);
	result("issues a 32-digit lower-case hex stream id", is_hex_id(id), id);
	new_stream(next_conn++, "a.example.org", "192.0.2.1", id2);
	result("never issues the same id twice", id2[0] != '\0' &&
	    strcmp(id, id2) != 0, id2);
	result("accepts the first secret of a domain",
	    handshake(conn, id, "first-secret-of-a", NULL) == AUTH_OK, "");
	result("answers only once for a stream id",
	    handshake(conn, id, "first-secret-of-a", NULL) == AUTH_DENIED,
	    "a replayed handshake was accepted");
	result("accepts the second secret of a domain (rotation)",
	    login("a.example.org", "192.0.2.1", "second-secret-of-a", NULL) ==
	    AUTH_OK, "");
	result("refuses another domain's secret",
	    login("a.example.org", "192.0.2.2", "secret-of-b", NULL) ==
	    AUTH_DENIED, "");
	result("refuses a domain without secrets",
	    login("c.example.org", "192.0.2.2", "first-secret-of-a", NULL) ==
	    AUTH_DENIED, "");
	result("refuses a connection it issued no id to",
	    handshake(next_conn++, "0123456789abcdef0123456789abcdef",
	    "first-secret-of-a", NULL) == AUTH_DENIED, "");
	conn = next_conn++;
	new_stream(conn, "a.example.org", "192.0.2.3", id);
	result("refuses an id other than the one it issued",
	    handshake(conn, "0123456789abcdef0123456789abcdef",
	    "first-secret-of-a", NULL) == AUTH_DENIED, "");
	conn = next_conn++;
	new_stream(conn, "a.example.org", "192.0.2.3", id);
	memset(&forget, 0, sizeof(forget));
	forget.conn_id = conn;
	send_msg(&ib_engine, IMSG_AUTH_FORGET, &forget, sizeof(forget));
	result("forgets the id of a closed connection",
	    handshake(conn, id, "first-secret-of-a", NULL) == AUTH_DENIED, "");

	/* Throttle: 3 failures from .4 (two above came from .2 and .3). */
	for (i = 0; i < 3; i++)
		login("a.example.org", "192.0.2.4", "wrong", &fast);
	v = login("a.example.org", "192.0.2.4", "first-secret-of-a", &secs);
	snprintf(why, sizeof(why), "verdict %d after %.2f s", v, secs);
	result("held-down source: the right secret still works", v == AUTH_OK,
	    why);
	result("held-down source: answers are delayed", secs >= 0.9, why);
	v = login("a.example.org", "192.0.2.4", "wrong", &secs);
	snprintf(why, sizeof(why), "verdict %d after %.2f s", v, secs);
	result("held-down source: a wrong secret is still refused",
	    v == AUTH_DENIED && secs >= 0.9, why);
	v = login("a.example.org", "192.0.2.5", "first-secret-of-a", &secs);
	snprintf(why, sizeof(why), "verdict %d after %.2f s", v, secs);
	result("another source is not held down", v == AUTH_OK && secs < 0.5,
	    why);
	result("the hold-down is logged", log_contains(
	    "3 failed handshakes from 192.0.2.4"), "no log line");

	/* Reload: a removed secret stops working for new streams. */
	configure(one, 2, 3, 3, 0);
	result("after a reload the removed secret is refused",
	    login("a.example.org", "192.0.2.6", "second-secret-of-a", NULL) ==
	    AUTH_DENIED, "");
	result("after a reload the kept secret works",
	    login("a.example.org", "192.0.2.6", "first-secret-of-a", NULL) ==
	    AUTH_OK, "");

	/*
	 * With max unauthenticated 3, the engine never has more ids out;
	 * if it asks for more, authd says no (an empty id) and lives on.
	 */
	for (i = 0; i < 5; i++) {
		conn = next_conn++;
		new_stream(conn, "a.example.org", "192.0.2.7", id2);
		if (last_streamid_refused)
			break;
	}
	snprintf(why, sizeof(why), "%d ids issued before a refusal", i);
	result("over its table's size authd refuses an id",
	    last_streamid_refused && i <= 3, why);
	memset(&forget, 0, sizeof(forget));
	forget.conn_id = conn - 1;
	send_msg(&ib_engine, IMSG_AUTH_FORGET, &forget, sizeof(forget));
	new_stream(next_conn++, "a.example.org", "192.0.2.7", id2);
	result("authd lives on and issues ids again once one is forgotten",
	    strlen(id2) == GW_STREAMID_LEN, "");

	budget_test();

	result("no secret in the log", !log_contains("secret-of-") &&
	    !log_contains("first-secret") && !log_contains("second-secret"),
	    "a secret was logged");

	/* The parent closes the pipe: authd exits 0. */
	close(ib_parent.fd);
	if (waitpid(authd_pid, &status, 0) == -1)
		die("waitpid");
	snprintf(why, sizeof(why), "status %d", status);
	result("exits 0 when the parent closes its pipe",
	    WIFEXITED(status) && WEXITSTATUS(status) == 0, why);
	unlink(logpath);
	rmdir(scratch);
	return (failures ? 1 : 0);
}
