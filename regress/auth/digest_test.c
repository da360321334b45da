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

/* The handshake digest of XEP-0114 and the decoding of its hex form. */

#include <stdio.h>
#include <string.h>

#include "digest.h"
#include "util.h"

static int	failures;

static void
result(const char *name, int good)
{
	printf("%s - %s\n", good ? "ok" : "not ok", name);
	if (!good)
		failures++;
}

static void
hex(const uint8_t *md, char *out)
{
	hex_encode(md, AUTH_DIGEST_LEN, out);
}

static void
vector(const char *name, const char *id, const char *secret,
    const char *want)
{
	uint8_t	md[AUTH_DIGEST_LEN];
	char	got[2 * AUTH_DIGEST_LEN + 1];

	if (auth_digest(id, secret, strlen(secret), md) == -1) {
		result(name, 0);
		return;
	}
	hex(md, got);
	result(name, strcmp(got, want) == 0);
}

int
main(void)
{
	uint8_t	md[AUTH_DIGEST_LEN], back[AUTH_DIGEST_LEN];
	char	big[AUTH_SECRET_MAX + 2];

	/* XEP-0114's own example, and more computed with sha1sum(1). */
	vector("digest: id 1234, secret 'secret'", "1234", "secret",
	    "32532c0f7dbf1253c095b18b18e36d38d94c1256");
	vector("digest: 32-digit id, secret with spaces",
	    "0123456789abcdef0123456789abcdef", "correct horse battery staple",
	    "fc90b5ec5ec7ab30b39075a1f7ab9d3753cdb7ca");
	vector("digest: UTF-8 secret hashed as UTF-8", "1234", "s\xc3\xa9" "cret",
	    "2e10142455dd67a00340a7736f9b1b7ee26452b5");
	vector("digest: Latin-1 octets give another digest", "1234",
	    "s\xe9" "cret", "a6c0cd4a4340bd159706ca5a1d044861ceb5d5ec");

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	result("digest: secret over the limit refused",
	    auth_digest("1234", big, strlen(big), md) == -1);

	result("hex: lower case decodes",
	    hex_decode("32532c0f7dbf1253c095b18b18e36d38d94c1256", 40, md,
	    sizeof(md)) == 0 && md[0] == 0x32 && md[19] == 0x56);
	result("hex: upper case decodes to the same",
	    hex_decode("32532C0F7DBF1253C095B18B18E36D38D94C1256", 40, back,
	    sizeof(back)) == 0 && memcmp(md, back, sizeof(md)) == 0);
	result("hex: 39 digits refused",
	    hex_decode("32532c0f7dbf1253c095b18b18e36d38d94c125", 39, md,
	    sizeof(md)) == -1);
	result("hex: 41 digits refused",
	    hex_decode("32532c0f7dbf1253c095b18b18e36d38d94c12560", 41, md,
	    sizeof(md)) == -1);
	result("hex: non-hex digit refused",
	    hex_decode("32532c0f7dbf1253c095b18b18e36d38d94c125g", 40, md,
	    sizeof(md)) == -1);
	result("hex: white space refused",
	    hex_decode(" 2532c0f7dbf1253c095b18b18e36d38d94c1256", 40, md,
	    sizeof(md)) == -1);
	return (failures ? 1 : 0);
}
