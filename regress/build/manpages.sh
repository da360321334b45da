#!/bin/sh
# The three manual pages: mandoc -Tlint finds no warning and no error in
# any (style hints aside: on Linux pledge(2) is not there to refer to).
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1

if ! command -v mandoc >/dev/null 2>&1; then
	skip "manual pages: mandoc not installed"
	finish
fi
for page in gatewayd.8 gatewayd.conf.5 gatewayctl/gatewayctl.8; do
	if [ ! -f "$page" ]; then
		notok "manual page $page: missing"
	elif out=$(mandoc -Tlint -Wwarning "$page" 2>&1) && [ -z "$out" ]; then
		ok "manual page $page: mandoc -Tlint -Wwarning"
	else
		notok "manual page $page: mandoc -Tlint -Wwarning: $out"
	fi
done
finish
