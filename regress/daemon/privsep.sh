#!/bin/sh
# The three processes of a running daemon, as ps and /proc show them.
. "$(dirname "$0")/../lib.sh"

make_scratch
is_root && ensure_user
port=$(free_ports 1)
write_config "$port"
write_secrets "$SCRATCH/secrets" "a.example.org a-secret-of-sufficient-length"
if ! start_daemon "$SCRATCH/gw.conf"; then
	notok "daemon starts: $(cat "$SCRATCH/log")"
	finish
fi
ok "daemon starts"

engine=$(child_pid engine)
authd=$(child_pid authd)
check "process title gatewayd: parent" \
    sh -c "tr '\0' ' ' < /proc/$DAEMON_PID/cmdline | grep -q '^gatewayd: parent'"
check "process title gatewayd: engine" test -n "$engine"
check "process title gatewayd: authd" test -n "$authd"

status_field() {	# status_field PID FIELD
	awk -v f="$2:" '$1 == f { $1 = ""; print substr($0, 2) }' /proc/$1/status
}

for role in engine authd; do
	pid=$(child_pid $role)
	check "$role Seccomp 2" test "$(status_field "$pid" Seccomp)" = 2
	check "$role NoNewPrivs 1" test "$(status_field "$pid" NoNewPrivs)" = 1
	check "$role core size limit 0" sh -c \
	    "grep -q '^Max core file size *0 *0 ' /proc/$pid/limits"
	if is_root; then
		uid=$(id -u $GW_USER) gid=$(id -g $GW_USER)
		check "$role real, effective, saved uid are $GW_USER" test \
		    "$(status_field "$pid" Uid | tr -s '\t ' ' ')" = \
		    "$uid $uid $uid $uid"
		check "$role real, effective, saved gid are $GW_USER" test \
		    "$(status_field "$pid" Gid | tr -s '\t ' ' ')" = \
		    "$gid $gid $gid $gid"
		check "$role has only its own group" test \
		    "$(status_field "$pid" Groups | tr -d ' ')" = "$gid"
		check "$role has no capabilities" test \
		    "$(status_field "$pid" CapEff)" = 0000000000000000
		check "$role root is the chroot" test \
		    "$(readlink /proc/$pid/root)" = "$SCRATCH/empty"
		# Non-dumpable processes' /proc files belong to root.
		check "$role memory is not dumpable" test \
		    "$(stat -c %u /proc/$pid/environ)" = 0
	else
		skip "$role uid, gid, chroot: not root"
	fi
done
check "parent stays root" test \
    "$(status_field "$DAEMON_PID" Uid | awk '{ print $2 }')" = "$(id -u)"

if is_root; then
	# The secrets file is outside the engine's world, and not its user's.
	check "engine cannot see the secrets file" \
	    test ! -e "/proc/$engine/root$SCRATCH/secrets"
	check "engine's user cannot read the secrets file" \
	    test "$(stat -c '%u %a' "$SCRATCH/secrets")" = "0 600"
else
	skip "engine cannot see the secrets file: not root"
fi

# authd: exactly two sockets (its pipes), both AF_UNIX, nothing on the net.
socks=$(for fd in /proc/$authd/fd/*; do readlink "$fd"; done |
    sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p')
n=$(echo "$socks" | grep -c .)
check "authd has two sockets, its pipes" test "$n" = 2
net=0
for inode in $socks; do
	awk -v i="$inode" '$7 == i { found = 1 } END { exit !found }' \
	    /proc/net/unix || net=1
	cat /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6 \
	    2>/dev/null | awk '{ print $10 }' | grep -qx "$inode" && net=1
done
check "authd's sockets are AF_UNIX, none on the network" test "$net" = 0

check "engine accepts connections" tcp_connect "$port"
kill -TERM "$DAEMON_PID"
wait_exit 20
check "daemon stops on SIGTERM" test "${EXIT_STATUS:-x}" = 0
finish
