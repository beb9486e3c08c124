#!/bin/bash
# Two labs in two directories run side by side (as parallel tests do):
# their namespaces have different names, their networks are apart, and
# bringing one down leaves the other running.
. "$(dirname "$0")/lab-lib.sh"

OTHER=$(mktemp -d /tmp/xmlab.XXXXXX)
other() { "$LAB_BIN" --dir "$OTHER" "$@"; }
cleanup_other() {
    local rc=$?
    other down --purge || rc=1
    rm -rf "$OTHER"
    lab_cleanup
    exit "$rc"
}
trap cleanup_other EXIT

lab up 2 --module-dir "$EMPTY_MODULE_DIR" > /dev/null
other up 1 --module-dir "$EMPTY_MODULE_DIR" > /dev/null
ours=$(lab status | sed -n 's/^host 1: .*network namespace \(.*\)$/\1/p')
theirs=$(other status | sed -n 's/^host 1: .*network namespace \(.*\)$/\1/p')
[ -n "$ours" ] && [ -n "$theirs" ] && [ "$ours" != "$theirs" ] || fail "namespace names '$ours' and '$theirs'"

# The other lab has only one host: 10.77.0.2 does not exist on its network.
if other exec 1 -- bash -c 'exec 3<>/dev/tcp/10.77.0.2/16509' 2> /dev/null; then
    fail "the second lab reaches the first lab's host 2"
fi
lab exec 1 -- bash -c 'exec 3<>/dev/tcp/10.77.0.2/16509' || fail "the first lab lost its own host 2"

other_pid=$(other status | sed -n 's/.*libvirtd PID \([0-9]*\).*/\1/p')
lab down
pid_running "$other_pid" || fail "down of one lab stopped the other's libvirtd"
[ "$(other exec 1 -- hostname)" = xenmig-host1 ] || fail "the other lab's host is gone"
echo "ok"
