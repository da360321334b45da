#!/bin/sh
# The children keep logging when the log daemon restarts: see
# syslog_test.py, run in a mount namespace of its own with a /dev/log of
# its own.
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
export TOP
if [ "$(id -u)" != 0 ]; then
	echo "skip - syslog restart: needs root (a mount namespace)"
	exit 0
fi
if ! unshare --mount --propagation private true 2>/dev/null; then
	echo "skip - syslog restart: no mount namespace here (unshare -m)"
	exit 0
fi
exec unshare --mount --propagation private \
    /usr/bin/python3 "$TOP/regress/daemon/syslog_test.py"
