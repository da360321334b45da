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
 * Unit tests for gatewayctl without a daemon.  With no argument: the
 * output functions (gatewayctl/output.c) fed fixed structs, their text
 * compared with what it must be, and the command table
 * (gatewayctl/parser.c); one line a case, "ok - ctl unit: NAME" or
 * "not ok - ctl unit: NAME: why".  With -J DIR: the JSON documents and
 * the metrics of the same structs written to files in DIR, for
 * regress/ctl/json.sh and metrics.sh to check with other tools.  With
 * -S PATH SCENARIO: a fake engine on a control socket at PATH, which
 * answers the requests of one connection as the scenario says and
 * prints each request, for regress/ctl/client.sh.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <imsg.h>
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

/* Every kind of byte an escaper can get wrong, and valid UTF-8 besides. */
#define TRICKY		"q\"b\\s\x01\n\t\x7f\xc3\xa9\xff\xf0\x9d\x84\x9e" \
			"\xe0\x80\x80.example"
#define TRICKY_TEXT	"q\"b\\\\s\\x01\\x0a\\x09\\x7f\xc3\xa9\\xff" \
			"\xf0\x9d\x84\x9e\\xe0\\x80\\x80.example"
#define TRICKY_JSON	"q\\\"b\\\\s\\u0001\\n\\t\\u007f\\u00e9\\ufffd" \
			"\\ud834\\udd1e\\ufffd\\ufffd\\ufffd.example"
#define TRICKY_PROM	"q\\\"b\\\\s\x01\\n\t\x7f\xc3\xa9\xef\xbf\xbd" \
			"\xf0\x9d\x84\x9e\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" \
			".example"

static struct ctl_summary	 summary;
static struct comp_info		 comps[3];
static struct ctl_listener	 listeners[2];
static struct ctl_upstream	 upstreams[3];
static char			 alias_chat[] = "chat.example.org";
static char			 alias_muc[] = "muc.example.org";
static char			 alias_tricky[] = "alias." TRICKY;
static char			*irc_aliases[] = { alias_chat, alias_muc };
static char			*tricky_aliases[] = { alias_tricky };
static char			 line1[] = "/etc/gatewayd/gatewayd.conf:3: "
				    "syntax error";
static char			 line2[] = "/etc/gatewayd/gatewayd.conf:7: "
				    "unknown \"" TRICKY "\"";
static char			*lines[] = { line1, line2 };

static char			 why[1024];
static int			 nfailed;

static void	 fixtures(void);
static void	 run(const char *, int (*)(void));
static int	 fail(const char *, ...)
		    __attribute__((__format__ (printf, 1, 2)));
static char	*capture_summary(void);
static int	 expect(const char *, const char *);
static int	 t_summary(void);
static int	 t_components(void);
static int	 t_component(void);
static int	 t_listeners(void);
static int	 t_upstreams(void);
static int	 t_text_escape(void);
static int	 t_time(void);
static int	 t_duration(void);
static int	 t_json_escape(void);
static int	 t_json_shapes(void);
static int	 t_metrics_names(void);
static int	 t_metrics_labels(void);
static int	 t_parser(void);
static int	 write_file(const char *, const char *, const struct answer *,
		    int);
static int	 dump(const char *);
static void	 answer_init(struct answer *, enum action);
static int	 serve(const char *, const char *);

static void
fixtures(void)
{
	struct ctl_component	*c;

	memset(&summary, 0, sizeof(summary));
	summary.started = 1700000000;
	summary.uptime = 93784;
	summary.connections = 5;
	summary.unauthenticated = 1;
	summary.authenticated = 4;
	summary.components = 3;
	summary.listeners = 2;
	summary.throttled_sources = 1;
	summary.accepted = 120;
	summary.refused = 2;
	summary.shed = 3;
	summary.stanzas_in = 1000;
	summary.stanzas_out = 990;
	summary.bytes_in = 123456;
	summary.bytes_out = 654321;
	summary.bytes_unacked = 17;
	summary.stanzas_in_rate = 12;
	summary.stanzas_out_rate = 11;
	summary.bounces = 10;
	summary.bounce_malformed = 1;
	summary.bounce_not_found = 2;
	summary.bounce_timeout = 3;
	summary.takeovers = 2;
	summary.auth_failures = 7;
	summary.stalls = 1;
	summary.parsers = 2;
	summary.parser_bytes = 24576;

	memset(comps, 0, sizeof(comps));
	c = &comps[0].c;
	strlcpy(c->name, "irc.example.org", sizeof(c->name));
	strlcpy(c->peer, "127.0.0.1", sizeof(c->peer));
	c->since = 1700000000;
	c->naliases = 2;
	c->connected = 1;
	c->stanzas_in = 500;
	c->stanzas_out = 480;
	c->bytes_in = 60000;
	c->bytes_out = 59000;
	c->queued = 0;
	c->takeovers = 1;
	c->bounces = 4;
	c->streams = 3;
	comps[0].aliases = irc_aliases;
	comps[0].naliases = 2;

	c = &comps[1].c;
	strlcpy(c->name, "xmpp.example.net", sizeof(c->name));
	c->stalls = 1;
	c->streams = 1;
	c->queued = 12345678;

	c = &comps[2].c;
	strlcpy(c->name, TRICKY, sizeof(c->name));
	strlcpy(c->peer, "fe80::1%eth0", sizeof(c->peer));
	c->since = 1700003600;
	c->naliases = 1;
	c->connected = 1;
	c->stanzas_in = 1;
	comps[2].aliases = tricky_aliases;
	comps[2].naliases = 1;

	memset(listeners, 0, sizeof(listeners));
	strlcpy(listeners[0].addr, "127.0.0.1", sizeof(listeners[0].addr));
	listeners[0].port = 5347;
	listeners[0].accepted = 100;
	strlcpy(listeners[1].addr, "::1", sizeof(listeners[1].addr));
	listeners[1].port = 5348;
	listeners[1].accepted = 20;
	listeners[1].paused = 1;

	memset(upstreams, 0, sizeof(upstreams));
	strlcpy(upstreams[0].domain, "irc.example.org",
	    sizeof(upstreams[0].domain));
	strlcpy(upstreams[0].upstream, "xmpp", sizeof(upstreams[0].upstream));
	upstreams[0].state = CTL_UPLINK_UP;
	upstreams[0].since = 1700000000;
	upstreams[0].reconnects = 2;

	strlcpy(upstreams[1].domain, "xmpp.example.net",
	    sizeof(upstreams[1].domain));
	strlcpy(upstreams[1].upstream, "prosody-2",
	    sizeof(upstreams[1].upstream));
	strlcpy(upstreams[1].last_error, "connect to 127.0.0.1 port 5347: "
	    "Connection refused", sizeof(upstreams[1].last_error));
	upstreams[1].state = CTL_UPLINK_WAITING;
	upstreams[1].since = 1700003600;
	upstreams[1].reconnects = 5;
	upstreams[1].down_stanzas = 3;
	upstreams[1].down_bytes = 612;
	upstreams[1].up_stanzas = 7;
	upstreams[1].up_bytes = 1400;

	strlcpy(upstreams[2].domain, TRICKY, sizeof(upstreams[2].domain));
	strlcpy(upstreams[2].upstream, "up." TRICKY,
	    sizeof(upstreams[2].upstream));
	strlcpy(upstreams[2].last_error, "said " TRICKY,
	    sizeof(upstreams[2].last_error));
	upstreams[2].state = CTL_UPLINK_HANDSHAKE;
}

static int
fail(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return (-1);
}

static void
run(const char *name, int (*fn)(void))
{
	fixtures();
	why[0] = '\0';
	if (fn() == 0)
		printf("ok - ctl unit: %s\n", name);
	else {
		printf("not ok - ctl unit: %s: %s\n", name, why);
		nfailed++;
	}
	fflush(stdout);
}

/* The text an output function wrote, from a memory stream. */
#define CAPTURE(buf, len, call) do {					\
	FILE	*fp_;							\
									\
	if ((fp_ = open_memstream(&(buf), &(len))) == NULL) {		\
		perror("open_memstream");				\
		exit(1);						\
	}								\
	call;								\
	fclose(fp_);							\
} while (0)
#define OUT	fp_

static char *
capture_summary(void)
{
	char	*buf;
	size_t	 len;

	CAPTURE(buf, len, out_summary(OUT, &summary));
	return (buf);
}

/* got must be want; if not, the first line that differs is the reason. */
static int
expect(const char *got, const char *want)
{
	size_t	 i, line = 1, start = 0;

	if (strcmp(got, want) == 0)
		return (0);
	for (i = 0; got[i] == want[i]; i++)
		if (got[i] == '\n') {
			line++;
			start = i + 1;
		}
	return (fail("line %zu differs: got \"%.*s\", want \"%.*s\"", line,
	    (int)strcspn(got + start, "\n"), got + start,
	    (int)strcspn(want + start, "\n"), want + start));
}

static int
t_summary(void)
{
	char	*got;
	int	 rv;

	got = capture_summary();
	rv = expect(got,
	    "started:                         2023-11-14T22:13:20+00:00\n"
	    "uptime:                          1d 2h 3m 4s (93784 seconds)\n"
	    "connections:                     5\n"
	    "unauthenticated:                 1\n"
	    "authenticated:                   4\n"
	    "components:                      3\n"
	    "listeners:                       2\n"
	    "throttled sources:               1\n"
	    "accepted:                        120\n"
	    "refused:                         2\n"
	    "shed:                            3\n"
	    "stanzas in:                      1000\n"
	    "stanzas out:                     990\n"
	    "stanzas in per second:           12\n"
	    "stanzas out per second:          11\n"
	    "bytes in:                        123456\n"
	    "bytes out:                       654321\n"
	    "bytes unacknowledged:            17\n"
	    "bounces:                         10\n"
	    "bounces jid-malformed:           1\n"
	    "bounces remote-server-not-found: 2\n"
	    "bounces remote-server-timeout:   3\n"
	    "takeovers:                       2\n"
	    "auth failures:                   7\n"
	    "stalls:                          1\n"
	    "parsers:                         2 (24 KiB)\n");
	free(got);
	return (rv);
}

static int
t_components(void)
{
	char	*got;
	size_t	 len;
	int	 rv;

	CAPTURE(got, len, out_components(OUT, comps, 2));
	rv = expect(got,
	    "Domain            State      Peer       "
	    "Since                      "
	    "StanzasIn  StanzasOut  BytesIn  BytesOut     Queue  Stalls  "
	    "Takeovers  Aliases\n"
	    "irc.example.org   connected  127.0.0.1  "
	    "2023-11-14T22:13:20+00:00  "
	    "      500         480    60000     59000         0       0  "
	    "        1  chat.example.org,muc.example.org\n"
	    "xmpp.example.net  -          -          "
	    "-                          "
	    "        0           0        0         0  12345678       1  "
	    "        0  -\n");
	free(got);
	if (rv == -1)
		return (-1);
	/* No component at all: the titles alone. */
	CAPTURE(got, len, out_components(OUT, comps, 0));
	rv = expect(got, "Domain  State  Peer  Since  StanzasIn  StanzasOut  "
	    "BytesIn  BytesOut  Queue  Stalls  Takeovers  Aliases\n");
	free(got);
	return (rv);
}

static int
t_component(void)
{
	char	*got;
	size_t	 len;
	int	 rv;

	CAPTURE(got, len, out_component(OUT, &comps[0]));
	rv = expect(got,
	    "domain:      irc.example.org\n"
	    "aliases:     chat.example.org,muc.example.org\n"
	    "state:       connected\n"
	    "peer:        127.0.0.1\n"
	    "since:       2023-11-14T22:13:20+00:00\n"
	    "stanzas in:  500\n"
	    "stanzas out: 480\n"
	    "bytes in:    60000\n"
	    "bytes out:   59000\n"
	    "queue bytes: 0\n"
	    "stalls:      0\n"
	    "takeovers:   1\n"
	    "bounces:     4\n"
	    "streams:     3\n");
	free(got);
	if (rv == -1)
		return (-1);
	CAPTURE(got, len, out_component(OUT, &comps[1]));
	if (strstr(got, "aliases:     -\n") == NULL ||
	    strstr(got, "state:       -\n") == NULL ||
	    strstr(got, "peer:        -\n") == NULL ||
	    strstr(got, "since:       -\n") == NULL)
		rv = fail("a component without a stream: %s", got);
	free(got);
	return (rv);
}

static int
t_listeners(void)
{
	char	*got;
	size_t	 len;
	int	 rv;

	CAPTURE(got, len, out_listeners(OUT, listeners, 2));
	rv = expect(got,
	    "Address    Port  Accepted  Paused\n"
	    "127.0.0.1  5347       100  no\n"
	    "::1        5348        20  yes\n");
	free(got);
	return (rv);
}

static int
t_upstreams(void)
{
	char	*got;
	size_t	 len;
	int	 rv;

	CAPTURE(got, len, out_upstreams(OUT, upstreams, 2));
	rv = expect(got,
	    "Domain            Upstream   State    "
	    "Since                      "
	    "Reconnects  HeldDown  HeldDownBytes  HeldUp  HeldUpBytes  "
	    "LastError\n"
	    "irc.example.org   xmpp       up       "
	    "2023-11-14T22:13:20+00:00  "
	    "         2         0              0       0            0  "
	    "-\n"
	    "xmpp.example.net  prosody-2  waiting  "
	    "2023-11-14T23:13:20+00:00  "
	    "         5         3            612       7         1400  "
	    "connect to 127.0.0.1 port 5347: Connection refused\n");
	free(got);
	if (rv == -1)
		return (-1);
	/* No upstream at all: the titles alone. */
	CAPTURE(got, len, out_upstreams(OUT, upstreams, 0));
	rv = expect(got, "Domain  Upstream  State  Since  Reconnects  "
	    "HeldDown  HeldDownBytes  HeldUp  HeldUpBytes  LastError\n");
	free(got);
	if (rv == -1)
		return (-1);
	/* Each state by its name, no time as "-". */
	CAPTURE(got, len, out_upstreams(OUT, &upstreams[2], 1));
	if (strstr(got, "  handshake  -  ") == NULL)
		rv = fail("the handshake state, or no time: %s", got);
	free(got);
	return (rv);
}

/* What the daemon names is never written raw to a terminal. */
static int
t_text_escape(void)
{
	char	*got, *p;
	size_t	 len;
	int	 rv = 0;

	CAPTURE(got, len, out_string(OUT, TRICKY));
	if (expect(got, TRICKY_TEXT) == -1) {
		free(got);
		return (-1);
	}
	free(got);
	CAPTURE(got, len, out_components(OUT, &comps[2], 1));
	for (p = got; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 && *p != '\n')
			rv = fail("a control byte 0x%02x in the table",
			    (unsigned char)*p);
	if (rv == 0 && strstr(got, TRICKY_TEXT "  connected") == NULL)
		rv = fail("the name is not escaped in the table: %s", got);
	if (rv == 0 && strstr(got, "alias." TRICKY_TEXT "\n") == NULL)
		rv = fail("the alias is not escaped in the table: %s", got);
	free(got);
	if (rv == -1)
		return (-1);
	CAPTURE(got, len, out_upstreams(OUT, &upstreams[2], 1));
	for (p = got; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 && *p != '\n')
			rv = fail("a control byte 0x%02x in the upstreams",
			    (unsigned char)*p);
	if (rv == 0 && (strstr(got, "\n" TRICKY_TEXT "  up." TRICKY_TEXT
	    "  handshake") == NULL ||
	    strstr(got, "  said " TRICKY_TEXT "\n") == NULL))
		rv = fail("an upstream is not escaped in the table: %s", got);
	free(got);
	return (rv);
}

static int
t_time(void)
{
	char	 buf[64];

	fmt_time(buf, sizeof(buf), 1700000000);
	if (strcmp(buf, "2023-11-14T22:13:20+00:00") != 0)
		return (fail("UTC: %s", buf));
	fmt_time(buf, sizeof(buf), 0);
	if (strcmp(buf, "-") != 0)
		return (fail("no time: %s", buf));
	/* POSIX time zones count westwards: this one is 2h30 east. */
	setenv("TZ", "XST-2:30", 1);
	tzset();
	fmt_time(buf, sizeof(buf), 1700000000);
	setenv("TZ", "UTC", 1);
	tzset();
	if (strcmp(buf, "2023-11-15T00:43:20+02:30") != 0)
		return (fail("UTC+2:30: %s", buf));
	return (0);
}

static int
t_duration(void)
{
	static const struct {
		int64_t		 secs;
		const char	*want;
	} cases[] = {
		{ 0, "0s" }, { 59, "59s" }, { 60, "1m 0s" },
		{ 3600, "1h 0m 0s" }, { 86399, "23h 59m 59s" },
		{ 86400, "1d 0h 0m 0s" }, { 93784, "1d 2h 3m 4s" },
		{ -5, "0s" }
	};
	char	 buf[64];
	size_t	 i;

	for (i = 0; i < nitems(cases); i++) {
		fmt_duration(buf, sizeof(buf), cases[i].secs);
		if (strcmp(buf, cases[i].want) != 0)
			return (fail("%lld seconds: \"%s\", not \"%s\"",
			    (long long)cases[i].secs, buf, cases[i].want));
	}
	return (0);
}

static void
answer_init(struct answer *a, enum action action)
{
	memset(a, 0, sizeof(*a));
	a->action = action;
	a->summary = summary;
	a->have_summary = 1;
	a->comps = comps;
	a->ncomps = nitems(comps);
	a->listeners = listeners;
	a->nlisteners = nitems(listeners);
	a->upstreams = upstreams;
	a->nupstreams = nitems(upstreams);
	a->lines = lines;
	a->nlines = nitems(lines);
}

static int
t_json_escape(void)
{
	struct answer	 a;
	char		*got, *p;
	size_t		 len;
	int		 rv = 0;

	answer_init(&a, SHOW_COMPONENT);
	a.comps = &comps[2];
	a.ncomps = 1;
	strlcpy(a.domain, TRICKY, sizeof(a.domain));
	strlcpy(a.message, "said \"" TRICKY "\"", sizeof(a.message));
	CAPTURE(got, len, out_json(OUT, &a));
	for (p = got; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x7f ||
		    ((unsigned char)*p < 0x20 && *p != '\n'))
			rv = fail("byte 0x%02x in the document",
			    (unsigned char)*p);
	if (rv == 0 &&
	    strstr(got, "\"domain\": \"" TRICKY_JSON "\",\n") == NULL)
		rv = fail("the domain is not escaped as it must be: %s", got);
	if (rv == 0 && strstr(got, "\"alias." TRICKY_JSON "\"\n") == NULL)
		rv = fail("the alias is not escaped as it must be: %s", got);
	if (rv == 0 && strstr(got, "\"message\": \"said \\\"" TRICKY_JSON
	    "\\\"\",\n") == NULL)
		rv = fail("the message is not escaped as it must be: %s", got);
	free(got);
	return (rv);
}

/* The members of each document, and null or [] where nothing came. */
static int
t_json_shapes(void)
{
	static const struct {
		enum action	 action;
		int		 failed;
		const char	*want;
	} cases[] = {
		{ KICK, 0,
		    "{\n"
		    "  \"command\": \"kick\",\n"
		    "  \"domain\": \"irc.example.org\",\n"
		    "  \"status\": 0,\n"
		    "  \"message\": \"done\"\n"
		    "}\n" },
		{ LOG_BRIEF, 0,
		    "{\n"
		    "  \"command\": \"log brief\",\n"
		    "  \"status\": 0,\n"
		    "  \"message\": \"done\"\n"
		    "}\n" },
		{ SHOW_COMPONENT, 1,
		    "{\n"
		    "  \"command\": \"show component\",\n"
		    "  \"domain\": \"irc.example.org\",\n"
		    "  \"status\": 1,\n"
		    "  \"message\": \"done\",\n"
		    "  \"component\": null\n"
		    "}\n" },
		{ SHOW_COMPONENTS, 1,
		    "{\n"
		    "  \"command\": \"show components\",\n"
		    "  \"status\": 1,\n"
		    "  \"message\": \"done\",\n"
		    "  \"components\": []\n"
		    "}\n" },
		{ SHOW_SUMMARY, 1,
		    "{\n"
		    "  \"command\": \"show summary\",\n"
		    "  \"status\": 1,\n"
		    "  \"message\": \"done\",\n"
		    "  \"summary\": null\n"
		    "}\n" },
		{ SHOW_METRICS, 1,
		    "{\n"
		    "  \"command\": \"show metrics\",\n"
		    "  \"status\": 1,\n"
		    "  \"message\": \"done\",\n"
		    "  \"summary\": null,\n"
		    "  \"components\": [],\n"
		    "  \"listeners\": [],\n"
		    "  \"upstreams\": []\n"
		    "}\n" },
		{ SHOW_UPSTREAMS, 1,
		    "{\n"
		    "  \"command\": \"show upstreams\",\n"
		    "  \"status\": 1,\n"
		    "  \"message\": \"done\",\n"
		    "  \"upstreams\": []\n"
		    "}\n" },
		{ SHOW_UPSTREAMS, 0,
		    "{\n"
		    "  \"command\": \"show upstreams\",\n"
		    "  \"status\": 0,\n"
		    "  \"message\": \"done\",\n"
		    "  \"upstreams\": [\n"
		    "    {\n"
		    "      \"domain\": \"irc.example.org\",\n"
		    "      \"upstream\": \"xmpp\",\n"
		    "      \"state\": \"up\",\n"
		    "      \"since\": 1700000000,\n"
		    "      \"reconnects\": 2,\n"
		    "      \"last_error\": null,\n"
		    "      \"held_down_stanzas\": 0,\n"
		    "      \"held_down_bytes\": 0,\n"
		    "      \"held_up_stanzas\": 0,\n"
		    "      \"held_up_bytes\": 0\n"
		    "    },\n"
		    "    {\n"
		    "      \"domain\": \"xmpp.example.net\",\n"
		    "      \"upstream\": \"prosody-2\",\n"
		    "      \"state\": \"waiting\",\n"
		    "      \"since\": 1700003600,\n"
		    "      \"reconnects\": 5,\n"
		    "      \"last_error\": \"connect to 127.0.0.1 port 5347: "
		    "Connection refused\",\n"
		    "      \"held_down_stanzas\": 3,\n"
		    "      \"held_down_bytes\": 612,\n"
		    "      \"held_up_stanzas\": 7,\n"
		    "      \"held_up_bytes\": 1400\n"
		    "    }\n"
		    "  ]\n"
		    "}\n" },
		{ RELOAD, 1,
		    "{\n"
		    "  \"command\": \"reload\",\n"
		    "  \"status\": 1,\n"
		    "  \"message\": \"done\",\n"
		    "  \"lines\": []\n"
		    "}\n" },
		{ SHOW_LISTENERS, 0,
		    "{\n"
		    "  \"command\": \"show listeners\",\n"
		    "  \"status\": 0,\n"
		    "  \"message\": \"done\",\n"
		    "  \"listeners\": [\n"
		    "    {\n"
		    "      \"address\": \"127.0.0.1\",\n"
		    "      \"port\": 5347,\n"
		    "      \"accepted\": 100,\n"
		    "      \"paused\": false\n"
		    "    },\n"
		    "    {\n"
		    "      \"address\": \"::1\",\n"
		    "      \"port\": 5348,\n"
		    "      \"accepted\": 20,\n"
		    "      \"paused\": true\n"
		    "    }\n"
		    "  ]\n"
		    "}\n" }
	};
	struct answer	 a;
	char		*got;
	size_t		 len, i;
	int		 rv;

	for (i = 0; i < nitems(cases); i++) {
		answer_init(&a, cases[i].action);
		strlcpy(a.domain, "irc.example.org", sizeof(a.domain));
		strlcpy(a.message, "done", sizeof(a.message));
		if (cases[i].failed) {
			a.status = 1;
			a.have_summary = 0;
			a.ncomps = a.nlisteners = a.nlines = a.nupstreams = 0;
		} else
			a.nupstreams = 2;
		CAPTURE(got, len, out_json(OUT, &a));
		rv = expect(got, cases[i].want);
		free(got);
		if (rv == -1)
			return (fail("%s: %s", action_name(cases[i].action),
			    why));
	}
	return (0);
}

/*
 * Every sample follows the HELP and TYPE of its own name; counters end
 * in _total and nothing else does; every name has the prefix.
 */
static int
t_metrics_names(void)
{
	struct answer	 a;
	char		*got, *line, *next, *sp, name[128], help[128];
	char		 type[128], kind[16];
	size_t		 len, n = 0;
	int		 rv = 0;

	answer_init(&a, SHOW_METRICS);
	CAPTURE(got, len, out_metrics(OUT, &a));
	help[0] = type[0] = kind[0] = '\0';
	for (line = got; rv == 0 && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) == NULL)
			return (fail("no newline at the end"));
		*next++ = '\0';
		if (sscanf(line, "# HELP %127s", help) == 1) {
			type[0] = '\0';
			continue;
		}
		if (sscanf(line, "# TYPE %127s %15s", type, kind) == 2) {
			if (strcmp(type, help) != 0)
				rv = fail("TYPE %s after HELP %s", type, help);
			continue;
		}
		n++;
		len = strcspn(line, "{ ");
		snprintf(name, sizeof(name), "%.*s", (int)len, line);
		if (strcmp(name, type) != 0)
			rv = fail("%s without its own HELP and TYPE", name);
		else if (strncmp(name, "gatewayd_", 9) != 0)
			rv = fail("%s without the prefix", name);
		else if (strcmp(kind, "counter") == 0 &&
		    (len < 6 || strcmp(name + len - 6, "_total") != 0))
			rv = fail("counter %s without _total", name);
		else if (strcmp(kind, "counter") != 0 &&
		    len >= 6 && strcmp(name + len - 6, "_total") == 0)
			rv = fail("%s %s ending in _total", kind, name);
		else if ((sp = strrchr(line, ' ')) == NULL ||
		    strspn(sp + 1, "0123456789") != strlen(sp + 1))
			rv = fail("%s: not an integer value", line);
	}
	if (rv == 0 && n < 40)
		rv = fail("only %zu samples", n);
	free(got);
	return (rv);
}

static int
t_metrics_labels(void)
{
	struct answer	 a;
	char		*got;
	size_t		 len;
	int		 rv = 0;

	answer_init(&a, SHOW_METRICS);
	CAPTURE(got, len, out_metrics(OUT, &a));
	if (strstr(got, "gatewayd_component_connected{component=\""
	    TRICKY_PROM "\"} 1\n") == NULL)
		rv = fail("the component label is not escaped as it must be");
	else if (strstr(got, "gatewayd_component_alias{component="
	    "\"" TRICKY_PROM "\",alias=\"alias." TRICKY_PROM "\"} 1\n") ==
	    NULL)
		rv = fail("the alias label is not escaped as it must be");
	else if (strstr(got, "gatewayd_listener_accepted_total{address="
	    "\"::1\",port=\"5348\"} 20\n") == NULL)
		rv = fail("no listener series for ::1 port 5348");
	else if (strstr(got, "gatewayd_bounces_total{condition=\"other\"} 4\n")
	    == NULL)
		rv = fail("the bounces of no known condition are missing");
	else if (strstr(got, "gatewayd_component_connected_since_seconds"
	    "{component=\"xmpp.example.net\"}") != NULL)
		rv = fail("a since time for a component without a stream");
	else if (strstr(got, "gatewayd_component_queued_bytes{component="
	    "\"xmpp.example.net\"} 12345678\n") == NULL)
		rv = fail("no queued bytes for xmpp.example.net");
	else if (strstr(got, "gatewayd_upstream_up{component=\"irc.example."
	    "org\",upstream=\"xmpp\"} 1\n") == NULL ||
	    strstr(got, "gatewayd_upstream_up{component=\"xmpp.example.net\","
	    "upstream=\"prosody-2\"} 0\n") == NULL)
		rv = fail("the uplinks are not up and down as they are");
	else if (strstr(got, "gatewayd_upstream_held_bytes{component=\"xmpp."
	    "example.net\",upstream=\"prosody-2\",direction=\"up\"} 1400\n")
	    == NULL)
		rv = fail("no held bytes up for xmpp.example.net");
	else if (strstr(got, "gatewayd_upstream_reconnects_total{component="
	    "\"" TRICKY_PROM "\",upstream=\"up." TRICKY_PROM "\"} 0\n") ==
	    NULL)
		rv = fail("the uplink labels are not escaped as they must be");
	else if (strstr(got, "gatewayd_upstream_state_since_seconds"
	    "{component=\"" TRICKY_PROM "\"") != NULL)
		rv = fail("a since time for an uplink without one");
	free(got);
	return (rv);
}

static int
t_parser(void)
{
	static const struct {
		const char	*words[4];
		enum action	 action;	/* NONE: an error */
		const char	*want;		/* the domain, or the error */
	} cases[] = {
		{ { "show", "summary" }, SHOW_SUMMARY, "" },
		{ { "sh", "su" }, SHOW_SUMMARY, "" },
		{ { "s", "l" }, SHOW_LISTENERS, "" },
		{ { "show", "met" }, SHOW_METRICS, "" },
		{ { "show", "upstreams" }, SHOW_UPSTREAMS, "" },
		{ { "sh", "u" }, SHOW_UPSTREAMS, "" },
		{ { "show", "components" }, SHOW_COMPONENTS, "" },
		{ { "show", "component", "irc.example.org" }, SHOW_COMPONENT,
		    "irc.example.org" },
		{ { "re" }, RELOAD, "" },
		{ { "k", "irc.example.org" }, KICK, "irc.example.org" },
		{ { "log", "v" }, LOG_VERBOSE, "" },
		{ { "l", "brief" }, LOG_BRIEF, "" },
		{ { "help" }, HELP, "" },
		{ { NULL }, NONE, "missing command: show, reload, kick, log "
		    "or help" },
		{ { "foo" }, NONE, "unknown command: foo (show, reload, kick, "
		    "log or help)" },
		{ { "show", "comp", "x" }, NONE, "show: ambiguous argument: "
		    "comp (components or component)" },
		{ { "show", "componentsx" }, NONE, "show: unknown argument: "
		    "componentsx (summary, components, component, listeners, "
		    "upstreams or metrics)" },
		{ { "show", "" }, NONE, "show: unknown argument:  (summary, "
		    "components, component, listeners, upstreams or metrics)" },
		{ { "show" }, NONE, "show: missing argument: summary, "
		    "components, component, listeners, upstreams or metrics" },
		{ { "show", "upstreams", "xmpp" }, NONE, "show upstreams: too "
		    "many arguments: xmpp" },
		{ { "kick" }, NONE, "kick: missing domain" },
		{ { "kick", "" }, NONE, "kick: empty domain" },
		{ { "log", "loud" }, NONE, "log: unknown argument: loud "
		    "(verbose or brief)" },
		{ { "reload", "now" }, NONE,
		    "reload: too many arguments: now" },
		{ { "show", "summary", "x" }, NONE, "show summary: too many "
		    "arguments: x" },
		{ { "kick", "a.example", "b.example" }, NONE, "kick: too many "
		    "arguments: b.example" }
	};
	struct parse_result	 res;
	char			 err[PARSE_ERRMAX], *argv[4], longname[400];
	size_t			 i;
	int			 argc, rv;

	for (i = 0; i < nitems(cases); i++) {
		for (argc = 0; argc < 4 && cases[i].words[argc] != NULL;
		    argc++)
			argv[argc] = (char *)(uintptr_t)cases[i].words[argc];
		err[0] = '\0';
		rv = parse(argc, argv, &res, err, sizeof(err));
		if (cases[i].action == NONE) {
			if (rv != -1)
				return (fail("case %zu: no error", i));
			if (strcmp(err, cases[i].want) != 0)
				return (fail("case %zu: \"%s\", not \"%s\"", i,
				    err, cases[i].want));
			continue;
		}
		if (rv == -1)
			return (fail("case %zu: %s", i, err));
		if (res.action != cases[i].action)
			return (fail("case %zu: %s, not %s", i,
			    action_name(res.action),
			    action_name(cases[i].action)));
		if (strcmp(res.domain, cases[i].want) != 0)
			return (fail("case %zu: domain \"%s\"", i, res.domain));
	}
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	argv[0] = (char *)(uintptr_t)"kick";
	argv[1] = longname;
	if (parse(2, argv, &res, err, sizeof(err)) != -1 ||
	    strcmp(err, "kick: domain too long: 399 bytes, at most 255") != 0)
		return (fail("a domain of 399 bytes: %s", err));
	return (0);
}

static int
write_file(const char *dir, const char *name, const struct answer *a,
    int metrics)
{
	char	 path[1024];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fp = fopen(path, "w")) == NULL) {
		perror(path);
		return (-1);
	}
	if (metrics)
		out_metrics(fp, a);
	else
		out_json(fp, a);
	if (fclose(fp) == EOF) {
		perror(path);
		return (-1);
	}
	return (0);
}

/* Each document there is, and the metrics, into files of dir. */
static int
dump(const char *dir)
{
	static const struct {
		enum action	 action;
		const char	*file;
	} docs[] = {
		{ SHOW_SUMMARY, "summary.json" },
		{ SHOW_COMPONENTS, "components.json" },
		{ SHOW_COMPONENT, "component.json" },
		{ SHOW_LISTENERS, "listeners.json" },
		{ SHOW_UPSTREAMS, "upstreams.json" },
		{ SHOW_METRICS, "metrics.json" },
		{ RELOAD, "reload.json" },
		{ KICK, "kick.json" },
		{ LOG_VERBOSE, "log.json" }
	};
	struct answer	 a;
	size_t		 i;

	for (i = 0; i < nitems(docs); i++) {
		answer_init(&a, docs[i].action);
		strlcpy(a.domain, TRICKY, sizeof(a.domain));
		strlcpy(a.message, "done: " TRICKY, sizeof(a.message));
		if (docs[i].action == SHOW_COMPONENT) {
			a.comps = &comps[2];
			a.ncomps = 1;
		}
		if (write_file(dir, docs[i].file, &a, 0) == -1)
			return (-1);
	}
	answer_init(&a, SHOW_COMPONENT);
	a.status = -3;
	a.ncomps = 0;
	strlcpy(a.domain, TRICKY, sizeof(a.domain));
	strlcpy(a.message, "no such component", sizeof(a.message));
	if (write_file(dir, "failed.json", &a, 0) == -1)
		return (-1);
	answer_init(&a, SHOW_METRICS);
	if (write_file(dir, "metrics.prom", &a, 1) == -1)
		return (-1);
	a.ncomps = a.nlisteners = a.nupstreams = 0;
	return (write_file(dir, "empty.prom", &a, 1));
}

/*
 * The fake engine.  It checks each request as the engine must (its
 * peerid, its exact size, a NUL-padded name) and prints it, then
 * answers as the scenario says:
 *   good		what the engine would
 *   reload-errors	two lines and a failed end, to a reload
 *   short		a summary 4 bytes short
 *   long		an end 1 byte long
 *   unknown-type	a message of type 250
 *   wrong-type		a listener, to whatever was asked
 *   aliases-missing	a component announcing 2 aliases, sending 1
 *   alias-orphan	an alias before any component
 *   unterminated	a component whose name has no NUL
 *   upstream-nul	an upstream whose last error has no NUL
 *   upstream-state	an upstream in a state there is not, to show
 *			upstreams; to the rest, what the engine would
 *   bad-end		an end whose message has no NUL
 *   no-summary		a successful end and nothing else
 *   after-end		a summary, the end, and a message after it
 *   hangup		the connection closed at once
 */
static void	 send_msg(struct imsgbuf *, uint32_t, const void *, size_t);
static void	 send_end(struct imsgbuf *, int32_t, const char *);
static void	 send_comp(struct imsgbuf *, const struct comp_info *);
static int	 check_request(struct imsg *, char *, size_t);
static void	 answer_good(struct imsgbuf *, uint32_t, const char *);
static void	 answer(struct imsgbuf *, const char *, uint32_t,
		    const char *);

static void
send_msg(struct imsgbuf *ib, uint32_t type, const void *data, size_t len)
{
	if (imsg_compose(ib, type, 0, 0, -1, data, len) == -1) {
		perror("imsg_compose");
		exit(1);
	}
}

static void
send_end(struct imsgbuf *ib, int32_t status, const char *message)
{
	struct ctl_end	 end;

	memset(&end, 0, sizeof(end));
	end.status = status;
	strlcpy(end.message, message, sizeof(end.message));
	send_msg(ib, CTL_END, &end, sizeof(end));
}

static void
send_comp(struct imsgbuf *ib, const struct comp_info *ci)
{
	struct ctl_name	 n;
	size_t		 i;

	send_msg(ib, CTL_COMPONENT, &ci->c, sizeof(ci->c));
	for (i = 0; i < ci->naliases; i++) {
		memset(&n, 0, sizeof(n));
		strlcpy(n.name, ci->aliases[i], sizeof(n.name));
		send_msg(ib, CTL_ALIAS, &n, sizeof(n));
	}
}

/* Prints the request; -1 if the engine would refuse it. */
static int
check_request(struct imsg *imsg, char *name, size_t namelen)
{
	struct ctl_name		 n;
	struct ctl_verbose	 v;
	uint32_t		 type = imsg_get_type(imsg);
	size_t			 len = imsg_get_len(imsg), want = 0, i;

	printf("request %u size %zu peerid %u", type, len,
	    imsg_get_id(imsg));
	name[0] = '\0';
	if (imsg_get_id(imsg) != GW_CTL_VERSION) {
		printf(": bad request: peerid\n");
		return (-1);
	}
	if (type == CTL_SHOW_COMPONENT || type == CTL_KICK)
		want = sizeof(n);
	else if (type == CTL_LOG_VERBOSE)
		want = sizeof(v);
	else if (type < CTL_SHOW_SUMMARY || type > CTL_SHOW_UPSTREAMS) {
		printf(": bad request: type\n");
		return (-1);
	}
	if (len != want) {
		printf(": bad request: size\n");
		return (-1);
	}
	if (want == sizeof(n)) {
		imsg_get_data(imsg, &n, sizeof(n));
		for (i = strnlen(n.name, sizeof(n.name)); i < sizeof(n.name);
		    i++)
			if (n.name[i] != '\0') {
				printf(": bad request: not NUL padded\n");
				return (-1);
			}
		strlcpy(name, n.name, namelen);
		printf(" name %s", name);
	} else if (want == sizeof(v)) {
		imsg_get_data(imsg, &v, sizeof(v));
		printf(" verbose %d", v.verbose);
		if (v.verbose != 0 && v.verbose != 1) {
			printf(": bad request: verbose\n");
			return (-1);
		}
	}
	printf("\n");
	return (0);
}

static void
answer_good(struct imsgbuf *ib, uint32_t type, const char *name)
{
	char	 msg[512];
	size_t	 i;

	switch (type) {
	case CTL_SHOW_SUMMARY:
		send_msg(ib, CTL_SUMMARY, &summary, sizeof(summary));
		break;
	case CTL_SHOW_COMPONENTS:
		for (i = 0; i < 2; i++)
			send_comp(ib, &comps[i]);
		break;
	case CTL_SHOW_COMPONENT:
		for (i = 0; i < nitems(comps); i++)
			if (strcmp(comps[i].c.name, name) == 0)
				break;
		if (i == nitems(comps)) {
			snprintf(msg, sizeof(msg), "no such component: %s",
			    name);
			send_end(ib, 1, msg);
			return;
		}
		send_comp(ib, &comps[i]);
		break;
	case CTL_SHOW_LISTENERS:
		for (i = 0; i < nitems(listeners); i++)
			send_msg(ib, CTL_LISTENER, &listeners[i],
			    sizeof(listeners[i]));
		break;
	case CTL_SHOW_UPSTREAMS:
		for (i = 0; i < 2; i++)
			send_msg(ib, CTL_UPSTREAM, &upstreams[i],
			    sizeof(upstreams[i]));
		break;
	case CTL_RELOAD:
		send_end(ib, 0, "reloaded");
		return;
	case CTL_KICK:
		snprintf(msg, sizeof(msg), "kicked %s", name);
		send_end(ib, 0, msg);
		return;
	}
	send_end(ib, 0, "");
}

static void
answer(struct imsgbuf *ib, const char *scenario, uint32_t type,
    const char *name)
{
	struct ctl_component	 c;
	struct ctl_upstream	 u;
	struct ctl_name		 n;
	struct ctl_line		 l;
	char			 raw[sizeof(struct ctl_end) + 1];

	if (strcmp(scenario, "good") == 0)
		answer_good(ib, type, name);
	else if (strcmp(scenario, "reload-errors") == 0) {
		memset(&l, 0, sizeof(l));
		strlcpy(l.line, line1, sizeof(l.line));
		send_msg(ib, CTL_LINE, &l, sizeof(l));
		/* A terminal must not see the escape sequence. */
		memset(&l, 0, sizeof(l));
		strlcpy(l.line, "x:1: \x1b[31mred", sizeof(l.line));
		send_msg(ib, CTL_LINE, &l, sizeof(l));
		send_end(ib, 1, "not reloaded: 2 errors");
	} else if (strcmp(scenario, "short") == 0)
		send_msg(ib, CTL_SUMMARY, &summary, sizeof(summary) - 4);
	else if (strcmp(scenario, "long") == 0) {
		memset(raw, 0, sizeof(raw));
		send_msg(ib, CTL_END, raw, sizeof(raw));
	} else if (strcmp(scenario, "unknown-type") == 0)
		send_msg(ib, 250, &summary, 4);
	else if (strcmp(scenario, "wrong-type") == 0)
		send_msg(ib, CTL_LISTENER, &listeners[0],
		    sizeof(listeners[0]));
	else if (strcmp(scenario, "aliases-missing") == 0) {
		c = comps[0].c;
		send_msg(ib, CTL_COMPONENT, &c, sizeof(c));
		memset(&n, 0, sizeof(n));
		strlcpy(n.name, alias_chat, sizeof(n.name));
		send_msg(ib, CTL_ALIAS, &n, sizeof(n));
		send_end(ib, 0, "");
	} else if (strcmp(scenario, "alias-orphan") == 0) {
		memset(&n, 0, sizeof(n));
		strlcpy(n.name, alias_chat, sizeof(n.name));
		send_msg(ib, CTL_ALIAS, &n, sizeof(n));
		send_end(ib, 0, "");
	} else if (strcmp(scenario, "unterminated") == 0) {
		c = comps[1].c;
		memset(c.name, 'a', sizeof(c.name));
		send_msg(ib, CTL_COMPONENT, &c, sizeof(c));
		send_end(ib, 0, "");
	} else if (strcmp(scenario, "upstream-nul") == 0) {
		u = upstreams[1];
		memset(u.last_error, 'e', sizeof(u.last_error));
		send_msg(ib, CTL_UPSTREAM, &u, sizeof(u));
		send_end(ib, 0, "");
	} else if (strcmp(scenario, "upstream-state") == 0) {
		if (type != CTL_SHOW_UPSTREAMS) {
			answer_good(ib, type, name);
			return;
		}
		u = upstreams[0];
		u.state = CTL_UPLINK_UP + 1;
		send_msg(ib, CTL_UPSTREAM, &u, sizeof(u));
		send_end(ib, 0, "");
	} else if (strcmp(scenario, "bad-end") == 0) {
		memset(raw, 'x', sizeof(raw));
		memset(raw, 0, sizeof(int32_t));
		send_msg(ib, CTL_END, raw, sizeof(struct ctl_end));
	} else if (strcmp(scenario, "no-summary") == 0)
		send_end(ib, 0, "");
	else if (strcmp(scenario, "after-end") == 0) {
		send_msg(ib, CTL_SUMMARY, &summary, sizeof(summary));
		send_end(ib, 0, "");
		send_msg(ib, CTL_SUMMARY, &summary, sizeof(summary));
	}
}

static int
serve(const char *path, const char *scenario)
{
	struct sockaddr_un	 sun;
	struct imsgbuf		 ib;
	struct imsg		 imsg;
	char			 name[GW_NAME_MAX];
	ssize_t			 n;
	int			 s, fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		fprintf(stderr, "%s: too long\n", path);
		return (1);
	}
	if ((s = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    bind(s, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(s, 1) == -1) {
		perror(path);
		return (1);
	}
	printf("listening\n");
	fflush(stdout);
	if ((fd = accept(s, NULL, NULL)) == -1) {
		perror("accept");
		return (1);
	}
	if (strcmp(scenario, "hangup") == 0) {
		close(fd);
		unlink(path);
		return (0);
	}
	if (imsgbuf_init(&ib, fd) == -1) {
		perror("imsgbuf_init");
		return (1);
	}
	for (;;) {
		switch (imsgbuf_read(&ib)) {
		case -1:
			perror("imsgbuf_read");
			return (1);
		case 0:
			printf("closed\n");
			unlink(path);
			return (0);
		}
		while ((n = imsg_get(&ib, &imsg)) > 0) {
			if (check_request(&imsg, name, sizeof(name)) == 0)
				answer(&ib, scenario, imsg_get_type(&imsg),
				    name);
			imsg_free(&imsg);
		}
		fflush(stdout);
		if (n == -1 || imsgbuf_flush(&ib) == -1) {
			perror("imsg");
			return (1);
		}
	}
}

int
main(int argc, char *argv[])
{
	setenv("TZ", "UTC", 1);
	tzset();
	fixtures();
	if (argc == 3 && strcmp(argv[1], "-J") == 0)
		return (dump(argv[2]) == -1);
	if (argc == 4 && strcmp(argv[1], "-S") == 0)
		return (serve(argv[2], argv[3]));
	if (argc != 1) {
		fprintf(stderr,
		    "usage: ctl_unit [-J dir | -S path scenario]\n");
		return (2);
	}
	run("show summary: key: value block", t_summary);
	run("show components: aligned table", t_components);
	run("show component: key: value block", t_component);
	run("show listeners: aligned table", t_listeners);
	run("show upstreams: aligned table", t_upstreams);
	run("text output: names escaped for a terminal", t_text_escape);
	run("times: ISO 8601, local, with the offset", t_time);
	run("uptime as days, hours, minutes, seconds", t_duration);
	run("JSON: any byte escaped, ASCII only", t_json_escape);
	run("JSON: the members of each document", t_json_shapes);
	run("metrics: HELP, TYPE, _total, prefix", t_metrics_names);
	run("metrics: labels escaped, series per component, listener, uplink",
	    t_metrics_labels);
	run("parser: words, prefixes, ambiguity, arguments", t_parser);
	return (nfailed > 0);
}
