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
 * errors of RFC 6120 4.9.  Handlers never end the stream themselves: they
 * stop the parser and the error is sent once XML_Parse has returned.
 *
 * Offsets are positions in the stream (the peer's bytes since its first
 * one).  The caller's buffer (the view) holds the bytes from the offset
 * stream_input last returned on: from "boundary", the start of what a
 * stanza or a paused parser still needs.
 */

#include <sys/types.h>

#include <errno.h>
#include <expat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "log.h"
#include "splice.h"
#include "stream.h"
#include "stream_local.h"
#include "util.h"
#include "xml.h"
#include "xmlmem.h"

#define STREAM_SLICE	2048	/* bytes handed to expat at a time */
#define STREAM_DEFER_MIN 4096	/* an unfinished token worth not rescanning */

/*
 * Expat 2.6 delays parsing a token until more input arrives (the fix of
 * CVE-2023-52425); a stream would stall on a stanza split across reads.
 * Debian backports it into 2.5.0 without changing the version, so the
 * call is looked up when the program is loaded.
 */
XML_Bool XML_SetReparseDeferralEnabled(XML_Parser, XML_Bool)
    __attribute__((__weak__));

static void	stream_parsed(struct stream *, enum XML_Status);

/*
 * From a handler: remember why and stop the parser for good; the error
 * is sent once XML_Parse has returned.
 */
void
stream_stop(struct stream *st, const char *condition, const char *reason)
{
	if (st->stop_condition != NULL)
		return;
	st->stop_condition = condition;
	st->stop_reason = reason;
	XML_StopParser(st->parser, XML_FALSE);
}

/* Expat's blocks, from the arena of the parser's stream (xmlmem.c). */
static const XML_Memory_Handling_Suite stream_memory = {
	xmlmem_malloc, xmlmem_realloc, xmlmem_release
};

static XML_Parser
stream_parser_new(struct stream *st, struct xmlmem **mem)
{
	static const XML_Char	 sep[] = { NS_SEP, '\0' };
	struct xmlmem		*prev;
	XML_Parser		 p;

	if ((*mem = xmlmem_new()) == NULL)
		return (NULL);
	/* UTF-8 is the only encoding of XMPP (RFC 6120 11.6). */
	prev = xmlmem_enter(*mem);
	p = XML_ParserCreate_MM("UTF-8", &stream_memory, sep);
	xmlmem_leave(prev);
	if (p == NULL) {
		xmlmem_free(*mem);
		*mem = NULL;
		return (NULL);
	}
	XML_SetHashSalt(p, arc4random());
	if (XML_SetReparseDeferralEnabled != NULL)
		XML_SetReparseDeferralEnabled(p, XML_FALSE);
	XML_SetUserData(p, st);
	XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
	stream_set_handlers(p);
	return (p);
}

static void
stream_parser_free(struct stream *st)
{
	XML_ParserFree(st->parser);
	xmlmem_free(st->mem);
	st->parser = NULL;
	st->mem = NULL;
}

/* Into expat, which takes new blocks from the stream's arena. */
static enum XML_Status
stream_xml_parse(struct stream *st, const char *s, int len)
{
	struct xmlmem	*prev;
	enum XML_Status	 status;

	prev = xmlmem_enter(st->mem);
	st->in_parse = 1;
	status = XML_Parse(st->parser, s, len, XML_FALSE);
	st->in_parse = 0;
	xmlmem_leave(prev);
	return (status);
}

/* What expat needs of the system, before the sandbox closes it. */
int
stream_preinit(void)
{
	struct stream	st;

	memset(&st, 0, sizeof(st));
	if ((st.parser = stream_parser_new(NULL, &st.mem)) == NULL)
		return (-1);
	stream_parser_free(&st);
	return (0);
}

struct stream *
stream_new(const struct stream_ops *ops, void *arg,
    const struct stream_limits *limits)
{
	struct stream	*st;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return (NULL);
	if ((st->parser = stream_parser_new(st, &st->mem)) == NULL) {
		free(st);
		return (NULL);
	}
	st->ops = ops;
	st->arg = arg;
	st->limits = limits;
	st->state = STREAM_HEADER;
	return (st);
}

void
stream_free(struct stream *st)
{
	if (st == NULL)
		return;
	if (st->parser != NULL)
		stream_parser_free(st);
	free(st->root_qname);
	splice_free(&st->splice);
	free(st);
}

enum stream_state
stream_state(const struct stream *st)
{
	return (st->state);
}

/* Paused until its owner says so: it reads nothing meanwhile. */
int
stream_waiting(const struct stream *st)
{
	return (st->state != STREAM_CLOSING && st->wait != WAIT_NONE);
}

const char *
stream_domain(const struct stream *st)
{
	return (st->domain);
}

void
stream_set_max_stanza(struct stream *st, uint32_t max)
{
	st->max_stanza = max;
}

/* The raw bytes of the stream at an offset the parser has seen. */
const char *
stream_raw(struct stream *st, uint64_t off)
{
	if (off < st->view_base || off > st->view_base + st->view_len)
		fatalx("%s: %s: offset %llu outside the input", __func__,
		    st->ops->label(st->arg), (unsigned long long)off);
	return (st->view + (off - st->view_base));
}

/*
 * Where the parser is, as an offset in the stream: a parser made anew
 * after a rest (stream_wake) counts from its own start.
 */
uint64_t
stream_index(struct stream *st)
{
	return (XML_GetCurrentByteIndex(st->parser) + st->index_adjust);
}

/*
 * Between stanzas, nothing held, nothing waited for, nothing of a next
 * tag in expat's buffer: it may rest.
 */
int
stream_can_rest(const struct stream *st)
{
	return (st->state == STREAM_OPEN && st->parser != NULL &&
	    !st->suspended && st->wait == WAIT_NONE && st->depth == 1 &&
	    st->boundary == st->fed && !st->st_pending);
}

/*
 * An authenticated stream that rests between stanzas gives up its parser,
 * most of what an idle stream costs.  Nothing of the stream's state is
 * lost: between stanzas it is only the header's declarations.
 */
void
stream_rest(struct stream *st)
{
	if (!stream_can_rest(st))
		return;
	log_debug("%s for %s rests: parser released",
	    st->ops->label(st->arg), st->domain);
	stream_parser_free(st);
}

/*
 * Before new input: a new parser, fed a header like the peer's (its root
 * name, its declarations), so that the stanzas that follow mean what
 * they meant, and the closing tag matches.
 */
static int
stream_wake(struct stream *st)
{
	enum XML_Status	 status;
	char		*hdr;
	int		 len;

	if ((st->parser = stream_parser_new(st, &st->mem)) == NULL)
		return (-1);
	len = asprintf(&hdr, "<%s xmlns='" NS_COMPONENT "'%s%s>",
	    st->root_qname, st->hdr_stream_decl ? " xmlns:stream='"
	    NS_STREAMS "'" : "", st->splice.decls != NULL ? st->splice.decls :
	    "");
	if (len == -1)
		fatal("%s", __func__);
	st->index_adjust = st->fed - len;
	st->depth = 0;
	st->waking = 1;
	status = stream_xml_parse(st, hdr, len);
	st->waking = 0;
	free(hdr);
	if (status != XML_STATUS_OK || st->depth != 1)
		fatalx("%s: %s: cannot restore its stream", __func__,
		    st->ops->label(st->arg));
	return (0);
}

/*
 * Expat with reparse deferral off scans an unfinished token again from
 * its start each time it is fed: a large start tag sent a byte at a time
 * would cost time quadratic in its length.  So once expat holds a long
 * unfinished token, it is fed again only when the bytes waiting are as
 * many as it holds (each scan then pays for itself), or when the caller
 * says no more are coming for now (stream_flush): the total stays
 * linear and no stanza waits for input that does not come.  Only for an
 * authenticated stream (before, the preauth limit is small), and never
 * past the size limit, which must see the bytes.
 */
static int
stream_defer(struct stream *st, uint64_t end)
{
	uint64_t	done, held, max = st->limits->max_stanza;

	if (st->force || st->state != STREAM_OPEN)
		return (0);
	if (st->max_stanza != 0)
		max = st->max_stanza;
	done = st->parsed_to > st->boundary ? st->parsed_to : st->boundary;
	held = st->fed > done ? st->fed - done : 0;
	return (held >= STREAM_DEFER_MIN && end - st->fed < held &&
	    end - st->boundary <= max);
}

/*
 * Feeds the parser what the view holds beyond what it has had, in small
 * slices: expat copies its input into a buffer of its own that never
 * shrinks, so small slices keep every stream's parser small.  Stops
 * when the parser pauses or the stream ends; the rest stays in the
 * caller's buffer for when the parser goes on.
 */
static void
stream_feed(struct stream *st)
{
	enum XML_Status	status;
	uint64_t	end = st->view_base + st->view_len;
	size_t		n;

	if (st->parser == NULL && st->fed < end && stream_wake(st) == -1) {
		stream_error(st, "internal-server-error", "no memory");
		return;
	}
	st->deferred = 0;
	while (!st->suspended && st->state != STREAM_CLOSING &&
	    st->fed < end) {
		if (stream_defer(st, end)) {
			st->deferred = 1;
			break;
		}
		n = end - st->fed;
		if (n > STREAM_SLICE)
			n = STREAM_SLICE;
		status = stream_xml_parse(st, stream_raw(st, st->fed), (int)n);
		st->fed += n;
		stream_parsed(st, status);
	}
}

/* Its owner let it go on: the held stanza first, then the parser. */
static void
stream_resume(struct stream *st)
{
	struct xmlmem	*prev;
	enum XML_Status	 status;

	if (st->st_pending && stream_offer(st) == -1)
		return;
	if (st->wait != WAIT_NONE || st->state == STREAM_CLOSING)
		return;
	st->suspended = 0;
	prev = xmlmem_enter(st->mem);
	st->in_parse = 1;
	status = XML_ResumeParser(st->parser);
	st->in_parse = 0;
	xmlmem_leave(prev);
	stream_parsed(st, status);
}

/*
 * Expat takes UTF-16 when the first bytes say so, whatever encoding it
 * was given, and a stanza of such a stream would be forwarded as UTF-16
 * into the receiver's UTF-8 stream.  XMPP is UTF-8 only: a NUL in the
 * first two bytes or a UTF-16 byte order mark is refused.  Returns 0 to
 * go on, 1 while the two bytes are not all there, -1 when refused.
 */
static int
stream_utf16(struct stream *st, const char *data, size_t len)
{
	const unsigned char	*p = (const unsigned char *)data;

	if ((len >= 1 && p[0] == 0x00) || (len >= 2 && (p[1] == 0x00 ||
	    (p[0] == 0xfe && p[1] == 0xff) || (p[0] == 0xff && p[1] == 0xfe)))) {
		stream_error(st, "unsupported-encoding", "UTF-16");
		return (-1);
	}
	return (len < 2);
}

/*
 * The caller's bytes, data[0] being the stream's byte at offset base:
 * parses what it has not yet, unless it waits.  Returns the offset from
 * which the caller must keep the bytes and hand them again.
 */
uint64_t
stream_input(struct stream *st, const char *data, uint64_t base, size_t len)
{
	if (st->state == STREAM_CLOSING)
		return (base + len);
	if (base > st->boundary || base + len < st->fed)
		fatalx("%s: %s: input at %llu, %zu bytes, but %llu needed",
		    __func__, st->ops->label(st->arg),
		    (unsigned long long)base, len,
		    (unsigned long long)st->boundary);
	st->view = data;
	st->view_base = base;
	st->view_len = len;
	/* The first two bytes tell the encoding: none is fed before. */
	if (st->wait == WAIT_NONE &&
	    (st->fed > 0 || stream_utf16(st, data, len) == 0)) {
		if (st->suspended)
			stream_resume(st);
		stream_feed(st);
	}
	st->view = NULL;
	st->force = 0;
	if (st->state == STREAM_CLOSING)
		return (base + len);
	return (st->boundary);
}

/* Input held back (stream_defer): the caller flushes it if none comes. */
int
stream_deferred(const struct stream *st)
{
	return (st->deferred && st->state != STREAM_CLOSING &&
	    st->wait == WAIT_NONE);
}

/* No more input for now: the next stream_input feeds all it has. */
void
stream_flush(struct stream *st)
{
	st->force = 1;
}

/* Its owner's pause (STANZA_HOLD, STANZA_DONE_PAUSE) is over. */
void
stream_go(struct stream *st)
{
	if (st->wait == WAIT_ROUTE)
		st->wait = WAIT_NONE;
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
	case XML_ERROR_NO_MEMORY:
		return ("internal-server-error");	/* ours, not the peer's */
	default:
		return ("not-well-formed");
	}
}

static void
stream_parsed(struct stream *st, enum XML_Status status)
{
	XML_ParsingStatus	ps;
	enum XML_Error		code;

	if (st->stop_condition != NULL) {
		/* A handler found something wrong and stopped the parser. */
		stream_error(st, st->stop_condition, "%s", st->stop_reason);
		return;
	}
	switch (status) {
	case XML_STATUS_ERROR:
		if (st->state == STREAM_CLOSING)
			return;
		code = XML_GetErrorCode(st->parser);
		stream_error(st, stream_parse_condition(code),
		    "%s at byte %lld", XML_ErrorString(code),
		    (long long)stream_index(st));
		return;
	case XML_STATUS_SUSPENDED:
		st->suspended = 1;
		return;
	default:
		break;
	}
	XML_GetParsingStatus(st->parser, &ps);
	if (ps.parsing == XML_FINISHED && st->state != STREAM_CLOSING)
		stream_error(st, "not-well-formed", "input after the stream");
	else if (st->state != STREAM_CLOSING)
		stream_check_size(st);
}

/* From a handler: wait for the owner; parsing goes on when it says. */
void
stream_pause(struct stream *st, enum stream_wait wait)
{
	st->wait = wait;
	if (st->in_parse)
		XML_StopParser(st->parser, XML_TRUE);
}

static void
stream_send_header(struct stream *st, const char *id)
{
	char	buf[256 + GW_NAME_MAX];
	int	len;

	if ((len = stream_header_text(buf, sizeof(buf),
	    id != NULL ? st->domain : NULL, id)) == -1)
		fatalx("%s: header too long", __func__);
	st->ops->output(st->arg, buf, len);
	st->header_sent = 1;
}

/* Our closing tag is out: no more input, and the owner closes. */
static void
stream_closing(struct stream *st)
{
	st->state = STREAM_CLOSING;
	if (st->in_parse)
		XML_StopParser(st->parser, XML_FALSE);
	st->ops->closing(st->arg);
}

/* A line about the stream, to its owner's log. */
void
stream_log(struct stream *st, const char *fmt, ...)
{
	char	line[512];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (st->ops->log != NULL)
		st->ops->log(st->arg, line);
	else
		log_info("%s", line);
}

/*
 * A stream error: our header first if the peer has not seen it (RFC 6120
 * 4.9.1.2), the condition, our closing tag, then no more input.  The
 * reason goes to the log, never to the peer.
 */
void
stream_error(struct stream *st, const char *condition, const char *fmt, ...)
{
	char	buf[256], reason[256];
	va_list	ap;
	int	len;

	if (st->state == STREAM_CLOSING)
		return;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	stream_log(st, "%s%s%s: %s (%s)", st->ops->label(st->arg),
	    st->domain[0] != '\0' ? " for " : "", st->domain, condition,
	    reason);

	if (!st->header_sent)
		stream_send_header(st, NULL);
	if ((len = stream_error_text(buf, sizeof(buf), condition)) == -1)
		fatalx("%s: condition too long", __func__);
	st->ops->output(st->arg, buf, len);
	stream_closing(st);
}

/* The peer ended its stream: answer with ours and close. */
void
stream_close(struct stream *st, const char *why)
{
	stream_log(st, "%s%s%s: %s", st->ops->label(st->arg),
	    st->domain[0] != '\0' ? " for " : "", st->domain, why);
	if (!st->header_sent)
		stream_send_header(st, NULL);
	st->ops->output(st->arg, "</stream:stream>", 16);
	stream_closing(st);
}

/* Its owner ends the stream, without an error, for why. */
void
stream_finish(struct stream *st, const char *why)
{
	if (st->state != STREAM_CLOSING)
		stream_close(st, why);
}

void
stream_peer_closed(struct stream *st)
{
	if (st->state != STREAM_CLOSING)
		stream_close(st, "connection closed by the peer");
}

/* White space between stanzas: a dead peer shows, middleboxes keep it. */
void
stream_keepalive(struct stream *st)
{
	if (st->state == STREAM_OPEN)
		st->ops->output(st->arg, " ", 1);
}

/*
 * Sizes are checked while parsing: a stanza (and whatever text lies
 * between stanzas) may not grow past the limit, even as an unfinished
 * start tag that expat is still buffering.  In a handler the stanza
 * reaches to the end of what expat reports.
 */
void
stream_check_size(struct stream *st)
{
	const struct stream_limits	*l = st->limits;
	uint64_t			 pos, max = l->max_stanza;
	const char			*reason = NULL;

	if (st->max_stanza != 0)
		max = st->max_stanza;
	if (st->in_parse)
		st->parsed_to = pos = stream_index(st) +
		    XML_GetCurrentByteCount(st->parser);
	else
		pos = st->fed;
	if (st->state < STREAM_OPEN && st->fed > l->max_preauth)
		reason = "too many bytes before authentication";
	else if (pos > st->boundary && pos - st->boundary > max)
		reason = "stanza too big";
	if (reason == NULL)
		return;
	if (st->in_parse)
		stream_stop(st, "policy-violation", reason);
	else
		stream_error(st, "policy-violation", "%s", reason);
}

/*
 * The current stanza to the owner.  Returns -1 when it is held or the
 * owner wants a pause: the stream waits for stream_go.
 */
int
stream_offer(struct stream *st)
{
	struct stanza		s;
	enum stanza_verdict	v;

	memset(&s, 0, sizeof(s));
	s.raw = stream_raw(st, st->st_start);
	s.len = st->st_end - st->st_start;
	s.name_len = st->st_name_len;
	s.hdr_decls = st->splice.decls;
	s.decls = splice_for_stanza(&st->splice, &s.decls_len);
	if ((v = st->ops->stanza(st->arg, &s)) == STANZA_HOLD) {
		st->st_pending = 1;
		stream_pause(st, WAIT_ROUTE);
		return (-1);
	}
	st->st_pending = 0;
	st->boundary = st->st_end;
	splice_stanza_done(&st->splice);
	if (v == STANZA_DONE_PAUSE) {
		stream_pause(st, WAIT_ROUTE);
		return (-1);
	}
	return (0);
}

/* The stream id: our header goes out and the handshake may come. */
void
stream_streamid(struct stream *st, const char *id)
{
	if (st->initiating || st->state != STREAM_STREAMID)
		return;
	stream_send_header(st, id);
	st->state = STREAM_HANDSHAKE;
	st->wait = WAIT_NONE;
}

/*
 * gatewayd opens the stream, to a server, for the component domain (a
 * name of our configuration, normalised): our header goes out first.
 */
void
stream_initiate(struct stream *st, const char *domain)
{
	char	buf[256 + GW_NAME_MAX];
	int	len;

	st->initiating = 1;
	strlcpy(st->domain, domain, sizeof(st->domain));
	if ((len = stream_initiate_text(buf, sizeof(buf), st->domain)) == -1)
		fatalx("%s: header too long", __func__);
	st->ops->output(st->arg, buf, len);
	st->header_sent = 1;
}

int
stream_initiating(const struct stream *st)
{
	return (st->initiating);
}

/* The handshake for the server's id, in hex: it goes out, we wait. */
void
stream_digest(struct stream *st, const char *hex)
{
	char	buf[32 + 2 * GW_DIGEST_LEN];
	int	len;

	if (!st->initiating || st->state != STREAM_STREAMID)
		return;
	len = snprintf(buf, sizeof(buf), "<handshake>%s</handshake>", hex);
	if (len < 0 || (size_t)len >= sizeof(buf))
		fatalx("%s: bad digest", __func__);
	st->ops->output(st->arg, buf, len);
	explicit_bzero(buf, sizeof(buf));
	st->state = STREAM_HANDSHAKE;
	st->wait = WAIT_NONE;
}

/* From a handler: the server's <handshake/>, our stream is open. */
void
stream_accepted(struct stream *st)
{
	st->state = STREAM_OPEN;
	log_info("%s: %s authenticated by the server",
	    st->ops->label(st->arg), st->domain);
	st->ops->accepted(st->arg);
}

void
stream_verdict(struct stream *st, int verdict)
{
	if (st->state != STREAM_AUTHWAIT)
		return;
	if (verdict != AUTH_OK) {
		stream_error(st, "not-authorized", "wrong secret");
		return;
	}
	st->ops->output(st->arg, "<handshake/>", 12);
	st->state = STREAM_OPEN;
	st->wait = WAIT_NONE;
	log_info("%s: %s authenticated", st->ops->label(st->arg), st->domain);
}
