#!/bin/sh
# The short version of make bench, a smoke test, not timed: the load
# generator's stanzas all arrive (20,000 of 200 bytes over 4 pairs,
# its plain mode, that of make bench-compare); then bench.py --short,
# each of make bench's measurements once, tiny, against gatewayd,
# Prosody and Twisted (skip for one not installed).  Speed is make bench's.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/bench.inc"

if ! bench_start 4; then
	notok "bench: daemon starts: $(cat "$SCRATCH/log")"
	finish
fi
if out=$(bench_run 4 20000 200 2>&1); then
	ok "bench: 20,000 stanzas through 4 pairs ($out)"
else
	notok "bench: 20,000 stanzas through 4 pairs: $out"
fi
bench_stop
check "bench: SIGTERM exits 0" test "${EXIT_STATUS:-x}" = 0
/usr/bin/python3 "$(dirname "$0")/bench.py" --short ||
    failures=$((failures + 1))
finish
