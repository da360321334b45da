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

#include <sys/types.h>

#include <string.h>

#include <openssl/evp.h>

#include "digest.h"

/*
 * XEP-0114: SHA-1 of the stream id followed by the secret, both as the
 * octets they are (the id is hex, the secret printable ASCII).
 */
int
auth_digest(const char *id, const char *secret, size_t secretlen,
    uint8_t md[AUTH_DIGEST_LEN])
{
	unsigned char	buf[AUTH_ID_MAX + AUTH_SECRET_MAX];
	unsigned int	mdlen;
	size_t		idlen = strlen(id);
	int		ret = -1;

	if (idlen > AUTH_ID_MAX || secretlen > AUTH_SECRET_MAX)
		return (-1);
	memcpy(buf, id, idlen);
	memcpy(buf + idlen, secret, secretlen);
	if (EVP_Digest(buf, idlen + secretlen, md, &mdlen, EVP_sha1(),
	    NULL) == 1 && mdlen == AUTH_DIGEST_LEN)
		ret = 0;
	explicit_bzero(buf, sizeof(buf));
	return (ret);
}

/* 40 hex digits, either case, into 20 octets; -1 for anything else. */
int
auth_hex_decode(const char *hex, size_t len, uint8_t md[AUTH_DIGEST_LEN])
{
	size_t	i;
	int	hi, lo;

	if (len != 2 * AUTH_DIGEST_LEN)
		return (-1);
	for (i = 0; i < AUTH_DIGEST_LEN; i++) {
		if ((hi = hexval(hex[2 * i])) == -1 ||
		    (lo = hexval(hex[2 * i + 1])) == -1)
			return (-1);
		md[i] = (uint8_t)(hi << 4 | lo);
	}
	return (0);
}

/* len octets as 2 * len lower-case hex digits and a NUL. */
void
hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char	digits[] = "0123456789abcdef";
	size_t			i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}
