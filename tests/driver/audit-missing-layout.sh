#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A libvirt version with no driver-table layout stops the build (meson
# setup) with a message saying how to add one; a layout given with
# -Dlibvirt_layout_dir is taken. The "other" libvirt is the installed one
# seen through a pkg-config file that reports another version.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/xm-layout.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

pc=$(pkg-config --variable=pcfiledir libvirt)/libvirt.pc
[ -f "$pc" ] || fail "no libvirt.pc"
mkdir "$T/pc" "$T/layouts"
sed 's/^Version:.*/Version: 99.9.9/' "$pc" > "$T/pc/libvirt.pc"

if PKG_CONFIG_PATH="$T/pc" meson setup "$T/b1" "$SRC" > "$T/out1" 2>&1; then
    fail "meson setup succeeded without a layout for libvirt 99.9.9"
fi
grep -q "no libvirt driver-table layout for libvirt 99.9.9" "$T/out1" ||
    { cat "$T/out1"; fail "no message naming the missing layout"; }
grep -q "gen-libvirt-layout.py --emit-layout" "$T/out1" ||
    { cat "$T/out1"; fail "the message does not say how to make the layout"; }
grep -q "layouts/libvirt-99.9.9.layout" "$T/out1" ||
    { cat "$T/out1"; fail "the message does not say where the layout goes"; }

# The same tables under the new version's name, in a directory of our own.
cur=$(ls "$SRC"/src/driver/layouts/libvirt-*.layout | head -n1)
sed 's/^version\t.*/version\t99.9.9/' "$cur" > "$T/layouts/libvirt-99.9.9.layout"
PKG_CONFIG_PATH="$T/pc" meson setup "$T/b2" "$SRC" \
    -Dlibvirt_layout_dir="$T/layouts" > "$T/out2" 2>&1 ||
    { tail -n 30 "$T/out2"; fail "meson setup refused -Dlibvirt_layout_dir"; }
echo ok
