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
 * The control socket: what gatewayctl asks the engine and what it
 * answers.  Messages are imsg, each of a fixed size (checked exactly by
 * the receiver; a request of another size, or of an unknown type, ends
 * that control connection and nothing else).  A request carries
 * GW_CTL_VERSION as its peerid; every answer is a run of messages ended
 * by one CTL_END.  Strings are NUL padded.  Nothing here ever holds a
 * secret or a digest.
 */

#ifndef CTL_H
#define CTL_H

#include <stdint.h>

#include "msg.h"

#define GW_CTL_VERSION		2
#define GW_CTL_ADDR_MAX		64	/* a numeric address and a scope */
#define GW_CTL_LINE_MAX		GW_LINE_MAX

enum ctl_type {
	/* gatewayctl -> engine */
	CTL_SHOW_SUMMARY = 100,	/* -> CTL_SUMMARY */
	CTL_SHOW_COMPONENTS,	/* -> CTL_COMPONENT (CTL_ALIAS...) each */
	CTL_SHOW_COMPONENT,	/* struct ctl_name -> the same, for one */
	CTL_SHOW_LISTENERS,	/* -> CTL_LISTENER each */
	CTL_RELOAD,		/* -> CTL_LINE each error, CTL_END */
	CTL_KICK,		/* struct ctl_name */
	CTL_LOG_VERBOSE,	/* struct ctl_verbose */
	CTL_SHOW_UPSTREAMS,	/* -> CTL_UPSTREAM each */

	/* engine -> gatewayctl */
	CTL_SUMMARY = 200,	/* struct ctl_summary */
	CTL_COMPONENT,		/* struct ctl_component */
	CTL_ALIAS,		/* struct ctl_name: of the component before */
	CTL_LISTENER,		/* struct ctl_listener */
	CTL_LINE,		/* struct ctl_line: a line of a result */
	CTL_END,		/* struct ctl_end: the answer is complete */
	CTL_UPSTREAM		/* struct ctl_upstream */
};

/* The state of an uplink, in struct ctl_upstream. */
enum ctl_uplink_state {
	CTL_UPLINK_WAITING,	/* for its next try */
	CTL_UPLINK_CONNECTING,	/* the parent connects */
	CTL_UPLINK_HANDSHAKE,	/* stream header and handshake */
	CTL_UPLINK_UP
};

struct ctl_name {
	char			 name[GW_NAME_MAX];
};

struct ctl_verbose {
	int32_t			 verbose;	/* 0 brief, 1 verbose */
};

/* Counters count since the engine started; rates over the last 10 s. */
struct ctl_summary {
	int64_t			 started;	/* time(3) of the start */
	int64_t			 uptime;	/* seconds */
	uint32_t		 connections;	/* open now */
	uint32_t		 unauthenticated;
	uint32_t		 authenticated;
	uint32_t		 components;	/* configured */
	uint32_t		 listeners;
	uint32_t		 throttled_sources;	/* held down by authd */
	uint64_t		 accepted;	/* connections so far */
	uint64_t		 refused;	/* at once, over a limit */
	uint64_t		 shed;		/* to make room */
	uint64_t		 stanzas_in;
	uint64_t		 stanzas_out;
	uint64_t		 bytes_in;
	uint64_t		 bytes_out;
	uint64_t		 bytes_unacked;	/* written, never acknowledged */
	uint32_t		 stanzas_in_rate;	/* a second */
	uint32_t		 stanzas_out_rate;
	uint64_t		 bounces;
	uint64_t		 bounce_malformed;	/* jid-malformed */
	uint64_t		 bounce_not_found;	/* remote-server-not-found */
	uint64_t		 bounce_timeout;	/* remote-server-timeout */
	uint64_t		 takeovers;
	uint64_t		 auth_failures;	/* handshakes refused */
	uint64_t		 stalls;	/* streams ended, not reading */
	uint64_t		 parsers;	/* streams not resting */
	uint64_t		 parser_bytes;	/* their arenas' pages */
};

/* A configured component, connected or not; counters of all its streams. */
struct ctl_component {
	char			 name[GW_NAME_MAX];
	char			 peer[GW_CTL_ADDR_MAX];	/* "" if none */
	int64_t			 since;		/* time(3), 0 if none */
	uint32_t		 naliases;	/* CTL_ALIAS messages after */
	uint32_t		 connected;	/* 1 when a stream holds it */
	uint64_t		 stanzas_in;
	uint64_t		 stanzas_out;
	uint64_t		 bytes_in;
	uint64_t		 bytes_out;
	uint64_t		 queued;	/* bytes waiting for it now */
	uint64_t		 stalls;
	uint64_t		 takeovers;
	uint64_t		 bounces;	/* sent to it */
	uint64_t		 streams;	/* authenticated so far */
};

/*
 * The uplink of a component with an upstream: its stream to the server,
 * and what is held each way.  Down: from the server, for the component
 * while it is away; up: from the component, for the server while the
 * uplink is down.
 */
struct ctl_upstream {
	char			 domain[GW_NAME_MAX];	/* the component */
	char			 upstream[GW_UPSTREAM_NAME_MAX];
	char			 last_error[256];	/* "" for none */
	uint32_t		 state;		/* enum ctl_uplink_state */
	int64_t			 since;		/* time(3) it got there */
	uint64_t		 reconnects;
	uint64_t		 down_stanzas;
	uint64_t		 down_bytes;
	uint64_t		 up_stanzas;
	uint64_t		 up_bytes;
};

struct ctl_listener {
	char			 addr[GW_CTL_ADDR_MAX];
	uint32_t		 port;
	uint32_t		 paused;	/* accept(2) waits for room */
	uint64_t		 accepted;
};

struct ctl_line {
	char			 line[GW_CTL_LINE_MAX];
};

struct ctl_end {
	int32_t			 status;	/* 0 done, else failed */
	char			 message[256];	/* "reloaded", or why not */
};

#endif /* CTL_H */
