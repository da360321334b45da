#!/bin/sh
# slixmpp's ComponentXMPP against the daemon: see slixmpp_test.py.
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
export TOP
exec /usr/bin/python3 "$TOP/regress/clients/slixmpp_test.py"
