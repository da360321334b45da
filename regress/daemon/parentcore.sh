#!/bin/sh
# The parent reads the secrets file: like its children it is not
# dumpable and has a core size limit of 0.  Its /proc files then belong
# to root whoever it runs as, so it runs as an unprivileged user here
# (the children's user when the test is root).
. "$(dirname "$0")/../lib.sh"

make_scratch
port=$(free_ports 1)
write_config "$port"
write_secrets "$SCRATCH/secrets" "a.example.org a-secret-of-sufficient-length"
set --
if is_root; then
	ensure_user
	chown -R "$GW_USER" "$SCRATCH"
	set -- setpriv --reuid="$(id -u $GW_USER)" \
	    --regid="$(id -g $GW_USER)" --clear-groups
fi
"$@" "$GATEWAYD" -dv -f "$SCRATCH/gw.conf" > "$SCRATCH/log" 2>&1 &
DAEMON_PID=$!
if ! wait_for 10 grep -qs "engine: listening on" "$SCRATCH/log"; then
	notok "parent: daemon starts as a user: $(cat "$SCRATCH/log")"
	finish
fi
check "parent core size limit 0" \
    grep -q '^Max core file size *0 *0 ' /proc/$DAEMON_PID/limits
check "parent memory is not dumpable" \
    test "$(stat -c %u /proc/$DAEMON_PID/environ)" = 0
kill -TERM "$DAEMON_PID"
wait_exit 20
check "parent as a user: SIGTERM exits 0" test "${EXIT_STATUS:-x}" = 0
finish
