#!/bin/sh
# The shipped examples: etc/gatewayd.conf with the secrets that
# etc/secrets.example shows (uncommented) passes gatewayd -n, and so does
# every statement it shows commented out, so that the comments stay true.
. "$(dirname "$0")/../lib.sh"

make_scratch
sed -n 's/^#\([a-z0-9.-]*\.example\.org[[:space:]]\)/\1/p' \
    "$TOP/etc/secrets.example" > "$SCRATCH/secrets"
chmod 0600 "$SCRATCH/secrets"
check "examples: secrets.example shows a line for each component" test \
    "$(cut -f1 "$SCRATCH/secrets" | sort -u | tr '\n' ' ')" = \
    "bridge.example.org irc.example.org "
sed 's|^secrets "/etc/gatewayd/secrets"$|secrets "secrets"|' \
    "$TOP/etc/gatewayd.conf" > "$SCRATCH/gatewayd.conf"
if out=$("$GATEWAYD" -n -f "$SCRATCH/gatewayd.conf" 2>&1); then
	ok "examples: gatewayd.conf passes gatewayd -n"
else
	notok "examples: gatewayd.conf: $out"
fi
sed 's/^#\([a-z]\)/\1/' "$SCRATCH/gatewayd.conf" > "$SCRATCH/all.conf"
if cmp -s "$SCRATCH/gatewayd.conf" "$SCRATCH/all.conf"; then
	notok "examples: gatewayd.conf shows no commented statement"
elif out=$("$GATEWAYD" -n -f "$SCRATCH/all.conf" 2>&1); then
	ok "examples: with its commented statements too"
else
	notok "examples: with its commented statements: $out"
fi
if sh -n "$TOP/etc/rc.d/gatewayd"; then
	ok "examples: the rc.d script parses"
else
	notok "examples: the rc.d script does not parse"
fi
finish
