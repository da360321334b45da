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
 * Routing: which stream holds which name, what a stanza may say of
 * itself, where it goes, and the bounces when it cannot.  A stanza is
 * forwarded as the bytes its sender wrote, never re-serialised, with the
 * namespace declarations of the sender's header spliced in when it has
 * any besides the usual two.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/tree.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "log.h"

#define NS_COMPONENT	"jabber:component:accept"
#define NS_STANZAS	"urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_XML_LANG	"http://www.w3.org/XML/1998/namespace lang"

static int
route_name_cmp(struct route_name *a, struct route_name *b)
{
	return (strcmp(a->name, b->name));
}
RB_GENERATE_STATIC(route_names, route_name, entry, route_name_cmp)

static int	router_route(struct conn *);

/* The names of a new configuration: components and their aliases. */
void
router_names_build(struct engine_conf *ec)
{
	struct engine_component	*comp;
	size_t			 n = 0, i;

	TAILQ_FOREACH(comp, &ec->components, entry)
		n += 1 + comp->naliases;
	if (n > 0 && (ec->namebuf = calloc(n, sizeof(*ec->namebuf))) == NULL)
		fatal("%s", __func__);
	n = 0;
	TAILQ_FOREACH(comp, &ec->components, entry) {
		ec->namebuf[n].name = comp->conf.name;
		ec->namebuf[n].comp = comp;
		if (RB_INSERT(route_names, &ec->names, &ec->namebuf[n]) != NULL)
			fatalx("name %s twice", comp->conf.name);
		n++;
		for (i = 0; i < comp->naliases; i++, n++) {
			ec->namebuf[n].name = comp->aliases[i].name;
			ec->namebuf[n].comp = comp;
			if (RB_INSERT(route_names, &ec->names,
			    &ec->namebuf[n]) != NULL)
				fatalx("name %s twice", comp->aliases[i].name);
		}
		if (comp->conf.flags & GW_COMP_DEFAULT_ROUTE)
			ec->default_route = comp;
	}
}

struct engine_component *
router_lookup(const char *name)
{
	struct route_name	key, *rn;

	key.name = name;
	if ((rn = RB_FIND(route_names, &engine_running->names, &key)) == NULL)
		return (NULL);
	return (rn->comp);
}

/*
 * An authenticated stream takes its component's name and aliases.  If
 * another stream holds them, the policy decides which one gets conflict;
 * too many takeovers of one name in a short time and newcomers are
 * refused for a while, so that two instances cannot fight forever.
 */
int
router_bind(struct conn *c)
{
	const struct gw_global	*g = &engine_running->global;
	struct engine_component	*comp;
	struct conn		*old;
	time_t			 now = time(NULL);

	if ((comp = engine_find_component(c->domain)) == NULL) {
		stream_error(c, "host-gone", "component removed");
		return (-1);
	}
	if ((old = comp->conn) != NULL && old != c) {
		if (comp->flap_holddown > now) {
			stream_error(c, "conflict", "takeovers held down");
			return (-1);
		}
		if (comp->conf.conflict == CONFLICT_REJECT) {
			stream_error(c, "conflict", "name in use by connection "
			    "%u", old->id);
			return (-1);
		}
		if (now - comp->flap_start >= (time_t)g->flap_window) {
			comp->flap_start = now;
			comp->flap_count = 0;
		}
		if (++comp->flap_count > g->flap_max) {
			comp->flap_holddown = now + g->flap_holddown;
			log_warnx("%s: %u takeovers in %u seconds, refusing "
			    "more for %u seconds", comp->conf.name,
			    comp->flap_count, g->flap_window,
			    g->flap_holddown);
			stream_error(c, "conflict", "takeovers held down");
			return (-1);
		}
		log_info("%s: connection %u takes over from connection %u",
		    comp->conf.name, c->id, old->id);
		engine_stats.takeovers++;
		stream_error(old, "conflict", "replaced by connection %u",
		    c->id);
	}
	comp->conn = c;
	c->comp = comp;
	log_info("connection %u from %s binds %s", c->id, c->peername,
	    comp->conf.name);
	return (0);
}

void
router_unbind(struct conn *c)
{
	if (c->comp != NULL && c->comp->conn == c)
		c->comp->conn = NULL;
	c->comp = NULL;
}

/*
 * The start tag of a stanza on an authenticated stream: what it is, who
 * it claims to be from, where it goes.  Returns the stream error for a
 * stanza that must not be, NULL otherwise.
 */
const char *
router_stanza_start(struct conn *c, const XML_Char *name,
    const XML_Char **attrs, const char **reason)
{
	const XML_Char	*from, *to;
	const char	*raw;
	char		 dom[GW_NAME_MAX];
	size_t		 i, taglen;
	int		 kind;

	if (strncmp(name, NS_COMPONENT " ", sizeof(NS_COMPONENT)) != 0)
		kind = 0;
	else if (strcmp(name + sizeof(NS_COMPONENT), "message") == 0)
		kind = 'm';
	else if (strcmp(name + sizeof(NS_COMPONENT), "presence") == 0)
		kind = 'p';
	else if (strcmp(name + sizeof(NS_COMPONENT), "iq") == 0)
		kind = 'i';
	else
		kind = 0;
	if (kind == 0) {
		*reason = "not a message, presence or iq";
		return ("unsupported-stanza-type");
	}
	if ((from = xml_attr(attrs, "from")) == NULL || from[0] == '\0') {
		*reason = "stanza without from";
		return ("improper-addressing");
	}
	if (jid_domain(from, dom, sizeof(dom)) != 0 ||
	    router_lookup(dom) != c->comp || c->comp == NULL) {
		*reason = "from is not one of the stream's names";
		return ("invalid-from");
	}
	if ((to = xml_attr(attrs, "to")) == NULL || to[0] == '\0') {
		*reason = "stanza without to";
		return ("improper-addressing");
	}
	c->st_bounce = NULL;
	if (jid_domain(to, c->st_dest, sizeof(c->st_dest)) == -1)
		c->st_bounce = "jid-malformed";
	if (xml_attr(attrs, NS_XML_LANG) != NULL && c->splice_len > 0 &&
	    splice_has(c->splice, "xml:lang"))
		stream_redeclared(c, "xml:lang");

	/* Where the splice goes: just after the element's name. */
	c->st_start = stream_index(c);
	taglen = XML_GetCurrentByteCount(c->parser);
	raw = stream_raw(c, c->st_start);
	for (i = 1; i < taglen && raw[i] != ' ' && raw[i] != '\t' &&
	    raw[i] != '\r' && raw[i] != '\n' && raw[i] != '/' && raw[i] != '>';
	    i++)
		;
	c->st_name_len = i - 1;
	return (NULL);
}

static int
redeclared(const struct conn *c, const char *prefix, size_t plen)
{
	const char	*p;

	for (p = c->st_redecl; p < c->st_redecl + c->st_redecl_len;
	    p += strlen(p) + 1)
		if (strlen(p) == plen && strncmp(p, prefix, plen) == 0)
			return (1);
	return (0);
}

/*
 * The splice without the prefixes the stanza declares itself (the rare
 * case: its sender declares prefixes on its header and the stanza
 * redeclares one of them).
 */
static size_t
router_splice_filter(struct conn *c, char *out, size_t outlen)
{
	const char	*p, *q, *entry, *next;
	size_t		 n = 0;

	for (entry = c->splice; *entry != '\0'; entry = next) {
		/* Each entry: " xmlns:p='...'" or " xml:lang='...'". */
		if ((q = strchr(entry, '\'')) == NULL ||
		    (q = strchr(q + 1, '\'')) == NULL)
			break;
		next = q + 1;
		p = strncmp(entry, " xmlns:", 7) == 0 ? entry + 7 : entry + 1;
		if (redeclared(c, p, strchr(p, '=') - p))
			continue;
		if (n + (next - entry) >= outlen)
			break;
		memcpy(out + n, entry, next - entry);
		n += next - entry;
	}
	return (n);
}

/*
 * Queues a stanza of c's for dest: its bytes, with the sender's header
 * declarations after its name if the sender has any.
 */
static void
router_deliver(struct conn *c, struct conn *dest, const char *raw,
    size_t len)
{
	char	*filtered;
	size_t	 head = 1 + c->st_name_len, total = len, n;

	if (c->splice_len == 0) {
		conn_queue(dest, c->id, raw, len);
	} else if (!c->st_redeclares) {
		conn_queue(dest, c->id, raw, head);
		conn_queue(dest, c->id, c->splice, c->splice_len);
		conn_queue(dest, c->id, raw + head, len - head);
		total += c->splice_len;
	} else {
		if ((filtered = malloc(c->splice_len + 1)) == NULL)
			fatal("%s", __func__);
		n = router_splice_filter(c, filtered, c->splice_len + 1);
		conn_queue(dest, c->id, raw, head);
		conn_queue(dest, c->id, filtered, n);
		conn_queue(dest, c->id, raw + head, len - head);
		total += n;
		free(filtered);
	}
	conn_queue_end(dest, c->id, total);
}

static void
router_block(struct conn *c, struct conn *dest)
{
	c->blocked_on = dest;
	TAILQ_INSERT_TAIL(&dest->waiters, c, wait_entry);
	conn_stall_start(dest);
}

/*
 * Where the current stanza of c goes.  Returns 1 when its destination is
 * full: the stanza stays in c's input and c waits.
 */
static int
router_route(struct conn *c)
{
	const struct gw_global	*g = &engine_running->global;
	struct engine_component	*comp;
	struct conn		*dest = NULL;
	const char		*raw = stream_raw(c, c->st_start);
	size_t			 len = c->st_end - c->st_start;

	if (c->st_bounce != NULL) {
		router_bounce(c, raw, len, c->st_bounce, "modify", c->splice);
		return (0);
	}
	if ((comp = router_lookup(c->st_dest)) != NULL) {
		if (comp->conn == NULL || comp->conn->state != CONN_OPEN) {
			/* Ours, but not connected: not the default route's. */
			router_bounce(c, raw, len, "remote-server-timeout",
			    "wait", c->splice);
			return (0);
		}
		dest = comp->conn;
	} else {
		comp = engine_running->default_route;
		if (c->st_dest[0] == '\0' || comp == NULL ||
		    comp->conn == NULL || comp->conn->state != CONN_OPEN) {
			router_bounce(c, raw, len, "remote-server-not-found",
			    "cancel", c->splice);
			return (0);
		}
		dest = comp->conn;
	}
	if (conn_queued(dest) >= g->max_queue) {
		router_block(c, dest);
		return (1);
	}
	router_deliver(c, dest, raw, len);
	return (0);
}

/* The end tag of a stanza: route it, or wait with it. */
void
router_stanza_end(struct conn *c)
{
	c->stanzas_in++;
	if (router_route(c)) {
		c->st_pending = 1;
		XML_StopParser(c->parser, XML_TRUE);
		return;
	}
	c->boundary = c->st_end;
	c->st_redeclares = 0;
	c->st_redecl_len = 0;
	/* Bounces pile up for a sender that does not read: it waits too. */
	if (conn_queued(c) >= engine_running->global.max_queue) {
		router_block(c, c);
		XML_StopParser(c->parser, XML_TRUE);
	}
}

/* c may go on: its held stanza first, then the rest of its input. */
void
router_retry(struct conn *c)
{
	if (c->dead)
		return;
	if (c->st_pending) {
		conn_view_retained(c);
		if (router_route(c))
			return;
		c->st_pending = 0;
		c->boundary = c->st_end;
		c->st_redeclares = 0;
		c->st_redecl_len = 0;
	}
	conn_resume(c);
}

/* dest drained below the low mark, or closed: its waiters go on. */
void
router_unblock_waiters(struct conn *dest)
{
	struct conn_list	 list;
	struct conn		*w;

	if (!dest->dead &&
	    conn_queued(dest) > engine_running->global.max_queue / 2)
		return;
	conn_stall_stop(dest);
	if (TAILQ_EMPTY(&dest->waiters))
		return;
	TAILQ_INIT(&list);
	TAILQ_CONCAT(&list, &dest->waiters, wait_entry);
	while ((w = TAILQ_FIRST(&list)) != NULL) {
		TAILQ_REMOVE(&list, w, wait_entry);
		w->blocked_on = NULL;
		router_retry(w);
	}
}

/* A closing stream's undelivered stanzas go back to their senders. */
void
router_bounce_queued(struct conn *c)
{
	struct outq	*q = &c->out;
	struct conn	*sender;
	size_t		 i, pos = q->off - q->rdone;
	struct qrec	*r;

	for (i = 0; i < q->rnum; i++) {
		r = &q->recs[(q->rfirst + i) % q->rcap];
		if (r->sender != 0 && r->sender != c->id &&
		    (sender = conn_find(r->sender)) != NULL &&
		    sender->state == CONN_OPEN)
			router_bounce(sender, q->data + pos, r->len,
			    "remote-server-timeout", "wait", NULL);
		pos += r->len;
	}
	q->off = q->len = 0;
	q->rnum = q->rdone = 0;
}

/* What a re-read of a stanza tells a bounce. */
struct bounce_info {
	XML_Parser	 parser;
	int		 depth;
	char		 name[16];
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

/*
 * Sends to c an error stanza for a stanza of its own (raw): addresses
 * swapped, the same id, the original payload, our name in by.  Never for
 * an error, an iq result or unavailable presence, so that no sequence of
 * stanzas can make two components and gatewayd loop.  The stanza is read
 * again here, off the hot path; decls are declarations its bytes may
 * rely on (the sender's header).
 */
void
router_bounce(struct conn *c, const char *raw, size_t len,
    const char *condition, const char *etype, const char *decls)
{
	static const char	 tail[] = "</w>";
	struct bounce_info	 bi;
	char			*doc = NULL, *out = NULL;
	size_t			 doclen = 0, outlen = 0, head;
	int			 ok;

	if (c->dead || c->state != CONN_OPEN)
		return;
	memset(&bi, 0, sizeof(bi));
	str_append(&doc, &doclen, "<w xmlns='" NS_COMPONENT "'");
	if (decls != NULL)
		str_append(&doc, &doclen, decls);
	str_append(&doc, &doclen, ">");
	head = doclen;

	if ((bi.parser = XML_ParserCreateNS("UTF-8", ' ')) == NULL)
		fatalx("%s: XML_ParserCreateNS", __func__);
	XML_SetHashSalt(bi.parser, arc4random());
	XML_SetUserData(bi.parser, &bi);
	XML_SetElementHandler(bi.parser, bounce_start, bounce_end);
	XML_SetStartNamespaceDeclHandler(bi.parser, bounce_nsdecl);
	ok = XML_Parse(bi.parser, doc, doclen, XML_FALSE) == XML_STATUS_OK &&
	    XML_Parse(bi.parser, raw, len, XML_FALSE) == XML_STATUS_OK &&
	    XML_Parse(bi.parser, tail, sizeof(tail) - 1, XML_TRUE) ==
	    XML_STATUS_OK && bi.done && bi.from != NULL && bi.to != NULL;
	XML_ParserFree(bi.parser);
	if (!ok) {
		log_warnx("connection %u: cannot bounce a stanza", c->id);
		goto done;
	}
	if ((bi.type != NULL && strcmp(bi.type, "error") == 0) ||
	    (strcmp(bi.name, "iq") == 0 && bi.type != NULL &&
	    strcmp(bi.type, "result") == 0) ||
	    (strcmp(bi.name, "presence") == 0 && bi.type != NULL &&
	    strcmp(bi.type, "unavailable") == 0))
		goto done;

	str_append(&out, &outlen, "<");
	str_append(&out, &outlen, bi.name);
	str_append(&out, &outlen, " from='");
	xml_escape_append(&out, &outlen, bi.to);
	str_append(&out, &outlen, "' to='");
	xml_escape_append(&out, &outlen, bi.from);
	if (bi.id != NULL) {
		str_append(&out, &outlen, "' id='");
		xml_escape_append(&out, &outlen, bi.id);
	}
	str_append(&out, &outlen, "' type='error'");
	if (bi.lang != NULL) {
		str_append(&out, &outlen, " xml:lang='");
		xml_escape_append(&out, &outlen, bi.lang);
		str_append(&out, &outlen, "'");
	}
	if (bi.decls != NULL)
		str_append(&out, &outlen, bi.decls);
	if (decls != NULL)
		bounce_header_decls(&out, &outlen, decls, &bi);
	str_append(&out, &outlen, ">");
	conn_queue(c, 0, out, outlen);
	conn_queue(c, 0, raw + (bi.inner_start - head),
	    bi.inner_end - bi.inner_start);
	outlen = 0;
	str_append(&out, &outlen, "<error type='");
	str_append(&out, &outlen, etype);
	str_append(&out, &outlen, "' by='");
	str_append(&out, &outlen, engine_running->global.name);
	str_append(&out, &outlen, "'><");
	str_append(&out, &outlen, condition);
	str_append(&out, &outlen, " xmlns='" NS_STANZAS "'/></error></");
	str_append(&out, &outlen, bi.name);
	str_append(&out, &outlen, ">");
	conn_queue(c, 0, out, outlen);
	conn_queue_end(c, 0, 0);
	c->bounces++;
	engine_stats.bounces++;
	if (strcmp(condition, "jid-malformed") == 0)
		engine_stats.bounce_malformed++;
	else if (strcmp(condition, "remote-server-not-found") == 0)
		engine_stats.bounce_not_found++;
	else
		engine_stats.bounce_timeout++;
	log_debug("connection %u: bounced a %s: %s", c->id, bi.name,
	    condition);
 done:
	free(doc);
	free(out);
	free(bi.from);
	free(bi.to);
	free(bi.id);
	free(bi.type);
	free(bi.lang);
	free(bi.decls);
}
