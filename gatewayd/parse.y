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

%{
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/queue.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gatewayd.h"
#include "log.h"

/* A configuration file being read, innermost include last. */
struct file {
	TAILQ_ENTRY(file)	 entry;
	FILE			*stream;
	char			*name;
	int			 lineno;
	int			 errors;
	int			 ungetpos;
	int			 ungetsize;
	unsigned char		*ungetbuf;
	int			 eof_reached;
};
TAILQ_HEAD(files, file);

/* A macro, from the file or from -D (which wins). */
struct sym {
	TAILQ_ENTRY(sym)	 entry;
	int			 used;
	int			 persist;
	char			*name;
	char			*value;
};
TAILQ_HEAD(syms, sym);

#define MAX_INCLUDE_DEPTH	8

/* An upstream line that failed: the block is not also called incomplete. */
#define UP_FAILED_CONNECT	0x01
#define UP_FAILED_SECRETS	0x02

/* grace size: 0 holds nothing; else room for a few stanzas at least. */
#define GRACE_SIZE_MIN		4096
#define GRACE_SIZE_MAX		(256 * 1024 * 1024)

static struct files		 files = TAILQ_HEAD_INITIALIZER(files);
static struct syms		 symhead = TAILQ_HEAD_INITIALIZER(symhead);
static struct file		*file, *topfile;
static struct gatewayd_conf	*conf;
static struct gw_component	*curcomp;
static struct gw_component	 badcomp;	/* holds a bad block's options */
static struct gw_upstream	*curup;
static struct gw_upstream	 badup;		/* the same for an upstream */
static int			 curup_failed;	/* UP_FAILED_* */
static int			 errors;
static int			 lex_error;	/* reported, skip "syntax error" */
static int			 parse_flags;
static int			 ctlsock_main;	/* an unrestricted one given */

static struct file	*pushfile(const char *);
static int		 popfile(void);
static int		 yyparse(void);
static int		 yylex(void);
/*
 * An action that frees a value it got clears it too: should the rule
 * then fail (YYERROR), error recovery frees it again (%destructor).
 */
#define FREE_ARG(p)	do { free(p); (p) = NULL; } while (0)

static int		 yyerror(const char *, ...)
			    __attribute__((__format__ (printf, 1, 2)));
static int		 kw_cmp(const void *, const void *);
static int		 lookup(char *);
static int		 igetc(void);
static int		 lgetc(int);
static void		 lungetc(int);
static int		 findeol(void);
static int		 symset(const char *, const char *, int);
static char		*symget(const char *);
static int		 host_unbracket(const char *, char *, size_t);
static int		 add_listener(const char *, long long);
static int		 add_ctlsock(const char *, int);
static int		 ctlsock_default(void);
static void		 add_component(const char *);
static int		 add_alias(const char *);
static int		 set_upstream(const char *);
static void		 add_upstream(const char *);
static void		 end_upstream(void);
static void		 badup_clear(void);
static int		 add_connect(const char *, long long);
static int		 set_grace_size(long long);
static void		 check_upstreams(void);
static int		 check_name(const char *, char *);
static int		 parse_size(const char *, long long, uint32_t *);
static int		 parse_bytes(const char *, uint32_t *);
static int		 number_in(long long, long long, long long, const char *);
static void		 parse_secrets(void);
static void		 parse_upsecrets(void);
static void		 secret_check_strength(const char *, int, const char *,
			    const char *);
static void		 end_component(void);
static void		 badcomp_clear(void);
static int		 resolve_path(const char *, const char *, char *, size_t);

typedef struct {
	union {
		long long	 number;
		char		*string;
	} v;
	int lineno;
} YYSTYPE;

%}

%token	ADDRESS ALIAS ATTRIBUTES CHECKS CHROOT COMPONENT CONFLICT CONNECT
%token	CONNECTIONS CONTROL DEFAULT DEPTH FAILURES GRACE HANDSHAKE HOLDDOWN
%token	IDLE INCLUDE LISTEN MAX NAME ON PER PORT PREAUTH QUEUE REJECT REPLACE
%token	RESTRICTED ROUTE SECRETS SIZE SOCKET STANZA TAKEOVERS TIMEOUT TO
%token	UNAUTHENTICATED UPSTREAM USER
%token	ERROR
%token	<v.string>	STRING
%token	<v.number>	NUMBER
%type	<v.number>	port timeout peraddr holddown restricted
%type	<v.string>	string
/* What error recovery throws away is freed, not leaked. */
%destructor	{ free($$); }	STRING string

%%

grammar		: /* empty */
		| grammar include '\n'
		| grammar '\n'
		| grammar varset '\n'
		| grammar main '\n'
		| grammar upstream '\n'
		| grammar component '\n'
		| grammar error '\n'		{ file->errors++; yyerrok; }
		;

include		: INCLUDE STRING		{
			struct file	*nfile;
			char		 path[PATH_MAX];

			if (resolve_path(file->name, $2, path,
			    sizeof(path)) == -1 ||
			    (nfile = pushfile(path)) == NULL) {
				yyerror("failed to include file %s", $2);
				FREE_ARG($2);
				YYERROR;
			}
			FREE_ARG($2);
			file = nfile;
			lungetc('\n');
		}
		;

string		: string STRING			{
			if (asprintf(&$$, "%s %s", $1, $2) == -1)
				fatal("string: asprintf");
			FREE_ARG($1);
			FREE_ARG($2);
		}
		| STRING
		;

varset		: STRING '=' NUMBER		{
			char	*value;

			if (asprintf(&value, "%lld", $3) == -1)
				fatal("asprintf");
			if (symset($1, value, 0) == -1)
				fatal("cannot store variable");
			FREE_ARG($1);
			free(value);
		}
		| STRING '=' string		{
			char	*s;

			for (s = $1; *s != '\0'; s++)
				if (!isalnum((unsigned char)*s) && *s != '_') {
					yyerror("macro name cannot contain "
					    "'%c'", *s);
					FREE_ARG($1);
					FREE_ARG($3);
					YYERROR;
				}
			if (symset($1, $3, 0) == -1)
				fatal("cannot store variable");
			FREE_ARG($1);
			FREE_ARG($3);
		}
		;

port		: /* empty */			{ $$ = GATEWAYD_PORT; }
		| PORT NUMBER			{
			if ($2 < 1 || $2 > 65535) {
				yyerror("port %lld out of range", $2);
				YYERROR;
			}
			$$ = $2;
		}
		;

timeout		: NUMBER			{
			if ($1 < 1 || $1 > GW_TIMEOUT_MAX) {
				yyerror("timeout %lld out of range (1 to %d "
				    "seconds)", $1, GW_TIMEOUT_MAX);
				YYERROR;
			}
			$$ = $1;
		}
		;

restricted	: /* empty */			{ $$ = 0; }
		| RESTRICTED			{ $$ = 1; }
		;

peraddr		: /* empty */			{
			$$ = GW_MAX_UNAUTH_PER_ADDR;
		}
		| PER ADDRESS NUMBER		{
			if (number_in($3, 1, 1000000, "per address") == -1)
				YYERROR;
			$$ = $3;
		}
		;

holddown	: /* empty */			{ $$ = 0; }
		| HOLDDOWN timeout		{ $$ = $2; }
		;

main		: LISTEN ON STRING port		{
			int	ret;

			ret = add_listener($3, $4);
			FREE_ARG($3);
			if (ret == -1)
				YYERROR;
		}
		| USER STRING			{
			if (strlcpy(conf->user, $2, sizeof(conf->user)) >=
			    sizeof(conf->user) || $2[0] == '\0') {
				yyerror("invalid user name");
				FREE_ARG($2);
				YYERROR;
			}
			FREE_ARG($2);
		}
		| CONTROL SOCKET STRING restricted	{
			if (add_ctlsock($3, $4) == -1) {
				FREE_ARG($3);
				YYERROR;
			}
			FREE_ARG($3);
		}
		| CHROOT STRING			{
			if ($2[0] == '\0' || resolve_path(file->name, $2,
			    conf->chroot, sizeof(conf->chroot)) == -1) {
				yyerror("invalid chroot path");
				FREE_ARG($2);
				YYERROR;
			}
			FREE_ARG($2);
		}
		| SECRETS STRING		{
			if ($2[0] == '\0' || resolve_path(file->name, $2,
			    conf->secrets_path,
			    sizeof(conf->secrets_path)) == -1) {
				yyerror("invalid secrets path");
				FREE_ARG($2);
				YYERROR;
			}
			FREE_ARG($2);
		}
		| MAX CONNECTIONS NUMBER	{
			if ($3 < 1 || $3 > 1000000) {
				yyerror("max connections %lld out of range "
				    "(1 to 1000000)", $3);
				YYERROR;
			}
			conf->global.max_conns = $3;
		}
		| MAX STANZA SIZE NUMBER	{
			if (parse_size(NULL, $4,
			    &conf->global.max_stanza) == -1)
				YYERROR;
		}
		| NAME STRING			{
			char	name[GW_NAME_MAX];

			if (strlcpy(name, $2, sizeof(name)) >= sizeof(name) ||
			    domain_normalize(name) == -1) {
				yyerror("invalid name \"%s\"", $2);
				FREE_ARG($2);
				YYERROR;
			}
			FREE_ARG($2);
			strlcpy(conf->global.name, name,
			    sizeof(conf->global.name));
			conf->name_set = 1;
		}
		| MAX QUEUE SIZE NUMBER		{
			if (number_in($4, 65536, 256 * 1024 * 1024,
			    "max queue size") == -1)
				YYERROR;
			conf->global.max_queue = $4;
		}
		| MAX QUEUE SIZE STRING		{
			uint32_t	size;
			int		ret;

			ret = parse_bytes($4, &size);
			FREE_ARG($4);
			if (ret == -1 || number_in(size, 65536,
			    256 * 1024 * 1024, "max queue size") == -1)
				YYERROR;
			conf->global.max_queue = size;
		}
		| QUEUE TIMEOUT timeout		{
			conf->global.queue_timeout = $3;
		}
		| MAX TAKEOVERS NUMBER PER timeout holddown {
			if (number_in($3, 1, 1000, "max takeovers") == -1)
				YYERROR;
			conf->global.flap_max = $3;
			conf->global.flap_window = $5;
			conf->global.flap_holddown = $6 ? $6 : GW_FLAP_HOLDDOWN;
		}
		| MAX UNAUTHENTICATED NUMBER peraddr {
			if (number_in($3, 1, 1000000,
			    "max unauthenticated") == -1)
				YYERROR;
			conf->global.max_unauth = $3;
			conf->global.max_unauth_per_addr = $4 < $3 ? $4 : $3;
		}
		| MAX PREAUTH SIZE NUMBER	{
			if (number_in($4, 512, 65536, "max preauth size") == -1)
				YYERROR;
			conf->global.max_preauth = $4;
		}
		| MAX DEPTH NUMBER		{
			if (number_in($3, 2, 1024, "max depth") == -1)
				YYERROR;
			conf->global.max_depth = $3;
		}
		| MAX ATTRIBUTES NUMBER		{
			if (number_in($3, 4, 1024, "max attributes") == -1)
				YYERROR;
			conf->global.max_attrs = $3;
		}
		| HANDSHAKE FAILURES NUMBER PER timeout holddown {
			if (number_in($3, 1, 1000, "handshake failures") == -1)
				YYERROR;
			conf->global.auth_fail_max = $3;
			conf->global.auth_fail_window = $5;
			conf->global.auth_holddown = $6 ? $6 : GW_AUTH_HOLDDOWN;
		}
		| MAX STANZA SIZE STRING	{
			int	ret;

			ret = parse_size($4, 0, &conf->global.max_stanza);
			FREE_ARG($4);
			if (ret == -1)
				YYERROR;
		}
		| HANDSHAKE CHECKS NUMBER	{
			if (number_in($3, 1, 10000, "handshake checks") == -1)
				YYERROR;
			conf->global.auth_budget = $3;
		}
		| HANDSHAKE TIMEOUT timeout	{
			conf->global.handshake_timeout = $3;
		}
		| IDLE TIMEOUT timeout		{
			conf->global.idle_timeout = $3;
		}
		;

upstream	: UPSTREAM STRING		{
			add_upstream($2);
			FREE_ARG($2);
		} upblock			{
			end_upstream();
		}
		;

upblock		: /* empty */
		| '{' upopts_l '}'
		;

/* The options of a block, as a component's (compopts_l). */
upopts_l	: /* empty */
		| upopts_l '\n'
		| upopts_l upopt
		| upopts_l error '\n'		{ yyerrok; }
		;

upopt		: CONNECT TO STRING port	{
			int	ret;

			ret = add_connect($3, $4);
			FREE_ARG($3);
			if (ret == -1) {
				curup_failed |= UP_FAILED_CONNECT;
				YYERROR;
			}
		}
		| SECRETS STRING		{
			char	path[PATH_MAX];

			if ($2[0] == '\0' || resolve_path(file->name, $2, path,
			    sizeof(path)) == -1) {
				yyerror("invalid secrets path");
				FREE_ARG($2);
				curup_failed |= UP_FAILED_SECRETS;
				YYERROR;
			}
			FREE_ARG($2);
			strlcpy(curup->secrets_path, path,
			    sizeof(curup->secrets_path));
		}
		| GRACE NUMBER			{
			if (number_in($2, 0, GW_TIMEOUT_MAX, "grace") == -1)
				YYERROR;
			curup->conf.grace = $2;
		}
		| GRACE SIZE NUMBER		{
			if (set_grace_size($3) == -1)
				YYERROR;
		}
		| GRACE SIZE STRING		{
			uint32_t	size;
			int		ret;

			ret = parse_bytes($3, &size);
			FREE_ARG($3);
			if (ret == -1 || set_grace_size(size) == -1)
				YYERROR;
		}
		;

component	: COMPONENT STRING		{
			add_component($2);
			FREE_ARG($2);
		} compblock			{
			end_component();
		}
		;

compblock	: /* empty */
		| '{' compopts_l '}'
		;

/*
 * Options, any number on a line.  A bad line is over at its newline,
 * without a look at the next token: an error there is reported too,
 * where "error nl" (a newline and all those after it) would swallow it.
 */
compopts_l	: /* empty */
		| compopts_l '\n'
		| compopts_l compopt
		| compopts_l error '\n'		{ yyerrok; }
		;

compopt		: ALIAS STRING			{
			int	ret;

			ret = add_alias($2);
			FREE_ARG($2);
			if (ret == -1)
				YYERROR;
		}
		| DEFAULT ROUTE			{
			struct gw_component	*c;

			TAILQ_FOREACH(c, &conf->components, entry)
				if (c != curcomp &&
				    (c->conf.flags & GW_COMP_DEFAULT_ROUTE))
					break;
			if (c != NULL) {
				yyerror("component %s is already the default "
				    "route", c->conf.name);
				YYERROR;
			}
			curcomp->conf.flags |= GW_COMP_DEFAULT_ROUTE;
		}
		| ON CONFLICT REPLACE		{
			curcomp->conf.conflict = CONFLICT_REPLACE;
		}
		| ON CONFLICT REJECT		{
			curcomp->conf.conflict = CONFLICT_REJECT;
		}
		| MAX STANZA SIZE NUMBER	{
			if (parse_size(NULL, $4,
			    &curcomp->conf.max_stanza) == -1)
				YYERROR;
		}
		| MAX STANZA SIZE STRING	{
			int	ret;

			ret = parse_size($4, 0, &curcomp->conf.max_stanza);
			FREE_ARG($4);
			if (ret == -1)
				YYERROR;
		}
		| UPSTREAM STRING		{
			int	ret;

			ret = set_upstream($2);
			FREE_ARG($2);
			if (ret == -1)
				YYERROR;
		}
		;

%%

struct keywords {
	const char	*k_name;
	int		 k_val;
};

static int
yyerror(const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	/* The lexer said what was wrong with this line already. */
	if (lex_error && strcmp(fmt, "syntax error") == 0) {
		lex_error = 0;
		return (0);
	}
	file->errors++;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatalx("yyerror vasprintf");
	va_end(ap);
	log_warnx("%s:%d: %s", file->name, yylval.lineno, msg);
	free(msg);
	return (0);
}

/* Reports a problem found after parsing, at the line it belongs to. */
static void
conf_error(const char *fname, int lineno, const char *fmt, ...)
    __attribute__((__format__ (printf, 3, 4)));

static void
conf_error(const char *fname, int lineno, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	errors++;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatalx("conf_error vasprintf");
	va_end(ap);
	log_warnx("%s:%d: %s", fname, lineno, msg);
	free(msg);
}

static int
kw_cmp(const void *k, const void *e)
{
	return (strcmp(k, ((const struct keywords *)e)->k_name));
}

static int
lookup(char *s)
{
	/* Sorted: bsearch. */
	static const struct keywords keywords[] = {
		{ "address",		ADDRESS },
		{ "alias",		ALIAS },
		{ "attributes",		ATTRIBUTES },
		{ "checks",		CHECKS },
		{ "chroot",		CHROOT },
		{ "component",		COMPONENT },
		{ "conflict",		CONFLICT },
		{ "connect",		CONNECT },
		{ "connections",	CONNECTIONS },
		{ "control",		CONTROL },
		{ "default",		DEFAULT },
		{ "depth",		DEPTH },
		{ "failures",		FAILURES },
		{ "grace",		GRACE },
		{ "handshake",		HANDSHAKE },
		{ "holddown",		HOLDDOWN },
		{ "idle",		IDLE },
		{ "include",		INCLUDE },
		{ "listen",		LISTEN },
		{ "max",		MAX },
		{ "name",		NAME },
		{ "on",			ON },
		{ "per",		PER },
		{ "port",		PORT },
		{ "preauth",		PREAUTH },
		{ "queue",		QUEUE },
		{ "reject",		REJECT },
		{ "replace",		REPLACE },
		{ "restricted",		RESTRICTED },
		{ "route",		ROUTE },
		{ "secrets",		SECRETS },
		{ "size",		SIZE },
		{ "socket",		SOCKET },
		{ "stanza",		STANZA },
		{ "takeovers",		TAKEOVERS },
		{ "timeout",		TIMEOUT },
		{ "to",			TO },
		{ "unauthenticated",	UNAUTHENTICATED },
		{ "upstream",		UPSTREAM },
		{ "user",		USER }
	};
	const struct keywords	*p;

	p = bsearch(s, keywords, sizeof(keywords) / sizeof(keywords[0]),
	    sizeof(keywords[0]), kw_cmp);
	if (p != NULL)
		return (p->k_val);
	return (STRING);
}

#define START_EXPAND	1
#define DONE_EXPAND	2

static int	expanding;

/* The next raw character of the current file, or EOF. */
static int
igetc(void)
{
	int	c;

	for (;;) {
		if (file->ungetpos > 0)
			c = file->ungetbuf[--file->ungetpos];
		else
			c = getc(file->stream);

		if (c == START_EXPAND)
			expanding = 1;
		else if (c == DONE_EXPAND)
			expanding = 0;
		else
			break;
	}
	return (c);
}

/*
 * A character for the lexer: backslash-newline joins lines (not inside
 * quotes, where quotec handles it), and the end of an included file
 * returns to the file that included it.
 */
static int
lgetc(int quotec)
{
	int	c, next;

	if (quotec) {
		if ((c = igetc()) == EOF) {
			yyerror("reached end of file while parsing "
			    "quoted string");
			if (file == topfile || popfile() == EOF)
				return (EOF);
			return (quotec);
		}
		return (c);
	}

	while ((c = igetc()) == '\\') {
		next = igetc();
		if (next != '\n') {
			c = next;
			break;
		}
		yylval.lineno = file->lineno;
		file->lineno++;
	}

	if (c == EOF) {
		/* Pretend the file ended with a newline. */
		if (file->eof_reached == 0) {
			file->eof_reached = 1;
			return ('\n');
		}
		while (c == EOF) {
			if (file == topfile || popfile() == EOF)
				return (EOF);
			c = igetc();
		}
	}
	return (c);
}

static void
lungetc(int c)
{
	unsigned char	*p;

	if (c == EOF)
		return;
	if (file->ungetpos >= file->ungetsize) {
		p = reallocarray(file->ungetbuf, file->ungetsize, 2);
		if (p == NULL)
			fatal("lungetc");
		file->ungetbuf = p;
		file->ungetsize *= 2;
	}
	file->ungetbuf[file->ungetpos++] = c;
}

/* After an error: skip to the end of the line. */
static int
findeol(void)
{
	int	c;

	for (;;) {
		if (file->ungetpos > 0)
			c = file->ungetbuf[--file->ungetpos];
		else
			c = lgetc(0);
		/* Leave the newline: the error rules of the grammar need it. */
		if (c == '\n') {
			lungetc(c);
			break;
		}
		if (c == EOF)
			break;
	}
	lex_error = 1;
	return (ERROR);
}

static int
allowed_in_word(int c)
{
	if (isalnum(c))
		return (1);
	switch (c) {
	case '!': case '%': case '*': case '+': case '-': case '.': case '/':
	case ':': case '@': case '[': case ']': case '_': case '~':
		return (1);
	}
	return (0);
}

static int
yylex(void)
{
	char	 buf[8096];
	char	*p, *val;
	int	 quotec, next, c;
	int	 token;

top:
	p = buf;
	while ((c = lgetc(0)) == ' ' || c == '\t')
		; /* nothing */

	yylval.lineno = file->lineno;
	if (c == '#')
		while ((c = lgetc(0)) != '\n' && c != EOF)
			; /* nothing */
	if (c == '$' && !expanding) {
		while (1) {
			if ((c = lgetc(0)) == EOF)
				return (0);
			if (p + 1 >= buf + sizeof(buf) - 1) {
				yyerror("string too long");
				return (findeol());
			}
			if (isalnum(c) || c == '_') {
				*p++ = c;
				continue;
			}
			*p = '\0';
			lungetc(c);
			break;
		}
		val = symget(buf);
		if (val == NULL) {
			yyerror("macro '%s' not defined", buf);
			return (findeol());
		}
		/* Push the value back, marked so that it is not expanded again. */
		p = val + strlen(val) - 1;
		lungetc(DONE_EXPAND);
		while (p >= val) {
			lungetc((unsigned char)*p);
			p--;
		}
		lungetc(START_EXPAND);
		goto top;
	}

	switch (c) {
	case '\'':
	case '"':
		quotec = c;
		while (1) {
			if ((c = lgetc(quotec)) == EOF)
				return (0);
			if (c == '\n') {
				file->lineno++;
				continue;
			} else if (c == '\\') {
				if ((next = lgetc(quotec)) == EOF)
					return (0);
				if (next == quotec || next == ' ' ||
				    next == '\t' || next == '\\')
					c = next;
				else if (next == '\n') {
					file->lineno++;
					continue;
				} else
					lungetc(next);
			} else if (c == quotec) {
				*p = '\0';
				break;
			} else if (c == '\0') {
				yyerror("syntax error");
				return (findeol());
			}
			if (p + 1 >= buf + sizeof(buf) - 1) {
				yyerror("string too long");
				return (findeol());
			}
			*p++ = c;
		}
		yylval.v.string = strdup(buf);
		if (yylval.v.string == NULL)
			fatal("yylex: strdup");
		return (STRING);
	}

	if (isdigit(c) || c == '-') {
		/* A number, unless more word characters follow. */
		do {
			*p++ = c;
			if ((size_t)(p - buf) >= sizeof(buf)) {
				yyerror("string too long");
				return (findeol());
			}
		} while ((c = lgetc(0)) != EOF && isdigit(c));
		lungetc(c);
		if (p == buf + 1 && buf[0] == '-')
			goto nodigits;
		if (c == EOF || !allowed_in_word(c)) {
			const char	*errstr = NULL;

			*p = '\0';
			yylval.v.number = strtonum(buf, LLONG_MIN,
			    LLONG_MAX, &errstr);
			if (errstr) {
				yyerror("\"%s\" invalid number: %s",
				    buf, errstr);
				return (findeol());
			}
			return (NUMBER);
		} else {
nodigits:
			while (p > buf + 1)
				lungetc((unsigned char)*--p);
			c = (unsigned char)*--p;
			if (c == '-')
				return (c);
		}
	}

	if (allowed_in_word(c)) {
		do {
			*p++ = c;
			if ((size_t)(p - buf) >= sizeof(buf)) {
				yyerror("string too long");
				return (findeol());
			}
		} while ((c = lgetc(0)) != EOF && allowed_in_word(c));
		lungetc(c);
		*p = '\0';
		if ((token = lookup(buf)) == STRING)
			if ((yylval.v.string = strdup(buf)) == NULL)
				fatal("yylex: strdup");
		return (token);
	}
	if (c == '\n') {
		yylval.lineno = file->lineno;
		file->lineno++;
	}
	if (c == EOF)
		return (0);
	return (c);
}

static struct file *
pushfile(const char *name)
{
	struct file	*nfile;
	int		 depth = 0;

	TAILQ_FOREACH(nfile, &files, entry)
		depth++;
	if (depth >= MAX_INCLUDE_DEPTH) {
		log_warnx("%s: includes nested too deeply", name);
		return (NULL);
	}
	if ((nfile = calloc(1, sizeof(*nfile))) == NULL)
		fatal("pushfile");
	if ((nfile->name = strdup(name)) == NULL)
		fatal("pushfile");
	if ((nfile->stream = fopen(nfile->name, "r")) == NULL) {
		log_warn("%s", nfile->name);
		free(nfile->name);
		free(nfile);
		return (NULL);
	}
	nfile->lineno = TAILQ_EMPTY(&files) ? 1 : 0;
	nfile->ungetsize = 16;
	if ((nfile->ungetbuf = malloc(nfile->ungetsize)) == NULL)
		fatal("pushfile");
	TAILQ_INSERT_TAIL(&files, nfile, entry);
	return (nfile);
}

static int
popfile(void)
{
	struct file	*prev;

	if ((prev = TAILQ_PREV(file, files, entry)) != NULL)
		prev->errors += file->errors;

	TAILQ_REMOVE(&files, file, entry);
	fclose(file->stream);
	free(file->name);
	free(file->ungetbuf);
	free(file);
	file = prev;
	return (file ? 0 : EOF);
}

/*
 * A relative path in a configuration file is taken from the directory of
 * that file, so that a configuration and its secrets can move together.
 */
static int
resolve_path(const char *base, const char *path, char *out, size_t outlen)
{
	const char	*slash;
	int		 n;

	if (path[0] == '/' || base == NULL ||
	    (slash = strrchr(base, '/')) == NULL)
		n = snprintf(out, outlen, "%s", path);
	else
		n = snprintf(out, outlen, "%.*s/%s", (int)(slash - base), base,
		    path);
	if (n < 0 || (size_t)n >= outlen)
		return (-1);
	return (0);
}

struct gatewayd_conf *
parse_config(const char *filename, int flags)
{
	struct sym	*sym, *next;

	parse_flags = flags;
	errors = 0;
	ctlsock_main = 0;
	conf = config_new();
	if (strlcpy(conf->conf_path, filename, sizeof(conf->conf_path)) >=
	    sizeof(conf->conf_path)) {
		log_warnx("%s: path too long", filename);
		config_free(conf);
		return (NULL);
	}
	if ((file = pushfile(filename)) == NULL) {
		config_free(conf);
		return (NULL);
	}
	topfile = file;
	/* Nothing of a parse before (a reload's) stays with this one. */
	expanding = 0;
	lex_error = 0;

	yyparse();
	/* Ended inside an included file (a NUL): those close too. */
	while (file != topfile)
		popfile();
	errors += file->errors;
	popfile();
	/* A bad block that never ended leaves nothing behind. */
	badcomp_clear();
	curcomp = NULL;
	badup_clear();
	curup = NULL;
	curup_failed = 0;
	expanding = 0;
	lex_error = 0;

	TAILQ_FOREACH_SAFE(sym, &symhead, entry, next) {
		if (sym->persist)
			continue;
		TAILQ_REMOVE(&symhead, sym, entry);
		free(sym->name);
		free(sym->value);
		free(sym);
	}

	if (TAILQ_EMPTY(&conf->listeners) && errors == 0) {
		/* Nothing said: loopback only, never every interface. */
		if (add_listener("127.0.0.1", GATEWAYD_PORT) == -1)
			errors++;
	}
	/* There is always a socket for every command. */
	if (!ctlsock_main && errors == 0 && ctlsock_default() == -1)
		errors++;
	check_upstreams();
	parse_secrets();
	parse_upsecrets();
	if (errors) {
		config_free(conf);
		conf = NULL;
		return (NULL);
	}
	return (conf);
}

static int
symset(const char *name, const char *value, int persist)
{
	struct sym	*sym;

	TAILQ_FOREACH(sym, &symhead, entry)
		if (strcmp(name, sym->name) == 0)
			break;
	if (sym != NULL) {
		if (sym->persist)
			return (0);	/* -D wins over the file */
		TAILQ_REMOVE(&symhead, sym, entry);
		free(sym->name);
		free(sym->value);
		free(sym);
	}
	if ((sym = calloc(1, sizeof(*sym))) == NULL)
		return (-1);
	if ((sym->name = strdup(name)) == NULL ||
	    (sym->value = strdup(value)) == NULL) {
		free(sym->name);
		free(sym);
		return (-1);
	}
	sym->persist = persist;
	TAILQ_INSERT_TAIL(&symhead, sym, entry);
	return (0);
}

int
cmdline_symset(char *s)
{
	char	*eq;
	int	 ret;

	if ((eq = strchr(s, '=')) == NULL || eq == s)
		return (-1);
	*eq = '\0';
	ret = symset(s, eq + 1, 1);
	*eq = '=';
	return (ret);
}

static char *
symget(const char *name)
{
	struct sym	*sym;

	TAILQ_FOREACH(sym, &symhead, entry)
		if (strcmp(name, sym->name) == 0) {
			sym->used = 1;
			return (sym->value);
		}
	return (NULL);
}

/*
 * A control socket: one for every command (the last one given, else the
 * default), and up to a few restricted ones beside it.
 */
static int
add_ctlsock(const char *path, int restricted)
{
	struct gw_ctlsock	*cs, *other;
	char			 full[PATH_MAX];
	int			 n = 0;

	if (path[0] == '\0' || resolve_path(file->name, path, full,
	    sizeof(full)) == -1 ||
	    strlen(full) >= sizeof(cs->path)) {
		yyerror("invalid control socket path \"%s\" (at most %zu "
		    "bytes)", path, sizeof(cs->path) - 1);
		return (-1);
	}
	TAILQ_FOREACH(other, &conf->ctlsocks, entry) {
		if (strcmp(other->path, full) == 0) {
			yyerror("control socket %s given twice", full);
			return (-1);
		}
		n++;
	}
	if (!restricted && ctlsock_main) {
		yyerror("only one control socket may be unrestricted");
		return (-1);
	}
	if (n >= GW_CTLSOCK_MAX) {
		yyerror("at most %d control sockets", GW_CTLSOCK_MAX);
		return (-1);
	}
	if ((cs = calloc(1, sizeof(*cs))) == NULL)
		fatal("%s", __func__);
	strlcpy(cs->path, full, sizeof(cs->path));
	cs->restricted = restricted;
	cs->fd = -1;
	if (!restricted)
		ctlsock_main = 1;
	TAILQ_INSERT_TAIL(&conf->ctlsocks, cs, entry);
	return (0);
}

/* The unrestricted control socket, where none was given. */
static int
ctlsock_default(void)
{
	struct gw_ctlsock	*cs;

	TAILQ_FOREACH(cs, &conf->ctlsocks, entry)
		if (strcmp(cs->path, GATEWAYD_SOCKET) == 0) {
			log_warnx("%s: control socket %s is restricted, and "
			    "no other is given for every command",
			    conf->conf_path, GATEWAYD_SOCKET);
			return (-1);
		}
	if ((cs = calloc(1, sizeof(*cs))) == NULL)
		fatal("%s", __func__);
	strlcpy(cs->path, GATEWAYD_SOCKET, sizeof(cs->path));
	cs->fd = -1;
	TAILQ_INSERT_TAIL(&conf->ctlsocks, cs, entry);
	return (0);
}

/* "[::1]" is accepted as well as "::1": the address without brackets. */
static int
host_unbracket(const char *addr, char *out, size_t outlen)
{
	size_t	len = strlen(addr);

	if (len > 2 && addr[0] == '[' && addr[len - 1] == ']') {
		if (len - 2 >= outlen)
			return (-1);
		memcpy(out, addr + 1, len - 2);
		out[len - 2] = '\0';
		return (0);
	}
	if (strlcpy(out, addr, outlen) >= outlen)
		return (-1);
	return (0);
}

static int
add_listener(const char *addr, long long port)
{
	struct addrinfo		 hints, *res0, *res;
	struct gw_listen	*l, *other;
	char			 name[NI_MAXHOST], portstr[8];
	int			 error;

	if (host_unbracket(addr, name, sizeof(name)) == -1) {
		yyerror("invalid address %s", addr);
		return (-1);
	}
	snprintf(portstr, sizeof(portstr), "%lld", port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	error = getaddrinfo(name, portstr, &hints, &res0);
	if (error == EAI_NONAME) {
		hints.ai_flags &= ~AI_NUMERICHOST;
		error = getaddrinfo(name, portstr, &hints, &res0);
	}
	if (error) {
		yyerror("cannot listen on %s: %s", addr, gai_strerror(error));
		return (-1);
	}
	for (res = res0; res != NULL; res = res->ai_next) {
		if (res->ai_family != AF_INET && res->ai_family != AF_INET6)
			continue;
		if ((l = calloc(1, sizeof(*l))) == NULL)
			fatal("add_listener");
		memcpy(&l->conf.ss, res->ai_addr, res->ai_addrlen);
		l->fd = -1;
		TAILQ_FOREACH(other, &conf->listeners, entry)
			if (sockaddr_cmp(&other->conf.ss, &l->conf.ss) == 0)
				break;
		if (other != NULL) {
			yyerror("duplicate listen on %s port %lld", addr, port);
			free(l);
			freeaddrinfo(res0);
			return (-1);
		}
		l->conf.id = TAILQ_EMPTY(&conf->listeners) ? 1 :
		    TAILQ_LAST(&conf->listeners, gw_listens)->conf.id + 1;
		TAILQ_INSERT_TAIL(&conf->listeners, l, entry);
	}
	freeaddrinfo(res0);
	return (0);
}

/* A name that is already a component or an alias, or NULL. */
static struct gw_component *
name_owner(const char *name, int *is_alias)
{
	struct gw_component	*c;
	struct gw_alias		*a;

	TAILQ_FOREACH(c, &conf->components, entry) {
		*is_alias = 0;
		if (strcmp(c->conf.name, name) == 0)
			return (c);
		*is_alias = 1;
		TAILQ_FOREACH(a, &c->aliases, entry)
			if (strcmp(a->conf.name, name) == 0)
				return (c);
	}
	return (NULL);
}

static int
check_name(const char *in, char *out)
{
	struct gw_component	*owner;
	int			 is_alias;

	if (strlcpy(out, in, GW_NAME_MAX) >= GW_NAME_MAX ||
	    domain_normalize(out) == -1) {
		yyerror("invalid domain name \"%s\"", in);
		return (-1);
	}
	if ((owner = name_owner(out, &is_alias)) != NULL) {
		if (is_alias)
			yyerror("%s is already an alias of component %s", out,
			    owner->conf.name);
		else
			yyerror("component %s is already defined", out);
		return (-1);
	}
	return (0);
}

/*
 * A component with a bad name still has its block parsed, into a
 * component nobody sees, so that its lines are checked and not reported
 * as syntax errors.
 */
static void
add_component(const char *name)
{
	struct gw_component	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("add_component");
	TAILQ_INIT(&c->aliases);
	c->lineno = yylval.lineno;
	if ((c->file = strdup(file->name)) == NULL)
		fatal("add_component");
	if (check_name(name, c->conf.name) == -1) {
		free(c->file);
		free(c);
		/* A block that never ended may have left its options. */
		badcomp_clear();
		curcomp = &badcomp;
		return;
	}
	c->conf.id = TAILQ_EMPTY(&conf->components) ? 1 :
	    TAILQ_LAST(&conf->components, gw_components)->conf.id + 1;
	c->conf.conflict = CONFLICT_REPLACE;
	TAILQ_INSERT_TAIL(&conf->components, c, entry);
	curcomp = c;
}

/* The options of a bad block are thrown away, whenever it ends. */
static void
badcomp_clear(void)
{
	struct gw_alias	*a;

	while ((a = TAILQ_FIRST(&badcomp.aliases)) != NULL) {
		TAILQ_REMOVE(&badcomp.aliases, a, entry);
		free(a);
	}
	memset(&badcomp, 0, sizeof(badcomp));
	TAILQ_INIT(&badcomp.aliases);
}

static void
end_component(void)
{
	if (curcomp == &badcomp)
		badcomp_clear();
	curcomp = NULL;
}

static int
add_alias(const char *name)
{
	struct gw_alias	*a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		fatal("add_alias");
	if (check_name(name, a->conf.name) == -1) {
		free(a);
		return (-1);
	}
	a->conf.component_id = curcomp->conf.id;
	a->lineno = yylval.lineno;
	TAILQ_INSERT_TAIL(&curcomp->aliases, a, entry);
	return (0);
}

static struct gw_upstream *
find_upstream(const char *name)
{
	struct gw_upstream	*up;

	TAILQ_FOREACH(up, &conf->upstreams, entry)
		if (strcmp(up->conf.name, name) == 0)
			return (up);
	return (NULL);
}

static struct gw_upstream *
upstream_of(const struct gw_component *c)
{
	struct gw_upstream	*up;

	if (c->conf.upstream_id == 0)
		return (NULL);
	TAILQ_FOREACH(up, &conf->upstreams, entry)
		if (up->conf.id == c->conf.upstream_id)
			return (up);
	return (NULL);
}

/*
 * A component's upstream is defined above it, as macros are: the file
 * reads in one pass.
 */
static int
set_upstream(const char *name)
{
	struct gw_upstream	*up;

	if (curcomp->conf.upstream_id != 0) {
		yyerror("a component has at most one upstream");
		return (-1);
	}
	if ((up = find_upstream(name)) == NULL) {
		yyerror("upstream \"%s\" is not defined above", name);
		return (-1);
	}
	curcomp->conf.upstream_id = up->conf.id;
	return (0);
}

/* Upstream names are labels in logs and gatewayctl: plain words. */
static int
check_upstream_name(const char *name)
{
	const char	*p;

	if (name[0] == '\0' || strlen(name) >= GW_UPSTREAM_NAME_MAX) {
		yyerror("invalid upstream name \"%s\" (1 to %d characters)",
		    name, GW_UPSTREAM_NAME_MAX - 1);
		return (-1);
	}
	for (p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' &&
		    *p != '.') {
			yyerror("invalid upstream name \"%s\" (letters, digits, "
			    "'-', '_' and '.' only)", name);
			return (-1);
		}
	if (find_upstream(name) != NULL) {
		yyerror("upstream %s is already defined", name);
		return (-1);
	}
	return (0);
}

/* A bad name gets its block checked all the same, as a component's. */
static void
add_upstream(const char *name)
{
	struct gw_upstream	*up;

	/* A block that never ended may have left its options. */
	badup_clear();
	curup_failed = 0;
	if (check_upstream_name(name) == -1) {
		curup = &badup;
		return;
	}
	if ((up = calloc(1, sizeof(*up))) == NULL)
		fatal("add_upstream");
	if ((up->file = strdup(file->name)) == NULL)
		fatal("add_upstream");
	up->lineno = yylval.lineno;
	strlcpy(up->conf.name, name, sizeof(up->conf.name));
	up->conf.id = TAILQ_EMPTY(&conf->upstreams) ? 1 :
	    TAILQ_LAST(&conf->upstreams, gw_upstreams)->conf.id + 1;
	up->conf.grace = GW_UPSTREAM_GRACE;
	up->conf.grace_size = GW_UPSTREAM_GRACE_SIZE;
	TAILQ_INSERT_TAIL(&conf->upstreams, up, entry);
	curup = up;
}

static void
badup_clear(void)
{
	memset(&badup, 0, sizeof(badup));
}

/* What a block lacks, unless a bad line for it was reported already. */
static void
end_upstream(void)
{
	if (curup == &badup)
		badup_clear();
	else {
		if (curup->nconnect == 0 &&
		    !(curup_failed & UP_FAILED_CONNECT))
			conf_error(curup->file, curup->lineno, "upstream %s "
			    "has no connect to line", curup->conf.name);
		if (curup->secrets_path[0] == '\0' &&
		    !(curup_failed & UP_FAILED_SECRETS))
			conf_error(curup->file, curup->lineno, "upstream %s "
			    "has no secrets file", curup->conf.name);
	}
	curup = NULL;
	curup_failed = 0;
}

/*
 * A server to try, after those of the lines above it: the addresses of
 * the name now, in the resolver's order, so that a reload sees a change.
 */
static int
add_connect(const char *host, long long port)
{
	struct gw_connect_to	*ct;
	struct addrinfo		 hints, *res0, *res;
	char			 name[GW_NAME_MAX], portstr[8];
	size_t			 i;
	int			 error;

	if (curup->nconnect >= GW_CONNECT_MAX) {
		yyerror("at most %d connect to lines in an upstream",
		    GW_CONNECT_MAX);
		return (-1);
	}
	if (host[0] == '\0' || strlen(host) >= sizeof(ct->host) ||
	    host_unbracket(host, name, sizeof(name)) == -1) {
		yyerror("invalid host \"%s\"", host);
		return (-1);
	}
	for (i = 0; i < curup->nconnect; i++)
		if (strcmp(curup->connect[i].host, host) == 0 &&
		    curup->connect[i].port == port) {
			yyerror("connect to %s port %lld given twice", host,
			    port);
			return (-1);
		}
	snprintf(portstr, sizeof(portstr), "%lld", port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((error = getaddrinfo(name, portstr, &hints, &res0)) != 0) {
		yyerror("cannot resolve %s: %s", host, gai_strerror(error));
		return (-1);
	}
	ct = &curup->connect[curup->nconnect];
	memset(ct, 0, sizeof(*ct));
	for (res = res0; res != NULL; res = res->ai_next) {
		if ((res->ai_family != AF_INET && res->ai_family != AF_INET6) ||
		    res->ai_addrlen > sizeof(ct->addrs[0]))
			continue;
		if (ct->naddrs == GW_CONNECT_ADDRS_MAX) {
			log_warnx("%s:%d: warning: %s has more than %d "
			    "addresses, the first %d are tried", file->name,
			    yylval.lineno, host, GW_CONNECT_ADDRS_MAX,
			    GW_CONNECT_ADDRS_MAX);
			break;
		}
		memcpy(&ct->addrs[ct->naddrs], res->ai_addr, res->ai_addrlen);
		for (i = 0; i < ct->naddrs; i++)
			if (sockaddr_cmp(&ct->addrs[i],
			    &ct->addrs[ct->naddrs]) == 0)
				break;
		if (i == ct->naddrs)
			ct->naddrs++;
		else
			memset(&ct->addrs[ct->naddrs], 0,
			    sizeof(ct->addrs[0]));
	}
	freeaddrinfo(res0);
	if (ct->naddrs == 0) {
		yyerror("cannot resolve %s: no IPv4 or IPv6 address", host);
		return (-1);
	}
	strlcpy(ct->host, host, sizeof(ct->host));
	ct->port = port;
	curup->nconnect++;
	return (0);
}

static int
set_grace_size(long long size)
{
	if (size != 0 && (size < GRACE_SIZE_MIN ||
	    size > GRACE_SIZE_MAX)) {
		yyerror("grace size %lld out of range (0, or %d to %d)", size,
		    GRACE_SIZE_MIN, GRACE_SIZE_MAX);
		return (-1);
	}
	curup->conf.grace_size = size;
	return (0);
}

/* An upstream at an address of ours: gatewayd would talk to itself. */
static void
check_upstream_loop(const struct gw_upstream *up)
{
	const struct gw_connect_to	*ct;
	struct gw_listen		*l;
	char				 addr[NI_MAXHOST + 16];
	size_t				 i, j;

	for (i = 0; i < up->nconnect; i++) {
		ct = &up->connect[i];
		for (j = 0; j < ct->naddrs; j++) {
			TAILQ_FOREACH(l, &conf->listeners, entry)
				if (sockaddr_cmp(&l->conf.ss,
				    &ct->addrs[j]) == 0)
					break;
			if (l != NULL) {
				log_warnx("%s:%d: warning: upstream %s "
				    "connects to %s, where gatewayd listens",
				    up->file, up->lineno, up->conf.name,
				    sockaddr_print(&ct->addrs[j], addr,
				    sizeof(addr)));
				break;
			}
		}
	}
}

/*
 * Once every component is known: an upstream nobody uses is only worth a
 * warning; one that shares the secrets file of the components would let
 * them know the server's secrets, which is what upstreams are to avoid.
 */
static void
check_upstreams(void)
{
	struct gw_upstream	*up;
	struct gw_component	*c;

	TAILQ_FOREACH(up, &conf->upstreams, entry) {
		TAILQ_FOREACH(c, &conf->components, entry)
			if (c->conf.upstream_id == up->conf.id)
				break;
		if (c == NULL)
			log_warnx("%s:%d: warning: upstream %s is used by no "
			    "component", up->file, up->lineno, up->conf.name);
		check_upstream_loop(up);
		if (strcmp(up->secrets_path, conf->secrets_path) == 0)
			conf_error(up->file, up->lineno, "upstream %s: %s is "
			    "the secrets file of the components, the server's "
			    "secrets need their own", up->conf.name,
			    up->secrets_path);
	}
}

/* "256K", "1M", "65536": a size in bytes, or -1 after an error. */
static int
parse_bytes(const char *s, uint32_t *out)
{
	char		*end;
	long long	 num, mult = 1;

	errno = 0;
	num = strtoll(s, &end, 10);
	if (end == s || errno != 0 || num < 0)
		goto bad;
	if (strcasecmp(end, "k") == 0)
		mult = 1024;
	else if (strcasecmp(end, "m") == 0)
		mult = 1024 * 1024;
	else if (*end != '\0')
		goto bad;
	if (num > UINT32_MAX / mult)
		goto bad;
	*out = num * mult;
	return (0);
 bad:
	yyerror("invalid size \"%s\"", s);
	return (-1);
}

static int
parse_size(const char *s, long long num, uint32_t *out)
{
	uint32_t	size;

	if (s != NULL) {
		if (parse_bytes(s, &size) == -1)
			return (-1);
		num = size;
	}
	if (num < GW_MIN_STANZA || num > GW_MAX_STANZA_LIMIT) {
		yyerror("stanza size %lld out of range (%d to %d bytes)", num,
		    GW_MIN_STANZA, GW_MAX_STANZA_LIMIT);
		return (-1);
	}
	*out = num;
	return (0);
}

static int
number_in(long long n, long long min, long long max, const char *what)
{
	if (n < min || n > max) {
		yyerror("%s %lld out of range (%lld to %lld)", what, n, min,
		    max);
		return (-1);
	}
	return (0);
}

static struct gw_component *
find_component(const char *name)
{
	struct gw_component	*c;

	TAILQ_FOREACH(c, &conf->components, entry)
		if (strcmp(c->conf.name, name) == 0)
			return (c);
	return (NULL);
}

/*
 * Online guessing is slowed, not stopped: it matters for weak secrets.
 * A secret shorter than 16 characters, or a word anyone would try
 * first, gets a warning (that names the line, never the secret).
 */
static void
secret_check_strength(const char *path, int lineno, const char *domain,
    const char *secret)
{
	static const char	*common[] = {
		"secret", "password", "passw0rd", "changeme", "component",
		"admin", "letmein", "qwertyuiop", "1234567890123456",
		"abcdefghijklmnop", "xmppcomponent", "gatewaysecret"
	};
	size_t			 i;

	if (strlen(secret) < 16) {
		log_warnx("%s:%d: warning: the secret for %s is weak: shorter "
		    "than 16 characters", path, lineno, domain);
		return;
	}
	for (i = 0; i < nitems(common); i++)
		if (strcasecmp(secret, common[i]) == 0 ||
		    strcasecmp(secret, domain) == 0) {
			log_warnx("%s:%d: warning: the secret for %s is weak: "
			    "a common word", path, lineno, domain);
			return;
		}
}

/*
 * The fields of a line of a secrets file, "DOMAIN SECRET": 1 with the
 * domain normalised into name (GW_NAME_MAX bytes) and the secret in the
 * line, 0 for a blank line, a comment or a bad line (reported).
 */
static int
secret_split(const char *path, int lineno, char *line, char *name,
    char **secretp)
{
	char		*domain, *secret, *extra, *p;
	const char	*sep = " \t\r\n";

	domain = strtok(line, sep);
	if (domain == NULL || domain[0] == '#')
		return (0);
	secret = strtok(NULL, sep);
	extra = strtok(NULL, sep);
	if (secret == NULL || extra != NULL) {
		conf_error(path, lineno, "expected \"domain secret\"");
		return (0);
	}
	if (strlcpy(name, domain, GW_NAME_MAX) >= GW_NAME_MAX ||
	    domain_normalize(name) == -1) {
		conf_error(path, lineno, "invalid domain name");
		return (0);
	}
	for (p = secret; *p != '\0'; p++)
		if (*p < 0x21 || *p > 0x7e) {
			conf_error(path, lineno, "secret for %s must be "
			    "printable ASCII without spaces", name);
			return (0);
		}
	if (strlen(secret) >= GW_SECRET_MAX) {
		conf_error(path, lineno, "secret for %s longer than %d "
		    "characters", name, GW_SECRET_MAX - 1);
		return (0);
	}
	*secretp = secret;
	return (1);
}

/* The component a line is for; else a warning, and the line is ignored. */
static struct gw_component *
secret_component(const char *path, int lineno, const char *name)
{
	struct gw_component	*c, *owner;
	int			 is_alias;

	if ((c = find_component(name)) != NULL)
		return (c);
	if ((owner = name_owner(name, &is_alias)) != NULL)
		log_warnx("%s:%d: warning: %s is an alias of %s, line ignored",
		    path, lineno, name, owner->conf.name);
	else
		log_warnx("%s:%d: warning: no component %s, line ignored",
		    path, lineno, name);
	return (NULL);
}

static struct gw_secret *
find_secret(struct gw_secrets *head, const char *domain)
{
	struct gw_secret	*s;

	TAILQ_FOREACH(s, head, entry)
		if (strcmp(s->conf.domain, domain) == 0)
			return (s);
	return (NULL);
}

static void
secret_add(struct gw_secrets *head, const char *domain, const char *secret)
{
	struct gw_secret	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("secret_add");
	strlcpy(s->conf.domain, domain, sizeof(s->conf.domain));
	s->conf.len = strlcpy(s->conf.secret, secret, sizeof(s->conf.secret));
	TAILQ_INSERT_TAIL(head, s, entry);
}

/* A line of the secrets file: a component may have several secrets. */
static void
secret_line(const char *path, int lineno, const char *domain,
    const char *secret)
{
	struct gw_component	*c;

	if ((c = secret_component(path, lineno, domain)) == NULL)
		return;
	secret_check_strength(path, lineno, domain, secret);
	secret_add(&conf->secrets, domain, secret);
	c->nsecrets++;
}

/*
 * A line of the secrets file of upstreams: the one secret the server has
 * for a component, which names an upstream that reads this file.  The
 * component must not know it: it may not be one of the component's own.
 */
static void
upsecret_line(const char *path, int lineno, const char *domain,
    const char *secret)
{
	struct gw_component	*c;
	struct gw_upstream	*up;
	struct gw_secret	*s;

	if ((c = secret_component(path, lineno, domain)) == NULL)
		return;
	if ((up = upstream_of(c)) == NULL) {
		log_warnx("%s:%d: warning: component %s has no upstream, line "
		    "ignored", path, lineno, domain);
		return;
	}
	if (up->secrets_path[0] == '\0') {
		log_warnx("%s:%d: warning: %s uses upstream %s, which has no "
		    "secrets file, line ignored", path, lineno, domain,
		    up->conf.name);
		return;
	}
	if (strcmp(up->secrets_path, path) != 0) {
		log_warnx("%s:%d: warning: %s uses upstream %s, whose secrets "
		    "are in %s, line ignored", path, lineno, domain,
		    up->conf.name, up->secrets_path);
		return;
	}
	if (find_secret(&conf->upsecrets, domain) != NULL) {
		conf_error(path, lineno, "a second secret for %s (a server has "
		    "one for each component)", domain);
		return;
	}
	secret_check_strength(path, lineno, domain, secret);
	TAILQ_FOREACH(s, &conf->secrets, entry)
		if (strcmp(s->conf.domain, domain) == 0 &&
		    strcmp(s->conf.secret, secret) == 0) {
			log_warnx("%s:%d: warning: the secret for %s is also "
			    "one of its secrets in %s: the component knows the "
			    "server's", path, lineno, domain,
			    conf->secrets_path);
			break;
		}
	secret_add(&conf->upsecrets, domain, secret);
}

/*
 * A secrets file must be as private as the secrets: a regular file of
 * the user we run as (root in production), no access for group or others.
 * Each line with a secret goes to fn; -1 if the file would not do.
 */
static int
read_secrets(const char *path, void (*fn)(const char *, int, const char *,
    const char *))
{
	struct stat	 st;
	FILE		*fp;
	char		 iobuf[BUFSIZ], name[GW_NAME_MAX];
	char		*line = NULL, *secret;
	size_t		 linesize = 0;
	ssize_t		 linelen;
	int		 fd, lineno = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		log_warn("%s", path);
		goto fail;
	}
	if (fstat(fd, &st) == -1)
		fatal("fstat %s", path);
	if (!S_ISREG(st.st_mode)) {
		log_warnx("%s: not a regular file", path);
		close(fd);
		goto fail;
	}
	if (st.st_uid != geteuid()) {
		if (geteuid() == 0)
			log_warnx("%s: must be owned by root", path);
		else
			log_warnx("%s: must be owned by uid %u, the user "
			    "gatewayd runs as", path, (unsigned)geteuid());
		close(fd);
		goto fail;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		log_warnx("%s: must not be accessible by group or others "
		    "(mode %04o, use 0600)", path, (unsigned)st.st_mode & 07777);
		close(fd);
		goto fail;
	}
	if ((fp = fdopen(fd, "r")) == NULL)
		fatal("fdopen");
	/* Our buffer, so that it can be wiped: stdio's would not be. */
	setvbuf(fp, iobuf, _IOFBF, sizeof(iobuf));
	while ((linelen = getline(&line, &linesize, fp)) != -1) {
		lineno++;
		if (secret_split(path, lineno, line, name, &secret))
			fn(path, lineno, name, secret);
		explicit_bzero(line, linelen);
	}
	if (ferror(fp))
		fatal("%s", path);
	freezero(line, linesize);
	fclose(fp);
	explicit_bzero(iobuf, sizeof(iobuf));
	return (0);
 fail:
	errors++;
	return (-1);
}

static void
parse_secrets(void)
{
	struct gw_component	*c;

	if (read_secrets(conf->secrets_path, secret_line) == -1)
		return;
	TAILQ_FOREACH(c, &conf->components, entry)
		if (c->nsecrets == 0)
			conf_error(c->file, c->lineno, "component %s has no "
			    "secret in %s", c->conf.name, conf->secrets_path);
}

/*
 * The secrets of the upstreams, each file once however many upstreams
 * read it; every component of an upstream has its line there.
 */
static void
parse_upsecrets(void)
{
	struct gw_upstream	*up, *prev, *cup;
	struct gw_component	*c;
	const char		*path;

	TAILQ_FOREACH(up, &conf->upstreams, entry) {
		path = up->secrets_path;
		/* None given, or the components' file: reported already. */
		if (path[0] == '\0' || strcmp(path, conf->secrets_path) == 0)
			continue;
		for (prev = TAILQ_FIRST(&conf->upstreams); prev != up;
		    prev = TAILQ_NEXT(prev, entry))
			if (strcmp(prev->secrets_path, path) == 0)
				break;
		if (prev != up || read_secrets(path, upsecret_line) == -1)
			continue;
		TAILQ_FOREACH(c, &conf->components, entry) {
			if ((cup = upstream_of(c)) == NULL ||
			    strcmp(cup->secrets_path, path) != 0)
				continue;
			if (find_secret(&conf->upsecrets, c->conf.name) == NULL)
				conf_error(c->file, c->lineno, "component %s "
				    "has no secret for upstream %s in %s",
				    c->conf.name, cup->conf.name, path);
		}
	}
}
