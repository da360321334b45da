#!/bin/sh
# gatewayctl against a fake engine (ctl_unit -S), which checks every
# request as the engine must (peerid, exact size, NUL padding) and
# answers as told: well, with the daemon's own failures, or malformed in
# each way the client must catch.  Each command's output, exit status
# and JSON document is checked; a malformed answer is exit 1 with a
# message saying what was wrong and nothing on standard output.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1
O=${OBJ:-obj}
CTL=$O/bin/gatewayctl
UNIT=$O/regress/ctl_unit

for p in "$CTL" "$UNIT"; do
	if [ ! -x "$p" ]; then
		notok "gatewayctl client: $p missing"
		finish
	fi
done
dir=$(mktemp -d /tmp/gw-ctl.XXXXXX)
sock=$dir/ctl.sock
FAKE_PID=
trap '[ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null; rm -rf "$dir"' EXIT

# fake SCENARIO: the fake engine listening on $sock.
fake() {
	rm -f "$sock" "$dir/fake.log"
	"$UNIT" -S "$sock" "$1" > "$dir/fake.log" 2>&1 &
	FAKE_PID=$!
	wait_for 5 grep -qs '^listening' "$dir/fake.log"
}

# fake_done: the fake has gone (it ends with the connection).
fake_done() {
	if ! wait_for 5 sh -c "! kill -0 $FAKE_PID 2>/dev/null"; then
		kill "$FAKE_PID" 2>/dev/null
	fi
	wait "$FAKE_PID" 2>/dev/null
	FAKE_PID=
}

# ctl SCENARIO ARGS...: gatewayctl against a fresh fake; $rc, $dir/out,
# $dir/err, and what the fake was asked in $dir/fake.log.
ctl() {
	_scenario=$1; shift
	if ! fake "$_scenario"; then
		rc=-1
		echo "the fake engine did not start: $(cat "$dir/fake.log")" \
		    > "$dir/err"
		return
	fi
	"$CTL" -s "$sock" "$@" > "$dir/out" 2> "$dir/err"
	rc=$?
	fake_done
}

out_has() { grep -qF -- "$1" "$dir/out"; }
err_has() { grep -qF -- "$1" "$dir/err"; }
asked() { grep -qxF -- "$1" "$dir/fake.log"; }
# json EXPR: a Python expression about the document "d" holds.
json() {
	/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)' "$dir/out" "$1" 2>/dev/null
}
why() { echo "exit $rc: $(cat "$dir/out" "$dir/err" "$dir/fake.log")"; }

# The protocol's version, which every request carries as its peerid.
V=$(sed -n 's/^#define GW_CTL_VERSION[[:space:]]*\([0-9][0-9]*\).*/\1/p' \
    "$TOP/common/ctl.h")

# -- Answers as the engine gives them.

ctl good show summary
if [ $rc -eq 0 ] && asked "request 100 size 0 peerid $V" &&
    out_has "uptime:                          1d 2h 3m 4s (93784 seconds)" &&
    out_has "bounces remote-server-timeout:   3" && [ ! -s "$dir/err" ]; then
	ok "gatewayctl client: show summary"
else
	notok "gatewayctl client: show summary: $(why)"
fi

ctl good -j show summary
if [ $rc -eq 0 ] && json 'd["status"] == 0 and d["summary"]["uptime"] ==
    93784 and d["summary"]["bounce_timeout"] == 3'; then
	ok "gatewayctl client: -j show summary"
else
	notok "gatewayctl client: -j show summary: $(why)"
fi

ctl good show components
if [ $rc -eq 0 ] && asked "request 101 size 0 peerid $V" &&
    [ "$(wc -l < "$dir/out")" -eq 3 ] && out_has "Domain  " &&
    out_has "chat.example.org,muc.example.org" &&
    grep -q '^xmpp\.example\.net  -  ' "$dir/out"; then
	ok "gatewayctl client: show components"
else
	notok "gatewayctl client: show components: $(why)"
fi

ctl good -j show components
if [ $rc -eq 0 ] && json '[c["domain"] for c in d["components"]] ==
    ["irc.example.org", "xmpp.example.net"] and
    d["components"][0]["aliases"] == ["chat.example.org", "muc.example.org"]'
then
	ok "gatewayctl client: -j show components"
else
	notok "gatewayctl client: -j show components: $(why)"
fi

ctl good show component irc.example.org
if [ $rc -eq 0 ] &&
    asked "request 102 size 256 peerid $V name irc.example.org" &&
    out_has "domain:      irc.example.org" &&
    out_has "aliases:     chat.example.org,muc.example.org"; then
	ok "gatewayctl client: show component"
else
	notok "gatewayctl client: show component: $(why)"
fi

ctl good show component nosuch.example.org
if [ $rc -eq 1 ] && [ ! -s "$dir/out" ] &&
    [ "$(cat "$dir/err")" = \
    "gatewayctl: no such component: nosuch.example.org" ]; then
	ok "gatewayctl client: a failure of the daemon on stderr, exit 1"
else
	notok "gatewayctl client: a failure of the daemon: $(why)"
fi

ctl good -j show component nosuch.example.org
if [ $rc -eq 1 ] && [ ! -s "$dir/err" ] && json 'd["status"] == 1 and
    d["component"] is None and d["domain"] == "nosuch.example.org" and
    d["message"] == "no such component: nosuch.example.org"'; then
	ok "gatewayctl client: -j: a failure of the daemon in the document"
else
	notok "gatewayctl client: -j: a failure of the daemon: $(why)"
fi

ctl good show listeners
if [ $rc -eq 0 ] && asked "request 103 size 0 peerid $V" &&
    [ "$(sed -n 3p "$dir/out")" = "::1        5348        20  yes" ]; then
	ok "gatewayctl client: show listeners"
else
	notok "gatewayctl client: show listeners: $(why)"
fi

ctl good show upstreams
if [ $rc -eq 0 ] && asked "request 107 size 0 peerid $V" &&
    [ "$(wc -l < "$dir/out")" -eq 3 ] && out_has "Upstream  " &&
    grep -q '^irc\.example\.org   xmpp       up       2023-11-14T' \
    "$dir/out" &&
    grep -q '  1400  connect to 127.0.0.1 port 5347: Connection refused$' \
    "$dir/out" && [ ! -s "$dir/err" ]; then
	ok "gatewayctl client: show upstreams"
else
	notok "gatewayctl client: show upstreams: $(why)"
fi

ctl good -j show upstreams
if [ $rc -eq 0 ] && json '[(u["domain"], u["upstream"], u["state"],
    u["reconnects"], u["last_error"], u["held_up_bytes"])
    for u in d["upstreams"]] == [
    ("irc.example.org", "xmpp", "up", 2, None, 0),
    ("xmpp.example.net", "prosody-2", "waiting", 5,
     "connect to 127.0.0.1 port 5347: Connection refused", 1400)]'
then
	ok "gatewayctl client: -j show upstreams"
else
	notok "gatewayctl client: -j show upstreams: $(why)"
fi

ctl good show metrics
up='gatewayd_upstream_up{component="irc.example.org",upstream="xmpp"}'
if [ $rc -eq 0 ] && [ "$(grep -c '^request' "$dir/fake.log")" -eq 4 ] &&
    asked "request 100 size 0 peerid $V" &&
    asked "request 101 size 0 peerid $V" &&
    asked "request 103 size 0 peerid $V" &&
    asked "request 107 size 0 peerid $V" &&
    out_has 'gatewayd_listener_paused{address="::1",port="5348"} 1' &&
    out_has 'gatewayd_component_connected{component="xmpp.example.net"} 0' &&
    out_has "$up 1"
then
	ok "gatewayctl client: show metrics, four requests on one connection"
else
	notok "gatewayctl client: show metrics: $(why)"
fi
if ! command -v promtool >/dev/null 2>&1; then
	skip "gatewayctl client: show metrics: promtool not installed"
elif [ $rc -eq 0 ] && res=$(promtool check metrics < "$dir/out" 2>&1); then
	ok "gatewayctl client: show metrics passes promtool check metrics"
else
	notok "gatewayctl client: show metrics: promtool: $res"
fi

ctl good -j show metrics
if [ $rc -eq 0 ] && json 'd["summary"]["connections"] == 5 and
    len(d["components"]) == 2 and len(d["listeners"]) == 2 and
    len(d["upstreams"]) == 2'; then
	ok "gatewayctl client: -j show metrics"
else
	notok "gatewayctl client: -j show metrics: $(why)"
fi

ctl good reload
if [ $rc -eq 0 ] && asked "request 104 size 0 peerid $V" &&
    [ "$(cat "$dir/out")" = reloaded ] && [ ! -s "$dir/err" ]; then
	ok "gatewayctl client: reload"
else
	notok "gatewayctl client: reload: $(why)"
fi

ctl reload-errors reload
if [ $rc -eq 1 ] &&
    [ "$(sed -n 1p "$dir/out")" = \
    "/etc/gatewayd/gatewayd.conf:3: syntax error" ] &&
    [ "$(sed -n 2p "$dir/out")" = 'x:1: \x1b[31mred' ] &&
    [ "$(cat "$dir/err")" = "gatewayctl: not reloaded: 2 errors" ]; then
	ok "gatewayctl client: reload that fails: its lines, escaped, exit 1"
else
	notok "gatewayctl client: reload that fails: $(why)"
fi

ctl reload-errors -j reload
if [ $rc -eq 1 ] && json 'd["status"] == 1 and
    d["message"] == "not reloaded: 2 errors" and d["lines"] ==
    ["/etc/gatewayd/gatewayd.conf:3: syntax error", "x:1: \x1b[31mred"]'
then
	ok "gatewayctl client: -j reload that fails: the lines in the document"
else
	notok "gatewayctl client: -j reload that fails: $(why)"
fi

ctl good kick irc.example.org
if [ $rc -eq 0 ] &&
    asked "request 105 size 256 peerid $V name irc.example.org" &&
    [ "$(cat "$dir/out")" = "kicked irc.example.org" ]; then
	ok "gatewayctl client: kick"
else
	notok "gatewayctl client: kick: $(why)"
fi

ctl good log verbose
if [ $rc -eq 0 ] && asked "request 106 size 4 peerid $V verbose 1" &&
    [ ! -s "$dir/out" ]; then
	ok "gatewayctl client: log verbose"
else
	notok "gatewayctl client: log verbose: $(why)"
fi

ctl good -j log brief
if [ $rc -eq 0 ] && asked "request 106 size 4 peerid $V verbose 0" &&
    json 'd == {"command": "log brief", "status": 0, "message": ""}'; then
	ok "gatewayctl client: -j log brief"
else
	notok "gatewayctl client: -j log brief: $(why)"
fi

# -- Answers no engine may give.

# malformed NAME SCENARIO WHAT ARGS...
malformed() {
	_name=$1 _scenario=$2 _what=$3; shift 3
	ctl "$_scenario" "$@"
	if [ $rc -eq 1 ] && [ ! -s "$dir/out" ] &&
	    grep -q '^gatewayctl: ' "$dir/err" && err_has "$_what"; then
		ok "gatewayctl client: $_name: exit 1, said"
	else
		notok "gatewayctl client: $_name: $(why)"
	fi
}

malformed "an answer too short" short \
    "to show summary: a summary message of 180 bytes, not 184" \
    show summary
malformed "an answer too long" long \
    "malformed answer to reload: an end message of 261 bytes, not 260" reload
malformed "an answer of an unknown type" unknown-type \
    "a message of unknown type 250" show summary
malformed "an answer of the wrong type" wrong-type \
    "malformed answer to show summary: a listener message" show summary
malformed "fewer aliases than announced" aliases-missing \
    "malformed answer to show components: 1 aliases missing at the end" \
    show components
malformed "an alias before any component" alias-orphan \
    "an alias no component announced" show components
malformed "a name without its NUL" unterminated \
    "a component with an unterminated string" show components
malformed "an upstream without its NUL" upstream-nul \
    "malformed answer to show upstreams: an upstream with an unterminated" \
    show upstreams
malformed "an upstream in an unknown state" upstream-state \
    "malformed answer to show upstreams: an upstream in the unknown state 4" \
    show upstreams
malformed "an upstream to another request" upstream-nul \
    "malformed answer to show summary: an upstream message" show summary
malformed "malformed upstreams spoil the metrics" upstream-state \
    "malformed answer to show upstreams: an upstream in the unknown" \
    show metrics
malformed "an end message without its NUL" bad-end \
    "malformed answer to kick: an unterminated message" kick a.example
malformed "no summary" no-summary \
    "malformed answer to show summary: it ended without the summary" \
    show summary
malformed "no component" no-summary \
    "it ended without the component" show component a.example
malformed "a message after the end" after-end \
    "malformed answer to show summary: a message after its end" show summary
malformed "the connection closed mid-answer" hangup \
    "gatewayd closed the connection" show summary
malformed "malformed metrics write nothing" short \
    "malformed answer to show summary" show metrics

ctl short -j show summary
if [ $rc -eq 1 ] && json 'd["status"] == 1 and d["summary"] is None and
    d["message"].startswith("malformed answer to show summary")'; then
	ok "gatewayctl client: -j: a malformed answer in the document"
else
	notok "gatewayctl client: -j: a malformed answer: $(why)"
fi

# -- No daemon to ask.

"$CTL" -s "$dir/none" show summary > "$dir/out" 2> "$dir/err"
rc=$?
if [ $rc -eq 1 ] && [ ! -s "$dir/out" ] &&
    err_has "gatewayctl: cannot connect to $dir/none: No such file or directory"
then
	ok "gatewayctl client: no socket: the path named, exit 1"
else
	notok "gatewayctl client: no socket: $(why)"
fi

# Permission denied: a user who may not reach the socket.
if fake good; then
	if is_root && command -v setpriv >/dev/null 2>&1; then
		setpriv --reuid=65534 --regid=65534 --clear-groups \
		    "$CTL" -s "$sock" show summary > "$dir/out" 2> "$dir/err"
	else
		chmod 0 "$sock"
		"$CTL" -s "$sock" show summary > "$dir/out" 2> "$dir/err"
	fi
	rc=$?
	kill "$FAKE_PID" 2>/dev/null
	fake_done
	if [ $rc -eq 1 ] &&
	    err_has "gatewayctl: cannot connect to $sock: Permission denied"
	then
		ok "gatewayctl client: permission denied: the path named"
	else
		notok "gatewayctl client: permission denied: $(why)"
	fi
else
	notok "gatewayctl client: the fake engine starts: $(why)"
fi
finish
