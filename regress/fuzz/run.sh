#!/bin/sh
# Runs the fuzz targets built by regress/fuzz/fuzz.mk over their seed
# corpora (regress/fuzz/corpus/NAME), copied to a scratch directory
# first, so that nothing is written into the tree.
#
#   sh regress/fuzz/run.sh OBJDIR RUNS runs	each target -runs=RUNS, at
#						most 18 s (make check: 50000)
#   sh regress/fuzz/run.sh OBJDIR SECONDS time	each -max_total_time=SECONDS
#						(make fuzz)
#
# One line a target: "ok - fuzz NAME: N executions, cov C, ft F", or
# "not ok - fuzz NAME: why", with the input that failed saved under /tmp
# (and libFuzzer's output beside it, .log); "skip - fuzz: why" without
# clang or its fuzzer runtime.  Exits 1 on any failure.  The caller's
# ASAN_OPTIONS and UBSAN_OPTIONS come first.  corpus/NAME/crash-* are
# what the targets found, kept as seeds once fixed.  FUZZ_NAMES chooses
# some of the targets (to run long ones side by side, one per core).
TOP=$(cd "$(dirname "$0")/../.." && pwd)
NAMES=${FUZZ_NAMES:-"stream router config imsg_engine imsg_authd"}
# A cap on each target in runs mode: about a minute for the five.
RUNS_CAP=18

usage() {
	echo "usage: sh regress/fuzz/run.sh OBJDIR RUNS|SECONDS runs|time" >&2
	exit 2
}

[ $# -eq 3 ] || usage
OBJDIR=$1 N=$2 MODE=$3
case "$N" in ''|*[!0-9]*) usage ;; esac
case "$MODE" in
runs)	LIMIT="-runs=$N -max_total_time=$RUNS_CAP" ;;
time)	LIMIT="-max_total_time=$N" ;;
*)	usage ;;
esac
case "$OBJDIR" in /*) ;; *) OBJDIR=$TOP/$OBJDIR ;; esac

SCRATCH=$(mktemp -d /tmp/gw-fuzz.XXXXXX) || exit 1
trap 'rm -rf "$SCRATCH"' EXIT
trap 'exit 1' HUP INT TERM

# Can this system build and run a fuzz target at all?
toolchain() {
	command -v clang >/dev/null 2>&1 || {
		echo "clang not installed"
		return 1
	}
	printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
	    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
	    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)' \
	    '{ (void)d; (void)n; return 0; }' > "$SCRATCH/probe.c"
	clang -fsanitize=fuzzer,address,undefined -o "$SCRATCH/probe" \
	    "$SCRATCH/probe.c" >/dev/null 2>&1 || {
		echo "clang has no fuzzer runtime (libclang-rt-dev)"
		return 1
	}
	return 0
}

# Why libFuzzer stopped, in a few words, from its output.
why() {
	_log=$1
	_o=$(grep -m1 'ORACLE: ' "$_log" | sed 's/^[a-z_]*: ORACLE: //' |
	    cut -c1-160)
	if [ -n "$_o" ]; then
		echo "oracle: $_o"
	elif grep -q 'ERROR: LeakSanitizer' "$_log"; then
		echo "leak: $(grep -m1 -A3 'leak of' "$_log" |
		    grep -m1 -v 'malloc\|calloc\|realloc\|strdup\|leak of' |
		    sed 's/^ *#[0-9]* 0x[0-9a-f]* in //' | cut -c1-120)"
	elif grep -q 'runtime error:' "$_log"; then
		echo "undefined behaviour: $(grep -m1 'runtime error:' "$_log" |
		    sed "s|$TOP/||" | cut -c1-160)"
	elif grep -q 'ERROR: AddressSanitizer' "$_log"; then
		echo "$(grep -m1 'ERROR: AddressSanitizer' "$_log" |
		    sed 's/.*ERROR: AddressSanitizer: //; s/ on address.*//')" \
		    "at $(grep -m1 -E \
		    '#[0-9]+ 0x[0-9a-f]+ in .*(gatewayd|common)/' "$_log" |
		    sed "s|.*$TOP/||; s/ .*//")"
	elif grep -q 'ERROR: libFuzzer: timeout' "$_log"; then
		echo "timeout"
	elif grep -q 'out-of-memory\|out of memory' "$_log"; then
		echo "out of memory"
	elif grep -q 'fuzz target exited' "$_log"; then
		echo "exited: $(grep -m1 'fatal in' "$_log" | cut -c1-120)"
	elif grep -q 'deadly signal' "$_log"; then
		echo "crash"
	else
		echo "stopped: $(tail -n 1 "$_log" | cut -c1-120)"
	fi
}

# LeakSanitizer needs ptrace; where it cannot run, leaks go unchecked.
leaks_ok() {
	mkdir -p "$SCRATCH/empty"
	! ASAN_OPTIONS="$ASAN_BASE:detect_leaks=1" "$1" -runs=0 \
	    "$SCRATCH/empty" 2>&1 | grep -q 'LeakSanitizer has encountered'
}

ASAN_BASE=${ASAN_OPTIONS:+$ASAN_OPTIONS:}symbolize=1
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1"
export FUZZ_TMPDIR="$SCRATCH"

failed=0 probed='' notool=''
for name in $NAMES; do
	prog=$OBJDIR/fuzz/${name}_fuzz
	if [ ! -x "$prog" ]; then
		if [ -z "$probed" ]; then
			probed=1
			notool=$(toolchain) || echo "skip - fuzz: $notool"
		fi
		if [ -z "$notool" ]; then
			echo "not ok - fuzz $name: $prog not built"
			failed=1
		fi
		continue
	fi
	corpus=$SCRATCH/corpus-$name
	log=$SCRATCH/$name.log
	mkdir -p "$corpus" "$SCRATCH/art-$name"
	cp "$TOP/regress/fuzz/corpus/$name"/* "$corpus"/ 2>/dev/null
	dict=''
	[ -f "$TOP/regress/fuzz/$name.dict" ] &&
	    dict=-dict=$TOP/regress/fuzz/$name.dict
	# Past max_preauth (4096) and max_stanza (10000) of stream_fuzz.
	[ "$name" = stream ] && dict="$dict -max_len=12288"
	note='' leaks=1
	if ! leaks_ok "$prog"; then
		leaks=0 note=" (LeakSanitizer cannot run here: no leak check)"
	fi
	# shellcheck disable=SC2086
	(cd "$SCRATCH" && ASAN_OPTIONS="$ASAN_BASE:detect_leaks=$leaks" \
	    "$prog" $LIMIT $dict -detect_leaks=$leaks \
	    -artifact_prefix="$SCRATCH/art-$name/" "$corpus" > "$log" 2>&1)
	rc=$?
	done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE ' "$log" | tail -n 1)
	if [ "$rc" -eq 0 ] && [ -n "$done_line" ]; then
		n=$(echo "$done_line" | sed 's/^#\([0-9]*\).*/\1/')
		cov=$(echo "$done_line" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
		ft=$(echo "$done_line" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
		echo "ok - fuzz $name: $n executions, cov ${cov:-?}," \
		    "ft ${ft:-?}$note"
		continue
	fi
	if [ "$rc" -eq 0 ] && runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' \
	    "$log" | tail -n 1) && [ -n "$runs" ]; then
		echo "ok - fuzz $name: $runs executions, cov ?, ft ?$note"
		continue
	fi
	failed=1
	reason=$(why "$log")
	unit=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" |
	    tail -n 1)
	if [ -n "$unit" ] && [ -f "$unit" ]; then
		kept=$(mktemp "/tmp/gw-fuzz-$name-$(basename "$unit" |
		    cut -d- -f1).XXXXXX") && cp "$unit" "$kept" &&
		    cp "$log" "$kept.log"
		echo "not ok - fuzz $name: $reason; input $kept"
	else
		kept=$(mktemp "/tmp/gw-fuzz-$name-log.XXXXXX") &&
		    cp "$log" "$kept"
		echo "not ok - fuzz $name: $reason (exit $rc; output $kept)"
	fi
done
exit "$failed"
