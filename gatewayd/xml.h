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

/* What the stream layer and the bounce builder both read XML with. */

#ifndef XML_H
#define XML_H

#include <string.h>

#define NS_STREAMS	"http://etherx.jabber.org/streams"
#define NS_COMPONENT	"jabber:component:accept"
#define NS_ERRORS	"urn:ietf:params:xml:ns:xmpp-streams"
#define NS_STANZAS	"urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_XML		"http://www.w3.org/XML/1998/namespace"
#define NS_XML_LANG	NS_XML " lang"	/* as expat names xml:lang */
#define NS_SEP		' '		/* between a namespace and a name */

/* The value of an attribute of a start tag (expat's list), or NULL. */
static inline const char *
xml_attr(const char **attrs, const char *name)
{
	for (; attrs[0] != NULL; attrs += 2)
		if (strcmp(attrs[0], name) == 0)
			return (attrs[1]);
	return (NULL);
}

#endif /* XML_H */
