#!/bin/sh
# Installs the Debian packages named as arguments that are missing, when
# run as root on Debian; otherwise prints the command that would.
command -v dpkg-query >/dev/null 2>&1 || exit 0
missing=
for p in "$@"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
	    grep -q 'ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "missing Debian packages; as root run:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Servers the tests start themselves (prosody): not as system services.
guard=
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d &&
	    chmod 755 /usr/sbin/policy-rc.d && guard=1
fi
apt-get update -qq && apt-get install -y -qq --no-install-recommends \
    $missing >/dev/null
rc=$?
[ -n "$guard" ] && rm -f /usr/sbin/policy-rc.d
exit $rc
