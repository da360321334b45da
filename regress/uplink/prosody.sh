#!/bin/sh
# The harness of the uplink tests (a private Prosody, slixmpp peers),
# proved without gatewayd: see prosody_test.py and prosodylib.py.
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
export TOP
# make check has installed TEST_DEBS; run alone, try once (as root on
# Debian), else prosody_test.py prints a skip line saying why.
if ! command -v prosody >/dev/null 2>&1 && [ ! -x /usr/bin/prosody ]; then
	sh "$TOP/regress/deps.sh" prosody >/dev/null 2>&1
fi
exec /usr/bin/python3 "$TOP/regress/uplink/prosody_test.py"
