#!/bin/sh
# XEP-0114 streams against the daemon: see stream_test.py.
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
export TOP
exec /usr/bin/python3 "$TOP/regress/stream/stream_test.py"
