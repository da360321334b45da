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
 * gatewayctl show metrics: the Prometheus text exposition format, from
 * the summary, the components, the listeners and the uplinks.  Counters
 * end in _total; every family has its HELP and TYPE; label values carry
 * the format's three escapes, and invalid UTF-8 is replaced, since the
 * format is UTF-8.
 */

#include <sys/types.h>

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "compat.h"
#include "output.h"

#define COUNTER		"counter"
#define GAUGE		"gauge"

/* A series of the metrics without labels, and its value. */
struct metric {
	const char	*name;
	const char	*type;
	const char	*help;
	uint64_t	 value;
};

/* A per-component series and the uint64_t of ctl_component it shows. */
struct comp_metric {
	const char	*name;
	const char	*type;
	const char	*help;
	size_t		 off;
};

static const struct comp_metric comp_counters[] = {
	{ "gatewayd_component_stanzas_received_total", COUNTER,
	    "Stanzas received from the component.",
	    offsetof(struct ctl_component, stanzas_in) },
	{ "gatewayd_component_stanzas_sent_total", COUNTER,
	    "Stanzas forwarded to the component.",
	    offsetof(struct ctl_component, stanzas_out) },
	{ "gatewayd_component_received_bytes_total", COUNTER,
	    "Bytes read from the streams of the component.",
	    offsetof(struct ctl_component, bytes_in) },
	{ "gatewayd_component_sent_bytes_total", COUNTER,
	    "Bytes written to the streams of the component.",
	    offsetof(struct ctl_component, bytes_out) },
	{ "gatewayd_component_queued_bytes", GAUGE,
	    "Bytes waiting to be written to the component.",
	    offsetof(struct ctl_component, queued) },
	{ "gatewayd_component_stalls_total", COUNTER,
	    "Streams of the component ended because it stopped reading.",
	    offsetof(struct ctl_component, stalls) },
	{ "gatewayd_component_takeovers_total", COUNTER,
	    "Streams of the component that took it over from another.",
	    offsetof(struct ctl_component, takeovers) },
	{ "gatewayd_component_bounces_total", COUNTER,
	    "Bounces sent to the component.",
	    offsetof(struct ctl_component, bounces) },
	{ "gatewayd_component_streams_total", COUNTER,
	    "Streams that authenticated as the component.",
	    offsetof(struct ctl_component, streams) }
};

static uint64_t	 nonneg(int64_t);
static void	 prom_head(FILE *, const char *, const char *, const char *);
static void	 prom_value(FILE *, const char *);
static void	 prom_global(FILE *, const struct ctl_summary *);
static void	 prom_bounces(FILE *, const struct ctl_summary *);
static void	 prom_components(FILE *, const struct comp_info *, size_t);
static void	 prom_listeners(FILE *, const struct ctl_listener *, size_t);
static void	 prom_uplink(FILE *, const char *, const struct ctl_upstream *,
		    const char *);
static void	 prom_upstreams(FILE *, const struct ctl_upstream *, size_t);

static uint64_t
nonneg(int64_t v)
{
	return (v < 0 ? 0 : (uint64_t)v);
}

static void
prom_head(FILE *fp, const char *name, const char *type, const char *help)
{
	fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/*
 * A label value in its quotes: backslash, double quote and newline
 * escaped as the format says, invalid UTF-8 replaced, as the format
 * has no way to carry it.
 */
static void
prom_value(FILE *fp, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	uint32_t		 cp;
	size_t			 n;

	fputc('"', fp);
	while (*p != '\0') {
		if (*p == '\\' || *p == '"') {
			fprintf(fp, "\\%c", *p++);
		} else if (*p == '\n') {
			fputs("\\n", fp);
			p++;
		} else if ((n = utf8_seq(p, &cp)) == 0) {
			fputs(REPLACEMENT, fp);
			p++;
		} else {
			fwrite(p, 1, n, fp);
			p += n;
		}
	}
	fputc('"', fp);
}

static void
prom_global(FILE *fp, const struct ctl_summary *s)
{
	const struct metric	 m[] = {
		{ "gatewayd_start_time_seconds", GAUGE,
		    "When the engine started, in seconds since the epoch.",
		    nonneg(s->started) },
		{ "gatewayd_uptime_seconds", GAUGE,
		    "Seconds since the engine started.", nonneg(s->uptime) },
		{ "gatewayd_connections", GAUGE,
		    "Connections open now.", s->connections },
		{ "gatewayd_connections_unauthenticated", GAUGE,
		    "Open connections whose stream has not authenticated.",
		    s->unauthenticated },
		{ "gatewayd_connections_authenticated", GAUGE,
		    "Open connections with an authenticated stream.",
		    s->authenticated },
		{ "gatewayd_components", GAUGE,
		    "Components in the configuration.", s->components },
		{ "gatewayd_listeners", GAUGE,
		    "Listening sockets.", s->listeners },
		{ "gatewayd_throttled_sources", GAUGE,
		    "Source addresses whose handshakes authd holds back.",
		    s->throttled_sources },
		{ "gatewayd_connections_accepted_total", COUNTER,
		    "Connections accepted.", s->accepted },
		{ "gatewayd_connections_refused_total", COUNTER,
		    "Connections refused at once, a limit being reached.",
		    s->refused },
		{ "gatewayd_connections_shed_total", COUNTER,
		    "Unauthenticated connections ended to make room.",
		    s->shed },
		{ "gatewayd_stanzas_received_total", COUNTER,
		    "Stanzas received from components.", s->stanzas_in },
		{ "gatewayd_stanzas_sent_total", COUNTER,
		    "Stanzas forwarded to components.", s->stanzas_out },
		{ "gatewayd_received_bytes_total", COUNTER,
		    "Bytes read from connections.", s->bytes_in },
		{ "gatewayd_sent_bytes_total", COUNTER,
		    "Bytes written to connections.", s->bytes_out },
		{ "gatewayd_unacknowledged_bytes_total", COUNTER,
		    "Bytes written that the peer never acknowledged.",
		    s->bytes_unacked },
		{ "gatewayd_takeovers_total", COUNTER,
		    "Streams that took a component over from another.",
		    s->takeovers },
		{ "gatewayd_auth_failures_total", COUNTER,
		    "Handshakes refused.", s->auth_failures },
		{ "gatewayd_stalls_total", COUNTER,
		    "Streams ended because their peer stopped reading.",
		    s->stalls },
		{ "gatewayd_parsers", GAUGE,
		    "Streams holding an XML parser (the others rest).",
		    s->parsers },
		{ "gatewayd_parser_bytes", GAUGE,
		    "Memory of the parsers, in their arenas' pages.",
		    s->parser_bytes }
	};
	size_t	 i;

	for (i = 0; i < nitems(m); i++) {
		prom_head(fp, m[i].name, m[i].type, m[i].help);
		fprintf(fp, "%s %" PRIu64 "\n", m[i].name, m[i].value);
	}
}

/* By condition; what the three conditions do not account for as other. */
static void
prom_bounces(FILE *fp, const struct ctl_summary *s)
{
	const char	*name = "gatewayd_bounces_total";
	uint64_t	 known;

	prom_head(fp, name, COUNTER,
	    "Stanzas returned to their senders as errors, by condition.");
	fprintf(fp, "%s{condition=\"jid-malformed\"} %" PRIu64 "\n", name,
	    s->bounce_malformed);
	fprintf(fp, "%s{condition=\"remote-server-not-found\"} %" PRIu64 "\n",
	    name, s->bounce_not_found);
	fprintf(fp, "%s{condition=\"remote-server-timeout\"} %" PRIu64 "\n",
	    name, s->bounce_timeout);
	known = s->bounce_malformed + s->bounce_not_found + s->bounce_timeout;
	if (s->bounces > known)
		fprintf(fp, "%s{condition=\"other\"} %" PRIu64 "\n", name,
		    s->bounces - known);
}

static void
prom_components(FILE *fp, const struct comp_info *comps, size_t n)
{
	const struct comp_metric	*m;
	const char			*name;
	uint64_t			 v;
	size_t				 i, k;

	name = "gatewayd_component_connected";
	prom_head(fp, name, GAUGE,
	    "1 while a stream holds the component, else 0.");
	for (i = 0; i < n; i++) {
		fprintf(fp, "%s{component=", name);
		prom_value(fp, comps[i].c.name);
		fprintf(fp, "} %d\n", comps[i].c.connected ? 1 : 0);
	}
	name = "gatewayd_component_connected_since_seconds";
	prom_head(fp, name, GAUGE, "When the stream holding the component "
	    "authenticated, in seconds since the epoch.");
	for (i = 0; i < n; i++) {
		if (!comps[i].c.connected || comps[i].c.since <= 0)
			continue;
		fprintf(fp, "%s{component=", name);
		prom_value(fp, comps[i].c.name);
		fprintf(fp, "} %" PRId64 "\n", comps[i].c.since);
	}
	name = "gatewayd_component_alias";
	prom_head(fp, name, GAUGE, "1 for each alias of the component.");
	for (i = 0; i < n; i++)
		for (k = 0; k < comps[i].naliases; k++) {
			fprintf(fp, "%s{component=", name);
			prom_value(fp, comps[i].c.name);
			fputs(",alias=", fp);
			prom_value(fp, comps[i].aliases[k]);
			fputs("} 1\n", fp);
		}
	for (k = 0; k < nitems(comp_counters); k++) {
		m = &comp_counters[k];
		prom_head(fp, m->name, m->type, m->help);
		for (i = 0; i < n; i++) {
			memcpy(&v, (const char *)&comps[i].c + m->off,
			    sizeof(v));
			fprintf(fp, "%s{component=", m->name);
			prom_value(fp, comps[i].c.name);
			fprintf(fp, "} %" PRIu64 "\n", v);
		}
	}
}

static void
prom_listeners(FILE *fp, const struct ctl_listener *ls, size_t n)
{
	const char	*name;
	size_t		 i;

	name = "gatewayd_listener_accepted_total";
	prom_head(fp, name, COUNTER, "Connections the listener accepted.");
	for (i = 0; i < n; i++) {
		fprintf(fp, "%s{address=", name);
		prom_value(fp, ls[i].addr);
		fprintf(fp, ",port=\"%" PRIu32 "\"} %" PRIu64 "\n", ls[i].port,
		    ls[i].accepted);
	}
	name = "gatewayd_listener_paused";
	prom_head(fp, name, GAUGE,
	    "1 while the listener waits for room to accept, else 0.");
	for (i = 0; i < n; i++) {
		fprintf(fp, "%s{address=", name);
		prom_value(fp, ls[i].addr);
		fprintf(fp, ",port=\"%" PRIu32 "\"} %d\n", ls[i].port,
		    ls[i].paused ? 1 : 0);
	}
}

/* The labels of an uplink's series, and direction's if not NULL. */
static void
prom_uplink(FILE *fp, const char *name, const struct ctl_upstream *u,
    const char *direction)
{
	fprintf(fp, "%s{component=", name);
	prom_value(fp, u->domain);
	fputs(",upstream=", fp);
	prom_value(fp, u->upstream);
	if (direction != NULL)
		fprintf(fp, ",direction=\"%s\"", direction);
	fputs("} ", fp);
}

/*
 * The uplinks, one series each, and one a direction for what is held:
 * down, from the server for the component; up, the other way.
 */
static void
prom_upstreams(FILE *fp, const struct ctl_upstream *ups, size_t n)
{
	const char	*name;
	size_t		 i;

	name = "gatewayd_upstream_up";
	prom_head(fp, name, GAUGE, "1 while the uplink of the component is up "
	    "(the server took its handshake), else 0.");
	for (i = 0; i < n; i++) {
		prom_uplink(fp, name, &ups[i], NULL);
		fprintf(fp, "%d\n", ups[i].state == CTL_UPLINK_UP ? 1 : 0);
	}
	name = "gatewayd_upstream_state_since_seconds";
	prom_head(fp, name, GAUGE, "When the state of the uplink last "
	    "changed, in seconds since the epoch.");
	for (i = 0; i < n; i++) {
		if (ups[i].since <= 0)
			continue;
		prom_uplink(fp, name, &ups[i], NULL);
		fprintf(fp, "%" PRId64 "\n", ups[i].since);
	}
	name = "gatewayd_upstream_reconnects_total";
	prom_head(fp, name, COUNTER, "Connections to the server after the "
	    "first one.");
	for (i = 0; i < n; i++) {
		prom_uplink(fp, name, &ups[i], NULL);
		fprintf(fp, "%" PRIu64 "\n", ups[i].reconnects);
	}
	name = "gatewayd_upstream_held_stanzas";
	prom_head(fp, name, GAUGE, "Stanzas held, by direction: down, from "
	    "the server while the component is away; up, from the component "
	    "while the uplink is down.");
	for (i = 0; i < n; i++) {
		prom_uplink(fp, name, &ups[i], "down");
		fprintf(fp, "%" PRIu64 "\n", ups[i].down_stanzas);
		prom_uplink(fp, name, &ups[i], "up");
		fprintf(fp, "%" PRIu64 "\n", ups[i].up_stanzas);
	}
	name = "gatewayd_upstream_held_bytes";
	prom_head(fp, name, GAUGE, "Bytes of the stanzas held, by direction.");
	for (i = 0; i < n; i++) {
		prom_uplink(fp, name, &ups[i], "down");
		fprintf(fp, "%" PRIu64 "\n", ups[i].down_bytes);
		prom_uplink(fp, name, &ups[i], "up");
		fprintf(fp, "%" PRIu64 "\n", ups[i].up_bytes);
	}
}

/* The Prometheus text exposition format, version 0.0.4. */
void
out_metrics(FILE *fp, const struct answer *a)
{
	prom_global(fp, &a->summary);
	prom_bounces(fp, &a->summary);
	prom_components(fp, a->comps, a->ncomps);
	prom_listeners(fp, a->listeners, a->nlisteners);
	prom_upstreams(fp, a->upstreams, a->nupstreams);
}
