#!/bin/bash
# The destination's image directory is a small file system (a tmpfs with a
# size limit, mounted inside host 2's mount namespace). Too small for the
# disk: Prepare refuses the migration before creating anything. Big enough
# at Prepare but filled by another file while the disk is copied: the
# migration fails with "no space" rather than hanging or succeeding, the
# guest keeps running on host 1 only with its image's data untouched and an
# unbroken heartbeat, and host 2 removes the partial image it created but
# not the other file.
. "$(dirname "$0")/mig-lib.sh"
IMAGES=/var/lib/xenmig-lab/images
mig_up

# on_host2 CMD...: runs CMD in host 2's namespaces (its image directory is
# the tmpfs, which the machine does not see).
on_host2() { lab exec 2 -- "$@"; }
dest_has() { on_host2 test -e "$IMAGES/$1"; }

on_host2 mount -t tmpfs -o size=8M xenmig-full "$IMAGES" || fail "mount a tmpfs on host 2"

# 12 MiB of random data beyond the heartbeat area: at --bandwidth 1 the
# copy lasts about 12 s, and the guest writes nothing but its heartbeat.
lab guest g1 --host 1 --disk-size 16M --write-rate 0 --heartbeat-ms 50 --memory 16 > "$LAB_DIR/g1.xml"
dd if=/dev/urandom of="$(img 1 g1-xvda.img)" bs=1M seek=4 count=12 conv=notrunc status=none
src_sum=$(data_sum "$(img 1 g1-xvda.img)")
virsh -q -c "$U1" define "$LAB_DIR/g1.xml" > /dev/null || fail "define g1"
virsh -q -c "$U1" start g1 > /dev/null || fail "start g1"

# 1. 16 MiB do not fit into 8 MiB: refused by Prepare's space check
if out=$(virsh1 migrate --live --copy-storage-all g1 "$DST_URI" 2>&1); then
    fail "the migration succeeded onto a too small file system"
fi
echo "refused: $out"
grep -q "not enough space" <<< "$out" || fail "no space error from Prepare: $out"
[ "$(state_on "$U1" g1)" = running ] || fail "g1 is '$(state_on "$U1" g1)' on host 1"
! dest_has g1-xvda.img || fail "host 2 created the image although it refused"

# 2. room at Prepare, none halfway through the copy
on_host2 mount -o remount,size=18M "$IMAGES" || fail "grow the tmpfs"
virsh1 migrate --live --copy-storage-all --bandwidth 1 g1 "$DST_URI" > "$LAB_DIR/migrate.out" 2>&1 &
mig_pid=$!
for _ in $(seq 150); do
    job=$(virsh -c "$U1" domjobinfo g1 2>&1 || true)
    grep -q "^Data processed: *[1-9]" <<< "$job" && break
    pid_running "$mig_pid" || fail "virsh migrate ended early: $(cat "$LAB_DIR/migrate.out")"
    sleep 0.2
done
dest_has g1-xvda.img || fail "host 2 did not create the image"
# another tenant of the file system takes what is left
on_host2 dd if=/dev/zero of="$IMAGES/other-tenant" bs=64k status=none 2>/dev/null || true
echo "host 2: $(on_host2 df -k "$IMAGES" | tail -n1)"
mig_wait_failed "host 2's disk is full"
grep -qi "no space" "$LAB_DIR/migrate.out" ||
    fail "the error does not say that host 2's disk is full: $(cat "$LAB_DIR/migrate.out")"
# libvirt words its "write failed" code as a configuration file problem
! grep -qi "configuration file" "$LAB_DIR/migrate.out" ||
    fail "the error blames a configuration file: $(cat "$LAB_DIR/migrate.out")"

[ "$(state_on "$U1" g1)" = running ] || fail "g1 is '$(state_on "$U1" g1)' on host 1"
for _ in $(seq 20); do
    virsh -q -c "$U2" list --all --name | grep -qx g1 || break
    sleep 0.5
done
virsh -q -c "$U2" list --all --name | grep -qx g1 && fail "host 2 still knows g1"
! dest_has g1-xvda.img || fail "host 2 kept the partial image it created"
dest_has other-tenant || fail "host 2 removed a file the migration did not create"
assert_source_intact
sleep 0.5
virsh -q -c "$U1" destroy g1 > /dev/null
heartbeat_unbroken "$(img 1 g1-xvda.img)"
echo ok
