#!/bin/bash
# A module file that libvirtd cannot load makes up fail with libvirtd's own
# message, and up removes every namespace and process it had started.
. "$(dirname "$0")/lab-lib.sh"

bad="$LAB_DIR/bad-module"
mkdir -p "$bad"
echo "not an ELF file" > "$bad/libvirt_driver_libxl.so"
rc=0
lab up 2 --module-dir "$bad" > "$LAB_DIR/out" 2> "$LAB_DIR/err" || rc=$?
[ "$rc" = 1 ] || fail "up with a broken module exited $rc"
[ ! -s "$LAB_DIR/out" ] || fail "up printed URIs although it failed"
grep -q "Failed to load module" "$LAB_DIR/err" || fail "no libvirtd message: $(cat "$LAB_DIR/err")"
! ip netns list | grep -q "^$(lab_ns_prefix)-" || fail "namespaces left: $(ip netns list)"
[ ! -e "$LAB_DIR/lab.state" ] || fail "state left"
[ -s "$LAB_DIR/host1/log/libvirtd.log" ] || fail "the log was not kept"
for p in /proc/[0-9]*; do
    if grep -qs -- "$LAB_DIR" "$p/cmdline" && pid_running "${p#/proc/}"; then
        fail "process ${p#/proc/} of the lab still runs"
    fi
done
echo "ok"
