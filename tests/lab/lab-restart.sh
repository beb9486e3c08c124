#!/bin/bash
# restart replaces one host's libvirtd (stopped cleanly, or killed with
# --kill) by a new one that answers again, and leaves the other hosts and
# the host's other processes alone.
. "$(dirname "$0")/lab-lib.sh"

lab up 2 --module-dir "$EMPTY_MODULE_DIR" > /dev/null
libvirtd_pid() { lab status | sed -n "/^host $1:/,/libvirtd PID/s/.*libvirtd PID \([0-9]*\).*/\1/p"; }
old1=$(libvirtd_pid 1) old2=$(libvirtd_pid 2)
"$LAB_BIN" --dir "$LAB_DIR" exec 1 -- sleep 600 < /dev/null > /dev/null 2>&1 &
bystander=$!

for mode in "" --kill; do
    before=$(libvirtd_pid 1)
    lab restart 1 $mode || fail "restart 1 $mode"
    after=$(libvirtd_pid 1)
    [ -n "$after" ] && [ "$after" != "$before" ] || fail "restart $mode: libvirtd PID $before -> $after"
    ! pid_running "$before" || fail "restart $mode: the old libvirtd $before still runs"
    pid_running "$after" || fail "restart $mode: the new libvirtd does not run"
    lab exec 2 -- bash -c 'exec 3<>/dev/tcp/xenmig-host1/16509' || fail "restart $mode: host 1 does not answer on TCP"
    lab exec 1 -- test -S /run/libvirt/libvirt-sock || fail "restart $mode: no socket"
done
[ "$(libvirtd_pid 2)" = "$old2" ] && pid_running "$old2" || fail "host 2's libvirtd was touched"
pid_running "$bystander" || fail "restart ended another process of host 1"
[ "$old1" != "$(libvirtd_pid 1)" ]
rc=0; lab restart 3 2> /dev/null || rc=$?
[ "$rc" = 1 ] || fail "restart of a missing host returned $rc"
echo "ok"
