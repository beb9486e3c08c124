#!/bin/bash
# up 2 prints one URI per host and leaves two running hosts; down stops
# every process of the lab and removes its namespaces; a second down is a
# no-op.
. "$(dirname "$0")/lab-lib.sh"

lab up 2 --module-dir "$EMPTY_MODULE_DIR" > "$LAB_DIR/uris"
[ "$(wc -l < "$LAB_DIR/uris")" = 2 ] || fail "expected two URIs: $(cat "$LAB_DIR/uris")"
for i in 1 2; do
    grep -qx "xen+unix:///system?socket=$LAB_DIR/host$i/run/libvirt-sock" "$LAB_DIR/uris" ||
        fail "no URI for host $i"
    [ -S "$LAB_DIR/host$i/run/libvirt-sock" ] || fail "host $i has no libvirtd socket"
done

mapfile -t pids < <(lab_pids)
[ "${#pids[@]}" = 4 ] || fail "status lists ${#pids[@]} PIDs, expected 4"
for p in "${pids[@]}"; do
    pid_running "$p" || fail "PID $p is not running"
done
grep -q "$(basename "$LAB_DIR")" <(lab status) || fail "status does not name the lab"
mapfile -t names < <(ip netns list | awk '{print $1}' | grep "^$(lab_ns_prefix)-")
[ "${#names[@]}" = 3 ] || fail "expected 3 namespaces (hub + 2 hosts), got: ${names[*]}"

# A process left running inside a host is the lab's too.
"$LAB_BIN" --dir "$LAB_DIR" exec 2 -- sleep 600 < /dev/null > /dev/null 2>&1 &
exec_pid=$!
for _ in $(seq 50); do
    [ "$(readlink "/proc/$exec_pid/exe" 2>/dev/null)" = "$(readlink -f "$(command -v sleep)")" ] && break
    sleep 0.1
done
[ "$(readlink "/proc/$exec_pid/exe")" = "$(readlink -f "$(command -v sleep)")" ] ||
    fail "exec did not become the command"
pids+=("$exec_pid")

lab down
wait "$exec_pid" 2> /dev/null || true
for p in "${pids[@]}"; do
    ! pid_running "$p" || fail "PID $p still runs after down"
done
for n in "${names[@]}"; do
    ! ip netns list | grep -qw "$n" || fail "namespace $n left after down"
done
[ ! -e "$LAB_DIR/lab.state" ] || fail "state file left after down"
[ ! -e "$LAB_DIR/host1/run/libvirt-sock" ] || fail "socket left after down"
lab down || fail "a second down failed"
if lab status 2>/dev/null; then fail "status succeeds with no lab up"; fi
echo "ok"
