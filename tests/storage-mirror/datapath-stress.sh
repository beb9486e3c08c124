#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Concurrent control requests for a few seconds (MIRROR, CANCEL, COMPLETE,
# PROGRESS, SYNC, BANDWIDTH from four clients on one disk, a guest writing)
# must not deadlock or crash the daemon: every request gets a reply (OK, or
# ERR 55 for a job in the wrong state, or ERR 78 for a cancelled one), some
# COMPLETEs succeed, and QUIT afterwards stops it promptly with nothing left
# behind.
#
# Cases: requests
set -euo pipefail
. "$(dirname "$0")/datapath-lib.sh"
require qemu-io qemu-nbd timeout

src=$tmp/src.img
truncate -s 16M "$src" "$tmp/dst.img"
dd if=/dev/urandom of="$src" bs=1M count=4 conv=notrunc status=none
start_dest "$tmp/dst.img" "$tmp/dst.sock"
uri="nbd+unix:///?socket=$tmp/dst.sock"
spawn_datapath "xvda=$src=$tmp/a.sock"

end=$(( $(date +%s) + ${STRESS_SECONDS:-6} ))
# one_client N: random requests until the end; any reply that is neither
# OK nor ERR (no reply, a timeout, a crash) is recorded
one_client() {
    local cmds=(mirror complete progress sync bandwidth progress) c out rc
    # one client cancels too, seldom enough for some COMPLETEs to finish
    [ "$1" != 4 ] || cmds+=(cancel)
    while [ "$(date +%s)" -lt "$end" ]; do
        c=${cmds[RANDOM % ${#cmds[@]}]}
        rc=0
        case $c in
            mirror) out=$(timeout 40 "$CLIENT" mirror "$CTL" xvda "$uri" bandwidth=$((RANDOM % 32 + 16))) || rc=$? ;;
            bandwidth) out=$(timeout 40 "$CLIENT" bandwidth "$CTL" xvda $((RANDOM % 32))) || rc=$? ;;
            *) out=$(timeout 40 "$CLIENT" "$c" "$CTL" xvda) || rc=$? ;;
        esac
        case "$rc:$out" in
            0:*|"1:ERR 55 "*|"1:ERR 78 "*) ;;
            *) echo "client $1: $c -> rc=$rc $out" >> "$tmp/bad" ;;
        esac
        echo "$c $rc ${out:0:60}" >> "$tmp/done.$1"
    done
}
writer() {
    local i=0
    while [ "$(date +%s)" -lt "$end" ]; do
        i=$((i + 1))
        qemu-io --image-opts "driver=nbd,server.type=unix,server.path=$tmp/a.sock" \
            -c "write -P $((i % 200 + 1)) $(( (RANDOM % 15) * MiB )) 128k" >/dev/null ||
            echo "guest write $i failed" >> "$tmp/bad"
    done
}
pids=()
for n in 1 2 3 4; do
    one_client "$n" &
    pids+=("$!")
done
writer &
pids+=("$!")
_bg_pids+=("${pids[@]}")
for p in "${pids[@]}"; do wait "$p" || true; done

[ ! -s "$tmp/bad" ] || dp_fail "bad replies: $(head -n 5 "$tmp/bad")"
total=$(cat "$tmp"/done.* | wc -l)
[ "$total" -gt 20 ] || dp_fail "only $total requests in the run"
completed=$(cat "$tmp"/done.* | grep -c "^complete 0" || true)
[ "$completed" -gt 0 ] || dp_fail "no COMPLETE succeeded"
echo "$total requests, $completed completes succeeded"
cat "$tmp"/done.* | cut -c1-40 | sort | uniq -c | sort -rn | head -n 20
dp ping >/dev/null
dp cancel xvda >/dev/null
dp quit >/dev/null
wait_for daemon_gone || dp_fail "daemon did not stop after the stress"
[ ! -e "$CTL" ] && [ ! -e "$PIDF" ] || dp_fail "files left behind"
grep -q "stopped" "$DPLOG" || dp_fail "no clean stop"
echo PASS
