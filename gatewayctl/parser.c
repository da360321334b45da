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
 * The command line as a tree of word tables, in the manner of bgpctl: a
 * word matches a keyword it spells out or begins, provided it begins no
 * other keyword of the same table; a word that spells a keyword out
 * picks it even when it also begins a longer one ("component" and
 * "components").  Nothing here talks to the daemon, so every mistake is
 * found, and reported, before a request is sent.
 */

#include <stdio.h>
#include <string.h>

#include "parser.h"

enum token_type {
	ENDTOKEN,		/* the end of a table */
	KEYWORD,
	DOMAIN			/* any word: a domain, checked for size */
};

struct token {
	enum token_type		 type;
	const char		*keyword;
	enum action		 action;
	const struct token	*next;	/* NULL: the command is whole */
};

/* Leaves first, so that no table needs declaring before it is defined. */
static const struct token t_domain[] = {
	{ DOMAIN,	"domain",	NONE,		NULL },
	{ ENDTOKEN,	NULL,		NONE,		NULL }
};

static const struct token t_log[] = {
	{ KEYWORD,	"verbose",	LOG_VERBOSE,	NULL },
	{ KEYWORD,	"brief",	LOG_BRIEF,	NULL },
	{ ENDTOKEN,	NULL,		NONE,		NULL }
};

static const struct token t_show[] = {
	{ KEYWORD,	"summary",	SHOW_SUMMARY,	NULL },
	{ KEYWORD,	"components",	SHOW_COMPONENTS, NULL },
	{ KEYWORD,	"component",	SHOW_COMPONENT,	t_domain },
	{ KEYWORD,	"listeners",	SHOW_LISTENERS,	NULL },
	{ KEYWORD,	"upstreams",	SHOW_UPSTREAMS,	NULL },
	{ KEYWORD,	"metrics",	SHOW_METRICS,	NULL },
	{ ENDTOKEN,	NULL,		NONE,		NULL }
};

static const struct token t_main[] = {
	{ KEYWORD,	"show",		NONE,		t_show },
	{ KEYWORD,	"reload",	RELOAD,		NULL },
	{ KEYWORD,	"kick",		KICK,		t_domain },
	{ KEYWORD,	"log",		NONE,		t_log },
	{ KEYWORD,	"help",		HELP,		NULL },
	{ ENDTOKEN,	NULL,		NONE,		NULL }
};

static const char *const action_names[] = {
	[NONE] =		"",
	[HELP] =		"help",
	[SHOW_SUMMARY] =	"show summary",
	[SHOW_COMPONENTS] =	"show components",
	[SHOW_COMPONENT] =	"show component",
	[SHOW_LISTENERS] =	"show listeners",
	[SHOW_UPSTREAMS] =	"show upstreams",
	[SHOW_METRICS] =	"show metrics",
	[RELOAD] =		"reload",
	[KICK] =		"kick",
	[LOG_VERBOSE] =		"log verbose",
	[LOG_BRIEF] =		"log brief"
};

static void	 keywords(char *, size_t, const struct token *, const char *,
		    size_t);
static int	 match_domain(const struct token *, const char *,
		    const char *, struct parse_result *, char *, size_t);
static const struct token *match_token(const struct token *, const char *,
		    const char *, struct parse_result *, char *, size_t);
static void	 print_table(FILE *, const char *, const struct token *,
		    const char *);

/*
 * The keywords of a table that begin with the first len bytes of word
 * (all of them when len is 0), as "a, b or c".
 */
static void
keywords(char *buf, size_t size, const struct token *table, const char *word,
    size_t len)
{
	const struct token	*t;
	size_t			 n = 0, total = 0;

	for (t = table; t->type != ENDTOKEN; t++)
		if (strncmp(word, t->keyword, len) == 0)
			total++;
	buf[0] = '\0';
	for (t = table; t->type != ENDTOKEN; t++) {
		if (strncmp(word, t->keyword, len) != 0)
			continue;
		if (n > 0)
			strlcat(buf, n == total - 1 ? " or " : ", ", size);
		strlcat(buf, t->keyword, size);
		n++;
	}
}

static int
match_domain(const struct token *t, const char *path, const char *word,
    struct parse_result *res, char *err, size_t errlen)
{
	if (word == NULL) {
		snprintf(err, errlen, "%s: missing %s", path, t->keyword);
		return (-1);
	}
	if (*word == '\0') {
		snprintf(err, errlen, "%s: empty %s", path, t->keyword);
		return (-1);
	}
	if (strlcpy(res->domain, word, sizeof(res->domain)) >=
	    sizeof(res->domain)) {
		snprintf(err, errlen, "%s: %s too long: %zu bytes, at most %zu",
		    path, t->keyword, strlen(word), sizeof(res->domain) - 1);
		return (-1);
	}
	return (0);
}

/* The entry of the table that word picks, or NULL and why not in err. */
static const struct token *
match_token(const struct token *table, const char *path, const char *word,
    struct parse_result *res, char *err, size_t errlen)
{
	const struct token	*t, *found = NULL;
	char			 list[256];
	size_t			 len, n = 0;

	if (table->type == DOMAIN) {
		if (match_domain(table, path, word, res, err, errlen) == -1)
			return (NULL);
		return (table);
	}
	if (word == NULL) {
		keywords(list, sizeof(list), table, "", 0);
		if (*path == '\0')
			snprintf(err, errlen, "missing command: %s", list);
		else
			snprintf(err, errlen, "%s: missing argument: %s", path,
			    list);
		return (NULL);
	}
	len = strlen(word);
	for (t = table; t->type != ENDTOKEN; t++) {
		if (strcmp(word, t->keyword) == 0) {
			found = t;
			n = 1;
			break;
		}
		if (len > 0 && strncmp(word, t->keyword, len) == 0) {
			found = t;
			n++;
		}
	}
	if (n == 1) {
		if (found->action != NONE)
			res->action = found->action;
		return (found);
	}
	if (n > 1) {
		keywords(list, sizeof(list), table, word, len);
		snprintf(err, errlen, "%s%sambiguous argument: %s (%s)", path,
		    *path ? ": " : "", word, list);
	} else {
		keywords(list, sizeof(list), table, "", 0);
		snprintf(err, errlen, "%s%sunknown %s: %s (%s)", path,
		    *path ? ": " : "", *path ? "argument" : "command", word,
		    list);
	}
	return (NULL);
}

/*
 * Fills res from the words of a command; -1 and a message in err for
 * an unknown or ambiguous word, one missing or one too many.
 */
int
parse(int argc, char *argv[], struct parse_result *res, char *err,
    size_t errlen)
{
	const struct token	*table = t_main, *t;
	char			 path[64] = "";
	int			 i;

	memset(res, 0, sizeof(*res));
	for (i = 0; table != NULL; i++) {
		t = match_token(table, path, i < argc ? argv[i] : NULL, res,
		    err, errlen);
		if (t == NULL)
			return (-1);
		if (t->type == KEYWORD) {
			if (*path != '\0')
				strlcat(path, " ", sizeof(path));
			strlcat(path, t->keyword, sizeof(path));
		}
		table = t->next;
	}
	if (i < argc) {
		snprintf(err, errlen, "%s: too many arguments: %s", path,
		    argv[i]);
		return (-1);
	}
	return (0);
}

static void
print_table(FILE *fp, const char *indent, const struct token *table,
    const char *path)
{
	const struct token	*t;
	char			 p[64];

	for (t = table; t->type != ENDTOKEN; t++) {
		if (t->type == DOMAIN) {
			fprintf(fp, "%s%s %s\n", indent, path, t->keyword);
			continue;
		}
		snprintf(p, sizeof(p), "%s%s%s", path, *path ? " " : "",
		    t->keyword);
		if (t->next == NULL)
			fprintf(fp, "%s%s\n", indent, p);
		else
			print_table(fp, indent, t->next, p);
	}
}

/* Every command, one a line, each after indent. */
void
parse_commands(FILE *fp, const char *indent)
{
	print_table(fp, indent, t_main, "");
}

/* The command an action stands for, as its words spell it out in full. */
const char *
action_name(enum action action)
{
	if ((size_t)action >= sizeof(action_names) / sizeof(action_names[0]))
		return ("");
	return (action_names[action]);
}
