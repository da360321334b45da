#!/bin/sh
# A child that stops answering its pipe (here: SIGSTOP) is noticed by
# the parent within a bounded time and logged, and again when it goes
# on; the daemon keeps running meanwhile.
. "$(dirname "$0")/../lib.sh"

daemon_up "stopped child"
for role in engine authd; do
	pid=$(child_pid $role)
	kill -STOP "$pid"
	check "stopped $role: the parent says it does not answer" \
	    wait_for 12 log_has "$role (pid $pid) has not answered for"
	kill -CONT "$pid"
	check "stopped $role: the parent says it answers again" \
	    wait_for 6 log_has "$role (pid $pid) answers again"
	check "stopped $role: the daemon runs on" kill -0 "$DAEMON_PID"
done
check "stopped child: the engine accepts connections" tcp_connect "$PORT"
kill -TERM "$DAEMON_PID"
wait_exit 20
check "stopped child: SIGTERM exits 0" test "${EXIT_STATUS:-x}" = 0
finish
