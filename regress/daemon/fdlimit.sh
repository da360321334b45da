#!/bin/sh
# The engine's descriptor reserve: see fdlimit_test.py.
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
export TOP
exec /usr/bin/python3 "$TOP/regress/daemon/fdlimit_test.py"
