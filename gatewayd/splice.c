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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "msg.h"
#include "splice.h"

/* Appends s, escaped for an attribute value in single quotes. */
static void
append_escaped(char *p, size_t *len, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&':
			memcpy(p + *len, "&amp;", 5);
			*len += 5;
			break;
		case '<':
			memcpy(p + *len, "&lt;", 4);
			*len += 4;
			break;
		case '\'':
			memcpy(p + *len, "&apos;", 6);
			*len += 6;
			break;
		default:
			p[(*len)++] = *s;
		}
	}
}

/* A declaration of the header: prefix and uri, or "xml:lang" and a tag. */
void
splice_add(struct splice *sp, const char *prefix, const char *uri)
{
	char	*p;
	size_t	 need;

	if (uri == NULL)
		uri = "";
	need = 16 + strlen(prefix) + 6 * strlen(uri);
	if ((p = realloc(sp->decls, sp->len + need)) == NULL)
		fatal("%s", __func__);
	sp->decls = p;
	sp->len += snprintf(p + sp->len, need, " %s%s='",
	    strcmp(prefix, "xml:lang") == 0 ? "" : "xmlns:", prefix);
	append_escaped(p, &sp->len, uri);
	p[sp->len++] = '\'';
	p[sp->len] = '\0';
	/* A new length: the filtered copy is made anew. */
	free(sp->filtered);
	sp->filtered = NULL;
}

/* Does the header declare prefix (or, for "xml:lang", carry one)? */
static int
splice_has(const struct splice *sp, const char *prefix)
{
	char	key[GW_NAME_MAX + 16];

	if (sp->len == 0)
		return (0);
	if (strcmp(prefix, "xml:lang") == 0)
		strlcpy(key, " xml:lang='", sizeof(key));
	else
		snprintf(key, sizeof(key), " xmlns:%s='", prefix);
	return (strstr(sp->decls, key) != NULL);
}

/* The current stanza declares prefix itself: it keeps its own. */
void
splice_redeclare(struct splice *sp, const char *prefix)
{
	size_t	 len = strlen(prefix);
	char	*p;

	if (!splice_has(sp, prefix))
		return;
	if ((p = realloc(sp->redecl, sp->redecl_len + len + 2)) == NULL)
		fatal("%s", __func__);
	sp->redecl = p;
	memcpy(p + sp->redecl_len, prefix, len + 1);
	sp->redecl_len += len + 1;
}

static int
redeclared(const struct splice *sp, const char *prefix, size_t plen)
{
	const char	*p;

	for (p = sp->redecl; p < sp->redecl + sp->redecl_len;
	    p += strlen(p) + 1)
		if (strlen(p) == plen && strncmp(p, prefix, plen) == 0)
			return (1);
	return (0);
}

/* The rare case: the stanza redeclares a prefix of its sender's header. */
static size_t
splice_filter(struct splice *sp)
{
	const char	*p, *q, *entry, *next;
	size_t		 n = 0;

	if (sp->filtered == NULL &&
	    (sp->filtered = malloc(sp->len + 1)) == NULL)
		fatal("%s", __func__);
	for (entry = sp->decls; *entry != '\0'; entry = next) {
		/* Each entry: " xmlns:p='...'" or " xml:lang='...'". */
		if ((q = strchr(entry, '\'')) == NULL ||
		    (q = strchr(q + 1, '\'')) == NULL)
			break;
		next = q + 1;
		p = strncmp(entry, " xmlns:", 7) == 0 ? entry + 7 : entry + 1;
		if (redeclared(sp, p, strchr(p, '=') - p))
			continue;
		memcpy(sp->filtered + n, entry, next - entry);
		n += next - entry;
	}
	sp->filtered[n] = '\0';
	return (n);
}

/* What to add to the current stanza's start tag; NULL for nothing. */
const char *
splice_for_stanza(struct splice *sp, size_t *len)
{
	if (sp->len == 0) {
		*len = 0;
		return (NULL);
	}
	if (sp->redecl_len == 0) {
		*len = sp->len;
		return (sp->decls);
	}
	*len = splice_filter(sp);
	return (sp->filtered);
}

void
splice_stanza_done(struct splice *sp)
{
	sp->redecl_len = 0;
}

void
splice_free(struct splice *sp)
{
	free(sp->decls);
	free(sp->redecl);
	free(sp->filtered);
	memset(sp, 0, sizeof(*sp));
}
