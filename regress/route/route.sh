#!/bin/sh
# Routing between components (issue 4): raw-socket components.
exec /usr/bin/python3 "$TOP/regress/route/route_test.py"
