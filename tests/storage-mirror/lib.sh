# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared helpers for the storage-mirror shell tests; source it after
# `set -euo pipefail`. It makes $tmp (removed on exit), kills every
# process started with start_bg on exit, and finds the build.

: "${XENMIG_BUILDDIR:?run me through meson test}"
: "${XENMIG_SRCDIR:?run me through meson test}"
XENMIG_MIRROR=$XENMIG_BUILDDIR/tools/mirror/xenmig-mirror
TESTDIR=$XENMIG_SRCDIR/tests/storage-mirror

tmp=$(mktemp -d "${TMPDIR:-/tmp}/xenmig-test.XXXXXX")
_bg_pids=()
_on_exit=()

# on_exit CMD: runs the shell command CMD at exit, after the background
# processes are gone (e.g. to detach a loop device)
on_exit() {
    _on_exit+=("$1")
}

_lib_cleanup() {
    local rc=$? p c
    for p in "${_bg_pids[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${_bg_pids[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    for c in "${_on_exit[@]}"; do
        eval "$c" || true
    done
    rm -rf "$tmp"
    exit $rc
}
trap _lib_cleanup EXIT

skip() {
    echo "SKIP: $*"
    exit 77
}

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

require() {
    local p
    for p in "$@"; do
        command -v "$p" >/dev/null || skip "$p is not installed"
    done
}

# start_bg CMD...: runs CMD in the background, remembers its PID in $BG_PID
start_bg() {
    "$@" &
    BG_PID=$!
    _bg_pids+=("$BG_PID")
}

# wait_for COND-CMD... : retries for up to 10 s
wait_for() {
    local i
    for i in $(seq 100); do
        if "$@"; then return 0; fi
        sleep 0.1
    done
    return 1
}

# serve_unix IMAGE SOCKET [serve options]: starts xenmig-mirror serve on a
# unix socket; sets SERVER_PID.
serve_unix() {
    local image=$1 sock=$2
    shift 2
    start_bg "$XENMIG_MIRROR" serve "$image" --unix "$sock" "$@"
    SERVER_PID=$BG_PID
    wait_for test -S "$sock" || fail "server did not create $sock"
}

# serve_tcp IMAGE [serve options]: starts xenmig-mirror serve on
# 127.0.0.1 with an ephemeral port; sets SERVER_PID and SERVER_PORT.
serve_tcp() {
    local image=$1 out
    shift
    out=$(mktemp "$tmp/port.XXXXXX")
    start_bg "$XENMIG_MIRROR" serve "$image" --listen 127.0.0.1:0 "$@" \
        > "$out"
    SERVER_PID=$BG_PID
    wait_for test -s "$out" || fail "server did not print its port"
    SERVER_PORT=$(head -n1 "$out")
}

# stop_server: SIGTERM, then checks the server exited 0.
stop_server() {
    local rc=0
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" || rc=$?
    [ "$rc" = 0 ] || fail "server exited with status $rc"
}

# make_test_image FILE: 16 MiB with runs of random data, written zeroes and
# holes at MiB boundaries:
#   [0,1) data  [1,2) hole  [2,3) zeroes  [3,4) hole  [4,6) data
#   [6,12) hole  [12,13) data  [13,16) hole
make_test_image() {
    local f=$1
    rm -f "$f"
    truncate -s 16M "$f"
    dd if=/dev/urandom of="$f" bs=1M seek=0 count=1 conv=notrunc status=none
    dd if=/dev/zero of="$f" bs=1M seek=2 count=1 conv=notrunc status=none
    dd if=/dev/urandom of="$f" bs=1M seek=4 count=2 conv=notrunc status=none
    dd if=/dev/urandom of="$f" bs=1M seek=12 count=1 conv=notrunc status=none
}

# uri_unix SOCKET [EXPORT]
uri_unix() {
    echo "nbd+unix:///${2:-}?socket=$1"
}
