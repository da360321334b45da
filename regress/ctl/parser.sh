#!/bin/sh
# gatewayctl's command line, from outside: a command it cannot make out
# (unknown, an ambiguous prefix, a missing or extra argument, a bad
# option) exits 2 with its reason and the usage on standard error and
# nothing on standard output, before any attempt to connect; help and
# unambiguous prefixes work.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1
O=${OBJ:-obj}
CTL=$O/bin/gatewayctl

if [ ! -x "$CTL" ]; then
	notok "gatewayctl parser: $CTL missing"
	finish
fi
dir=$(mktemp -d /tmp/gw-ctl.XXXXXX)
trap 'rm -rf "$dir"' EXIT
# Never the real socket, should a command be taken that must not be.
none=$dir/no-socket

# usage_error NAME REASON ARGS...: exit 2, the reason, the usage.
usage_error() {
	_name=$1 _reason=$2; shift 2
	"$CTL" -s "$none" "$@" > "$dir/out" 2> "$dir/err"
	_rc=$?
	if [ $_rc -ne 2 ]; then
		notok "gatewayctl parser: $_name: exit $_rc, not 2:" \
		    "$(cat "$dir/err")"
	elif [ -s "$dir/out" ]; then
		notok "gatewayctl parser: $_name: output on stdout:" \
		    "$(cat "$dir/out")"
	elif ! grep -q '^usage: gatewayctl \[-j\] \[-s socket\] command' \
	    "$dir/err"; then
		notok "gatewayctl parser: $_name: no usage: $(cat "$dir/err")"
	elif ! grep -qF -- "$_reason" "$dir/err"; then
		notok "gatewayctl parser: $_name: \"$_reason\" not said:" \
		    "$(cat "$dir/err")"
	elif grep -q 'connect' "$dir/err"; then
		notok "gatewayctl parser: $_name: it tried to connect"
	else
		ok "gatewayctl parser: $_name"
	fi
}

usage_error "no command" "gatewayctl: missing command"
usage_error "unknown command" "gatewayctl: unknown command: frobnicate" \
    frobnicate
usage_error "unknown argument" "show: unknown argument: everything" \
    show everything
usage_error "ambiguous prefix" \
    "show: ambiguous argument: comp (components or component)" sh comp
usage_error "ambiguous prefix, argument or not" \
    "show: ambiguous argument: co (components or component)" \
    show co irc.example.org
usage_error "missing argument" "show: missing argument: summary," show
usage_error "missing domain to show" "show component: missing domain" \
    show component
usage_error "missing domain to kick" "kick: missing domain" kick
usage_error "missing log level" "log: missing argument: verbose or brief" \
    log
usage_error "extra argument" "reload: too many arguments: now" reload now
usage_error "extra argument to show upstreams" \
    "show upstreams: too many arguments: xmpp" show upstreams xmpp
usage_error "extra domain" "kick: too many arguments: b.example" \
    kick a.example b.example
usage_error "empty domain" "kick: empty domain" kick ""
usage_error "domain too long" "kick: domain too long: 300 bytes" \
    kick "$(printf '%0300d' 0)"
usage_error "unknown option" "usage:" -x show summary
usage_error "-s without a path" "usage:" -s

# help: the commands, on stdout, exit 0.
lists_all() {
	for _c in "show summary" "show components" "show component domain" \
	    "show listeners" "show upstreams" "show metrics" reload \
	    "kick domain" "log verbose" "log brief" help; do
		grep -q "^	$_c\$" "$1" || return 1
	done
}
if "$CTL" -s "$none" help > "$dir/out" 2> "$dir/err" &&
    [ ! -s "$dir/err" ] && grep -q '^usage: gatewayctl' "$dir/out" &&
    lists_all "$dir/out"; then
	ok "gatewayctl parser: help lists every command"
else
	notok "gatewayctl parser: help: $(cat "$dir/out" "$dir/err")"
fi

# Prefixes that are not ambiguous get as far as the socket.
for args in "sh su" "s l" "sh u" "show upstreams" "sh met" "re" \
    "k irc.example.org" "lo v" "log b" "show component irc.example.org" \
    "show components"; do
	# shellcheck disable=SC2086
	"$CTL" -s "$none" $args > "$dir/out" 2> "$dir/err"
	rc=$?
	if [ $rc -eq 1 ] && grep -qF "cannot connect to $none" "$dir/err"
	then
		ok "gatewayctl parser: \"$args\" is a command"
	else
		notok "gatewayctl parser: \"$args\": exit $rc:" \
		    "$(cat "$dir/err")"
	fi
done
finish
