#!/bin/sh
# Upstreams (issue 14), what cases/ cannot show: the example as the issue
# writes it, host names resolved in order, the rules of the upstream
# secrets file on who owns it and its mode, that no secret of a server
# is ever printed, and that a configuration with upstreams leaks nothing.
. "$(dirname "$0")/../lib.sh"

make_scratch
cd "$SCRATCH" || exit 1
SECRET=Zq7-unmistakable-server-secret
write_secrets secrets "irc.example.org a-component-secret-of-some-length"
write_secrets upstream-secrets "irc.example.org $SECRET"

# The example of the issue, word for word, but for where the file is.
{
	echo 'chroot "/var/empty"'
	echo 'secrets "secrets"'
	sed "s|/etc/gatewayd/upstream-secrets|$SCRATCH/upstream-secrets|" <<EOF
upstream "xmpp" {
        connect to 127.0.0.1 port 5347
        secrets "/etc/gatewayd/upstream-secrets"
}
component "irc.example.org" {
        upstream "xmpp"
}
EOF
} > gw.conf
cp gw.conf example.conf

# expect_error NAME MESSAGE: gatewayd -n fails and says MESSAGE
expect_error() {
	if "$GATEWAYD" -n -f gw.conf > out 2>&1; then
		notok "$1: accepted"
	elif ! grep -qF -- "$2" out; then
		notok "$1: expected \"$2\", got: $(cat out)"
	else
		ok "$1"
	fi
}

want='upstream "xmpp" {|	connect to 127.0.0.1 port 5347|'
want="$want	secrets \"$SCRATCH/upstream-secrets\"|	grace 10|"
want="$want	grace size 1048576|}|"
if "$GATEWAYD" -nv -f gw.conf > out 2> err &&
    grep -q '^configuration OK$' err &&
    [ "$(sed -n '/^upstream "xmpp" {$/,/^}$/p' out | tr '\n' '|')" = \
    "$want" ] &&
    sed -n '/^component "irc.example.org" {$/,/^}$/p' out |
    grep -q '^	upstream "xmpp"$'; then
	ok "upstream: the example of issue 14 parses and prints"
else
	notok "upstream: the example of issue 14: $(cat err out)"
fi
# What gatewayd -nv prints is a configuration it reads back the same.
cp out again.conf
if "$GATEWAYD" -nv -f again.conf > out2 2>/dev/null &&
    diff out out2 > /dev/null; then
	ok "upstream: the printed configuration reads back the same"
else
	notok "upstream: the printed configuration: $(diff out out2)"
fi

# The commented example of etc/gatewayd.conf, so that it stays true.
{
	echo 'chroot "/var/empty"'
	echo 'secrets "secrets"'
	sed -n 's/^#	//p' "$TOP/etc/gatewayd.conf" |
	    sed -n '/^upstream "xmpp" {$/,/^}$/p' |
	    sed "s|/etc/gatewayd/upstream-secrets|$SCRATCH/upstream-secrets|"
	echo 'component "irc.example.org" {'
	sed -n 's/^#	\(upstream "xmpp"\)$/	\1/p' "$TOP/etc/gatewayd.conf"
	echo '}'
} > etc.conf
if grep -q '^	connect to ' etc.conf && grep -q '^	upstream ' etc.conf &&
    out=$("$GATEWAYD" -n -f etc.conf 2>&1); then
	ok "upstream: the example of etc/gatewayd.conf parses"
else
	notok "upstream: the example of etc/gatewayd.conf: $out: $(cat etc.conf)"
fi

# Several servers, one of them by name: each line in order, each name
# with what it resolved to.
lo=$(/usr/bin/python3 -c '
import socket
addrs = []
for ai in socket.getaddrinfo("localhost", 5348, socket.AF_UNSPEC,
    socket.SOCK_STREAM):
    if ai[4][0] not in addrs:
        addrs.append(ai[4][0])
print(", ".join(addrs))' 2>/dev/null)
cat > gw.conf <<EOF
chroot "/var/empty"
secrets "secrets"
upstream "xmpp" {
	connect to localhost port 5348
	connect to 127.0.0.1 port 5349
	connect to [::1]
	secrets "upstream-secrets"
}
component "irc.example.org" { upstream "xmpp" }
EOF
"$GATEWAYD" -nv -f gw.conf > out 2> err
got=$(grep '^	connect to ' out | tr '\t' '|')
want="|connect to localhost port 5348|# $lo
|connect to 127.0.0.1 port 5349
|connect to [::1] port 5347"
if [ -z "$lo" ]; then
	skip "upstream: failover order: localhost does not resolve here"
elif [ "$got" = "$want" ]; then
	ok "upstream: failover order, localhost resolved to $lo"
else
	notok "upstream: failover order: got $got, expected $want: $(cat err)"
fi

# A name that does not resolve is an error at its line, and the lines
# after it are still checked.
cat > gw.conf <<EOF
chroot "/var/empty"
secrets "secrets"
upstream "xmpp" {
	connect to localhost
	connect to nonexistent.invalid port 5348
	secrets "upstream-secrets"
	grace size 1K
}
component "irc.example.org" { upstream "xmpp" }
EOF
"$GATEWAYD" -n -f gw.conf > out 2>&1
rc=$?
if [ $rc -eq 1 ] &&
    grep -q '^gw.conf:5: cannot resolve nonexistent.invalid: ' out &&
    grep -qx 'gw.conf:7: grace size 1024 out of range (0, or 4096 to [0-9]*)' \
    out &&
    [ "$(wc -l < out)" -eq 2 ]; then
	ok "upstream: a name that does not resolve is an error at its line"
else
	notok "upstream: a name that does not resolve: status $rc: $(cat out)"
fi

# The upstream secrets file: the rules of the secrets file.
cp example.conf gw.conf
check "upstream secrets mode 0600 accepted" "$GATEWAYD" -n -f gw.conf
chmod 0400 upstream-secrets
check "upstream secrets mode 0400 accepted" "$GATEWAYD" -n -f gw.conf
for mode in 0640 0604 0660 0606 0610 0644; do
	chmod $mode upstream-secrets
	expect_error "upstream secrets mode $mode refused" \
	    "upstream-secrets: must not be accessible by group or others \
(mode $mode, use 0600)"
done
chmod 0600 upstream-secrets
mv upstream-secrets upstream-secrets.file
mkdir -m 0700 upstream-secrets
expect_error "upstream secrets directory refused" \
    "$SCRATCH/upstream-secrets: not a regular file"
rmdir upstream-secrets
expect_error "upstream secrets missing refused" \
    "$SCRATCH/upstream-secrets: No such file or directory"
mv upstream-secrets.file upstream-secrets
if is_root; then
	chown nobody upstream-secrets
	expect_error "upstream secrets owned by another user refused" \
	    "$SCRATCH/upstream-secrets: must be owned by root"
	chown root upstream-secrets
else
	skip "upstream secrets owned by another user refused: needs root"
fi

# A weak secret of a server is pointed out as the components' are.
write_secrets upstream-secrets "irc.example.org password"
weak="upstream-secrets:1: warning: the secret for irc.example.org is weak"
if "$GATEWAYD" -n -f gw.conf > out 2>&1 &&
    grep -qx "$SCRATCH/$weak: shorter than 16 characters" out; then
	ok "upstream: a weak secret is warned about"
else
	notok "upstream: a weak secret: $(cat out)"
fi

# No secret of a server in any output: -nv, errors in the file, a weak
# secret, errors elsewhere.
write_secrets upstream-secrets "irc.example.org $SECRET" \
    "irc.example.org $SECRET" "irc.example.org $SECRET extra" \
    "unknown.example.org $SECRET" "irc.example.org ${SECRET}$(printf '\001')"
"$GATEWAYD" -nv -f gw.conf > out 2>&1
if grep -q 'a second secret for irc.example.org' out &&
    ! grep -qF "$SECRET" out; then
	ok "upstream: no secret in error messages"
else
	notok "upstream: no secret in error messages: $(cat out)"
fi
write_secrets upstream-secrets "irc.example.org $SECRET"
"$GATEWAYD" -nv -f gw.conf > out 2>&1
if grep -q '^configuration OK$' out && ! grep -qF "$SECRET" out; then
	ok "upstream: no secret in -nv output"
else
	notok "upstream: no secret in -nv output"
fi

# Parsed, printed and freed without a leak, and so is a file full of
# errors (the tokens that error recovery throws away): valgrind, or
# LeakSanitizer in the ASan build.  A token string that nobody freed may
# still be pointed to by the parser's stack, which is never freed: under
# valgrind, what yylex allocated counts even when it is still reachable.
cat > bad.conf <<EOF
chroot "/var/empty"
secrets "secrets"
upstream "xmpp" "extra" {
	connect to "a" "b"
	secrets "upstream-secrets" "again"
}
upstream "xmpp" {
	connect to localhost port 99999
	connect to nonexistent.invalid
	connect to "a" "b"
	secrets ""
	grace size "1M" 2
	grace size 1Q
	bogus "x" "y"
}
upstream "ok" { connect to localhost
	secrets "upstream-secrets" }
component "irc.example.org" {
	upstream "nosuch" "more"
	upstream "ok" "more"
}
upstream "
EOF
# The loss records of valgrind's report that are leaks of ours.
leaks() {
	awk '/^==[0-9]+== *$/ {
		if (rec ~ /lost in loss record/ ||
		    (rec ~ /still reachable/ && rec ~ /yylex \(parse\.y/))
			print rec
		rec = ""
		next
	}
	{ rec = rec $0 "\n" }' "$1"
}
leakcheck() {	# leakcheck NAME CONF STATUS
	case "${OBJ:-obj}" in
	*asan*)
		ASAN_OPTIONS=detect_leaks=1 "$GATEWAYD" -nv -f "$2" \
		    > leak.out 2>&1
		rc=$?
		if grep -q 'LeakSanitizer has encountered a fatal' leak.out
		then
			skip "$1: LeakSanitizer cannot run here"
			return
		fi
		found=$(grep -A12 'ERROR: LeakSanitizer' leak.out) ;;
	*)
		if ! command -v valgrind > /dev/null 2>&1; then
			skip "$1: valgrind not installed"
			return
		fi
		valgrind --leak-check=full --show-leak-kinds=all \
		    --error-exitcode=99 "$GATEWAYD" -nv -f "$2" \
		    > leak.out 2>&1
		rc=$?
		found=$(leaks leak.out)
		# Other errors (invalid reads) exit with valgrind's status.
		[ -z "$found" ] && [ "$rc" -eq 99 ] &&
		    found=$(grep -A12 'Invalid\|uninitialised' leak.out) ;;
	esac
	if [ -n "$found" ]; then
		notok "$1: $found"
	elif [ "$rc" -ne "$3" ]; then
		notok "$1: status $rc, expected $3: $(head -20 leak.out)"
	else
		ok "$1"
	fi
}
cat > good.conf <<EOF
chroot "/var/empty"
secrets "secrets"
upstream "xmpp" {
	connect to localhost port 5348
	connect to 127.0.0.1 port 5349
	secrets "upstream-secrets"
	grace 20
	grace size 64K
}
component "irc.example.org" { upstream "xmpp" }
EOF
leakcheck "upstream: parse, print and free without a leak" good.conf 0
leakcheck "upstream: errors leak nothing" bad.conf 1
finish
