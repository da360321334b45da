#!/bin/sh
# gatewayctl.8: mandoc -Tlint finds nothing (run from the top of the
# tree, where the pages it refers to are), and it describes every
# command gatewayctl help lists.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1
O=${OBJ:-obj}
CTL=$O/bin/gatewayctl
PAGE=gatewayctl/gatewayctl.8

if ! command -v mandoc >/dev/null 2>&1; then
	skip "gatewayctl.8: mandoc -Tlint: mandoc not installed"
elif out=$(mandoc -Tlint "$PAGE" 2>&1) && [ -z "$out" ]; then
	ok "gatewayctl.8: mandoc -Tlint"
else
	notok "gatewayctl.8: mandoc -Tlint: $out"
fi

if [ ! -x "$CTL" ]; then
	notok "gatewayctl.8: every command: $CTL missing"
	finish
fi
missing=
for c in $("$CTL" help | sed -n 's/^	//p' | tr ' ' '_'); do
	# "show component domain" is ".It Cm show component Ar domain".
	item=$(echo "$c" | tr '_' ' ' | sed 's/ domain$/ Ar domain/')
	grep -qx "\.It Cm $item" "$PAGE" || missing="$missing '$item'"
done
if [ -z "$missing" ]; then
	ok "gatewayctl.8: every command"
else
	notok "gatewayctl.8: every command: not described:$missing"
fi
finish
