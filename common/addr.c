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

/* Addresses, domain names and JIDs, as every process needs them. */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

socklen_t
sockaddr_len(const struct sockaddr_storage *ss)
{
	switch (ss->ss_family) {
	case AF_INET:
		return (sizeof(struct sockaddr_in));
	case AF_INET6:
		return (sizeof(struct sockaddr_in6));
	}
	return (0);
}

/* Family, address and port; 0 when equal. */
int
sockaddr_cmp(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b)
{
	const struct sockaddr_in	*a4, *b4;
	const struct sockaddr_in6	*a6, *b6;

	if (a->ss_family != b->ss_family)
		return (a->ss_family < b->ss_family ? -1 : 1);
	switch (a->ss_family) {
	case AF_INET:
		a4 = (const struct sockaddr_in *)a;
		b4 = (const struct sockaddr_in *)b;
		if (a4->sin_port != b4->sin_port)
			return (ntohs(a4->sin_port) < ntohs(b4->sin_port) ?
			    -1 : 1);
		return (memcmp(&a4->sin_addr, &b4->sin_addr,
		    sizeof(a4->sin_addr)));
	case AF_INET6:
		a6 = (const struct sockaddr_in6 *)a;
		b6 = (const struct sockaddr_in6 *)b;
		if (a6->sin6_port != b6->sin6_port)
			return (ntohs(a6->sin6_port) < ntohs(b6->sin6_port) ?
			    -1 : 1);
		if (a6->sin6_scope_id != b6->sin6_scope_id)
			return (a6->sin6_scope_id < b6->sin6_scope_id ? -1 : 1);
		return (memcmp(&a6->sin6_addr, &b6->sin6_addr,
		    sizeof(a6->sin6_addr)));
	}
	return (0);
}

/*
 * The source of a connection as 16 bytes, one key for counting per
 * source whatever the family: an IPv4 address whole (as IPv4-mapped
 * IPv6), an IPv6 address by its /64, since one host has a /64 to itself.
 */
void
sockaddr_key(const struct sockaddr_storage *ss, uint8_t key[16])
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	memset(key, 0, 16);
	if (ss->ss_family == AF_INET) {
		sin = (const struct sockaddr_in *)ss;
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &sin->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)ss;
		memcpy(key, &sin6->sin6_addr, 16);
		if (!IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			memset(key + 8, 0, 8);
	}
}

/* "127.0.0.1 port 5347", "::1 port 5347" */
const char *
sockaddr_print(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char	host[NI_MAXHOST], port[NI_MAXSERV];

	if (getnameinfo((const struct sockaddr *)ss, sockaddr_len(ss),
	    host, sizeof(host), port, sizeof(port),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		strlcpy(host, "?", sizeof(host));
		strlcpy(port, "?", sizeof(port));
	}
	snprintf(buf, len, "%s port %s", host, port);
	return (buf);
}

/*
 * A component name, or the domain of an address: lower-cased, one
 * trailing dot dropped, LDH labels of 1 to 63 octets without a hyphen at
 * either end, at most 253 octets in all.  IP literals are not names.
 * Returns -1 if the name is not acceptable.
 */
int
domain_normalize(char *name)
{
	size_t	 len, label = 0;
	char	*p;
	int	 alldigits = 1;

	len = strlen(name);
	if (len > 0 && name[len - 1] == '.')
		name[--len] = '\0';
	if (len == 0 || len > 253)
		return (-1);
	for (p = name; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return (-1);
			label = 0;
			continue;
		}
		/* ASCII by hand: ctype's calls cost on every stanza. */
		if (*p >= 'A' && *p <= 'Z')
			*p += 'a' - 'A';
		if (*p == '-' && label == 0)
			return (-1);
		if (*p < '0' || *p > '9') {
			if ((*p < 'a' || *p > 'z') && *p != '-')
				return (-1);
			alldigits = 0;
		}
		if (++label > 63)
			return (-1);
	}
	if (label == 0 || p[-1] == '-')
		return (-1);
	/* A dotted quad, or any all-numeric name, looks like an address. */
	if (alldigits)
		return (-1);
	return (0);
}

static int
is_ip_literal(const char *d, size_t len)
{
	struct in_addr	in;
	struct in6_addr	in6;
	char		buf[INET6_ADDRSTRLEN + 2];

	if (len == 0 || len >= sizeof(buf))
		return (0);
	if (d[0] == '[' && d[len - 1] == ']') {
		memcpy(buf, d + 1, len - 2);
		buf[len - 2] = '\0';
		return (inet_pton(AF_INET6, buf, &in6) == 1);
	}
	memcpy(buf, d, len);
	buf[len] = '\0';
	return (inet_pton(AF_INET, buf, &in) == 1);
}

/*
 * RFC 7622: [local@]domain[/resource], split at the first '/', then at
 * the first '@'.  Writes the normalised domain; returns 0, 1 for an IP
 * literal (never a component; dom is then ""), -1 when malformed.
 */
int
jid_domain(const char *jid, char *dom, size_t size)
{
	const char	*slash, *at, *d, *p;
	size_t		 len = strlen(jid), dlen;

	if (len == 0 || len > 3071)
		return (-1);
	slash = strchr(jid, '/');
	if (slash != NULL) {
		if (slash[1] == '\0' || strlen(slash + 1) > 1023)
			return (-1);
		for (p = slash + 1; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return (-1);
	} else
		slash = jid + len;
	d = jid;
	if ((at = memchr(jid, '@', slash - jid)) != NULL) {
		if (at == jid || at - jid > 1023)
			return (-1);
		for (p = jid; p < at; p++)
			if ((unsigned char)*p <= 0x20 || *p == 0x7f ||
			    strchr("\"&'/:<>", *p) != NULL)
				return (-1);
		d = at + 1;
	}
	dlen = slash - d;
	if (is_ip_literal(d, dlen)) {
		dom[0] = '\0';
		return (1);
	}
	if (dlen == 0 || dlen >= size)
		return (-1);
	memcpy(dom, d, dlen);
	dom[dlen] = '\0';
	return (domain_normalize(dom) == -1 ? -1 : 0);
}

