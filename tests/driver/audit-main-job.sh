#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The README's first command ends with the main job, examples/main-job.sh:
# two lab hosts, a sim guest with a local disk defined and started on the
# first, `virsh list` on both. Run it as a user would (from the build tree,
# in a private lab directory), then check what it claims: the guest runs on
# host 1 only, inside host 1's namespaces, writing its heartbeat to host 1's
# private disk; `down --purge` stops everything it started.
set -euo pipefail

: "${XENMIG_BUILDDIR:?run through meson test}"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
LAB_BIN="$XENMIG_BUILDDIR/tools/lab/xenmig-lab"
LAB_DIR=$(mktemp -d /tmp/xmmj.XXXXXX)
OUT=$(mktemp /tmp/xmmj-out.XXXXXX)
PIDS=

fail() { echo "FAIL: $*" >&2; echo "--- main job output ---" >&2; cat "$OUT" >&2; exit 1; }

cleanup() {
    local rc=$? p
    "$LAB_BIN" --dir "$LAB_DIR" down --purge > /dev/null 2>&1 || rc=1
    # Whatever the lab reported running must be gone now.
    for p in $PIDS; do
        if kill -0 "$p" 2>/dev/null &&
           [ "$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$p/stat" 2>/dev/null)" != Z ]; then
            echo "FAIL: PID $p survived 'down --purge'" >&2
            kill -9 "$p" 2>/dev/null || true
            rc=1
        fi
    done
    rm -rf "$LAB_DIR" "$OUT"
    exit "$rc"
}
trap cleanup EXIT

XENMIG_BUILD="$XENMIG_BUILDDIR" XENMIG_LAB_DIR="$LAB_DIR" \
    "$SRC/examples/main-job.sh" > "$OUT" 2>&1 || fail "examples/main-job.sh exited with $?"

lab() { "$LAB_BIN" --dir "$LAB_DIR" "$@"; }
# the PIDs the lab holds (namespace holders, libvirtds) and the guest's
PIDS=$(lab status | sed -n 's/.*holder PID \([0-9]*\).*libvirtd PID \([0-9]*\).*/\1 \2/p' | tr '\n' ' ')
[ "$(echo "$PIDS" | wc -w)" = 4 ] || fail "lab status does not show two running hosts: $(lab status)"

mapfile -t uris < <(grep -E '^xen\+unix:///system\?socket=' "$OUT")
[ "${#uris[@]}" = 2 ] || fail "the main job did not print two URIs"
U1=${uris[0]} U2=${uris[1]}

# What it printed: demo running on host 1, an empty list on host 2.
grep -Eq '^ *[0-9]+ +demo +running *$' "$OUT" || fail "the output does not show demo running"
[ "$(virsh -q -c "$U1" domstate demo)" = running ] || fail "demo is not running on host 1"
[ -z "$(virsh -q -c "$U2" list --all --name)" ] || fail "host 2 has domains"
[ "$(lab exec 1 -- hostname)" = xenmig-host1 ] || fail "host 1 is not xenmig-host1"

# The guest is a process inside host 1's network namespace.
guest_pid() {
    local p id
    id=$(virsh -q -c "$U1" domid demo)
    for p in /proc/[0-9]*; do
        if cat "$p/cmdline" 2>/dev/null | tr '\0' ' ' |
            grep -q "xenmig-sim-guest run --config $LAB_DIR/host1/.*/$id\.conf"; then
            echo "${p#/proc/}"
            return 0
        fi
    done
}
gpid=$(guest_pid)
[ -n "$gpid" ] || fail "no sim guest process for demo"
PIDS="$PIDS $gpid"
netns=$(lab status | sed -n 's/^host 1: .*network namespace \(.*\)$/\1/p')
[ "$(stat -L -c %i "/proc/$gpid/ns/net")" = "$(stat -L -c %i "/run/netns/$netns")" ] ||
    fail "the guest does not run in host 1's network namespace"

# Its heartbeat goes to host 1's private disk and keeps going.
img=$(ls "$LAB_DIR"/host1/storage/demo*.img | head -n1)
[ -f "$img" ] || fail "no disk image of demo in host 1's storage"
ls "$LAB_DIR"/host2/storage/demo*.img > /dev/null 2>&1 && fail "host 2 has demo's image"
hb() { "$XENMIG_BUILDDIR/src/backend/xenmig-sim-guest" heartbeat-check "$img" |
       tr ' ' '\n' | sed -n "s/^$1=//p"; }
r1=$(hb records); sleep 1; r2=$(hb records)
[ -n "$r1" ] && [ "$r2" -gt "$r1" ] || fail "the heartbeat does not advance ($r1 -> $r2)"
[ "$(hb missing)" = 0 ] || fail "heartbeats missing"

# The main job is re-runnable: it replaces the lab an earlier run left.
XENMIG_BUILD="$XENMIG_BUILDDIR" XENMIG_LAB_DIR="$LAB_DIR" \
    "$SRC/examples/main-job.sh" > "$OUT" 2>&1 || fail "a second run exited with $?"
for p in $PIDS; do
    if kill -0 "$p" 2>/dev/null &&
       [ "$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$p/stat")" != Z ]; then
        fail "PID $p of the first run survived the second run's 'down --purge'"
    fi
done
PIDS=$(lab status | sed -n 's/.*holder PID \([0-9]*\).*libvirtd PID \([0-9]*\).*/\1 \2/p' | tr '\n' ' ')
grep -Eq '^ *[0-9]+ +demo +running *$' "$OUT" || fail "the second run does not show demo running"
PIDS="$PIDS $(guest_pid)"
echo ok
