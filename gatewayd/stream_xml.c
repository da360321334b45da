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
 * What expat reports of a stream, as the XEP-0114 state machine takes
 * it: the peer's header, checked in order; the handshake; each stanza's
 * start and end; text; namespace declarations; and what RFC 6120 11.1
 * does not allow in a stream.
 */

#include <sys/types.h>

#include <errno.h>
#include <expat.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "log.h"
#include "stream_local.h"
#include "util.h"
#include "xml.h"

#define STREAM_SPLICE_MAX 1024	/* header declarations copied to stanzas */

static void		stream_header(struct stream *, const XML_Char *,
			    const XML_Char **);
static void		stream_header_server(struct stream *, const XML_Char *,
			    const XML_Char **);
static void		stream_stanza_start(struct stream *, const XML_Char *,
			    const XML_Char **);

/* "uri local" of a namespaced name: does it name ns:local? */
static int
name_is(const XML_Char *name, const char *ns, const char *local)
{
	size_t	nslen = strlen(ns);

	return (strncmp(name, ns, nslen) == 0 && name[nslen] == NS_SEP &&
	    strcmp(name + nslen + 1, local) == 0);
}

/* The length of the element's name as written at the start of its tag. */
static size_t
tag_name_len(const char *raw, size_t taglen)
{
	size_t	i;

	for (i = 1; i < taglen && raw[i] != ' ' && raw[i] != '\t' &&
	    raw[i] != '\r' && raw[i] != '\n' && raw[i] != '/' &&
	    raw[i] != '>'; i++)
		;
	return (i - 1);
}

static void XMLCALL
stream_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct stream	*st = arg;
	size_t		 nattrs = 0;

	/* Stopped: expat may still report the end of an empty element. */
	if (st->state == STREAM_CLOSING || st->stop_condition != NULL)
		return;
	st->depth++;
	/* Namespace declarations are attributes too. */
	while (attrs[2 * nattrs] != NULL)
		nattrs++;
	nattrs += st->el_decls;
	st->el_decls = 0;
	if (nattrs > st->limits->max_attrs && !st->waking) {
		stream_stop(st, "policy-violation", "too many attributes");
		return;
	}
	if (st->depth == 1) {
		if (!st->waking)
			stream_header(st, name, attrs);
		return;
	}
	if (st->depth - 1 > st->limits->max_depth) {
		stream_stop(st, "policy-violation", "elements nested too deep");
		return;
	}
	if (st->depth == 2) {
		st->boundary = stream_index(st);
		if (name_is(name, NS_STREAMS, "error")) {
			st->peer_error = 1;
			return;
		}
	}
	if (st->peer_error) {
		/* The condition; <text/> is of the namespace, not one. */
		if (st->depth == 3 && strncmp(name, NS_ERRORS " ",
		    sizeof(NS_ERRORS)) == 0 && !name_is(name, NS_ERRORS, "text"))
			stream_log(st, "%s: the peer sent the stream error "
			    "%.64s", st->ops->label(st->arg),
			    name + sizeof(NS_ERRORS));
		return;
	}

	switch (st->state) {
	case STREAM_HANDSHAKE:
		/* The first element must be the handshake, without children. */
		if (st->depth == 2 && name_is(name, NS_COMPONENT, "handshake"))
			break;
		if (st->initiating)
			stream_stop(st, "bad-format", "element other than "
			    "<handshake/> before the server took ours");
		else
			stream_stop(st, "not-authorized",
			    "element other than a handshake");
		break;
	case STREAM_OPEN:
		if (st->depth != 2)
			break;
		if (name_is(name, NS_COMPONENT, "handshake"))
			stream_stop(st, "bad-format", "second handshake");
		else
			stream_stanza_start(st, name, attrs);
		break;
	default:
		stream_stop(st, "not-authorized",
		    "element before the handshake");
		break;
	}
	if (st->stop_condition == NULL)
		stream_check_size(st);
}

/* A stanza's start tag: what it is, and whether its owner takes it. */
static void
stream_stanza_start(struct stream *st, const XML_Char *name,
    const XML_Char **attrs)
{
	struct stanza_head	 head;
	const char		*condition, *reason = NULL;
	const char		*local = name + sizeof(NS_COMPONENT);

	memset(&head, 0, sizeof(head));
	if (strncmp(name, NS_COMPONENT " ", sizeof(NS_COMPONENT)) != 0)
		head.kind = 0;
	else if (strcmp(local, "message") == 0)
		head.kind = STANZA_MESSAGE;
	else if (strcmp(local, "presence") == 0)
		head.kind = STANZA_PRESENCE;
	else if (strcmp(local, "iq") == 0)
		head.kind = STANZA_IQ;
	if (head.kind == 0) {
		stream_stop(st, "unsupported-stanza-type",
		    "not a message, presence or iq");
		return;
	}
	head.from = xml_attr(attrs, "from");
	head.to = xml_attr(attrs, "to");
	if ((condition = st->ops->stanza_start(st->arg, &head,
	    &reason)) != NULL) {
		stream_stop(st, condition, reason != NULL ? reason : condition);
		return;
	}
	if (xml_attr(attrs, NS_XML_LANG) != NULL)
		splice_redeclare(&st->splice, "xml:lang");
	/* Where the splice goes: just after the element's name. */
	st->st_start = stream_index(st);
	st->st_name_len = tag_name_len(stream_raw(st, st->st_start),
	    XML_GetCurrentByteCount(st->parser));
}

static void
stream_handshake_end(struct stream *st)
{
	uint8_t	digest[GW_DIGEST_LEN];

	/* What the handshake declared is not the next stanza's. */
	splice_stanza_done(&st->splice);
	if (st->handshake_bad || hex_decode(st->handshake,
	    st->handshake_len, digest, sizeof(digest)) == -1) {
		stream_stop(st, "not-authorized", "malformed handshake");
		return;
	}
	st->state = STREAM_AUTHWAIT;
	if (st->ops->handshake(st->arg, digest) == -1) {
		explicit_bzero(digest, sizeof(digest));
		stream_stop(st, "internal-server-error", "authd unreachable");
		return;
	}
	explicit_bzero(digest, sizeof(digest));
	/* Nothing more is parsed until the verdict. */
	stream_pause(st, WAIT_VERDICT);
}

static void XMLCALL
stream_end(void *arg, const XML_Char *name)
{
	struct stream	*st = arg;

	(void)name;
	if (st->state == STREAM_CLOSING || st->stop_condition != NULL)
		return;
	st->parsed_to = stream_index(st) + XML_GetCurrentByteCount(st->parser);
	if (st->depth-- == 1) {
		stream_close(st, "the peer closed its stream");
		return;
	}
	if (st->depth != 1)
		return;

	/* The end of a top-level element: all of it within the limit. */
	stream_check_size(st);
	if (st->stop_condition != NULL)
		return;
	st->boundary = stream_index(st) + XML_GetCurrentByteCount(st->parser);
	if (st->peer_error) {
		stream_close(st, "the peer sent a stream error");
		return;
	}
	switch (st->state) {
	case STREAM_HANDSHAKE:
		if (st->initiating) {
			splice_stanza_done(&st->splice);
			stream_accepted(st);
		} else
			stream_handshake_end(st);
		break;
	case STREAM_OPEN:
		st->st_end = st->boundary;
		st->boundary = st->st_start;	/* until it is taken */
		(void)stream_offer(st);
		break;
	default:
		break;
	}
}

static int
is_space(const XML_Char *s, int len)
{
	int	i;

	for (i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' &&
		    s[i] != '\n')
			return (0);
	return (1);
}

static void XMLCALL
stream_text(void *arg, const XML_Char *s, int len)
{
	struct stream	*st = arg;

	if (st->state == STREAM_CLOSING || st->peer_error ||
	    st->stop_condition != NULL)
		return;
	if (st->depth == 1) {
		/* Between stanzas only white space (keepalives) may come. */
		if (!is_space(s, len))
			stream_stop(st, "bad-format", "text between stanzas");
		else
			st->boundary = stream_index(st) +
			    XML_GetCurrentByteCount(st->parser);
		return;
	}
	if (st->state == STREAM_HANDSHAKE) {
		/* The server's <handshake/> says nothing in its text. */
		if (st->initiating)
			return;
		if (st->depth != 2 || st->handshake_len + len >
		    sizeof(st->handshake) - 1) {
			st->handshake_bad = 1;
			return;
		}
		memcpy(st->handshake + st->handshake_len, s, len);
		st->handshake_len += len;
		st->handshake[st->handshake_len] = '\0';
		return;
	}
	stream_check_size(st);
}

static void XMLCALL
stream_nsdecl(void *arg, const XML_Char *prefix, const XML_Char *uri)
{
	struct stream	*st = arg;

	st->el_decls++;
	/* Declarations of the stream header itself: depth is still 0. */
	if (st->depth == 0) {
		if (st->waking)
			return;
		if (prefix == NULL && uri != NULL &&
		    strcmp(uri, NS_COMPONENT) == 0)
			st->default_ns_ok = 1;
		else if (prefix != NULL && strcmp(prefix, "stream") == 0 &&
		    uri != NULL && strcmp(uri, NS_STREAMS) == 0)
			st->hdr_stream_decl = 1;
		else if (prefix != NULL)
			splice_add(&st->splice, prefix, uri);
		return;
	}
	/* A stanza that declares a prefix of the header keeps its own. */
	if (st->depth == 1 && prefix != NULL)
		splice_redeclare(&st->splice, prefix);
}

/* Is the version attribute one we speak?  Major 0 or 1; none is 0.9. */
static int
version_ok(const char *v)
{
	char		*end;
	unsigned long	 major;

	if (v == NULL)
		return (1);
	errno = 0;
	major = strtoul(v, &end, 10);
	if (end == v || *end != '.' || errno != 0)
		return (0);
	return (major <= 1);
}

/* The header's to: a domain, no more, normalised. */
static int
stream_header_to(struct stream *st, const XML_Char *to)
{
	if (strchr(to, '@') != NULL || strchr(to, '/') != NULL ||
	    strlcpy(st->domain, to, sizeof(st->domain)) >=
	    sizeof(st->domain) || domain_normalize(st->domain) == -1) {
		st->domain[0] = '\0';
		return (-1);
	}
	return (0);
}

/* What every peer's header must be: a stream, of components. */
static int
stream_header_root(struct stream *st, const XML_Char *name)
{
	const char	*raw;
	size_t		 len;

	if (!name_is(name, NS_STREAMS, "stream")) {
		stream_stop(st, "invalid-namespace", "root is not a stream");
		return (-1);
	}
	if (!st->default_ns_ok) {
		stream_stop(st, "invalid-namespace",
		    "default namespace is not " NS_COMPONENT);
		return (-1);
	}
	/* Its name as written, for a parser made anew (stream_wake). */
	raw = stream_raw(st, stream_index(st));
	len = tag_name_len(raw, XML_GetCurrentByteCount(st->parser));
	if ((st->root_qname = strndup(raw + 1, len)) == NULL)
		fatal("%s", __func__);
	return (0);
}

/* The rest of a header, after its addresses; parsing waits for wait. */
static int
stream_header_end(struct stream *st, const XML_Char **attrs)
{
	const XML_Char	*lang;

	if (!version_ok(xml_attr(attrs, "version"))) {
		stream_stop(st, "unsupported-version", "unsupported version");
		return (-1);
	}
	if ((lang = xml_attr(attrs, NS_XML_LANG)) != NULL)
		splice_add(&st->splice, "xml:lang", lang);
	/* Each stanza carries these: they may not make it much bigger. */
	if (st->splice.len > STREAM_SPLICE_MAX) {
		stream_stop(st, "policy-violation",
		    "header declarations too long");
		return (-1);
	}
	st->boundary = stream_index(st) + XML_GetCurrentByteCount(st->parser);
	return (0);
}

/* The peer's stream header, checked in the order of XEP-0114 and RFC 6120. */
static void
stream_header(struct stream *st, const XML_Char *name, const XML_Char **attrs)
{
	const XML_Char	*to;
	const char	*condition;

	if (st->initiating) {
		stream_header_server(st, name, attrs);
		return;
	}
	if (stream_header_root(st, name) == -1)
		return;
	to = xml_attr(attrs, "to");
	if (to == NULL || to[0] == '\0') {
		stream_stop(st, "improper-addressing", "no 'to' in the header");
		return;
	}
	if (stream_header_to(st, to) == -1) {
		stream_stop(st, "improper-addressing", "'to' is not a domain");
		return;
	}
	if ((condition = st->ops->domain(st->arg, st->domain)) != NULL) {
		/* Never echo a name we do not serve. */
		st->domain[0] = '\0';
		stream_stop(st, condition, "no such component");
		return;
	}
	if (stream_header_end(st, attrs) == -1)
		return;
	/* The owner gets the stream id; parsing waits for it. */
	st->state = STREAM_STREAMID;
	if (st->ops->want_id(st->arg, st->domain) == -1) {
		stream_stop(st, "internal-server-error", "authd unreachable");
		return;
	}
	stream_pause(st, WAIT_STREAMID);
}

/*
 * A server's answer to our header: from, if it says, is the component
 * we asked for; its id is what our handshake hashes, as parsed.
 */
static void
stream_header_server(struct stream *st, const XML_Char *name,
    const XML_Char **attrs)
{
	const XML_Char	*from, *id;
	char		 dom[GW_NAME_MAX];

	if (stream_header_root(st, name) == -1)
		return;
	if ((from = xml_attr(attrs, "from")) != NULL && (strlcpy(dom, from,
	    sizeof(dom)) >= sizeof(dom) || domain_normalize(dom) == -1 ||
	    strcmp(dom, st->domain) != 0)) {
		stream_stop(st, "invalid-from", "the server answers for "
		    "another name");
		return;
	}
	id = xml_attr(attrs, "id");
	if (id == NULL || id[0] == '\0' || strlen(id) >= GW_SERVER_ID_MAX) {
		stream_stop(st, "bad-format", "no usable stream id from the "
		    "server");
		return;
	}
	if (stream_header_end(st, attrs) == -1)
		return;
	st->state = STREAM_STREAMID;
	if (st->ops->server_id(st->arg, id) == -1) {
		stream_stop(st, "internal-server-error", "authd unreachable");
		return;
	}
	stream_pause(st, WAIT_STREAMID);
}

/* RFC 6120 11.1: none of these may appear in a stream. */
static void XMLCALL
stream_xmldecl(void *arg, const XML_Char *version, const XML_Char *encoding,
    int standalone)
{
	struct stream	*st = arg;

	(void)standalone;
	if (version != NULL && strcmp(version, "1.0") != 0)
		stream_stop(st, "unsupported-version", "XML version not 1.0");
	else if (encoding != NULL && strcasecmp(encoding, "UTF-8") != 0)
		stream_stop(st, "unsupported-encoding", "encoding not UTF-8");
}

static void XMLCALL
stream_comment(void *arg, const XML_Char *data)
{
	(void)data;
	stream_stop(arg, "restricted-xml", "comment");
}

static void XMLCALL
stream_pi(void *arg, const XML_Char *target, const XML_Char *data)
{
	(void)target;
	(void)data;
	stream_stop(arg, "restricted-xml", "processing instruction");
}

static void XMLCALL
stream_doctype(void *arg, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	stream_stop(arg, "restricted-xml", "document type declaration");
}

static void XMLCALL
stream_entity(void *arg, const XML_Char *name, int is_param,
    const XML_Char *value, int value_len, const XML_Char *base,
    const XML_Char *sysid, const XML_Char *pubid, const XML_Char *notation)
{
	(void)name;
	(void)is_param;
	(void)value;
	(void)value_len;
	(void)base;
	(void)sysid;
	(void)pubid;
	(void)notation;
	stream_stop(arg, "restricted-xml", "entity declaration");
}

void
stream_set_handlers(XML_Parser p)
{
	XML_SetElementHandler(p, stream_start, stream_end);
	XML_SetCharacterDataHandler(p, stream_text);
	XML_SetStartNamespaceDeclHandler(p, stream_nsdecl);
	XML_SetXmlDeclHandler(p, stream_xmldecl);
	XML_SetCommentHandler(p, stream_comment);
	XML_SetProcessingInstructionHandler(p, stream_pi);
	XML_SetStartDoctypeDeclHandler(p, stream_doctype);
	XML_SetEntityDeclHandler(p, stream_entity);
}
