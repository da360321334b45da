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

/* What gatewayd writes of a stream: its header and its stream errors. */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>

#include "stream.h"
#include "util.h"
#include "xml.h"

/*
 * Our opening tag.  With the id authd issued, from is the component's
 * name; before that (an error during setup) there is no from, never an
 * echo of a name we do not serve, and an id of our own that is never
 * used for a handshake.  Returns -1 if it does not fit.
 */
int
stream_header_text(char *buf, size_t size, const char *from, const char *id)
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
		return (-1);
	return (len);
}

/* Our opening tag to a server, for the component to. */
int
stream_initiate_text(char *buf, size_t size, const char *to)
{
	int	len;

	len = snprintf(buf, size, "<?xml version='1.0'?><stream:stream "
	    "xmlns='" NS_COMPONENT "' xmlns:stream='" NS_STREAMS "' "
	    "to='%s'>", to);
	if (len < 0 || (size_t)len >= size)
		return (-1);
	return (len);
}

/* A stream error and our closing tag; -1 if it does not fit. */
int
stream_error_text(char *buf, size_t size, const char *condition)
{
	int	len;

	len = snprintf(buf, size, "<stream:error><%s xmlns='" NS_ERRORS
	    "'/></stream:error></stream:stream>", condition);
	if (len < 0 || (size_t)len >= size)
		return (-1);
	return (len);
}

/*
 * A connection refused at once (over a limit): header, condition and
 * closing tag, for one write on the fresh socket, which has room for it.
 */
size_t
stream_refusal(char *buf, size_t size, const char *condition)
{
	int	len, n;

	if ((len = stream_header_text(buf, size, NULL, NULL)) == -1 ||
	    (n = stream_error_text(buf + len, size - len, condition)) == -1)
		return (0);
	return (len + n);
}
