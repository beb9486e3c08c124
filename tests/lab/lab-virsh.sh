#!/bin/bash
# With the build's driver module, stock virsh reaches every host through the
# URI `up` printed, and hosts reach each other's libvirtd over TCP by name.
. "$(dirname "$0")/lab-lib.sh"
require_module

lab up 2 > "$LAB_DIR/uris"
mapfile -t uris < "$LAB_DIR/uris"
[ "${#uris[@]}" = 2 ] || fail "expected two URIs"
for i in 1 2; do
    u=${uris[$((i - 1))]}
    virsh -c "$u" version > /dev/null || fail "virsh version on host $i"
    [ "$(virsh -q -c "$u" uri)" = "$u" ] || fail "host $i: uri is $(virsh -q -c "$u" uri)"
    [ "$(virsh -q -c "$u" hostname)" = "xenmig-host$i" ] || fail "host $i: hostname is $(virsh -q -c "$u" hostname)"
    # Inside the host, its URI is the default one, and plain xen:///system
    # reaches its libvirtd through the host's own /run/libvirt.
    [ "$(lab exec $i -- virsh -q hostname)" = "xenmig-host$i" ] || fail "virsh inside host $i"
    [ "$(lab exec $i -- virsh -q -c xen:///system hostname)" = "xenmig-host$i" ] ||
        fail "xen:///system inside host $i"
done
# Host 1 reaches host 2's libvirtd over the lab network, by name.
[ "$(lab exec 1 -- virsh -q -c xen+tcp://xenmig-host2/system hostname)" = xenmig-host2 ] ||
    fail "host 1 cannot reach host 2 over TCP"
[ "$(lab exec 2 -- virsh -q -c xen+tcp://10.77.0.1/system hostname)" = xenmig-host1 ] ||
    fail "host 2 cannot reach host 1 over TCP"
echo "ok"
