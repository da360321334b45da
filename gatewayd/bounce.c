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
 * Bounces: the error stanza for a stanza that cannot be delivered, built
 * by reading the stanza again with expat (off the hot path) so that the
 * answer keeps its id, its payload and its namespace declarations.
 */

#include <sys/types.h>

#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "log.h"
#include "msg.h"
#include "xml.h"

/* What a re-read of a stanza tells a bounce. */
struct bounce_info {
	XML_Parser	 parser;
	int		 depth;
	char		 name[16];
	char		*qname;		/* as written: "iq", "c:iq" */
	int		 own_default;	/* it declares a default namespace */
	char		*from, *to, *id, *type, *lang;
	char		*decls;		/* the stanza's own, as written back */
	size_t		 decls_len;
	uint64_t	 inner_start, inner_end;
	int		 done;
};

static void
xml_escape_append(char **buf, size_t *len, const char *s)
{
	const char	*rep;
	size_t		 add;
	char		*p;

	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&':	rep = "&amp;"; break;
		case '<':	rep = "&lt;"; break;
		case '>':	rep = "&gt;"; break;
		case '\'':	rep = "&apos;"; break;
		case '"':	rep = "&quot;"; break;
		default:	rep = NULL; break;
		}
		add = rep != NULL ? strlen(rep) : 1;
		if ((p = realloc(*buf, *len + add + 1)) == NULL)
			fatal("%s", __func__);
		*buf = p;
		memcpy(*buf + *len, rep != NULL ? rep : s, add);
		*len += add;
		(*buf)[*len] = '\0';
	}
}

static void
str_append(char **buf, size_t *len, const char *s)
{
	size_t	 add = strlen(s);
	char	*p;

	if ((p = realloc(*buf, *len + add + 1)) == NULL)
		fatal("%s", __func__);
	*buf = p;
	memcpy(*buf + *len, s, add + 1);
	*len += add;
}

static char *
xstrdup_or_null(const char *s)
{
	char	*p;

	if (s == NULL)
		return (NULL);
	if ((p = strdup(s)) == NULL)
		fatal("%s", __func__);
	return (p);
}

static void XMLCALL
bounce_nsdecl(void *arg, const XML_Char *prefix, const XML_Char *uri)
{
	struct bounce_info	*bi = arg;

	if (bi->depth != 1)
		return;
	if (prefix == NULL)
		bi->own_default = 1;
	str_append(&bi->decls, &bi->decls_len, prefix != NULL ? " xmlns:" :
	    " xmlns");
	if (prefix != NULL)
		str_append(&bi->decls, &bi->decls_len, prefix);
	str_append(&bi->decls, &bi->decls_len, "='");
	xml_escape_append(&bi->decls, &bi->decls_len, uri != NULL ? uri : "");
	str_append(&bi->decls, &bi->decls_len, "'");
}

static void XMLCALL
bounce_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct bounce_info	*bi = arg;
	const char		*local;

	if (++bi->depth != 2)
		return;
	local = strrchr(name, ' ');
	strlcpy(bi->name, local != NULL ? local + 1 : name, sizeof(bi->name));
	bi->from = xstrdup_or_null(xml_attr(attrs, "from"));
	bi->to = xstrdup_or_null(xml_attr(attrs, "to"));
	bi->id = xstrdup_or_null(xml_attr(attrs, "id"));
	bi->type = xstrdup_or_null(xml_attr(attrs, "type"));
	bi->lang = xstrdup_or_null(xml_attr(attrs, NS_XML_LANG));
	bi->inner_start = XML_GetCurrentByteIndex(bi->parser) +
	    XML_GetCurrentByteCount(bi->parser);
}

static void XMLCALL
bounce_end(void *arg, const XML_Char *name)
{
	struct bounce_info	*bi = arg;

	(void)name;
	if (bi->depth-- != 2)
		return;
	bi->inner_end = XML_GetCurrentByteIndex(bi->parser);
	/* An empty-element tag has no inner part. */
	if (XML_GetCurrentByteCount(bi->parser) == 0)
		bi->inner_end = bi->inner_start;
	bi->done = 1;
}

/*
 * The declarations of the sender's header its payload may use: our
 * stream to it does not have them.  Not those the stanza makes itself.
 */
static void
bounce_header_decls(char **out, size_t *outlen, const char *decls,
    const struct bounce_info *bi)
{
	const char	*entry, *next, *q, *p;
	char		 key[GW_NAME_MAX + 16], *e;
	size_t		 plen;

	for (entry = decls; *entry != '\0'; entry = next) {
		if ((q = strchr(entry, '\'')) == NULL ||
		    (q = strchr(q + 1, '\'')) == NULL)
			break;
		next = q + 1;
		p = strncmp(entry, " xmlns:", 7) == 0 ? entry + 7 : entry + 1;
		plen = strchr(p, '=') - p;
		if (plen >= GW_NAME_MAX)
			continue;
		if (strncmp(p, "xml:lang", plen) == 0 && plen == 8) {
			if (bi->lang != NULL)
				continue;
		} else {
			snprintf(key, sizeof(key), " xmlns:%.*s=", (int)plen, p);
			if (bi->decls != NULL && strstr(bi->decls, key) != NULL)
				continue;
		}
		if ((e = strndup(entry, next - entry)) == NULL)
			fatal("%s", __func__);
		str_append(out, outlen, e);
		free(e);
	}
}

static void
bounce_info_free(struct bounce_info *bi)
{
	free(bi->from);
	free(bi->to);
	free(bi->id);
	free(bi->type);
	free(bi->lang);
	free(bi->decls);
	free(bi->qname);
}

/*
 * Reads the stanza in a document that gives it its sender's context
 * (the component namespace and the header's declarations).  Returns 0
 * when it has what a bounce needs.
 */
static int
bounce_read(struct bounce_info *bi, const char *raw, size_t len,
    const char *decls, size_t *head)
{
	static const char	 tail[] = "</w>";
	char			*doc = NULL;
	size_t			 doclen = 0;
	int			 ok;

	str_append(&doc, &doclen, "<w xmlns='" NS_COMPONENT "'");
	/* The sender's stream: prefix, unless its header bound it anew. */
	if (decls == NULL || strstr(decls, " xmlns:stream=") == NULL)
		str_append(&doc, &doclen, " xmlns:stream='" NS_STREAMS "'");
	if (decls != NULL)
		str_append(&doc, &doclen, decls);
	str_append(&doc, &doclen, ">");
	*head = doclen;
	if ((bi->parser = XML_ParserCreateNS("UTF-8", NS_SEP)) == NULL)
		fatalx("%s: XML_ParserCreateNS", __func__);
	XML_SetHashSalt(bi->parser, arc4random());
	XML_SetUserData(bi->parser, bi);
	XML_SetElementHandler(bi->parser, bounce_start, bounce_end);
	XML_SetStartNamespaceDeclHandler(bi->parser, bounce_nsdecl);
	ok = XML_Parse(bi->parser, doc, doclen, XML_FALSE) == XML_STATUS_OK &&
	    XML_Parse(bi->parser, raw, len, XML_FALSE) == XML_STATUS_OK &&
	    XML_Parse(bi->parser, tail, sizeof(tail) - 1, XML_TRUE) ==
	    XML_STATUS_OK && bi->done && bi->from != NULL && bi->to != NULL;
	XML_ParserFree(bi->parser);
	bi->parser = NULL;
	free(doc);
	return (ok ? 0 : -1);
}

/* The element's name as the stanza writes it, prefix and all. */
static char *
bounce_qname(const char *raw, size_t len)
{
	size_t	i;
	char	*q;

	for (i = 1; i < len && raw[i] != ' ' && raw[i] != '\t' &&
	    raw[i] != '\r' && raw[i] != '\n' && raw[i] != '/' &&
	    raw[i] != '>'; i++)
		;
	if ((q = strndup(raw + 1, i - 1)) == NULL)
		fatal("%s", __func__);
	return (q);
}

/*
 * Never for an error, an iq result or unavailable presence, so that no
 * sequence of stanzas can make two components and gatewayd loop.
 */
static int
bounce_allowed(const struct bounce_info *bi)
{
	if (bi->type == NULL)
		return (1);
	if (strcmp(bi->type, "error") == 0)
		return (0);
	if (strcmp(bi->name, "iq") == 0 && strcmp(bi->type, "result") == 0)
		return (0);
	if (strcmp(bi->name, "presence") == 0 &&
	    strcmp(bi->type, "unavailable") == 0)
		return (0);
	return (1);
}

/* The error stanza's start tag: addresses swapped, the same id. */
static void
bounce_head(char **out, size_t *outlen, const struct bounce_info *bi,
    const char *decls)
{
	str_append(out, outlen, "<");
	str_append(out, outlen, bi->qname);
	str_append(out, outlen, " from='");
	xml_escape_append(out, outlen, bi->to);
	str_append(out, outlen, "' to='");
	xml_escape_append(out, outlen, bi->from);
	if (bi->id != NULL) {
		str_append(out, outlen, "' id='");
		xml_escape_append(out, outlen, bi->id);
	}
	str_append(out, outlen, "' type='error'");
	if (bi->lang != NULL) {
		str_append(out, outlen, " xml:lang='");
		xml_escape_append(out, outlen, bi->lang);
		str_append(out, outlen, "'");
	}
	if (bi->decls != NULL)
		str_append(out, outlen, bi->decls);
	if (decls != NULL)
		bounce_header_decls(out, outlen, decls, bi);
	str_append(out, outlen, ">");
}

/*
 * The error stanza for raw: its start tag, the original payload, the
 * error with our name in by.  decls are the declarations of the sender's
 * header that raw may rely on.  Returns 1 with b filled, 0 for a stanza
 * never bounced, -1 for one that cannot be read.
 */
int
bounce_build(struct bounce *b, const char *raw, size_t len,
    const char *decls, const char *condition, const char *etype,
    const char *by)
{
	struct bounce_info	 bi;
	char			*out = NULL;
	size_t			 outlen = 0, head;
	int			 ret = -1;

	memset(b, 0, sizeof(*b));
	memset(&bi, 0, sizeof(bi));
	if (bounce_read(&bi, raw, len, decls, &head) == -1 ||
	    (bi.qname = bounce_qname(raw, len)) == NULL)
		goto done;
	ret = 0;
	if (!bounce_allowed(&bi))
		goto done;
	bounce_head(&out, &outlen, &bi, decls);
	if ((b->out = malloc(outlen + (bi.inner_end - bi.inner_start) +
	    1)) == NULL)
		fatal("%s", __func__);
	memcpy(b->out, out, outlen);
	memcpy(b->out + outlen, raw + (bi.inner_start - head),
	    bi.inner_end - bi.inner_start);
	b->outlen = outlen + (bi.inner_end - bi.inner_start);
	b->out[b->outlen] = '\0';
	/* Its own default namespace is not ours: the error says whose. */
	str_append(&b->out, &b->outlen, bi.own_default ?
	    "<error xmlns='" NS_COMPONENT "' type='" : "<error type='");
	str_append(&b->out, &b->outlen, etype);
	str_append(&b->out, &b->outlen, "' by='");
	str_append(&b->out, &b->outlen, by);
	str_append(&b->out, &b->outlen, "'><");
	str_append(&b->out, &b->outlen, condition);
	str_append(&b->out, &b->outlen, " xmlns='" NS_STANZAS
	    "'/></error></");
	str_append(&b->out, &b->outlen, bi.qname);
	str_append(&b->out, &b->outlen, ">");
	strlcpy(b->name, bi.name, sizeof(b->name));
	ret = 1;
 done:
	free(out);
	bounce_info_free(&bi);
	return (ret);
}
