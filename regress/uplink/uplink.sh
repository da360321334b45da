#!/bin/sh
# The uplink to an XMPP server (issue 14), against a server of the test's.
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
export TOP
exec /usr/bin/python3 "$TOP/regress/uplink/uplink_test.py"
