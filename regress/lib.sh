# Shared by the shell tests.  Each test prints "ok - name",
# "not ok - name: why" or "skip - name: why" lines; regress/run.sh counts.

TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
GATEWAYD=${GATEWAYD:-$TOP/obj/bin/gatewayd}
GW_USER=_gatewayd
failures=0

ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; failures=$((failures + 1)); }
skip() { echo "skip - $*"; }
check() {	# check NAME COMMAND...: ok when the command succeeds
	_name=$1; shift
	if "$@" >/dev/null 2>&1; then ok "$_name"; else notok "$_name"; fi
}
finish() { [ "$failures" -eq 0 ]; exit $?; }

is_root() { [ "$(id -u)" = 0 ]; }

# The unprivileged user the children become, made on first use as root.
ensure_user() {
	getent passwd "$GW_USER" >/dev/null && return 0
	useradd --system --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin "$GW_USER"
}

# wait_for SECONDS COMMAND...: until the command succeeds, or give up.
wait_for() {
	_tries=$(($1 * 20)); shift
	while [ $_tries -gt 0 ]; do
		"$@" && return 0
		_tries=$((_tries - 1))
		sleep 0.05
	done
	return 1
}

# A scratch directory with a chroot, a config and a secrets file (0600).
make_scratch() {
	SCRATCH=$(mktemp -d /tmp/gw-test.XXXXXX)
	chmod 0755 "$SCRATCH"
	mkdir -m 0755 "$SCRATCH/empty"
	trap 'cleanup' EXIT
}

cleanup() {
	if [ -n "${DAEMON_PID:-}" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -KILL "$DAEMON_PID" 2>/dev/null
		for _p in $(pgrep -P "$DAEMON_PID"); do kill -KILL "$_p"; done
	fi
	[ -n "${SCRATCH:-}" ] && rm -rf "$SCRATCH"
}

write_secrets() {	# write_secrets FILE LINES...
	_file=$1; shift
	: > "$_file"
	chmod 0600 "$_file"
	for _line in "$@"; do echo "$_line" >> "$_file"; done
}

# free_ports N: N distinct free TCP ports on 127.0.0.1, one a line.
free_ports() {
	/usr/bin/python3 -c '
import sys
sys.path.insert(0, sys.argv[2])
import gwtest
print("\n".join(str(p) for p in gwtest.free_ports(int(sys.argv[1]))))' \
	    "$1" "$TOP/regress"
}

# start_daemon CONF [ARGS]: runs gatewayd -dv in the background, log in
# $SCRATCH/log, and waits until the engine listens.
start_daemon() {
	_conf=$1; shift
	# Not the log of a daemon before: its lines would answer the wait.
	rm -f "$SCRATCH/log"
	"$GATEWAYD" -dv -f "$_conf" "$@" > "$SCRATCH/log" 2>&1 &
	DAEMON_PID=$!
	wait_for 10 grep -qs "engine: listening on" "$SCRATCH/log"
}

# daemon_up NAME: a scratch directory, one component with a secret, the
# daemon running on $PORT; "not ok - NAME: daemon starts" and the end
# of the test if it does not start.
daemon_up() {
	make_scratch
	is_root && ensure_user
	PORT=$(free_ports 1)
	write_config "$PORT"
	write_secrets "$SCRATCH/secrets" \
	    "a.example.org a-secret-of-sufficient-length"
	if ! start_daemon "$SCRATCH/gw.conf"; then
		notok "$1: daemon starts: $(cat "$SCRATCH/log")"
		finish
	fi
}

# The pid of the daemon's child with the given title (engine, authd).
child_pid() {
	for _p in $(pgrep -P "$DAEMON_PID"); do
		if tr '\0' ' ' < /proc/$_p/cmdline | grep -q "gatewayd: $1"; then
			echo "$_p"
			return 0
		fi
	done
	return 1
}

log_has() { grep -qs -- "$1" "$SCRATCH/log"; }

# Does a TCP connection to 127.0.0.1 PORT succeed?
tcp_connect() {
	/usr/bin/python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5).close()' "$1" 2>/dev/null
}

# A daemon configuration in $SCRATCH/gw.conf with its secrets.
write_config() {	# write_config PORT [EXTRA LINES]
	_port=$1; shift
	{
		echo "listen on 127.0.0.1 port $_port"
		echo "control socket \"$SCRATCH/ctl.sock\""
		echo "chroot \"$SCRATCH/empty\""
		echo "secrets \"$SCRATCH/secrets\""
		echo "component \"a.example.org\""
		for _line in "$@"; do echo "$_line"; done
	} > "$SCRATCH/gw.conf.new"
	mv "$SCRATCH/gw.conf.new" "$SCRATCH/gw.conf"
}

# wait_exit SECONDS: until the daemon has exited; its status in $EXIT_STATUS.
wait_exit() {
	wait_for "$1" sh -c "! kill -0 $DAEMON_PID 2>/dev/null" || return 1
	wait "$DAEMON_PID"
	EXIT_STATUS=$?
	return 0
}
