#!/bin/bash
# down stops the sim guests that the hosts' libvirtd started, not only
# libvirtd itself.
. "$(dirname "$0")/lab-lib.sh"
require_module

lab up 1 > "$LAB_DIR/uris"
U1=$(cat "$LAB_DIR/uris")
lab guest g --host 1 --disk-size 8M --heartbeat-ms 100 > "$LAB_DIR/g.xml"
virsh -c "$U1" create "$LAB_DIR/g.xml" > /dev/null || fail "create on host 1"

netns=$(stat -L -c %i "/run/netns/$(lab_ns_prefix)-1")
guests=()
for p in /proc/[0-9]*; do
    if tr '\0' ' ' < "$p/cmdline" 2>/dev/null | grep -q "sim-guest" &&
       [ "$(stat -L -c %i "$p/ns/net" 2>/dev/null)" = "$netns" ]; then
        guests+=("${p#/proc/}")
    fi
done
[ "${#guests[@]}" -ge 1 ] || fail "no sim guest process in host 1"

lab down
for p in "${guests[@]}"; do
    ! pid_running "$p" || fail "sim guest PID $p still runs after down"
done
echo "ok"
