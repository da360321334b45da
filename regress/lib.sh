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
	name=$1; shift
	if "$@"; then ok "$name"; else notok "$name"; fi
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
	limit=$1; shift
	tries=$((limit * 20))
	while [ $tries -gt 0 ]; do
		"$@" && return 0
		tries=$((tries - 1))
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
		for p in $(pgrep -P "$DAEMON_PID"); do kill -KILL "$p"; done
	fi
	[ -n "${SCRATCH:-}" ] && rm -rf "$SCRATCH"
}

write_secrets() {	# write_secrets FILE LINES...
	f=$1; shift
	: > "$f"
	chmod 0600 "$f"
	for line in "$@"; do echo "$line" >> "$f"; done
}

# A free TCP port on 127.0.0.1.
free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_daemon CONF [ARGS]: runs gatewayd -dv in the background, log in
# $SCRATCH/log, and waits until the engine listens.
start_daemon() {
	conf=$1; shift
	"$GATEWAYD" -dv -f "$conf" "$@" > "$SCRATCH/log" 2>&1 &
	DAEMON_PID=$!
	wait_for 10 grep -q "engine: listening on" "$SCRATCH/log"
}

# The pid of the daemon's child with the given title (engine, authd).
child_pid() {
	for p in $(pgrep -P "$DAEMON_PID"); do
		if tr '\0' ' ' < /proc/$p/cmdline | grep -q "gatewayd: $1"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

log_has() { grep -q -- "$1" "$SCRATCH/log"; }
