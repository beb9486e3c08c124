#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `virsh dumpxml` round-trips what `virsh define` accepted, for every golden
# document of the domain model (tests/domain/xml/*.xml): through a stock
# libvirtd and stock virsh, the inactive XML equals the model's golden output
# (tests/domain/xml-out/), defining that output again changes nothing, and
# a VNC password is shown only with --security-info.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

golden=$(cd "$(dirname "$0")/../domain" && pwd)
xm_libvirtd_start

n=0
for in in "$golden"/xml/*.xml; do
    case=$(basename "$in" .xml)
    want="$golden/xml-out/$case.xml"
    name=$(sed -n 's:.*<name>\(.*\)</name>.*:\1:p' "$in" | head -n1)
    [ -n "$name" ] || xm_fail "$case: no <name>"
    xm_virsh define "$in" > /dev/null || xm_fail "$case: virsh define refused a golden document"
    xm_virsh dumpxml --inactive --security-info "$name" > "$XM_DIR/$case.1.xml"
    diff -u "$want" "$XM_DIR/$case.1.xml" || xm_fail "$case: dumpxml differs from the golden output"
    xm_virsh define "$XM_DIR/$case.1.xml" > /dev/null
    xm_virsh dumpxml --inactive --security-info "$name" > "$XM_DIR/$case.2.xml"
    cmp "$XM_DIR/$case.1.xml" "$XM_DIR/$case.2.xml" ||
        xm_fail "$case: defining the dumped XML changed it"
    # libvirtd keeps that definition on disk: a restart reads it back unchanged
    [ -f "$XM_DIR/config/$name.xml" ] || xm_fail "$case: no persistent file"
    if grep -q "passwd=" "$want"; then
        if xm_virsh dumpxml --inactive "$name" | grep -q "passwd="; then
            xm_fail "$case: the VNC password is shown without --security-info"
        fi
    fi
    n=$((n + 1))
done
[ "$n" -gt 0 ] || xm_fail "no golden documents found in $golden/xml"

# Every definition survives a libvirtd restart byte for byte.
xm_libvirtd_stop
xm_libvirtd_start
for in in "$golden"/xml/*.xml; do
    case=$(basename "$in" .xml)
    name=$(sed -n 's:.*<name>\(.*\)</name>.*:\1:p' "$in" | head -n1)
    xm_virsh dumpxml --inactive --security-info "$name" > "$XM_DIR/$case.3.xml"
    cmp "$XM_DIR/$case.1.xml" "$XM_DIR/$case.3.xml" ||
        xm_fail "$case: the definition changed across a libvirtd restart"
done
echo "ok ($n documents)"
