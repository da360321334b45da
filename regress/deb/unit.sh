#!/bin/sh
# The systemd unit: systemd-analyze verify and its security score, then
# the unit itself under a real systemd, booted in a container
# (systemd-nspawn) over this machine's /usr, with the tree's sysusers and
# tmpfiles files making the user and the chroot at boot.  There it is
# started, reloaded (and a broken configuration refused), restarted
# after a child dies, and stopped, with the processes' capabilities,
# users and chroots checked along the way.
. "$(dirname "$0")/../lib.sh"

case $OBJ in
*asan) skip "unit: checked once, with the normal build"; exit 0 ;;
esac
if ! command -v systemd-analyze >/dev/null 2>&1; then
	skip "unit: no systemd-analyze"
	exit 0
fi

make_scratch
bin=$SCRATCH/bin
mkdir -p "$bin" "$SCRATCH/man/man5" "$SCRATCH/man/man8"

# verify wants the programs where the unit names them, and the pages.
sed "s|/usr/sbin/gatewayd|$GATEWAYD|g" "$TOP/etc/gatewayd.service" \
    > "$SCRATCH/gatewayd.service"
cp "$TOP/gatewayd.8" "$TOP"/gatewayctl/*.8 "$SCRATCH/man/man8/" 2>/dev/null
cp "$TOP/gatewayd.conf.5" "$SCRATCH/man/man5/"
if out=$(MANPATH=$SCRATCH/man systemd-analyze verify \
    "$SCRATCH/gatewayd.service" 2>&1) && [ -z "$out" ]; then
	ok "unit: systemd-analyze verify is clean"
else
	notok "unit: systemd-analyze verify: $out"
fi
score=$(systemd-analyze security --offline=yes "$SCRATCH/gatewayd.service" \
    2>&1 | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 3.0) }'; then
	ok "unit: security exposure $score, at most 3.0"
else
	notok "unit: security exposure '$score', over 3.0 or not found"
fi

# The default control socket must be where the unit lets the daemon
# write: its RuntimeDirectory, /run/gatewayd.
printf 'secrets "s"\n' > "$SCRATCH/d.conf"
write_secrets "$SCRATCH/s"
default=$("$GATEWAYD" -nv -f "$SCRATCH/d.conf" 2>/dev/null |
    sed -n 's/^control socket "\(.*\)"$/\1/p')
case $default in
/run/gatewayd/*) ok "unit: default control socket $default is in /run/gatewayd" ;;
*) notok "unit: default control socket '$default' is outside /run/gatewayd, which is all the unit may write in /run" ;;
esac

if ! is_root; then
	skip "unit: under systemd: needs root"
	finish
fi
if ! command -v systemd-nspawn >/dev/null 2>&1 &&
    ! sh "$TOP/regress/deps.sh" systemd-container >/dev/null 2>&1; then
	skip "unit: under systemd: no systemd-nspawn (systemd-container)"
	finish
fi
if [ ! -L /bin ] || [ ! -L /lib ] || [ ! -f /usr/lib/os-release ]; then
	skip "unit: under systemd: the container needs a merged /usr"
	finish
fi

# The container's root: this machine's /usr (read-only), a copy of its
# /etc without _gatewayd, and the tree's files where a package puts
# them in /etc; the programs in /opt.
root=$SCRATCH/root
mkdir -p "$root/usr/lib" "$root/opt/gatewayd" "$SCRATCH/out"
for d in var run tmp proc sys dev root; do mkdir "$root/$d"; done
chmod 1777 "$root/tmp"
for l in bin sbin lib lib32 lib64; do
	[ -L "/$l" ] && ln -s "usr/$l" "$root/$l"
done
cp /usr/lib/os-release "$root/usr/lib/"
cp -a /etc "$root/etc"
rm -rf "$root/etc/gatewayd" "$root/etc/.updated"
: > "$root/etc/machine-id"
for f in passwd group shadow gshadow; do
	[ -f "$root/etc/$f" ] && sed -i '/^_gatewayd:/d' "$root/etc/$f"
done
cp "$GATEWAYD" "$root/opt/gatewayd/gatewayd"
ctl=
if [ -x "$TOP/$OBJ/bin/gatewayctl" ]; then
	cp "$TOP/$OBJ/bin/gatewayctl" "$root/opt/gatewayd/gatewayctl"
	ctl=/opt/gatewayd/gatewayctl
fi
sed 's|/usr/sbin/gatewayd|/opt/gatewayd/gatewayd|g' \
    "$TOP/etc/gatewayd.service" > "$root/etc/systemd/system/gatewayd.service"
mkdir -p "$root/etc/sysusers.d" "$root/etc/tmpfiles.d" "$root/etc/gatewayd"
cp "$TOP/etc/gatewayd.sysusers" "$root/etc/sysusers.d/gatewayd.conf"
cp "$TOP/etc/gatewayd.tmpfiles" "$root/etc/tmpfiles.d/gatewayd.conf"
# The example configuration as shipped; until the default control socket
# is in /run/gatewayd, its commented line naming one there is used.
case $default in
/run/gatewayd/*) cp "$TOP/etc/gatewayd.conf" "$root/etc/gatewayd/" ;;
*) sed 's|^#\(control socket "/run/gatewayd/gatewayd.sock"\)$|\1|' \
    "$TOP/etc/gatewayd.conf" > "$root/etc/gatewayd/gatewayd.conf" ;;
esac
irc=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
write_secrets "$root/etc/gatewayd/secrets" "irc.example.org $irc" \
    "bridge.example.org $(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"

cat > "$root/etc/systemd/system/gwtest.target" <<'EOF'
[Unit]
Description=gatewayd unit test
Requires=gwtest.service
After=gwtest.service
AllowIsolate=yes
EOF
cat > "$root/etc/systemd/system/gwtest.service" <<'EOF'
[Unit]
Description=gatewayd unit test runner
[Service]
Type=oneshot
TimeoutStartSec=100
ExecStart=/bin/sh -c '/bin/sh /out/run.sh > /out/result 2>&1; systemctl --no-block poweroff'
EOF

# What runs inside, under the container's systemd.
# gatewayctl finds the daemon's default socket by itself.
ctlargs=
case $default in
/run/gatewayd/*) ;;
*) ctlargs="-s /run/gatewayd/gatewayd.sock" ;;
esac
cat > "$SCRATCH/out/run.sh" <<EOF
IRC_SECRET=$irc
CTL="$ctl"
CTLARGS="$ctlargs"
EOF
cat >> "$SCRATCH/out/run.sh" <<'EOF'
failures=0
ok() { echo "ok - unit: $*"; }
notok() { echo "not ok - unit: $*"; failures=$((failures + 1)); }
check() { _n=$1; shift; if "$@" >/dev/null 2>&1; then ok "$_n"; else notok "$_n"; fi; }
wait_for() {
	_t=$(($1 * 10)); shift
	while [ $_t -gt 0 ]; do "$@" && return 0; _t=$((_t - 1)); sleep 0.1; done
	return 1
}
field() { awk -v f="$2:" '$1 == f { $1 = ""; print substr($0, 2) }' /proc/$1/status; }
mainpid() { systemctl show -p MainPID --value gatewayd.service; }
listening() {
	python3 -c 'import socket; socket.create_connection(("127.0.0.1", 5347), 2).close()' 2>/dev/null
}
journal() { journalctl -q -u gatewayd.service -o cat --no-pager; }
dump() { journal | tail -n 15 | sed 's/^/# /'; }

u=$(getent passwd _gatewayd)
check "sysusers made _gatewayd, no shell, no home" \
    test "$(echo "$u" | cut -d: -f6,7)" = /nonexistent:/usr/sbin/nologin
check "tmpfiles made /var/lib/gatewayd root 755" \
    test "$(stat -c '%U %G %a' /var/lib/gatewayd)" = "root root 755"

if ! systemctl start gatewayd.service || ! wait_for 10 listening; then
	notok "starts and listens on 127.0.0.1 port 5347"
	dump
	exit 1
fi
ok "starts and listens on 127.0.0.1 port 5347"

# A component authenticates: the engine and authd work in their sandboxes
# inside the unit's.
python3 - "$IRC_SECRET" <<'PY' && ok "a component authenticates" || notok "a component authenticates"
import hashlib, re, socket, sys
s = socket.create_connection(("127.0.0.1", 5347), 5)
s.sendall(b"<stream:stream xmlns='jabber:component:accept' "
          b"xmlns:stream='http://etherx.jabber.org/streams' to='irc.example.org'>")
buf = b""
while b"id='" not in buf or not re.search(rb"id='[0-9a-f]+'", buf):
    d = s.recv(4096)
    if not d:
        sys.exit(1)
    buf += d
sid = re.search(rb"id='([0-9a-f]+)'", buf).group(1)
dig = hashlib.sha1(sid + sys.argv[1].encode()).hexdigest()
s.sendall(b"<handshake>" + dig.encode() + b"</handshake>")
buf = b""
while b"<handshake/>" not in buf:
    d = s.recv(4096)
    if not d:
        sys.exit(1)
    buf += d
s.close()
PY

pid=$(mainpid)
check "parent is root" test "$(field "$pid" Uid | awk '{ print $2 }')" = 0
# CAP_KILL, CAP_SETGID, CAP_SETUID, CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT
check "parent's bounding set is the five capabilities" \
    test "$(field "$pid" CapBnd)" = 00000000000404e0
check "parent has no ambient capabilities" \
    test "$(field "$pid" CapAmb)" = 0000000000000000
check "parent has NoNewPrivs and a seccomp filter" \
    test "$(field "$pid" NoNewPrivs) $(field "$pid" Seccomp)" = "1 2"
n=0
for c in $(pgrep -P "$pid"); do
	n=$((n + 1))
	t=$(tr '\0' ' ' < /proc/$c/cmdline | cut -d' ' -f2)
	check "$t runs as _gatewayd, without capabilities" test \
	    "$(field "$c" Uid | awk '{ print $2 }') $(field "$c" CapEff)" = \
	    "$(id -u _gatewayd) 0000000000000000"
	check "$t is chrooted to /var/lib/gatewayd" \
	    test "$(readlink /proc/$c/root)" = /var/lib/gatewayd
done
check "two children" test "$n" = 2
check "control socket /run/gatewayd/gatewayd.sock, root, 660" test \
    "$(stat -c '%F %U %a' /run/gatewayd/gatewayd.sock)" = "socket root 660"
if [ -n "$CTL" ]; then
	check "gatewayctl $CTLARGS show summary" "$CTL" $CTLARGS show summary
fi

# authd says how many secrets it holds each time a configuration reaches it.
reloads() { journal | grep -c 'authd: .* secrets for '; }
r=$(reloads)
if systemctl reload gatewayd.service &&
    wait_for 10 test "$(reloads)" -gt "$r"; then
	ok "reload"
else
	notok "reload"; dump
fi
cp /etc/gatewayd/gatewayd.conf /tmp/good.conf
echo 'no such statement' >> /etc/gatewayd/gatewayd.conf
if systemctl reload gatewayd.service 2>/dev/null; then
	notok "reload with a broken configuration fails"
else
	ok "reload with a broken configuration fails"
fi
check "and the daemon runs on, the same process" test "$(mainpid)" = "$pid"
cp /tmp/good.conf /etc/gatewayd/gatewayd.conf

# A child that dies ends the daemon (status 1); Restart=on-failure.
kill -KILL "$(pgrep -P "$pid" | head -n 1)"
newpid() { p=$(mainpid); [ "$p" != 0 ] && [ "$p" != "$pid" ]; }
if wait_for 20 newpid && wait_for 10 listening; then
	ok "restarted after a child died"
else
	notok "restarted after a child died"; dump
fi

check "stop" systemctl stop gatewayd.service
check "stopped, control socket removed" \
    test "$(systemctl is-active gatewayd.service)/$(ls /run/gatewayd)" = inactive/
exit 0
EOF

if ! timeout 150 systemd-nspawn --quiet --register=no --keep-unit \
    -D "$root" --bind-ro=/usr --private-network \
    --bind="$SCRATCH/out:/out" --boot systemd.unit=gwtest.target \
    > "$SCRATCH/boot.log" 2>&1 && [ ! -s "$SCRATCH/out/result" ]; then
	notok "unit: container boots: $(tail -n 5 "$SCRATCH/boot.log")"
	finish
fi
if [ ! -s "$SCRATCH/out/result" ]; then
	notok "unit: the container ran the checks: $(tail -n 5 "$SCRATCH/boot.log")"
	finish
fi
cat "$SCRATCH/out/result"
grep -q '^not ok' "$SCRATCH/out/result" && failures=$((failures + 1))
finish
