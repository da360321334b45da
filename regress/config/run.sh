#!/bin/sh
# Configuration grammar: each cases/NAME.conf is checked with gatewayd -nv
# (plus the arguments in NAME.args); stdout must equal NAME.out and stderr
# NAME.err.  Exit status 0 is expected when NAME.err says
# "configuration OK", else 1.
. "$(dirname "$0")/../lib.sh"

make_scratch
cp "$TOP"/regress/config/cases/* "$SCRATCH"/
chmod 0600 "$SCRATCH"/*.secrets
cd "$SCRATCH" || exit 1

for conf in *.conf; do
	name=${conf%.conf}
	args=
	[ -f "$name.args" ] && args=$(cat "$name.args")
	# shellcheck disable=SC2086
	"$GATEWAYD" -nv $args -f "$conf" > "$name.gotout" 2> "$name.goterr"
	rc=$?
	want=1
	grep -q '^configuration OK$' "$name.err" && want=0
	if [ "$rc" -ne "$want" ]; then
		notok "config $name: exit status $rc, expected $want"
	elif ! diff -u "$name.out" "$name.gotout"; then
		notok "config $name: stdout differs"
	elif ! diff -u "$name.err" "$name.goterr"; then
		notok "config $name: stderr differs"
	else
		ok "config $name"
	fi
done
finish
