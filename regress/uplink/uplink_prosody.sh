#!/bin/sh
# The uplink end to end with Debian's Prosody (issue 14).
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
export TOP
exec /usr/bin/python3 "$TOP/regress/uplink/uplink_prosody_test.py"
