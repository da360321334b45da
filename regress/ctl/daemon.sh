#!/bin/sh
# gatewayctl against a running gatewayd: see daemon_test.py.
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
export TOP
exec /usr/bin/python3 "$TOP/regress/ctl/daemon_test.py"
