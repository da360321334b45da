#!/bin/sh
# A reload of a file full of syntax errors leaks nothing: the parent's
# resident memory stays within 4 MB over 200 refused reloads of 2,000
# bad lines each (issue 12: it grew from 4 to 141 MB).
. "$(dirname "$0")/../lib.sh"

case "${OBJ:-obj}" in
*asan*)
	# Its allocator keeps what is freed in quarantine: RSS says nothing.
	skip "reload leak: parent RSS under ASan: the normal build checks it"
	exit 0 ;;
esac
daemon_up "reload leak"
rss() { awk '$1 == "VmRSS:" { print $2 }' /proc/$DAEMON_PID/status; }

{
	cat "$SCRATCH/gw.conf"
	i=0
	while [ $i -lt 2000 ]; do
		echo "bogus \"$(printf '%0100d' $i)\" \"more\" { \"x\" }"
		i=$((i + 1))
	done
} > "$SCRATCH/bad.conf"
cp "$SCRATCH/gw.conf" "$SCRATCH/good.conf"
cp "$SCRATCH/bad.conf" "$SCRATCH/gw.conf"

refused() { grep -c "configuration not reloaded" "$SCRATCH/log"; }
# One reload first: whatever the parser allocates once is not a leak.
kill -HUP "$DAEMON_PID"
wait_for 20 sh -c "[ \$(grep -c 'configuration not reloaded' \
    '$SCRATCH/log') -ge 1 ]"
before=$(rss)
n=1
while [ $n -le 200 ]; do
	kill -HUP "$DAEMON_PID"
	n=$((n + 1))
	wait_for 20 sh -c "[ \$(grep -c 'configuration not reloaded' \
	    '$SCRATCH/log') -ge $n ]" || break
done
after=$(rss)
check "reload leak: 200 refused reloads all reported" test "$(refused)" -ge 201
if [ $((after - before)) -lt 4096 ]; then
	ok "reload leak: parent RSS $before KiB before, $after KiB after"
else
	notok "reload leak: parent RSS $before KiB before, $after KiB after"
fi
cp "$SCRATCH/good.conf" "$SCRATCH/gw.conf"
kill -TERM "$DAEMON_PID"
wait_exit 20
check "reload leak: SIGTERM exits 0" test "${EXIT_STATUS:-x}" = 0
finish
