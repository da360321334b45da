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
 * What gatewayctl prints: tables, key: value blocks, JSON documents and
 * the Prometheus text format, each made from the structs of common/ctl.h
 * and written to a stdio stream, and nothing else: no socket, no daemon,
 * so the regress tests feed them fixed structs.
 */

#ifndef OUTPUT_H
#define OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ctl.h"
#include "parser.h"

/* A component as the daemon describes it: its message, then its aliases. */
struct comp_info {
	struct ctl_component	 c;
	char			**aliases;
	size_t			 naliases;
};

#define ANSWER_MSGMAX	1024

/* Everything one command got back, or why it got nothing. */
struct answer {
	enum action		 action;
	char			 domain[GW_NAME_MAX];	/* asked about */
	int			 status;	/* 0 done, else failed */
	char			 message[ANSWER_MSGMAX];
	int			 have_summary;
	struct ctl_summary	 summary;
	struct comp_info	*comps;
	size_t			 ncomps;
	struct ctl_listener	*listeners;
	size_t			 nlisteners;
	struct ctl_upstream	*upstreams;
	size_t			 nupstreams;
	char			**lines;
	size_t			 nlines;
};

void	 out_string(FILE *, const char *);
void	 out_summary(FILE *, const struct ctl_summary *);
void	 out_components(FILE *, const struct comp_info *, size_t);
void	 out_component(FILE *, const struct comp_info *);
void	 out_listeners(FILE *, const struct ctl_listener *, size_t);
void	 out_upstreams(FILE *, const struct ctl_upstream *, size_t);
void	 out_metrics(FILE *, const struct answer *);
void	 out_json(FILE *, const struct answer *);
void	 fmt_time(char *, size_t, int64_t);
const char *upstream_state(uint32_t);
size_t	 utf8_seq(const unsigned char *, uint32_t *);

#define REPLACEMENT	"\xef\xbf\xbd"	/* U+FFFD in UTF-8 */
void	 fmt_duration(char *, size_t, int64_t);

#endif /* OUTPUT_H */
