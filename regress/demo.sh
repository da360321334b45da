#!/bin/sh
# make run: a demonstration daemon in the foreground on 127.0.0.1:5347.
TOP=$(cd "$(dirname "$0")/.." && pwd)
RUN=$TOP/obj/run
. "$TOP/regress/lib.sh"

mkdir -p "$RUN"
rm -rf "$RUN/empty"
mkdir -m 0755 "$RUN/empty"
cp "$TOP/etc/demo.conf" "$RUN/gatewayd.conf"
install -m 0600 "$TOP/etc/demo.secrets" "$RUN/secrets"
if is_root; then
	ensure_user || exit 1
fi
CTL=$(dirname "$GATEWAYD")/gatewayctl
cat <<MSG
gatewayd demo: components connect to 127.0.0.1 port 5347 (XEP-0114)
  irc.localhost      secret demo-irc-secret   (alias irc2.localhost)
  bridge.localhost   secret demo-bridge-secret (default route)
Two components talking through it, each in a terminal of its own
(python3-slixmpp; the second sends what you type, the first answers
"ping" with "pong"):
  /usr/bin/python3 $TOP/etc/demo-component.py irc.localhost demo-irc-secret
  /usr/bin/python3 $TOP/etc/demo-component.py bridge.localhost demo-bridge-secret irc.localhost
What gatewayd sees:       $CTL -s $RUN/gatewayd.sock show components
                          $CTL -s $RUN/gatewayd.sock show metrics
Check the configuration:  $GATEWAYD -nv -f $RUN/gatewayd.conf
See the processes:        ps -o pid,user,args -C gatewayd
Stop with Ctrl-C.
MSG
exec "$GATEWAYD" -dv -f "$RUN/gatewayd.conf"
