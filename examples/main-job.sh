#!/bin/bash
# The main job: two "hosts" (stock libvirtd loading xenmig's driver module
# with the sim backend, each in its own network, UTS and mount namespace),
# a guest with a local disk defined and started on the first, and
# `virsh list` on both. The lab keeps running; the last lines say how to
# use it and how to stop it.
#
#   examples/main-job.sh          # uses build/ and /run/xenmig-lab
#   XENMIG_BUILD=build-x XENMIG_LAB_DIR=/tmp/lab examples/main-job.sh
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${XENMIG_BUILD:-build}
case $BUILD in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
LAB="$BUILD/tools/lab/xenmig-lab"
export XENMIG_LAB_DIR=${XENMIG_LAB_DIR:-/run/xenmig-lab}
AS_ROOT=
[ "$(id -u)" = 0 ] || AS_ROOT="sudo --preserve-env=XENMIG_LAB_DIR"

if [ ! -x "$LAB" ]; then
    echo "error: $LAB is not built; run ./setup or 'meson compile -C $BUILD'" >&2
    exit 1
fi

if [ ! -e "$BUILD/src/driver/libvirt_driver_libxl.so" ]; then
    echo "error: the driver module $BUILD/src/driver/libvirt_driver_libxl.so is not built" >&2
    exit 1
fi
trap 'echo "main job failed; the lab stays up for a look at $XENMIG_LAB_DIR/host*/log; stop it with: $LAB --dir $XENMIG_LAB_DIR down --purge" >&2' ERR

step() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; $AS_ROOT "$@"; }

step "replacing any lab left in $XENMIG_LAB_DIR by an earlier run"
run "$LAB" down --purge

step "two hosts, each with its own libvirtd; one URI per host"
uris=$($AS_ROOT "$LAB" up 2)
echo "$uris"
mapfile -t uri <<< "$uris"

step "a sim guest with a 64 MiB local disk on host 1's private storage"
xml="$XENMIG_LAB_DIR/host1/demo.xml"
$AS_ROOT "$LAB" guest demo --host 1 --disk-size 64M --write-rate 1 --heartbeat-ms 100 |
    $AS_ROOT tee "$xml" > /dev/null
run virsh -c "${uri[0]}" define "$xml"
run virsh -c "${uri[0]}" start demo

step "virsh list on host 1 (xenmig-host1)"
run virsh -c "${uri[0]}" list --all
step "virsh list on host 2 (xenmig-host2)"
run virsh -c "${uri[1]}" list --all

LABCMD=$LAB
[ "$XENMIG_LAB_DIR" = /run/xenmig-lab ] || LABCMD="$LAB --dir $XENMIG_LAB_DIR"
cat <<EOF

The lab keeps running. Try:
  $LABCMD exec 1 -- virsh dominfo demo
  $LABCMD exec 1 -- virsh -c xen+tcp://xenmig-host2/system list --all
  $LABCMD status
Stop it:
  $LABCMD down            # keeps the hosts' disks and domain definitions
  $LABCMD down --purge    # removes them too
EOF
