#!/bin/sh
# gatewayctl show upstreams against a running gatewayd with an upstream:
# see upstreams_test.py.
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
export TOP
exec /usr/bin/python3 "$TOP/regress/ctl/upstreams_test.py"
