#!/bin/sh
# Twisted Words' component factory against the daemon: see twisted_test.py.
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
export TOP
exec /usr/bin/python3 "$TOP/regress/clients/twisted_test.py"
