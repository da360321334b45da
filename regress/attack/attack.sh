#!/bin/sh
# The holes an attacker found (issue 12): see attack_test.py.
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
export TOP
exec /usr/bin/python3 "$TOP/regress/attack/attack_test.py"
