#!/bin/sh
# The stress scenarios, each a program of its own (its own daemon in its
# own scratch directory), printing its figures as "# ..." lines and its
# bounds as ok / not ok lines:
#   slowloris   1,000 slow attackers; a component reconnecting gets in
#   bigstanza   a 100 MB stanza under the default stanza limit
#   garbage     1,000 connections of random bytes
#   resets      1,000 senders reset in the middle of a stanza
#   fdexhaust   more connections than the open-files limit (20,000)
#   idle        10,000 authenticated idle components: PSS per component
#   order       1,000,000 stanzas between 4 pairs, order kept
#   uplink_ejabberd  the uplink end to end against Debian's ejabberd
#               (regress/uplink; full only: make stress installs it)
# Without arguments (make check, once per build: OBJ=obj and obj/asan)
# the short version, under a minute; "full" (make stress) the full one.
# Under ASan memory figures are printed, not checked.
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
OBJ=${OBJ:-obj}
GATEWAYD=${GATEWAYD:-$TOP/$OBJ/bin/gatewayd}
export TOP OBJ GATEWAYD
# LeakSanitizer stops the world with ptrace, which the sandbox forbids.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
export PYTHONDONTWRITEBYTECODE=1

mode=${1:-short}
case "$mode" in
full|short) ;;
*) echo "usage: $0 [full]" >&2; exit 2 ;;
esac

failed=0
t0=$(date +%s)
out=$(mktemp /tmp/gw-stress.XXXXXX)
trap 'rm -f "$out" "$out.rc"' EXIT
tests="slowloris bigstanza garbage resets fdexhaust idle order"
[ "$mode" = full ] && tests="$tests ../uplink/uplink_ejabberd"
for t in $tests; do
	t1=$(date +%s)
	{
		/usr/bin/python3 "$TOP/regress/stress/${t}_test.py" "$mode"
		echo $? > "$out.rc"
	} 2>&1 | tee "$out"
	rc=$(cat "$out.rc" 2>/dev/null || echo 1)
	if [ "$rc" -ne 0 ]; then
		failed=$((failed + 1))
		grep -q '^not ok - ' "$out" ||
		    echo "not ok - stress: ${t##*/} exited with status $rc"
	fi
	echo "# stress: ${t##*/}: $(($(date +%s) - t1)) s"
done
echo "# stress ($mode, $OBJ): $(($(date +%s) - t0)) s in all"
[ "$failed" -eq 0 ]
