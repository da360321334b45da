#!/bin/sh
# The demonstration make run offers: see demo_test.py.
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
export TOP
exec /usr/bin/python3 "$TOP/regress/clients/demo_test.py"
