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
 * The commands of gatewayctl, as a table of words: what the command line
 * asks for, checked before anything is sent to the daemon.
 */

#ifndef PARSER_H
#define PARSER_H

#include <stdio.h>

#include "msg.h"

enum action {
	NONE,
	HELP,
	SHOW_SUMMARY,
	SHOW_COMPONENTS,
	SHOW_COMPONENT,
	SHOW_LISTENERS,
	SHOW_UPSTREAMS,
	SHOW_METRICS,
	RELOAD,
	KICK,
	LOG_VERBOSE,
	LOG_BRIEF
};

struct parse_result {
	enum action	 action;
	char		 domain[GW_NAME_MAX];	/* component, kick */
};

#define PARSE_ERRMAX	512

int		 parse(int, char *[], struct parse_result *, char *, size_t);
void		 parse_commands(FILE *, const char *);
const char	*action_name(enum action);

#endif /* PARSER_H */
