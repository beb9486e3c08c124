#!/bin/bash
# A sim guest made by `guest` is defined and started on host 1 with stock
# virsh: it runs there (as a process inside host 1, writing to host 1's
# private image) and host 2 does not know it.
. "$(dirname "$0")/lab-lib.sh"
require_module

lab up 2 > "$LAB_DIR/uris"
mapfile -t uris < "$LAB_DIR/uris"
U1=${uris[0]} U2=${uris[1]}
lab guest demo --host 1 --disk-size 16M --write-rate 1 --heartbeat-ms 100 > "$LAB_DIR/demo.xml"
img="$LAB_DIR/host1/storage/demo-xvda.img"
blocks_before=$(stat -c %b "$img")

virsh -c "$U1" define "$LAB_DIR/demo.xml" > /dev/null || fail "define on host 1"
virsh -c "$U1" start demo > /dev/null || fail "start on host 1"
virsh -q -c "$U1" list --name | grep -qx demo || fail "demo not listed on host 1"
[ "$(virsh -q -c "$U1" domstate demo)" = running ] || fail "demo is not running on host 1"
if virsh -q -c "$U2" list --all --name | grep -qx demo; then
    fail "host 2 lists demo"
fi

# The guest is a process inside host 1's namespaces.
host1_net=$(stat -L -c %i "/run/netns/$(lab status | sed -n 's/^host 1: .*network namespace \(.*\)$/\1/p')")
found=
for p in /proc/[0-9]*; do
    if tr '\0' ' ' < "$p/cmdline" 2>/dev/null | grep -q "sim-guest"; then
        [ "$(stat -L -c %i "$p/ns/net" 2>/dev/null)" = "$host1_net" ] && found=${p#/proc/}
    fi
done
[ -n "$found" ] || fail "no sim guest process in host 1's network namespace"

# It writes its heartbeat to host 1's private image; host 2 has no such file.
for _ in $(seq 50); do
    [ "$(stat -c %b "$img")" -gt "$blocks_before" ] && break
    sleep 0.1
done
[ "$(stat -c %b "$img")" -gt "$blocks_before" ] || fail "the guest did not write to host 1's image"
[ ! -e "$LAB_DIR/host2/storage/demo-xvda.img" ] || fail "host 2 has the guest's image"

echo "ok"
