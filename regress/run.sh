#!/bin/sh
# Runs every test once per build directory named as an argument (obj,
# obj/asan) and counts the "ok", "not ok" and "skip" lines.  A test that
# exits non-zero without saying "not ok" counts as one failure.
TOP=$(cd "$(dirname "$0")/.." && pwd)
export TOP
cd "$TOP" || exit 1
[ $# -gt 0 ] || set -- obj

# LeakSanitizer stops the world with ptrace, which the sandbox forbids.
export ASAN_OPTIONS=detect_leaks=0
export UBSAN_OPTIONS=print_stacktrace=1

passed=0 failed=0 skipped=0
out=$(mktemp /tmp/gw-run.XXXXXX)
for OBJ in "$@"; do
	export OBJ GATEWAYD="$TOP/$OBJ/bin/gatewayd"
	tag=
	[ "$OBJ" = "$1" ] || tag="[$(basename "$OBJ")] "
	tests="$OBJ/regress/imsg_test $OBJ/regress/sandbox_test"
	tests="$tests $OBJ/regress/digest_test $OBJ/regress/authd_test"
	tests="$tests $OBJ/regress/stream_unit $OBJ/regress/router_unit"
	tests="$tests $OBJ/regress/xmlmem_unit $OBJ/regress/conn_unit"
	tests="$tests $OBJ/regress/ctl_unit"
	for t in regress/*/*.sh; do
		# The build's own checks need doing once.
		[ -n "$tag" ] && [ "$t" = regress/build/warnings.sh ] && continue
		# So does the uplink harness's self-test (no gatewayd in it).
		[ -n "$tag" ] && [ "$t" = regress/uplink/prosody.sh ] && continue
		# The fuzzers run from make check and make fuzz themselves.
		case "$t" in regress/fuzz/*) continue ;; esac
		tests="$tests $t"
	done
	# The fuzz targets (built once, with their own sanitizers), short.
	[ -n "$tag" ] || tests="$tests regress/fuzz/run.sh"
	for t in $tests; do
		echo "== $tag$t"
		case "$t" in
		regress/fuzz/run.sh) sh "$t" "$OBJ" 50000 runs > "$out" 2>&1 ;;
		*.sh) sh "$t" > "$out" 2>&1 ;;
		*) "$t" > "$out" 2>&1 ;;
		esac
		rc=$?
		sed -e "s/^ok - /ok - $tag/" -e "s/^not ok - /not ok - $tag/" \
		    -e "s/^skip - /skip - $tag/" "$out"
		p=$(grep -c '^ok - ' "$out")
		f=$(grep -c '^not ok - ' "$out")
		s=$(grep -c '^skip - ' "$out")
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			echo "not ok - $tag$t exited with status $rc"
			f=1
		fi
		passed=$((passed + p)) failed=$((failed + f))
		skipped=$((skipped + s))
	done
done
rm -f "$out"
echo
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
