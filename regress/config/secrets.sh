#!/bin/sh
# The secrets file: who may own it, its mode, and that no secret is ever
# printed, whatever is wrong with the file.
. "$(dirname "$0")/../lib.sh"

make_scratch
cd "$SCRATCH" || exit 1
cat > gw.conf <<CONF
chroot "/var/empty"
secrets "secrets"
component "a.example.org"
CONF
SECRET=Zq7-unmistakable-secret-value
write_secrets secrets "a.example.org $SECRET"

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

check "secrets mode 0600 accepted" "$GATEWAYD" -n -f gw.conf
chmod 0400 secrets
check "secrets mode 0400 accepted" "$GATEWAYD" -n -f gw.conf
for mode in 0640 0604 0660 0606 0610; do
	chmod $mode secrets
	expect_error "secrets mode $mode refused" \
	    "secrets: must not be accessible by group or others (mode $mode, use 0600)"
done
chmod 0600 secrets

mv secrets secrets.file
mkdir -m 0700 secrets
expect_error "secrets directory refused" "secrets: not a regular file"
rmdir secrets
mv secrets.file secrets

if is_root; then
	chown nobody secrets
	expect_error "secrets owned by another user refused" \
	    "secrets: must be owned by root"
	chown root secrets
else
	skip "secrets owned by another user refused: needs root to chown"
fi

# No secret in any output: -nv, errors in the file, errors elsewhere.
write_secrets secrets "a.example.org $SECRET" "a.example.org $SECRET extra" \
    "unknown.example.org $SECRET" "a.example.org ${SECRET}$(printf '\001')"
"$GATEWAYD" -nv -f gw.conf > out 2>&1
if grep -qF "$SECRET" out; then
	notok "no secret in error messages"
else
	ok "no secret in error messages"
fi
write_secrets secrets "a.example.org $SECRET"
"$GATEWAYD" -nv -f gw.conf > out 2>&1
if grep -q '^configuration OK$' out && ! grep -qF "$SECRET" out; then
	ok "no secret in -nv output"
else
	notok "no secret in -nv output"
fi
finish
