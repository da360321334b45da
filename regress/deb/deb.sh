#!/bin/sh
# The Debian package: make deb builds it and lintian finds nothing; its
# files are where the unit and the daemon's defaults say; then it is
# installed on this machine for real (apt-get, which runs dpkg and its
# maintainer scripts and waits for dpkg's lock), checked, reinstalled
# over a changed conffile, removed and purged.  The machine is left as it
# was, but for the _gatewayd user, which Debian never removes.
. "$(dirname "$0")/../lib.sh"

case $OBJ in
*asan) skip "deb: built once, with the normal build"; exit 0 ;;
esac
if ! is_root; then
	skip "deb: needs root (the build's dependencies, dpkg)"
	exit 0
fi
if ! command -v dpkg >/dev/null 2>&1 || ! command -v apt-get >/dev/null; then
	skip "deb: not a Debian system"
	exit 0
fi
# Never touch an administrator's gatewayd.
status() { dpkg-query -W -f='${db:Status-Status}' gatewayd 2>/dev/null; }
if { [ -n "$(status)" ] && [ "$(status)" != not-installed ]; } ||
    [ -e /etc/gatewayd ]; then
	skip "deb: gatewayd is installed or configured here: left alone"
	exit 0
fi
debs=$(sed -n 's/^DEB_DEBS =[[:space:]]*//p' "$TOP/Makefile")
if ! sh "$TOP/regress/deps.sh" $debs >/dev/null 2>&1; then
	skip "deb: cannot install $debs"
	exit 0
fi

make_scratch
# The chroot and the socket's directory may be here already (make
# install, a gatewayd started by hand): a purge takes them if empty, so
# they are put back at the end and not counted.
dirs_before=
for d in /var/lib/gatewayd /run/gatewayd; do
	[ -d "$d" ] && dirs_before="$dirs_before $d"
done
installed=
trap 'deb_cleanup' EXIT
deb_cleanup() {
	[ -n "$installed" ] && apt_get purge gatewayd >/dev/null 2>&1
	for _d in $dirs_before; do install -d -m 0755 "$_d"; done
	cleanup
}
apt_get() {
	DEBIAN_FRONTEND=noninteractive apt-get -y -q --no-install-recommends \
	    -o DPkg::Lock::Timeout=120 "$@" < /dev/null
}

if ! make -C "$TOP" --no-print-directory deb > "$SCRATCH/build.log" 2>&1; then
	notok "deb: make deb: $(tail -n 5 "$SCRATCH/build.log")"
	finish
fi
version=$(dpkg-parsechangelog -l "$TOP/debian/changelog" -S Version)
deb=$TOP/obj/deb/gatewayd_${version}_$(dpkg --print-architecture).deb
if [ ! -f "$deb" ]; then
	notok "deb: make deb made no $deb"
	finish
fi
ok "deb: make deb builds $(basename "$deb")"

tags=$(lintian "$deb" 2>&1 | grep -E '^[EW]: ')
if [ -z "$tags" ]; then
	ok "deb: lintian: no error, no warning"
else
	notok "deb: lintian: $(echo "$tags" | tr '\n' ';')"
fi

left=
for f in debian/.debhelper debian/gatewayd debian/files \
    debian/debhelper-build-stamp debian/gatewayd.substvars \
    debian/gatewayd.postinst.debhelper obj/debian; do
	[ -e "$TOP/$f" ] && left="$left $f"
done
if [ -z "$left" ]; then
	ok "deb: the build leaves nothing in the tree"
else
	notok "deb: the build left$left"
fi

# The package's layout.
x=$SCRATCH/x
dpkg-deb -x "$deb" "$x"
missing=
for f in usr/sbin/gatewayd usr/sbin/gatewayctl \
    usr/share/man/man8/gatewayd.8.gz usr/share/man/man8/gatewayctl.8.gz \
    usr/share/man/man5/gatewayd.conf.5.gz etc/gatewayd/gatewayd.conf \
    lib/systemd/system/gatewayd.service usr/lib/sysusers.d/gatewayd.conf \
    usr/lib/tmpfiles.d/gatewayd.conf var/lib/gatewayd \
    usr/share/doc/gatewayd/examples/gatewayd.conf \
    usr/share/doc/gatewayd/examples/secrets.example \
    usr/share/doc/gatewayd/copyright; do
	[ -e "$x/$f" ] || missing="$missing $f"
done
if [ -z "$missing" ]; then
	ok "deb: every file is in the package"
else
	notok "deb: missing from the package:$missing"
fi
check "deb: no secrets file in the package" test ! -e "$x/etc/gatewayd/secrets"
dpkg-deb -e "$deb" "$SCRATCH/control"
check "deb: /etc/gatewayd/gatewayd.conf is the only conffile" \
    test "$(cat "$SCRATCH/control/conffiles")" = /etc/gatewayd/gatewayd.conf
unit=$x/lib/systemd/system/gatewayd.service
bad=
for p in $(sed -n 's/^Exec[A-Za-z]*=[-@!+]*\([^ ]*\).*/\1/p' "$unit"); do
	case $p in
	/usr/sbin/gatewayd) [ -x "$x$p" ] || bad="$bad $p" ;;
	*) [ -x "$p" ] || bad="$bad $p" ;;
	esac
done
for m in $(sed -n 's/^Documentation=//p' "$unit"); do
	m=${m#man:}
	name=${m%(*} sect=${m#*(}; sect=${sect%)}
	[ -f "$x/usr/share/man/man$sect/$name.$sect.gz" ] || bad="$bad $m"
done
if [ -z "$bad" ]; then
	ok "deb: the unit's programs and pages are in the package"
else
	notok "deb: the unit names what the package lacks:$bad"
fi

# The sysusers file alone, in an empty root.
sr=$SCRATCH/sysroot
mkdir -p "$sr/etc" "$sr/usr/lib/sysusers.d"
: > "$sr/etc/passwd"; : > "$sr/etc/group"
cp "$x/usr/lib/sysusers.d/gatewayd.conf" "$sr/usr/lib/sysusers.d/"
systemd-sysusers --root="$sr" gatewayd.conf > /dev/null 2>&1
check "deb: its sysusers file makes _gatewayd, no shell, no home" test \
    "$(grep '^_gatewayd:' "$sr/etc/passwd" | cut -d: -f6,7)" = \
    /nonexistent:/usr/sbin/nologin

# For real.
user_before=$(getent passwd _gatewayd)
if ! apt_get install "$deb" > "$SCRATCH/apt.log" 2>&1; then
	notok "deb: install: $(tail -n 5 "$SCRATCH/apt.log")"
	finish
fi
installed=yes
ok "deb: installs"
if [ -z "$user_before" ]; then
	check "deb: the install made _gatewayd" getent passwd _gatewayd
else
	check "deb: _gatewayd exists after the install (it did before)" \
	    getent passwd _gatewayd
fi
check "deb: /var/lib/gatewayd is root's, mode 755" \
    test "$(stat -c '%F %U %G %a' /var/lib/gatewayd)" = \
    "directory root root 755"
check "deb: tmpfiles made /run/gatewayd" test -d /run/gatewayd
check "deb: an empty secrets file, root's, mode 600" test \
    "$(stat -c '%F %U %a %s' /etc/gatewayd/secrets)" = \
    "regular empty file root 600 0"
check "deb: the unit is not enabled" \
    test "$(systemctl is-enabled gatewayd.service 2>/dev/null)" = disabled
if out=$(systemd-analyze verify /lib/systemd/system/gatewayd.service 2>&1) &&
    [ -z "$out" ]; then
	ok "deb: systemd-analyze verify of the installed unit is clean"
else
	notok "deb: systemd-analyze verify of the installed unit: $out"
fi
check "deb: man finds gatewayd(8), gatewayd.conf(5), gatewayctl(8)" \
    sh -c 'man -w 8 gatewayd && man -w 5 gatewayd.conf && man -w 8 gatewayctl'

# The installed daemon checks the installed configuration.
if /usr/sbin/gatewayd -n > "$SCRATCH/n.out" 2>&1; then
	notok "deb: gatewayd -n refuses components without secrets"
else
	check "deb: gatewayd -n refuses components without secrets" \
	    grep -q 'irc.example.org' "$SCRATCH/n.out"
fi
write_secrets /etc/gatewayd/secrets \
    "irc.example.org $(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')" \
    "bridge.example.org $(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
check "deb: gatewayd -n with secrets: configuration OK" \
    sh -c '/usr/sbin/gatewayd -n 2>&1 | grep -qx "configuration OK"'
check "deb: gatewayd -n -f /etc/gatewayd/gatewayd.conf" \
    /usr/sbin/gatewayd -n -f /etc/gatewayd/gatewayd.conf
/usr/sbin/gatewayd -nv > "$SCRATCH/nv.out" 2>/dev/null
check "deb: the daemon's defaults are the package's paths" sh -c "
    grep -qx 'chroot \"/var/lib/gatewayd\"' '$SCRATCH/nv.out' &&
    grep -qx 'secrets \"/etc/gatewayd/secrets\"' '$SCRATCH/nv.out'"

# A changed conffile survives a reinstall, and so do the secrets.
echo '# changed by the administrator' >> /etc/gatewayd/gatewayd.conf
cp /etc/gatewayd/secrets "$SCRATCH/secrets.before"
if apt_get install --reinstall "$deb" > "$SCRATCH/apt.log" 2>&1; then
	ok "deb: reinstalls"
else
	notok "deb: reinstall: $(tail -n 5 "$SCRATCH/apt.log")"
fi
check "deb: the changed conffile is kept" \
    grep -qx '# changed by the administrator' /etc/gatewayd/gatewayd.conf
check "deb: the secrets are kept" \
    cmp -s /etc/gatewayd/secrets "$SCRATCH/secrets.before"

# Remove keeps the configuration; purge takes everything.
files=$(dpkg-query -L gatewayd | while read -r f; do
	[ -f "$f" ] && echo "$f"; done)
apt_get remove gatewayd > "$SCRATCH/apt.log" 2>&1
check "deb: remove takes the programs" test ! -e /usr/sbin/gatewayd
check "deb: remove keeps the configuration and the secrets" \
    test -f /etc/gatewayd/gatewayd.conf -a -f /etc/gatewayd/secrets
apt_get purge gatewayd > "$SCRATCH/apt.log" 2>&1
installed=
left=
for f in $files /etc/gatewayd /var/lib/gatewayd /run/gatewayd; do
	case " $dirs_before " in *" $f "*) continue ;; esac
	[ -e "$f" ] && left="$left $f"
done
if [ -z "$left" ]; then
	ok "deb: purge removes every file"
else
	notok "deb: purge left$left"
fi
check "deb: dpkg no longer knows gatewayd" \
    test "$(status)" = "" -o "$(status)" = not-installed
finish
