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
 * The output forms of gatewayctl.  Every string the daemon sends is
 * printed escaped, whatever its bytes: for a terminal, bytes that are
 * not printable become \xHH; in JSON, anything outside printable ASCII
 * becomes \uXXXX (an invalid UTF-8 byte U+FFFD), so a document is plain
 * ASCII and always parses; in Prometheus label values, the three escapes
 * of the format, with invalid UTF-8 replaced, since the format is UTF-8.
 */

#include <sys/types.h>

#include <err.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compat.h"
#include "output.h"

#define NOTHING		"-"

struct kv {
	const char	*key;
	char		*val;
};

struct column {
	const char	*title;
	int		 right;		/* numbers: aligned on the right */
};

struct json {
	FILE		*fp;
	int		 depth;
	int		 first;		/* the open container is empty */
};

static const struct column comp_columns[] = {
	{ "Domain", 0 }, { "State", 0 }, { "Peer", 0 }, { "Since", 0 },
	{ "StanzasIn", 1 }, { "StanzasOut", 1 }, { "BytesIn", 1 },
	{ "BytesOut", 1 }, { "Queue", 1 }, { "Stalls", 1 },
	{ "Takeovers", 1 }, { "Aliases", 0 }
};
#define NCOMPCOLS	(sizeof(comp_columns) / sizeof(comp_columns[0]))

static const struct column listener_columns[] = {
	{ "Address", 0 }, { "Port", 1 }, { "Accepted", 1 }, { "Paused", 0 }
};
#define NLISTENCOLS	(sizeof(listener_columns) / \
			    sizeof(listener_columns[0]))

static const struct column upstream_columns[] = {
	{ "Domain", 0 }, { "Upstream", 0 }, { "State", 0 }, { "Since", 0 },
	{ "Reconnects", 1 }, { "HeldDown", 1 }, { "HeldDownBytes", 1 },
	{ "HeldUp", 1 }, { "HeldUpBytes", 1 }, { "LastError", 0 }
};
#define NUPCOLS		(sizeof(upstream_columns) / \
			    sizeof(upstream_columns[0]))

/* By enum ctl_uplink_state; gatewayctl refuses any other value. */
static const char *const upstream_states[] = {
	"waiting", "connecting", "handshake", "up"
};

static char	*esc_dup(const char *);
static size_t	 text_width(const char *);
static void	 kv_set(struct kv *, const char *, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static void	 kv_print(FILE *, struct kv *, size_t);
static char	*alias_list(const struct comp_info *);
static char	*cell(const char *, ...)
		    __attribute__((__format__ (printf, 1, 2)));
static void	 table_print(FILE *, const struct column *, size_t, char **,
		    size_t);
static void	 json_item(struct json *, const char *);
static void	 json_open(struct json *, const char *, int);
static void	 json_close(struct json *, int);
static void	 json_escape(FILE *, const char *);
static void	 json_str(struct json *, const char *, const char *);
static void	 json_u64(struct json *, const char *, uint64_t);
static void	 json_i64(struct json *, const char *, int64_t);
static void	 json_bool(struct json *, const char *, int);
static void	 json_null(struct json *, const char *);
static void	 json_summary(struct json *, const struct answer *);
static void	 json_comp(struct json *, const char *,
		    const struct comp_info *);
static void	 json_comps(struct json *, const struct answer *);
static void	 json_listeners(struct json *, const struct answer *);
static void	 json_upstreams(struct json *, const struct answer *);
static void	 json_lines(struct json *, const struct answer *);

/*
 * The length of the UTF-8 sequence at p and its code point, or 0 if it
 * is not one: overlong forms, surrogates and values past U+10FFFF are
 * not.  Stops at a NUL, which is never a continuation byte.
 */
size_t
utf8_seq(const unsigned char *p, uint32_t *cp)
{
	uint32_t	 c = p[0];
	size_t		 n, i;

	if (c < 0x80) {
		*cp = c;
		return (1);
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		c &= 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		c &= 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		c &= 0x07;
	} else
		return (0);
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return (0);
		c = (c << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return (0);
	*cp = c;
	return (n);
}

/*
 * A copy of s fit for a terminal: printable ASCII and valid UTF-8
 * outside the C1 controls stay, a backslash doubles, any other byte
 * becomes \xHH.
 */
static char *
esc_dup(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	char			*buf, *q;
	uint32_t		 cp;
	size_t			 n;

	if ((buf = reallocarray(NULL, strlen(s) + 1, 4)) == NULL)
		err(1, NULL);
	for (q = buf; *p != '\0'; ) {
		if (*p == '\\') {
			*q++ = '\\';
			*q++ = *p++;
		} else if (*p >= 0x20 && *p < 0x7f)
			*q++ = *p++;
		else if ((n = utf8_seq(p, &cp)) > 1 && cp >= 0xa0) {
			memcpy(q, p, n);
			q += n;
			p += n;
		} else {
			snprintf(q, 5, "\\x%02x", *p++);
			q += 4;
		}
	}
	*q = '\0';
	return (buf);
}

/* Columns an escaped string takes: one a character, not a byte. */
static size_t
text_width(const char *s)
{
	size_t	 n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return (n);
}

/* A string from the daemon, escaped for a terminal. */
void
out_string(FILE *fp, const char *s)
{
	char	*e;

	e = esc_dup(s);
	fputs(e, fp);
	free(e);
}

/* ISO 8601 in local time, "-" for no time at all. */
void
fmt_time(char *buf, size_t size, int64_t t)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;
	char		 zone[16], tail[8];

	if (t <= 0 || localtime_r(&tt, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm) == 0 ||
	    strftime(zone, sizeof(zone), "%z", &tm) != 5) {
		strlcpy(buf, NOTHING, size);
		return;
	}
	/* strftime writes the offset as +hhmm, ISO 8601 wants +hh:mm. */
	snprintf(tail, sizeof(tail), "%.3s:%.2s", zone, zone + 3);
	strlcat(buf, tail, size);
}

/* Seconds as days, hours, minutes and seconds, from the first non-zero. */
void
fmt_duration(char *buf, size_t size, int64_t secs)
{
	int64_t	 d, h, m, s;

	if (secs < 0)
		secs = 0;
	d = secs / 86400;
	h = secs / 3600 % 24;
	m = secs / 60 % 60;
	s = secs % 60;
	if (d > 0)
		snprintf(buf, size, "%" PRId64 "d %" PRId64 "h %" PRId64 "m %"
		    PRId64 "s", d, h, m, s);
	else if (h > 0)
		snprintf(buf, size, "%" PRId64 "h %" PRId64 "m %" PRId64 "s",
		    h, m, s);
	else if (m > 0)
		snprintf(buf, size, "%" PRId64 "m %" PRId64 "s", m, s);
	else
		snprintf(buf, size, "%" PRId64 "s", s);
}

static void
kv_set(struct kv *kv, const char *key, const char *fmt, ...)
{
	va_list	 ap;

	kv->key = key;
	va_start(ap, fmt);
	if (vasprintf(&kv->val, fmt, ap) == -1)
		err(1, NULL);
	va_end(ap);
}

/* "key: value" lines, the values in one column; frees the values. */
static void
kv_print(FILE *fp, struct kv *kv, size_t n)
{
	size_t	 i, width = 0;

	for (i = 0; i < n; i++)
		if (strlen(kv[i].key) > width)
			width = strlen(kv[i].key);
	for (i = 0; i < n; i++) {
		fprintf(fp, "%s:%*s %s\n", kv[i].key,
		    (int)(width - strlen(kv[i].key)), "", kv[i].val);
		free(kv[i].val);
	}
}

void
out_summary(FILE *fp, const struct ctl_summary *s)
{
	struct kv	 kv[32];
	char		 when[64], span[64];
	size_t		 n = 0;

	fmt_time(when, sizeof(when), s->started);
	fmt_duration(span, sizeof(span), s->uptime);
	kv_set(&kv[n++], "started", "%s", when);
	kv_set(&kv[n++], "uptime", "%s (%" PRId64 " seconds)", span,
	    s->uptime);
	kv_set(&kv[n++], "connections", "%" PRIu32, s->connections);
	kv_set(&kv[n++], "unauthenticated", "%" PRIu32, s->unauthenticated);
	kv_set(&kv[n++], "authenticated", "%" PRIu32, s->authenticated);
	kv_set(&kv[n++], "components", "%" PRIu32, s->components);
	kv_set(&kv[n++], "listeners", "%" PRIu32, s->listeners);
	kv_set(&kv[n++], "throttled sources", "%" PRIu32,
	    s->throttled_sources);
	kv_set(&kv[n++], "accepted", "%" PRIu64, s->accepted);
	kv_set(&kv[n++], "refused", "%" PRIu64, s->refused);
	kv_set(&kv[n++], "shed", "%" PRIu64, s->shed);
	kv_set(&kv[n++], "stanzas in", "%" PRIu64, s->stanzas_in);
	kv_set(&kv[n++], "stanzas out", "%" PRIu64, s->stanzas_out);
	kv_set(&kv[n++], "stanzas in per second", "%" PRIu32,
	    s->stanzas_in_rate);
	kv_set(&kv[n++], "stanzas out per second", "%" PRIu32,
	    s->stanzas_out_rate);
	kv_set(&kv[n++], "bytes in", "%" PRIu64, s->bytes_in);
	kv_set(&kv[n++], "bytes out", "%" PRIu64, s->bytes_out);
	kv_set(&kv[n++], "bytes unacknowledged", "%" PRIu64,
	    s->bytes_unacked);
	kv_set(&kv[n++], "bounces", "%" PRIu64, s->bounces);
	kv_set(&kv[n++], "bounces jid-malformed", "%" PRIu64,
	    s->bounce_malformed);
	kv_set(&kv[n++], "bounces remote-server-not-found", "%" PRIu64,
	    s->bounce_not_found);
	kv_set(&kv[n++], "bounces remote-server-timeout", "%" PRIu64,
	    s->bounce_timeout);
	kv_set(&kv[n++], "takeovers", "%" PRIu64, s->takeovers);
	kv_set(&kv[n++], "auth failures", "%" PRIu64, s->auth_failures);
	kv_set(&kv[n++], "stalls", "%" PRIu64, s->stalls);
	kv_set(&kv[n++], "parsers", "%" PRIu64 " (%" PRIu64 " KiB)",
	    s->parsers, s->parser_bytes / 1024);
	kv_print(fp, kv, n);
}

/* The aliases of a component, escaped, with commas between; "-" if none. */
static char *
alias_list(const struct comp_info *ci)
{
	char	*list, *e;
	size_t	 i, len = 0;

	for (i = 0; i < ci->naliases; i++)
		len += strlen(ci->aliases[i]) * 4 + 1;
	if ((list = malloc(len + sizeof(NOTHING))) == NULL)
		err(1, NULL);
	if (ci->naliases == 0) {
		strlcpy(list, NOTHING, len + sizeof(NOTHING));
		return (list);
	}
	list[0] = '\0';
	for (i = 0; i < ci->naliases; i++) {
		e = esc_dup(ci->aliases[i]);
		if (i > 0)
			strlcat(list, ",", len + sizeof(NOTHING));
		strlcat(list, e, len + sizeof(NOTHING));
		free(e);
	}
	return (list);
}

void
out_component(FILE *fp, const struct comp_info *ci)
{
	const struct ctl_component	*c = &ci->c;
	struct kv			 kv[16];
	char				 when[64], *name, *peer, *aliases;
	size_t				 n = 0;

	name = esc_dup(c->name);
	peer = esc_dup(c->peer[0] != '\0' ? c->peer : NOTHING);
	aliases = alias_list(ci);
	fmt_time(when, sizeof(when), c->since);
	kv_set(&kv[n++], "domain", "%s", name);
	kv_set(&kv[n++], "aliases", "%s", aliases);
	kv_set(&kv[n++], "state", "%s", c->connected ? "connected" : NOTHING);
	kv_set(&kv[n++], "peer", "%s", peer);
	kv_set(&kv[n++], "since", "%s", when);
	kv_set(&kv[n++], "stanzas in", "%" PRIu64, c->stanzas_in);
	kv_set(&kv[n++], "stanzas out", "%" PRIu64, c->stanzas_out);
	kv_set(&kv[n++], "bytes in", "%" PRIu64, c->bytes_in);
	kv_set(&kv[n++], "bytes out", "%" PRIu64, c->bytes_out);
	kv_set(&kv[n++], "queue bytes", "%" PRIu64, c->queued);
	kv_set(&kv[n++], "stalls", "%" PRIu64, c->stalls);
	kv_set(&kv[n++], "takeovers", "%" PRIu64, c->takeovers);
	kv_set(&kv[n++], "bounces", "%" PRIu64, c->bounces);
	kv_set(&kv[n++], "streams", "%" PRIu64, c->streams);
	kv_print(fp, kv, n);
	free(name);
	free(peer);
	free(aliases);
}

static char *
cell(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		err(1, NULL);
	va_end(ap);
	return (s);
}

/*
 * A table: the titles, then nrows rows of ncols cells each, every
 * column as wide as its widest cell, two spaces between columns, no
 * space after the last.  Frees the cells.
 */
static void
table_print(FILE *fp, const struct column *cols, size_t ncols, char **cells,
    size_t nrows)
{
	size_t	 width[16], i, j, w;
	char	*s;

	for (j = 0; j < ncols && j < nitems(width); j++) {
		width[j] = strlen(cols[j].title);
		for (i = 0; i < nrows; i++)
			if ((w = text_width(cells[i * ncols + j])) > width[j])
				width[j] = w;
	}
	for (i = 0; i <= nrows; i++) {
		for (j = 0; j < ncols && j < nitems(width); j++) {
			s = i == 0 ? NULL : cells[(i - 1) * ncols + j];
			w = width[j] - text_width(s != NULL ? s :
			    cols[j].title);
			if (j > 0)
				fputs("  ", fp);
			if (cols[j].right)
				fprintf(fp, "%*s", (int)w, "");
			fputs(s != NULL ? s : cols[j].title, fp);
			if (!cols[j].right && j + 1 < ncols)
				fprintf(fp, "%*s", (int)w, "");
		}
		fputc('\n', fp);
	}
	for (i = 0; i < nrows * ncols; i++)
		free(cells[i]);
}

void
out_components(FILE *fp, const struct comp_info *comps, size_t n)
{
	const struct ctl_component	*c;
	char				**cells, **row, when[64];
	size_t				 i;

	if ((cells = reallocarray(NULL, n + 1, NCOMPCOLS * sizeof(*cells))) ==
	    NULL)
		err(1, NULL);
	for (i = 0; i < n; i++) {
		c = &comps[i].c;
		row = cells + i * NCOMPCOLS;
		fmt_time(when, sizeof(when), c->since);
		row[0] = esc_dup(c->name);
		row[1] = cell("%s", c->connected ? "connected" : NOTHING);
		row[2] = esc_dup(c->peer[0] != '\0' ? c->peer : NOTHING);
		row[3] = cell("%s", when);
		row[4] = cell("%" PRIu64, c->stanzas_in);
		row[5] = cell("%" PRIu64, c->stanzas_out);
		row[6] = cell("%" PRIu64, c->bytes_in);
		row[7] = cell("%" PRIu64, c->bytes_out);
		row[8] = cell("%" PRIu64, c->queued);
		row[9] = cell("%" PRIu64, c->stalls);
		row[10] = cell("%" PRIu64, c->takeovers);
		row[11] = alias_list(&comps[i]);
	}
	table_print(fp, comp_columns, NCOMPCOLS, cells, n);
	free(cells);
}

void
out_listeners(FILE *fp, const struct ctl_listener *ls, size_t n)
{
	char	**cells, **row;
	size_t	 i;

	if ((cells = reallocarray(NULL, n + 1, NLISTENCOLS * sizeof(*cells))) ==
	    NULL)
		err(1, NULL);
	for (i = 0; i < n; i++) {
		row = cells + i * NLISTENCOLS;
		row[0] = esc_dup(ls[i].addr);
		row[1] = cell("%" PRIu32, ls[i].port);
		row[2] = cell("%" PRIu64, ls[i].accepted);
		row[3] = cell("%s", ls[i].paused ? "yes" : "no");
	}
	table_print(fp, listener_columns, NLISTENCOLS, cells, n);
	free(cells);
}

/* The name of an uplink's state, NULL for a value there is none for. */
const char *
upstream_state(uint32_t state)
{
	if (state >= nitems(upstream_states))
		return (NULL);
	return (upstream_states[state]);
}

void
out_upstreams(FILE *fp, const struct ctl_upstream *ups, size_t n)
{
	const struct ctl_upstream	*u;
	char				**cells, **row, when[64];
	size_t				 i;

	if ((cells = reallocarray(NULL, n + 1, NUPCOLS * sizeof(*cells))) ==
	    NULL)
		err(1, NULL);
	for (i = 0; i < n; i++) {
		u = &ups[i];
		row = cells + i * NUPCOLS;
		fmt_time(when, sizeof(when), u->since);
		row[0] = esc_dup(u->domain);
		row[1] = esc_dup(u->upstream);
		row[2] = cell("%s", upstream_state(u->state) != NULL ?
		    upstream_state(u->state) : "?");
		row[3] = cell("%s", when);
		row[4] = cell("%" PRIu64, u->reconnects);
		row[5] = cell("%" PRIu64, u->down_stanzas);
		row[6] = cell("%" PRIu64, u->down_bytes);
		row[7] = cell("%" PRIu64, u->up_stanzas);
		row[8] = cell("%" PRIu64, u->up_bytes);
		row[9] = esc_dup(u->last_error[0] != '\0' ? u->last_error :
		    NOTHING);
	}
	table_print(fp, upstream_columns, NUPCOLS, cells, n);
	free(cells);
}

/*
 * The JSON writer: one member or element a line, indented by two spaces
 * a level; key is NULL inside an array.
 */
static void
json_item(struct json *j, const char *key)
{
	if (j->depth > 0) {
		if (!j->first)
			fputc(',', j->fp);
		fprintf(j->fp, "\n%*s", j->depth * 2, "");
	}
	j->first = 0;
	if (key != NULL) {
		json_escape(j->fp, key);
		fputs(": ", j->fp);
	}
}

static void
json_open(struct json *j, const char *key, int c)
{
	json_item(j, key);
	fputc(c, j->fp);
	j->depth++;
	j->first = 1;
}

static void
json_close(struct json *j, int c)
{
	j->depth--;
	if (!j->first)
		fprintf(j->fp, "\n%*s", j->depth * 2, "");
	fputc(c, j->fp);
	j->first = 0;
}

/*
 * A JSON string of any bytes, in ASCII: the two characters JSON reserves
 * and the controls escaped, valid UTF-8 as \uXXXX (a surrogate pair above
 * U+FFFF), each byte of invalid UTF-8 as U+FFFD.
 */
static void
json_escape(FILE *fp, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	uint32_t		 cp;
	size_t			 n;

	fputc('"', fp);
	while (*p != '\0') {
		switch (*p) {
		case '"':
		case '\\':
			fprintf(fp, "\\%c", *p++);
			continue;
		case '\b':
			fputs("\\b", fp);
			p++;
			continue;
		case '\f':
			fputs("\\f", fp);
			p++;
			continue;
		case '\n':
			fputs("\\n", fp);
			p++;
			continue;
		case '\r':
			fputs("\\r", fp);
			p++;
			continue;
		case '\t':
			fputs("\\t", fp);
			p++;
			continue;
		}
		if (*p >= 0x20 && *p < 0x7f) {
			fputc(*p++, fp);
			continue;
		}
		if ((n = utf8_seq(p, &cp)) == 0) {
			fputs("\\ufffd", fp);
			p++;
			continue;
		}
		if (cp > 0xffff) {
			cp -= 0x10000;
			fprintf(fp, "\\u%04x\\u%04x", 0xd800 + (cp >> 10),
			    0xdc00 + (cp & 0x3ff));
		} else
			fprintf(fp, "\\u%04x", cp);
		p += n;
	}
	fputc('"', fp);
}

static void
json_str(struct json *j, const char *key, const char *val)
{
	json_item(j, key);
	if (val == NULL)
		fputs("null", j->fp);
	else
		json_escape(j->fp, val);
}

static void
json_u64(struct json *j, const char *key, uint64_t val)
{
	json_item(j, key);
	fprintf(j->fp, "%" PRIu64, val);
}

static void
json_i64(struct json *j, const char *key, int64_t val)
{
	json_item(j, key);
	fprintf(j->fp, "%" PRId64, val);
}

static void
json_bool(struct json *j, const char *key, int val)
{
	json_item(j, key);
	fputs(val ? "true" : "false", j->fp);
}

static void
json_null(struct json *j, const char *key)
{
	json_item(j, key);
	fputs("null", j->fp);
}

static void
json_summary(struct json *j, const struct answer *a)
{
	const struct ctl_summary	*s = &a->summary;

	if (!a->have_summary) {
		json_null(j, "summary");
		return;
	}
	json_open(j, "summary", '{');
	json_i64(j, "started", s->started);
	json_i64(j, "uptime", s->uptime);
	json_u64(j, "connections", s->connections);
	json_u64(j, "unauthenticated", s->unauthenticated);
	json_u64(j, "authenticated", s->authenticated);
	json_u64(j, "components", s->components);
	json_u64(j, "listeners", s->listeners);
	json_u64(j, "throttled_sources", s->throttled_sources);
	json_u64(j, "accepted", s->accepted);
	json_u64(j, "refused", s->refused);
	json_u64(j, "shed", s->shed);
	json_u64(j, "stanzas_in", s->stanzas_in);
	json_u64(j, "stanzas_out", s->stanzas_out);
	json_u64(j, "stanzas_in_rate", s->stanzas_in_rate);
	json_u64(j, "stanzas_out_rate", s->stanzas_out_rate);
	json_u64(j, "bytes_in", s->bytes_in);
	json_u64(j, "bytes_out", s->bytes_out);
	json_u64(j, "bytes_unacked", s->bytes_unacked);
	json_u64(j, "bounces", s->bounces);
	json_u64(j, "bounce_malformed", s->bounce_malformed);
	json_u64(j, "bounce_not_found", s->bounce_not_found);
	json_u64(j, "bounce_timeout", s->bounce_timeout);
	json_u64(j, "takeovers", s->takeovers);
	json_u64(j, "auth_failures", s->auth_failures);
	json_u64(j, "stalls", s->stalls);
	json_u64(j, "parsers", s->parsers);
	json_u64(j, "parser_bytes", s->parser_bytes);
	json_close(j, '}');
}

static void
json_comp(struct json *j, const char *key, const struct comp_info *ci)
{
	const struct ctl_component	*c = &ci->c;
	size_t				 i;

	json_open(j, key, '{');
	json_str(j, "domain", c->name);
	json_open(j, "aliases", '[');
	for (i = 0; i < ci->naliases; i++)
		json_str(j, NULL, ci->aliases[i]);
	json_close(j, ']');
	json_bool(j, "connected", c->connected);
	json_str(j, "peer", c->peer[0] != '\0' ? c->peer : NULL);
	if (c->since > 0)
		json_i64(j, "since", c->since);
	else
		json_null(j, "since");
	json_u64(j, "stanzas_in", c->stanzas_in);
	json_u64(j, "stanzas_out", c->stanzas_out);
	json_u64(j, "bytes_in", c->bytes_in);
	json_u64(j, "bytes_out", c->bytes_out);
	json_u64(j, "queued", c->queued);
	json_u64(j, "stalls", c->stalls);
	json_u64(j, "takeovers", c->takeovers);
	json_u64(j, "bounces", c->bounces);
	json_u64(j, "streams", c->streams);
	json_close(j, '}');
}

static void
json_comps(struct json *j, const struct answer *a)
{
	size_t	 i;

	json_open(j, "components", '[');
	for (i = 0; i < a->ncomps; i++)
		json_comp(j, NULL, &a->comps[i]);
	json_close(j, ']');
}

static void
json_listeners(struct json *j, const struct answer *a)
{
	const struct ctl_listener	*l;
	size_t				 i;

	json_open(j, "listeners", '[');
	for (i = 0; i < a->nlisteners; i++) {
		l = &a->listeners[i];
		json_open(j, NULL, '{');
		json_str(j, "address", l->addr);
		json_u64(j, "port", l->port);
		json_u64(j, "accepted", l->accepted);
		json_bool(j, "paused", l->paused);
		json_close(j, '}');
	}
	json_close(j, ']');
}

static void
json_upstreams(struct json *j, const struct answer *a)
{
	const struct ctl_upstream	*u;
	size_t				 i;

	json_open(j, "upstreams", '[');
	for (i = 0; i < a->nupstreams; i++) {
		u = &a->upstreams[i];
		json_open(j, NULL, '{');
		json_str(j, "domain", u->domain);
		json_str(j, "upstream", u->upstream);
		json_str(j, "state", upstream_state(u->state));
		if (u->since > 0)
			json_i64(j, "since", u->since);
		else
			json_null(j, "since");
		json_u64(j, "reconnects", u->reconnects);
		json_str(j, "last_error", u->last_error[0] != '\0' ?
		    u->last_error : NULL);
		json_u64(j, "held_down_stanzas", u->down_stanzas);
		json_u64(j, "held_down_bytes", u->down_bytes);
		json_u64(j, "held_up_stanzas", u->up_stanzas);
		json_u64(j, "held_up_bytes", u->up_bytes);
		json_close(j, '}');
	}
	json_close(j, ']');
}

static void
json_lines(struct json *j, const struct answer *a)
{
	size_t	 i;

	json_open(j, "lines", '[');
	for (i = 0; i < a->nlines; i++)
		json_str(j, NULL, a->lines[i]);
	json_close(j, ']');
}

/*
 * One JSON object for one command: "command", "status" and "message"
 * always, "domain" for the commands that name one, then what the command
 * shows, present (empty, or null) even when it failed.
 */
void
out_json(FILE *fp, const struct answer *a)
{
	struct json	 j = { fp, 0, 1 };

	json_open(&j, NULL, '{');
	json_str(&j, "command", action_name(a->action));
	if (a->action == SHOW_COMPONENT || a->action == KICK)
		json_str(&j, "domain", a->domain);
	json_i64(&j, "status", a->status);
	json_str(&j, "message", a->message);
	switch (a->action) {
	case SHOW_SUMMARY:
		json_summary(&j, a);
		break;
	case SHOW_COMPONENTS:
		json_comps(&j, a);
		break;
	case SHOW_COMPONENT:
		if (a->ncomps > 0)
			json_comp(&j, "component", &a->comps[0]);
		else
			json_null(&j, "component");
		break;
	case SHOW_LISTENERS:
		json_listeners(&j, a);
		break;
	case SHOW_UPSTREAMS:
		json_upstreams(&j, a);
		break;
	case SHOW_METRICS:
		json_summary(&j, a);
		json_comps(&j, a);
		json_listeners(&j, a);
		json_upstreams(&j, a);
		break;
	case RELOAD:
		json_lines(&j, a);
		break;
	default:
		break;
	}
	json_close(&j, '}');
	fputc('\n', fp);
}
