#!/bin/sh
# Runs every test and counts its "ok", "not ok" and "skip" lines.  A test
# that exits non-zero without saying "not ok" counts as one failure.
TOP=$(cd "$(dirname "$0")/.." && pwd)
OBJ=${OBJ:-obj}
export TOP
cd "$TOP" || exit 1

tests="$OBJ/regress/imsg_test $OBJ/regress/sandbox_test $OBJ/regress/digest_test"
tests="$tests $OBJ/regress/authd_test"
for t in regress/*/*.sh; do
	case "$t" in regress/lib.sh) continue ;; esac
	tests="$tests $t"
done

passed=0 failed=0 skipped=0
out=$(mktemp /tmp/gw-run.XXXXXX)
for t in $tests; do
	echo "== $t"
	case "$t" in
	*.sh) sh "$t" > "$out" 2>&1 ;;
	*) "$t" > "$out" 2>&1 ;;
	esac
	rc=$?
	cat "$out"
	p=$(grep -c '^ok - ' "$out")
	f=$(grep -c '^not ok - ' "$out")
	s=$(grep -c '^skip - ' "$out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $t exited with status $rc"
		f=1
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
done
rm -f "$out"
echo
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
