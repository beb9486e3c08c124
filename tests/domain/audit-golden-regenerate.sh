#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The golden tests can fail, and XENMIG_REGENERATE=1 rewrites exactly the
# golden files: on a copy of tests/domain, a changed expected file fails
# the test, the switch restores it byte for byte, and then the test passes.
# usage: audit-golden-regenerate.sh TEST-DOMAIN-GOLDEN SRCDIR
set -euo pipefail
BIN=$1 SRC=$2
T=$(mktemp -d /tmp/xm-golden.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cp -r "$SRC/xml" "$SRC/json" "$SRC/xml-out" "$T/"
"$BIN" "$T" > "$T/log" 2>&1 || { cat "$T/log"; fail "the pristine copy fails"; }

case=$(ls "$T/xml" | head -n1); case=${case%.xml}
sed -i 's/"/\x27/; 1s/^/ /' "$T/json/$case.json"
sed -i '2s/^/<!-- changed -->/' "$T/xml-out/$case.xml"
# (through a shell of its own, which reports the test's abort in the log)
if bash -c '"$0" "$1"; exit $?' "$BIN" "$T" > "$T/log" 2>&1; then
    fail "changed golden files of '$case' still pass"
fi
grep -q "XENMIG_REGENERATE=1" "$T/log" || fail "the failure does not name the switch"

rm "$T/json/$case.json"
XENMIG_REGENERATE=1 "$BIN" "$T" > "$T/log" 2>&1 || { cat "$T/log"; fail "regeneration failed"; }
for d in json xml-out; do
    diff -r "$SRC/$d" "$T/$d" || fail "regenerated $d/ differs from the checked-in files"
done
"$BIN" "$T" > "$T/log" 2>&1 || { cat "$T/log"; fail "the regenerated copy fails"; }
echo ok
