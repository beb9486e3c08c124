#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# What the build delivers besides behaviour: the module exports libvirt's
# register function and nothing else; the xenmig-lab man page is built and
# documents every command of `xenmig-lab --help` and every option of
# `xenmig-lab guest --help`.
set -euo pipefail
: "${XENMIG_BUILDDIR:?run through meson test}"
fail() { echo "FAIL: $*" >&2; exit 1; }

so="$XENMIG_BUILDDIR/src/driver/libvirt_driver_libxl.so"
exports=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sort)
[ "$exports" = libxlRegister ] || fail "the module exports: $(echo $exports)"
# all its undefined symbols resolve against what libvirtd provides
ldd -r "$so" 2>&1 | grep -q "undefined symbol" && fail "undefined symbols: $(ldd -r "$so" 2>&1 | grep undefined | head -3)"

lab="$XENMIG_BUILDDIR/tools/lab/xenmig-lab"
man="$XENMIG_BUILDDIR/docs/xenmig-lab.1"
[ -s "$man" ] || fail "$man is not built"
text=$(MANWIDTH=200 man -l "$man" 2>/dev/null | col -b)
[ -n "$text" ] || fail "man cannot render $man"
for cmd in $("$lab" --help 2>&1 | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p'); do
    grep -q "xenmig-lab \[--dir DIR\] $cmd" <<< "$text" || fail "the man page's synopsis lacks '$cmd'"
done
for opt in $("$lab" guest --help 2>&1 | sed -n 's/^  \(--[a-z-]*\)=.*/\1/p'); do
    grep -q -- "$opt" <<< "$text" || fail "the man page does not document guest $opt"
done
echo ok
