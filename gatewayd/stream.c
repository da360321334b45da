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
 * One XEP-0114 stream: libexpat in namespace mode fed the bytes as they
 * arrive, the state machine from header to authenticated, and the stream
 * errors of RFC 6120 4.9.  Handlers never free the connection: they stop
 * the parser and engine.c tidies up when XML_Parse has returned.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "util.h"
#include "log.h"

#define NS_STREAMS	"http://etherx.jabber.org/streams"
#define NS_COMPONENT	"jabber:component:accept"
#define NS_ERRORS	"urn:ietf:params:xml:ns:xmpp-streams"
#define NS_XML		"http://www.w3.org/XML/1998/namespace"
#define NS_SEP		' '
#define STREAM_SLICE	2048	/* bytes handed to expat at a time */

/*
 * Expat 2.6 delays parsing a token until more input arrives (the fix of
 * CVE-2023-52425); a stream would stall on a stanza split across reads.
 * Debian backports it into 2.5.0 without changing the version, so the
 * call is looked up when the program is loaded.
 */
XML_Bool XML_SetReparseDeferralEnabled(XML_Parser, XML_Bool)
    __attribute__((__weak__));

static void XMLCALL	stream_start(void *, const XML_Char *,
			    const XML_Char **);
static void XMLCALL	stream_end(void *, const XML_Char *);
static void XMLCALL	stream_text(void *, const XML_Char *, int);
static void XMLCALL	stream_nsdecl(void *, const XML_Char *,
			    const XML_Char *);
static void XMLCALL	stream_xmldecl(void *, const XML_Char *,
			    const XML_Char *, int);
static void XMLCALL	stream_comment(void *, const XML_Char *);
static void XMLCALL	stream_pi(void *, const XML_Char *, const XML_Char *);
static void XMLCALL	stream_doctype(void *, const XML_Char *,
			    const XML_Char *, const XML_Char *, int);
static void XMLCALL	stream_entity(void *, const XML_Char *, int,
			    const XML_Char *, int, const XML_Char *,
			    const XML_Char *, const XML_Char *,
			    const XML_Char *);
static void		stream_parsed(struct conn *, enum XML_Status);
static void		stream_stop(struct conn *, const char *,
			    const char *);
static void		stream_header(struct conn *, const XML_Char *,
			    const XML_Char **);
static void		stream_check_size(struct conn *);
static void		stream_splice_add(struct conn *, const char *,
			    const char *);

XML_Parser
stream_parser_new(struct conn *c)
{
	XML_Parser	p;

	/* UTF-8 is the only encoding of XMPP (RFC 6120 11.6). */
	if ((p = XML_ParserCreateNS("UTF-8", NS_SEP)) == NULL)
		return (NULL);
	XML_SetHashSalt(p, arc4random());
	if (XML_SetReparseDeferralEnabled != NULL)
		XML_SetReparseDeferralEnabled(p, XML_FALSE);
	XML_SetUserData(p, c);
	XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
	XML_SetElementHandler(p, stream_start, stream_end);
	XML_SetCharacterDataHandler(p, stream_text);
	XML_SetStartNamespaceDeclHandler(p, stream_nsdecl);
	XML_SetXmlDeclHandler(p, stream_xmldecl);
	/* RFC 6120 11.1: none of these may appear in a stream. */
	XML_SetCommentHandler(p, stream_comment);
	XML_SetProcessingInstructionHandler(p, stream_pi);
	XML_SetStartDoctypeDeclHandler(p, stream_doctype);
	XML_SetEntityDeclHandler(p, stream_entity);
	return (p);
}

/*
 * Where the parser is, as an offset in the stream: a parser made anew
 * after a rest (stream_wake) counts from its own start.
 */
uint64_t
stream_index(struct conn *c)
{
	return (XML_GetCurrentByteIndex(c->parser) + c->index_adjust);
}

/*
 * An authenticated stream that rests between stanzas gives up its parser,
 * most of what an idle connection costs.  Nothing of the stream's state
 * is lost: between stanzas it is only the header's declarations.
 */
void
stream_hibernate(struct conn *c)
{
	log_debug("connection %u for %s rests: parser released", c->id,
	    c->domain);
	XML_ParserFree(c->parser);
	c->parser = NULL;
}

/*
 * Before new input: a new parser, fed a header like the peer's (its root
 * name, its declarations), so that the stanzas that follow mean what
 * they meant, and the closing tag matches.
 */
static int
stream_wake(struct conn *c)
{
	enum XML_Status	 status;
	char		*hdr;
	int		 len;

	if ((c->parser = stream_parser_new(c)) == NULL)
		return (-1);
	len = asprintf(&hdr, "<%s xmlns='" NS_COMPONENT "'%s%s>",
	    c->root_qname, c->hdr_stream_decl ? " xmlns:stream='" NS_STREAMS
	    "'" : "", c->splice != NULL ? c->splice : "");
	if (len == -1)
		fatal("%s", __func__);
	c->index_adjust = c->bytes_in - len;
	c->depth = 0;
	c->waking = 1;
	c->in_parse = 1;
	status = XML_Parse(c->parser, hdr, len, XML_FALSE);
	c->in_parse = 0;
	c->waking = 0;
	free(hdr);
	if (status != XML_STATUS_OK || c->depth != 1)
		fatalx("%s: connection %u: cannot restore its stream", __func__,
		    c->id);
	return (0);
}

/*
 * Feeds the parser what the view holds beyond what it has had, in small
 * slices: expat copies its input into a buffer of its own that never
 * shrinks, so small slices keep every connection's parser small.  Stops
 * when the parser pauses or the stream ends; the rest stays in the view
 * (engine.c keeps it) for when the parser goes on.
 */
void
stream_feed(struct conn *c)
{
	enum XML_Status	status;
	uint64_t	end = c->view.base + c->view.len;
	size_t		n;

	if (c->parser == NULL && c->bytes_in < end && stream_wake(c) == -1) {
		stream_error(c, "internal-server-error", "no memory");
		return;
	}
	while (!c->suspended && !c->dead && c->state != CONN_CLOSING &&
	    c->bytes_in < end) {
		n = end - c->bytes_in;
		if (n > STREAM_SLICE)
			n = STREAM_SLICE;
		c->in_parse = 1;
		status = XML_Parse(c->parser, stream_raw(c, c->bytes_in),
		    (int)n, XML_FALSE);
		c->in_parse = 0;
		c->bytes_in += n;
		stream_parsed(c, status);
	}
}

void
stream_resume(struct conn *c)
{
	enum XML_Status	status;

	if (!c->suspended)
		return;
	c->suspended = 0;
	c->in_parse = 1;
	status = XML_ResumeParser(c->parser);
	c->in_parse = 0;
	stream_parsed(c, status);
}

static const char *
stream_parse_condition(enum XML_Error code)
{
	switch (code) {
	case XML_ERROR_UNDEFINED_ENTITY:
		return ("restricted-xml");	/* only the five predefined */
	case XML_ERROR_UNBOUND_PREFIX:
		return ("bad-namespace-prefix");
	case XML_ERROR_UNKNOWN_ENCODING:
	case XML_ERROR_INCORRECT_ENCODING:
		return ("unsupported-encoding");
	default:
		return ("not-well-formed");
	}
}

static void
stream_parsed(struct conn *c, enum XML_Status status)
{
	XML_ParsingStatus	ps;
	enum XML_Error		code;

	if (c->stop_condition != NULL) {
		/* A handler found something wrong and stopped the parser. */
		stream_error(c, c->stop_condition, "%s", c->stop_reason);
		return;
	}
	switch (status) {
	case XML_STATUS_ERROR:
		if (c->state == CONN_CLOSING)
			return;
		code = XML_GetErrorCode(c->parser);
		stream_error(c, stream_parse_condition(code), "%s at byte %lld",
		    XML_ErrorString(code),
		    (long long)stream_index(c));
		return;
	case XML_STATUS_SUSPENDED:
		c->suspended = 1;
		return;
	default:
		break;
	}
	XML_GetParsingStatus(c->parser, &ps);
	if (ps.parsing == XML_FINISHED && c->state != CONN_CLOSING)
		stream_error(c, "not-well-formed", "input after the stream");
	else if (c->state != CONN_CLOSING)
		stream_check_size(c);
}

/*
 * From a handler: remember why and stop the parser for good; the error
 * is sent once XML_Parse has returned.
 */
static void
stream_stop(struct conn *c, const char *condition, const char *reason)
{
	if (c->stop_condition != NULL)
		return;
	c->stop_condition = condition;
	c->stop_reason = reason;
	XML_StopParser(c->parser, XML_FALSE);
}

/*
 * Our opening tag.  With the id authd issued, from is the component's
 * name; before that (an error during setup) there is no from, never an
 * echo of a name we do not serve, and an id of our own that is never
 * used for a handshake.
 */
static int
header_format(char *buf, size_t size, const char *from, const char *id)
{
	char	rnd[GW_STREAMID_LEN + 1];
	uint8_t	bytes[GW_STREAMID_LEN / 2];
	int	len;

	if (id == NULL) {
		arc4random_buf(bytes, sizeof(bytes));
		hex_encode(bytes, sizeof(bytes), rnd);
		id = rnd;
	}
	len = snprintf(buf, size, "<?xml version='1.0'?><stream:stream "
	    "xmlns='" NS_COMPONENT "' xmlns:stream='" NS_STREAMS "'%s%s%s "
	    "id='%s'>", from != NULL ? " from='" : "",
	    from != NULL ? from : "", from != NULL ? "'" : "", id);
	if (len < 0 || (size_t)len >= size)
		fatalx("%s: header too long", __func__);
	return (len);
}

static void
stream_send_header(struct conn *c, const char *id)
{
	char	buf[256 + GW_NAME_MAX];
	int	len;

	len = header_format(buf, sizeof(buf), id != NULL ? c->domain : NULL,
	    id);
	conn_write(c, buf, len);
	c->header_sent = 1;
}

/*
 * A stream error: our header first if the peer has not seen it (RFC 6120
 * 4.9.1.2), the condition, our closing tag, then no more input.  The
 * reason goes to the log, never to the peer.
 */
void
stream_error(struct conn *c, const char *condition, const char *fmt, ...)
{
	char	buf[256], reason[256];
	va_list	ap;
	int	len;

	if (c->state == CONN_CLOSING)
		return;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	log_info("connection %u from %s%s%s: %s (%s)", c->id, c->peername,
	    c->domain[0] != '\0' ? " for " : "", c->domain, condition, reason);

	if (!c->header_sent)
		stream_send_header(c, NULL);
	len = snprintf(buf, sizeof(buf), "<stream:error><%s xmlns='"
	    NS_ERRORS "'/></stream:error></stream:stream>", condition);
	if (len < 0 || (size_t)len >= sizeof(buf))
		fatalx("%s: condition too long", __func__);
	conn_write(c, buf, len);
	c->state = CONN_CLOSING;
	if (c->in_parse)
		XML_StopParser(c->parser, XML_FALSE);
	conn_close_after_flush(c);
}

/* The peer ended its stream: answer with ours and close. */
static void
stream_close(struct conn *c, const char *why)
{
	log_info("connection %u from %s%s%s: %s", c->id, c->peername,
	    c->domain[0] != '\0' ? " for " : "", c->domain, why);
	if (!c->header_sent)
		stream_send_header(c, NULL);
	conn_write(c, "</stream:stream>", 16);
	c->state = CONN_CLOSING;
	if (c->in_parse)
		XML_StopParser(c->parser, XML_FALSE);
	conn_close_after_flush(c);
}

void
stream_peer_closed(struct conn *c)
{
	if (c->state != CONN_CLOSING)
		stream_close(c, "connection closed by the peer");
}

/*
 * Sizes are checked while parsing: a stanza (and whatever text lies
 * between stanzas) may not grow past the limit, even as an unfinished
 * start tag that expat is still buffering.
 */
static void
stream_check_size(struct conn *c)
{
	const struct gw_global	*g = &engine_running->global;
	uint64_t		 pos, max = g->max_stanza;

	if (c->comp != NULL && c->comp->conf.max_stanza != 0)
		max = c->comp->conf.max_stanza;
	pos = c->in_parse ? stream_index(c) :
	    c->bytes_in;
	if (c->state < CONN_OPEN && c->bytes_in > g->max_preauth) {
		if (c->in_parse)
			stream_stop(c, "policy-violation",
			    "too many bytes before authentication");
		else
			stream_error(c, "policy-violation",
			    "too many bytes before authentication");
	} else if (pos > c->boundary && pos - c->boundary > max) {
		if (c->in_parse)
			stream_stop(c, "policy-violation", "stanza too big");
		else
			stream_error(c, "policy-violation", "stanza too big");
	}
}

/*
 * A declaration on the peer's header that its stanzas may use: our
 * header towards their destination does not have it, so forwarding adds
 * it to each stanza's start tag.
 */
static void
stream_splice_add(struct conn *c, const char *prefix, const char *uri)
{
	const char	*s;
	char		*p;
	size_t		 need = 16 + strlen(prefix) + 6 * strlen(uri ? uri : "");

	if ((p = realloc(c->splice, c->splice_len + need)) == NULL)
		fatal("%s", __func__);
	c->splice = p;
	c->splice_len += snprintf(p + c->splice_len, need, " %s%s='",
	    strcmp(prefix, "xml:lang") == 0 ? "" : "xmlns:", prefix);
	for (s = uri != NULL ? uri : ""; *s != '\0'; s++) {
		switch (*s) {
		case '&':
			c->splice_len += snprintf(p + c->splice_len, 6, "&amp;");
			break;
		case '<':
			c->splice_len += snprintf(p + c->splice_len, 5, "&lt;");
			break;
		case '\'':
			c->splice_len += snprintf(p + c->splice_len, 7,
			    "&apos;");
			break;
		default:
			p[c->splice_len++] = *s;
		}
	}
	p[c->splice_len++] = '\'';
	p[c->splice_len] = '\0';
}

/* Does the splice declare prefix (or, for "xml:lang", carry one)? */
int
splice_has(const char *splice, const char *prefix)
{
	char	key[GW_NAME_MAX + 16];

	if (strcmp(prefix, "xml:lang") == 0)
		strlcpy(key, " xml:lang='", sizeof(key));
	else
		snprintf(key, sizeof(key), " xmlns:%s='", prefix);
	return (strstr(splice, key) != NULL);
}

/* "uri local" of a namespaced name: does it name ns:local? */
static int
name_is(const XML_Char *name, const char *ns, const char *local)
{
	size_t	nslen = strlen(ns);

	return (strncmp(name, ns, nslen) == 0 && name[nslen] == NS_SEP &&
	    strcmp(name + nslen + 1, local) == 0);
}

/* The value of an attribute of a start tag, or NULL. */
const XML_Char *
xml_attr(const XML_Char **attrs, const char *name)
{
	for (; attrs[0] != NULL; attrs += 2)
		if (strcmp(attrs[0], name) == 0)
			return (attrs[1]);
	return (NULL);
}

static void XMLCALL
stream_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct conn		*c = arg;
	const struct gw_global	*g = &engine_running->global;
	const char		*condition, *reason;
	size_t			 nattrs = 0;

	/* Stopped: expat may still report the end of an empty element. */
	if (c->state == CONN_CLOSING || c->stop_condition != NULL)
		return;
	c->depth++;
	if (c->depth == 1) {
		if (!c->waking)
			stream_header(c, name, attrs);
		return;
	}
	while (attrs[2 * nattrs] != NULL)
		nattrs++;
	if (nattrs > g->max_attrs) {
		stream_stop(c, "policy-violation", "too many attributes");
		return;
	}
	if (c->depth - 1 > g->max_depth) {
		stream_stop(c, "policy-violation", "elements nested too deep");
		return;
	}
	if (c->depth == 2) {
		c->boundary = stream_index(c);
		if (name_is(name, NS_STREAMS, "error")) {
			c->peer_error = 1;
			return;
		}
	}
	if (c->peer_error) {
		if (c->depth == 3 && strncmp(name, NS_ERRORS " ",
		    sizeof(NS_ERRORS)) == 0)
			log_info("connection %u from %s: the peer sent the "
			    "stream error %.64s", c->id, c->peername,
			    name + sizeof(NS_ERRORS));
		return;
	}

	switch (c->state) {
	case CONN_HANDSHAKE:
		/* The first element must be the handshake, without children. */
		if (c->depth != 2 || !name_is(name, NS_COMPONENT, "handshake"))
			stream_stop(c, "not-authorized",
			    "element other than a handshake");
		break;
	case CONN_OPEN:
		if (c->depth != 2)
			break;
		if (name_is(name, NS_COMPONENT, "handshake"))
			stream_stop(c, "bad-format", "second handshake");
		else if ((condition = router_stanza_start(c, name, attrs,
		    &reason)) != NULL)
			stream_stop(c, condition, reason);
		break;
	default:
		stream_stop(c, "not-authorized", "element before the handshake");
		break;
	}
	if (c->stop_condition == NULL)
		stream_check_size(c);
}

static void XMLCALL
stream_end(void *arg, const XML_Char *name)
{
	struct conn	*c = arg;
	uint8_t		 digest[GW_DIGEST_LEN];

	(void)name;
	if (c->state == CONN_CLOSING || c->stop_condition != NULL)
		return;
	if (c->depth-- == 1) {
		stream_close(c, "the peer closed its stream");
		return;
	}
	if (c->depth != 1)
		return;

	/* The end of a top-level element. */
	c->boundary = stream_index(c) +
	    XML_GetCurrentByteCount(c->parser);
	if (c->peer_error) {
		stream_close(c, "the peer sent a stream error");
		return;
	}
	switch (c->state) {
	case CONN_HANDSHAKE:
		if (c->handshake_bad || hex_decode(c->handshake,
		    c->handshake_len, digest, sizeof(digest)) == -1) {
			stream_stop(c, "not-authorized", "malformed handshake");
			return;
		}
		c->state = CONN_AUTHWAIT;
		if (engine_auth_handshake(c, digest) == -1) {
			stream_stop(c, "internal-server-error",
			    "authd unreachable");
			return;
		}
		explicit_bzero(digest, sizeof(digest));
		/* Nothing more is parsed until authd has answered. */
		XML_StopParser(c->parser, XML_TRUE);
		break;
	case CONN_OPEN:
		c->st_end = c->boundary;
		c->boundary = c->st_start;	/* until it is routed */
		router_stanza_end(c);
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
	struct conn	*c = arg;

	if (c->state == CONN_CLOSING || c->peer_error ||
	    c->stop_condition != NULL)
		return;
	if (c->depth == 1) {
		/* Between stanzas only white space (keepalives) may come. */
		if (!is_space(s, len))
			stream_stop(c, "bad-format", "text between stanzas");
		else
			c->boundary = stream_index(c) +
			    XML_GetCurrentByteCount(c->parser);
		return;
	}
	if (c->state == CONN_HANDSHAKE) {
		if (c->depth != 2 || c->handshake_len + len >
		    sizeof(c->handshake) - 1) {
			c->handshake_bad = 1;
			return;
		}
		memcpy(c->handshake + c->handshake_len, s, len);
		c->handshake_len += len;
		c->handshake[c->handshake_len] = '\0';
		return;
	}
	stream_check_size(c);
}

static void XMLCALL
stream_nsdecl(void *arg, const XML_Char *prefix, const XML_Char *uri)
{
	struct conn	*c = arg;

	/* Declarations of the stream header itself: depth is still 0. */
	if (c->depth == 0) {
		if (c->waking)
			return;
		if (prefix == NULL && uri != NULL &&
		    strcmp(uri, NS_COMPONENT) == 0)
			c->default_ns_ok = 1;
		else if (prefix != NULL && strcmp(prefix, "stream") == 0 &&
		    uri != NULL && strcmp(uri, NS_STREAMS) == 0)
			c->hdr_stream_decl = 1;
		else if (prefix != NULL)
			stream_splice_add(c, prefix, uri);
		return;
	}
	/* A stanza that declares a prefix of the header keeps its own. */
	if (c->depth == 1 && prefix != NULL && c->splice_len > 0 &&
	    splice_has(c->splice, prefix))
		stream_redeclared(c, prefix);
}

/* Remembers, for this stanza, a header prefix it declares itself. */
void
stream_redeclared(struct conn *c, const char *prefix)
{
	size_t	 len = strlen(prefix);
	char	*p;

	if ((p = realloc(c->st_redecl, c->st_redecl_len + len + 2)) == NULL)
		fatal("%s", __func__);
	c->st_redecl = p;
	memcpy(p + c->st_redecl_len, prefix, len + 1);
	c->st_redecl_len += len + 1;
	c->st_redeclares = 1;
}

static void XMLCALL
stream_xmldecl(void *arg, const XML_Char *version, const XML_Char *encoding,
    int standalone)
{
	struct conn	*c = arg;

	(void)standalone;
	if (version != NULL && strcmp(version, "1.0") != 0)
		stream_stop(c, "unsupported-version", "XML version not 1.0");
	else if (encoding != NULL && strcasecmp(encoding, "UTF-8") != 0)
		stream_stop(c, "unsupported-encoding", "encoding not UTF-8");
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

/* The peer's stream header, checked in the order of XEP-0114 and RFC 6120. */
static void
stream_header(struct conn *c, const XML_Char *name, const XML_Char **attrs)
{
	const XML_Char	*to, *version, *lang;
	const char	*raw;
	size_t		 i, taglen;

	if (!name_is(name, NS_STREAMS, "stream")) {
		stream_stop(c, "invalid-namespace", "root is not a stream");
		return;
	}
	if (!c->default_ns_ok) {
		stream_stop(c, "invalid-namespace",
		    "default namespace is not " NS_COMPONENT);
		return;
	}
	/* Its name as written, for a parser made anew (stream_wake). */
	raw = stream_raw(c, stream_index(c));
	taglen = XML_GetCurrentByteCount(c->parser);
	for (i = 1; i < taglen && raw[i] != ' ' && raw[i] != '\t' &&
	    raw[i] != '\r' && raw[i] != '\n' && raw[i] != '/' &&
	    raw[i] != '>'; i++)
		;
	if ((c->root_qname = strndup(raw + 1, i - 1)) == NULL)
		fatal("%s", __func__);
	to = xml_attr(attrs, "to");
	if (to == NULL || to[0] == '\0') {
		stream_stop(c, "improper-addressing", "no 'to' in the header");
		return;
	}
	if (strchr(to, '@') != NULL || strchr(to, '/') != NULL ||
	    strlcpy(c->domain, to, sizeof(c->domain)) >= sizeof(c->domain) ||
	    domain_normalize(c->domain) == -1) {
		c->domain[0] = '\0';
		stream_stop(c, "improper-addressing", "'to' is not a domain");
		return;
	}
	if (engine_find_component(c->domain) == NULL) {
		/* Never echo a name we do not serve. */
		c->domain[0] = '\0';
		stream_stop(c, "host-unknown", "no such component");
		return;
	}
	version = xml_attr(attrs, "version");
	if (!version_ok(version)) {
		stream_stop(c, "unsupported-version", "unsupported version");
		return;
	}
	if ((lang = xml_attr(attrs, NS_XML " lang")) != NULL)
		stream_splice_add(c, "xml:lang", lang);
	c->boundary = stream_index(c) +
	    XML_GetCurrentByteCount(c->parser);
	/* authd issues the stream id; parsing waits for it. */
	c->state = CONN_STREAMID;
	if (engine_auth_stream(c) == -1) {
		stream_stop(c, "internal-server-error", "authd unreachable");
		return;
	}
	XML_StopParser(c->parser, XML_TRUE);
}

/* authd issued the id: our header goes out and the handshake may come. */
void
stream_streamid(struct conn *c, const char *id)
{
	if (c->state != CONN_STREAMID)
		return;
	stream_send_header(c, id);
	c->state = CONN_HANDSHAKE;
	conn_resume(c);
}

void
stream_verdict(struct conn *c, int verdict)
{
	if (c->state != CONN_AUTHWAIT)
		return;
	if (verdict != AUTH_OK) {
		engine_stats.auth_failures++;
		stream_error(c, "not-authorized", "wrong secret");
		return;
	}
	conn_authenticated(c);
	if (router_bind(c) == -1)
		return;
	conn_write(c, "<handshake/>", 12);
	c->state = CONN_OPEN;
	log_info("connection %u from %s: %s authenticated", c->id,
	    c->peername, c->domain);
	conn_resume(c);
}

/*
 * A connection refused at once (over a limit): header, condition and
 * closing tag in one write on the fresh socket, which has room for it.
 */
void
stream_refuse(int fd, const char *condition)
{
	char	buf[512];
	int	len, n;

	len = header_format(buf, sizeof(buf), NULL, NULL);
	n = snprintf(buf + len, sizeof(buf) - len, "<stream:error><%s xmlns='"
	    NS_ERRORS "'/></stream:error></stream:stream>", condition);
	if (n > 0 && (size_t)n < sizeof(buf) - len)
		(void)write(fd, buf, len + n);
}
