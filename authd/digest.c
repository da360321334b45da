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
