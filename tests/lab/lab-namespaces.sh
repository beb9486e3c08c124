#!/bin/bash
# Each host has its own host name, address, /etc/hosts and private image
# directory, and reaches the other hosts' libvirtd over the lab network.
. "$(dirname "$0")/lab-lib.sh"

lab up 2 --module-dir "$EMPTY_MODULE_DIR" > /dev/null

for i in 1 2; do
    [ "$(lab exec $i -- hostname)" = "xenmig-host$i" ] || fail "host $i has the wrong host name"
    addr=$(lab exec $i -- ip -4 -o addr show dev eth0 | awk '{print $4}')
    [ "$addr" = "10.77.0.$i/24" ] || fail "host $i has address '$addr'"
    [ "$(lab exec $i -- getent hosts xenmig-host$((3 - i)) | awk '{print $1}')" = "10.77.0.$((3 - i))" ] ||
        fail "host $i does not resolve its peer"
done
[ "$(hostname)" != xenmig-host1 ] || fail "the machine's host name changed"
! ip -4 -o addr | grep -q '10\.77\.0\.' || fail "a lab address leaked into the machine's namespace"

# libvirtd listens on each host's own address, port 16509.
lab exec 1 -- bash -c 'exec 3<>/dev/tcp/xenmig-host2/16509' || fail "host 1 cannot reach host 2's libvirtd"
lab exec 2 -- bash -c 'exec 3<>/dev/tcp/10.77.0.1/16509' || fail "host 2 cannot reach host 1's libvirtd"

# The same path names a different file on each host.
lab exec 1 -- sh -c 'echo one > /var/lib/xenmig-lab/images/probe'
[ -f "$LAB_DIR/host1/storage/probe" ] || fail "host 1's image dir is not its storage"
if lab exec 2 -- test -e /var/lib/xenmig-lab/images/probe; then
    fail "a file made on host 1 is visible on host 2"
fi
[ ! -e /var/lib/xenmig-lab/images/probe ] || fail "a file made on host 1 is visible on the machine"
# Each host has its own /run/libvirt (libvirtd's system.token lives there).
lab exec 1 -- test -S /run/libvirt/libvirt-sock || fail "host 1 has no private /run/libvirt"
[ "$(lab exec 1 -- stat -c %i /run/libvirt)" != "$(lab exec 2 -- stat -c %i /run/libvirt)" ] ||
    fail "hosts share /run/libvirt"
echo "ok"
