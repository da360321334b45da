#!/bin/sh
# Reload, shutdown, and the death of a child ending the whole daemon.
. "$(dirname "$0")/../lib.sh"

make_scratch
is_root && ensure_user
ports=$(free_ports 2)
port=$(echo "$ports" | sed -n 1p)
port2=$(echo "$ports" | sed -n 2p)
write_secrets "$SCRATCH/secrets" "a.example.org secret-a"
write_config "$port"
if ! start_daemon "$SCRATCH/gw.conf"; then
	notok "daemon starts: $(cat "$SCRATCH/log")"
	finish
fi

# A broken configuration is refused and the old one stays in use.
echo "this is not a configuration" >> "$SCRATCH/gw.conf"
kill -HUP "$DAEMON_PID"
check "reload with errors names the line" wait_for 10 \
    log_has "gw.conf:6: syntax error"
check "reload with errors keeps the old configuration" wait_for 10 \
    log_has "configuration not reloaded, keeping the old one"
check "daemon still runs after a bad reload" kill -0 "$DAEMON_PID"
check "old listener still accepts" tcp_connect "$port"

# A new component, secret and listener become known; the old listener goes.
write_secrets "$SCRATCH/secrets" "a.example.org secret-a" \
    "new.example.org secret-new" "new.example.org secret-new-2"
write_config "$port2" 'component "new.example.org" { alias "alias.example.org" }'
kill -HUP "$DAEMON_PID"
check "reload makes a new component known to the engine" wait_for 10 \
    log_has "engine: component new.example.org"
check "reload sends aliases to the engine" wait_for 10 \
    log_has "engine: alias alias.example.org of new.example.org"
check "reload gives authd the new secrets" wait_for 10 \
    log_has "authd: 3 secrets for 2 components"
check "reload opens a new listener" wait_for 10 \
    log_has "engine: listening on 127.0.0.1 port $port2"
check "new listener accepts" tcp_connect "$port2"
check "reload closes a listener that is gone" wait_for 10 \
    log_has "engine: no longer listening on 127.0.0.1 port $port"
if tcp_connect "$port"; then
	notok "removed listener refuses"
else
	ok "removed listener refuses"
fi
check "no secret in the log" sh -c "! grep -q secret-new $SCRATCH/log"

# SIGTERM: exit 0 and no child left.
engine=$(child_pid engine)
authd=$(child_pid authd)
kill -TERM "$DAEMON_PID"
if wait_exit 20; then
	check "SIGTERM exits 0" test "$EXIT_STATUS" = 0
else
	notok "SIGTERM exits 0: still running"
fi
check "SIGTERM leaves no engine" sh -c "! kill -0 $engine 2>/dev/null"
check "SIGTERM leaves no authd" sh -c "! kill -0 $authd 2>/dev/null"

# A child killed: the whole daemon ends with status 1 and says why.
for victim in authd engine; do
	write_config "$port"
	start_daemon "$SCRATCH/gw.conf" || notok "daemon restarts: $(tail -3 "$SCRATCH/log")"
	pid=$(child_pid $victim)
	case $victim in
	authd) other=$(child_pid engine) ;;
	engine) other=$(child_pid authd) ;;
	esac
	kill -KILL "$pid"
	if wait_exit 20; then
		check "killing $victim ends the daemon with status 1" \
		    test "$EXIT_STATUS" = 1
	else
		notok "killing $victim ends the daemon: still running"
	fi
	check "killing $victim is logged with the reason" log_has \
	    "lost child: $victim (pid $pid) terminated by signal 9"
	check "killing $victim leaves no other child" \
	    sh -c "! kill -0 $other 2>/dev/null"
done
finish
