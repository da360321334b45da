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
 * gatewayctl: asks the engine of gatewayd over its control socket and
 * prints the answer.  Each request is one imsg carrying GW_CTL_VERSION as
 * its peerid; its answer is a run of messages ended by CTL_END.  Every
 * message of an answer is checked before it is used: its type against
 * those the request may get, its size exactly, its strings for their
 * NUL, the aliases against the number the component announced, the
 * state of an uplink against those there are.  An answer that fails a
 * check is the daemon's fault, and ends gatewayctl with status 1 and
 * what was wrong, never with half a table.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <imsg.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "ctl.h"
#include "output.h"
#include "parser.h"

#define CTL_TIMEOUT	60	/* seconds to wait for the next message */

/* The messages a request may be answered with, besides its CTL_END. */
#define ANS(t)		(1U << ((t) - CTL_SUMMARY))
#define ANS_COMPONENTS	(ANS(CTL_COMPONENT) | ANS(CTL_ALIAS))

struct answer_type {
	uint32_t	 type;
	size_t		 size;
	const char	*name;		/* for the messages */
};

static const struct answer_type answer_types[] = {
	{ CTL_SUMMARY,	sizeof(struct ctl_summary),	"a summary" },
	{ CTL_COMPONENT, sizeof(struct ctl_component),	"a component" },
	{ CTL_ALIAS,	sizeof(struct ctl_name),	"an alias" },
	{ CTL_LISTENER,	sizeof(struct ctl_listener),	"a listener" },
	{ CTL_LINE,	sizeof(struct ctl_line),	"a line" },
	{ CTL_END,	sizeof(struct ctl_end),		"an end" },
	{ CTL_UPSTREAM,	sizeof(struct ctl_upstream),	"an upstream" }
};

struct session {
	struct imsgbuf	 ibuf;
	int		 fd;
	int		 json;
	const char	*path;
	struct answer	*ans;
	const char	*request;	/* its name, for the messages */
	uint32_t	 allowed;	/* ANS() of the answers it may get */
	size_t		 count;		/* summaries or components */
	size_t		 aliases_due;	/* to the last component */
	int		 ended;		/* its CTL_END came */
};

static __dead void usage(void);
static void	 help(void);
static int	 fail(struct answer *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static int	 ctl_connect(struct session *);
static int	 terminated(const char *, size_t);
static int	 get_fixed(struct session *, struct imsg *,
		    const struct answer_type *, void *);
static int	 got_summary(struct session *, struct imsg *,
		    const struct answer_type *);
static int	 got_component(struct session *, struct imsg *,
		    const struct answer_type *);
static int	 got_alias(struct session *, struct imsg *,
		    const struct answer_type *);
static int	 got_listener(struct session *, struct imsg *,
		    const struct answer_type *);
static int	 got_upstream(struct session *, struct imsg *,
		    const struct answer_type *);
static int	 got_line(struct session *, struct imsg *,
		    const struct answer_type *);
static int	 got_end(struct session *, struct imsg *,
		    const struct answer_type *, uint32_t);
static int	 ctl_answer(struct session *, struct imsg *, uint32_t);
static int	 ctl_read(struct session *, uint32_t);
static int	 ctl_request(struct session *, uint32_t, const char *,
		    const void *, size_t, uint32_t);
static int	 run(struct session *, const struct parse_result *);
static void	 print_answer(const struct answer *);

static __dead void
usage(void)
{
	fprintf(stderr,
	    "usage: gatewayctl [-j] [-s socket] command [argument ...]\n");
	exit(2);
}

static void
help(void)
{
	printf("usage: gatewayctl [-j] [-s socket] command [argument ...]\n"
	    "commands:\n");
	parse_commands(stdout, "\t");
}

/* Marks the answer failed, with why; -1 for the caller to return. */
static int
fail(struct answer *a, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(a->message, sizeof(a->message), fmt, ap);
	va_end(ap);
	a->status = 1;
	return (-1);
}

static int
ctl_connect(struct session *s)
{
	struct sockaddr_un	 sun;
	const char		*hint = "";
	int			 saved;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, s->path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		return (fail(s->ans, "%s: socket path too long", s->path));
	if ((s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (fail(s->ans, "socket: %s", strerror(errno)));
	if (connect(s->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		saved = errno;
		if (saved == ENOENT || saved == ECONNREFUSED)
			hint = " (is gatewayd running?)";
		else if (saved == EACCES || saved == EPERM)
			hint = " (run gatewayctl as root or as a member of the"
			    " socket's group)";
		close(s->fd);
		s->fd = -1;
		return (fail(s->ans, "cannot connect to %s: %s%s", s->path,
		    strerror(saved), hint));
	}
	if (pledge("stdio", NULL) == -1)
		err(1, "pledge");
	if (imsgbuf_init(&s->ibuf, s->fd) == -1)
		err(1, "imsgbuf_init");
	return (0);
}

static int
terminated(const char *str, size_t size)
{
	return (memchr(str, '\0', size) != NULL);
}

/* The payload, of exactly the size its type has. */
static int
get_fixed(struct session *s, struct imsg *imsg, const struct answer_type *at,
    void *dst)
{
	size_t	 len;

	if ((len = imsg_get_len(imsg)) != at->size)
		return (fail(s->ans, "malformed answer to %s: %s message of "
		    "%zu bytes, not %zu", s->request, at->name, len,
		    at->size));
	if (imsg_get_data(imsg, dst, at->size) == -1)
		return (fail(s->ans, "malformed answer to %s: %s message: %s",
		    s->request, at->name, strerror(errno)));
	return (0);
}

static int
got_summary(struct session *s, struct imsg *imsg,
    const struct answer_type *at)
{
	if (s->count++ > 0)
		return (fail(s->ans, "malformed answer to %s: a second "
		    "summary", s->request));
	if (get_fixed(s, imsg, at, &s->ans->summary) == -1)
		return (-1);
	s->ans->have_summary = 1;
	return (0);
}

static int
got_component(struct session *s, struct imsg *imsg,
    const struct answer_type *at)
{
	struct answer		*a = s->ans;
	struct comp_info	*ci;
	struct ctl_component	 c;

	if (get_fixed(s, imsg, at, &c) == -1)
		return (-1);
	if (!terminated(c.name, sizeof(c.name)) ||
	    !terminated(c.peer, sizeof(c.peer)))
		return (fail(a, "malformed answer to %s: a component with an "
		    "unterminated string", s->request));
	if (s->aliases_due > 0)
		return (fail(a, "malformed answer to %s: %zu aliases missing "
		    "before the next component", s->request, s->aliases_due));
	if (a->action == SHOW_COMPONENT && s->count > 0)
		return (fail(a, "malformed answer to %s: a second component",
		    s->request));
	if ((ci = reallocarray(a->comps, a->ncomps + 1, sizeof(*ci))) == NULL)
		err(1, NULL);
	a->comps = ci;
	ci = &a->comps[a->ncomps++];
	memset(ci, 0, sizeof(*ci));
	ci->c = c;
	s->aliases_due = c.naliases;
	s->count++;
	return (0);
}

static int
got_alias(struct session *s, struct imsg *imsg, const struct answer_type *at)
{
	struct answer		*a = s->ans;
	struct comp_info	*ci;
	struct ctl_name		 n;
	char			**list;

	if (get_fixed(s, imsg, at, &n) == -1)
		return (-1);
	if (!terminated(n.name, sizeof(n.name)))
		return (fail(a, "malformed answer to %s: an unterminated "
		    "alias", s->request));
	if (s->count == 0 || s->aliases_due == 0)
		return (fail(a, "malformed answer to %s: an alias no "
		    "component announced", s->request));
	ci = &a->comps[a->ncomps - 1];
	if ((list = reallocarray(ci->aliases, ci->naliases + 1,
	    sizeof(*list))) == NULL)
		err(1, NULL);
	ci->aliases = list;
	if ((ci->aliases[ci->naliases] = strdup(n.name)) == NULL)
		err(1, NULL);
	ci->naliases++;
	s->aliases_due--;
	return (0);
}

static int
got_listener(struct session *s, struct imsg *imsg,
    const struct answer_type *at)
{
	struct answer		*a = s->ans;
	struct ctl_listener	*l, nl;

	if (get_fixed(s, imsg, at, &nl) == -1)
		return (-1);
	if (!terminated(nl.addr, sizeof(nl.addr)))
		return (fail(a, "malformed answer to %s: a listener with an "
		    "unterminated address", s->request));
	if ((l = reallocarray(a->listeners, a->nlisteners + 1,
	    sizeof(*l))) == NULL)
		err(1, NULL);
	a->listeners = l;
	a->listeners[a->nlisteners++] = nl;
	return (0);
}

static int
got_upstream(struct session *s, struct imsg *imsg,
    const struct answer_type *at)
{
	struct answer		*a = s->ans;
	struct ctl_upstream	*u, nu;

	if (get_fixed(s, imsg, at, &nu) == -1)
		return (-1);
	if (!terminated(nu.domain, sizeof(nu.domain)) ||
	    !terminated(nu.upstream, sizeof(nu.upstream)) ||
	    !terminated(nu.last_error, sizeof(nu.last_error)))
		return (fail(a, "malformed answer to %s: an upstream with an "
		    "unterminated string", s->request));
	if (upstream_state(nu.state) == NULL)
		return (fail(a, "malformed answer to %s: an upstream in the "
		    "unknown state %u", s->request, nu.state));
	if ((u = reallocarray(a->upstreams, a->nupstreams + 1,
	    sizeof(*u))) == NULL)
		err(1, NULL);
	a->upstreams = u;
	a->upstreams[a->nupstreams++] = nu;
	return (0);
}

/* Printed as it comes, unless it is for the JSON document at the end. */
static int
got_line(struct session *s, struct imsg *imsg, const struct answer_type *at)
{
	struct answer	*a = s->ans;
	struct ctl_line	 l;
	char		**lines;

	if (get_fixed(s, imsg, at, &l) == -1)
		return (-1);
	if (!terminated(l.line, sizeof(l.line)))
		return (fail(a, "malformed answer to %s: an unterminated line",
		    s->request));
	if (!s->json) {
		out_string(stdout, l.line);
		putchar('\n');
		fflush(stdout);
		return (0);
	}
	if ((lines = reallocarray(a->lines, a->nlines + 1,
	    sizeof(*lines))) == NULL)
		err(1, NULL);
	a->lines = lines;
	if ((a->lines[a->nlines] = strdup(l.line)) == NULL)
		err(1, NULL);
	a->nlines++;
	return (0);
}

static int
got_end(struct session *s, struct imsg *imsg, const struct answer_type *at,
    uint32_t type)
{
	struct answer	*a = s->ans;
	struct ctl_end	 end;

	if (get_fixed(s, imsg, at, &end) == -1)
		return (-1);
	if (!terminated(end.message, sizeof(end.message)))
		return (fail(a, "malformed answer to %s: an unterminated "
		    "message", s->request));
	s->ended = 1;
	strlcpy(a->message, end.message, sizeof(a->message));
	if (end.status != 0) {
		a->status = end.status;
		if (a->message[0] == '\0')
			snprintf(a->message, sizeof(a->message),
			    "%s failed, with no reason given", s->request);
		return (-1);
	}
	if (s->aliases_due > 0)
		return (fail(a, "malformed answer to %s: %zu aliases missing "
		    "at the end", s->request, s->aliases_due));
	/* Success with nothing to show is no answer to these. */
	if ((type == CTL_SHOW_SUMMARY || type == CTL_SHOW_COMPONENT) &&
	    s->count == 0)
		return (fail(a, "malformed answer to %s: it ended without the "
		    "%s", s->request, type == CTL_SHOW_SUMMARY ? "summary" :
		    "component"));
	return (0);
}

static int
ctl_answer(struct session *s, struct imsg *imsg, uint32_t request)
{
	const struct answer_type	*at = NULL;
	uint32_t			 type;
	size_t				 i;

	type = imsg_get_type(imsg);
	for (i = 0; i < nitems(answer_types); i++)
		if (answer_types[i].type == type)
			at = &answer_types[i];
	if (at == NULL)
		return (fail(s->ans, "malformed answer to %s: a message of "
		    "unknown type %u", s->request, type));
	if (type != CTL_END && (s->allowed & ANS(type)) == 0)
		return (fail(s->ans, "malformed answer to %s: %s message",
		    s->request, at->name));
	switch (type) {
	case CTL_SUMMARY:
		return (got_summary(s, imsg, at));
	case CTL_COMPONENT:
		return (got_component(s, imsg, at));
	case CTL_ALIAS:
		return (got_alias(s, imsg, at));
	case CTL_LISTENER:
		return (got_listener(s, imsg, at));
	case CTL_UPSTREAM:
		return (got_upstream(s, imsg, at));
	case CTL_LINE:
		return (got_line(s, imsg, at));
	default:
		return (got_end(s, imsg, at, request));
	}
}

/* Until the CTL_END of the request, which is the last message there is. */
static int
ctl_read(struct session *s, uint32_t request)
{
	struct imsg	 imsg;
	struct pollfd	 pfd;
	ssize_t		 n;
	int		 rv;

	for (;;) {
		while ((n = imsg_get(&s->ibuf, &imsg)) > 0) {
			if (s->ended) {
				imsg_free(&imsg);
				return (fail(s->ans, "malformed answer to %s: "
				    "a message after its end", s->request));
			}
			rv = ctl_answer(s, &imsg, request);
			imsg_free(&imsg);
			if (rv == -1)
				return (-1);
		}
		if (n == -1)
			return (fail(s->ans, "malformed answer to %s: %s",
			    s->request, strerror(errno)));
		if (s->ended)
			return (0);
		pfd.fd = s->fd;
		pfd.events = POLLIN;
		switch (poll(&pfd, 1, CTL_TIMEOUT * 1000)) {
		case -1:
			if (errno == EINTR)
				continue;
			return (fail(s->ans, "poll: %s", strerror(errno)));
		case 0:
			return (fail(s->ans, "%s: no answer to %s for %d "
			    "seconds", s->path, s->request, CTL_TIMEOUT));
		}
		switch (imsgbuf_read(&s->ibuf)) {
		case -1:
			if (errno == ERANGE)
				return (fail(s->ans, "malformed answer to %s: "
				    "a message of an impossible size",
				    s->request));
			if (errno != ECONNRESET)
				return (fail(s->ans, "%s: read: %s", s->path,
				    strerror(errno)));
			/* FALLTHROUGH */
		case 0:
			return (fail(s->ans, "%s: gatewayd closed the "
			    "connection before the end of its answer to %s",
			    s->path, s->request));
		}
	}
}

static int
ctl_request(struct session *s, uint32_t type, const char *name,
    const void *data, size_t len, uint32_t allowed)
{
	s->request = name;
	s->allowed = allowed;
	s->count = 0;
	s->aliases_due = 0;
	s->ended = 0;
	if (imsg_compose(&s->ibuf, type, GW_CTL_VERSION, 0, -1, data,
	    len) == -1)
		return (fail(s->ans, "imsg_compose: %s", strerror(errno)));
	if (imsgbuf_flush(&s->ibuf) == -1)
		return (fail(s->ans, "%s: cannot send %s: %s", s->path, name,
		    errno == EPIPE || errno == ECONNRESET ?
		    "gatewayd closed the connection" :
		    strerror(errno)));
	return (ctl_read(s, type));
}

static int
run(struct session *s, const struct parse_result *res)
{
	struct ctl_name		 name;
	struct ctl_verbose	 verbose;
	const char		*cmd = action_name(res->action);

	if (ctl_connect(s) == -1)
		return (-1);
	/* Padded with NULs, as the daemon checks. */
	memset(&name, 0, sizeof(name));
	strlcpy(name.name, res->domain, sizeof(name.name));
	memset(&verbose, 0, sizeof(verbose));
	switch (res->action) {
	case SHOW_SUMMARY:
		return (ctl_request(s, CTL_SHOW_SUMMARY, cmd, NULL, 0,
		    ANS(CTL_SUMMARY)));
	case SHOW_COMPONENTS:
		return (ctl_request(s, CTL_SHOW_COMPONENTS, cmd, NULL, 0,
		    ANS_COMPONENTS));
	case SHOW_COMPONENT:
		return (ctl_request(s, CTL_SHOW_COMPONENT, cmd, &name,
		    sizeof(name), ANS_COMPONENTS));
	case SHOW_LISTENERS:
		return (ctl_request(s, CTL_SHOW_LISTENERS, cmd, NULL, 0,
		    ANS(CTL_LISTENER)));
	case SHOW_UPSTREAMS:
		return (ctl_request(s, CTL_SHOW_UPSTREAMS, cmd, NULL, 0,
		    ANS(CTL_UPSTREAM)));
	case SHOW_METRICS:
		/* Four answers on one connection, one after the other. */
		if (ctl_request(s, CTL_SHOW_SUMMARY, "show summary", NULL, 0,
		    ANS(CTL_SUMMARY)) == -1 ||
		    ctl_request(s, CTL_SHOW_COMPONENTS, "show components",
		    NULL, 0, ANS_COMPONENTS) == -1 ||
		    ctl_request(s, CTL_SHOW_LISTENERS, "show listeners", NULL,
		    0, ANS(CTL_LISTENER)) == -1 ||
		    ctl_request(s, CTL_SHOW_UPSTREAMS, "show upstreams", NULL,
		    0, ANS(CTL_UPSTREAM)) == -1)
			return (-1);
		return (0);
	case RELOAD:
		return (ctl_request(s, CTL_RELOAD, cmd, NULL, 0,
		    ANS(CTL_LINE)));
	case KICK:
		return (ctl_request(s, CTL_KICK, cmd, &name, sizeof(name), 0));
	case LOG_VERBOSE:
	case LOG_BRIEF:
		verbose.verbose = res->action == LOG_VERBOSE;
		return (ctl_request(s, CTL_LOG_VERBOSE, cmd, &verbose,
		    sizeof(verbose), 0));
	default:
		return (fail(s->ans, "%s: not a request", cmd));
	}
}

static void
print_answer(const struct answer *a)
{
	switch (a->action) {
	case SHOW_SUMMARY:
		out_summary(stdout, &a->summary);
		break;
	case SHOW_COMPONENTS:
		out_components(stdout, a->comps, a->ncomps);
		break;
	case SHOW_COMPONENT:
		out_component(stdout, &a->comps[0]);
		break;
	case SHOW_LISTENERS:
		out_listeners(stdout, a->listeners, a->nlisteners);
		break;
	case SHOW_UPSTREAMS:
		out_upstreams(stdout, a->upstreams, a->nupstreams);
		break;
	case SHOW_METRICS:
		out_metrics(stdout, a);
		/* Nothing else: the file must stay in the format. */
		return;
	default:
		break;
	}
	if (a->message[0] != '\0') {
		out_string(stdout, a->message);
		putchar('\n');
	}
}

int
main(int argc, char *argv[])
{
	struct parse_result	 res;
	struct answer		 ans;
	struct session		 s;
	char			 why[PARSE_ERRMAX];
	int			 ch, rv;

	memset(&s, 0, sizeof(s));
	s.fd = -1;
	s.path = GATEWAYD_SOCKET;
	while ((ch = getopt(argc, argv, "js:")) != -1) {
		switch (ch) {
		case 'j':
			s.json = 1;
			break;
		case 's':
			s.path = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (parse(argc, argv, &res, why, sizeof(why)) == -1) {
		fprintf(stderr, "gatewayctl: ");
		out_string(stderr, why);
		fputc('\n', stderr);
		usage();
	}
	if (res.action == HELP) {
		help();
		return (0);
	}

	/* The time zone, for the times shown, before files are out of reach. */
	tzset();
	if (pledge("stdio unix", NULL) == -1)
		err(1, "pledge");
	/* A daemon gone mid-request is an error to report, not a signal. */
	signal(SIGPIPE, SIG_IGN);

	memset(&ans, 0, sizeof(ans));
	ans.action = res.action;
	strlcpy(ans.domain, res.domain, sizeof(ans.domain));
	s.ans = &ans;
	rv = run(&s, &res);

	if (s.json)
		out_json(stdout, &ans);
	else if (rv == -1) {
		fflush(stdout);
		fprintf(stderr, "gatewayctl: ");
		out_string(stderr, ans.message);
		fputc('\n', stderr);
	} else
		print_answer(&ans);
	if (fflush(stdout) == EOF || ferror(stdout))
		err(1, "stdout");
	return (rv == -1 ? 1 : 0);
}
