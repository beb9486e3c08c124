# Shared helpers for the end-to-end tests of xenmig-mirror (e2e-*.sh).
# Sourced, not run.  Every test gets its own temporary directory ($T) and a
# cleanup trap that stops, by PID, every process the test started.
#
# shellcheck shell=bash

set -euo pipefail

XM_BUILDDIR=${XENMIG_BUILDDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
XM_SRCDIR=${XENMIG_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
XM=$XM_BUILDDIR/tools/mirror/xenmig-mirror
PY=/usr/bin/python3
MiB=$((1024 * 1024))

e2e_name=$(basename "$0" .sh)
T=$(mktemp -d "${TMPDIR:-/tmp}/xm-$e2e_name.XXXXXX")
e2e_pids=()

log() { printf '%s: %s\n' "$e2e_name" "$*" >&2; }

# A failed assertion prints what was expected and, when given, the files
# that explain why (tool stderr, server logs), then exits 1.
fail() {
    local msg=$1; shift
    printf '%s: FAIL: %s\n' "$e2e_name" "$msg" >&2
    local f
    for f in "$@"; do
        if [ -f "$f" ]; then
            printf -- '--- %s (last 40 lines) ---\n' "$(basename "$f")" >&2
            tail -n 40 "$f" >&2
        fi
    done
    exit 1
}

skip() { printf '%s: SKIP: %s\n' "$e2e_name" "$*" >&2; exit 77; }

e2e_cleanup() {
    local rc=$? pid
    set +e
    # Children first in reverse start order so writers stop before servers.
    for ((i = ${#e2e_pids[@]} - 1; i >= 0; i--)); do
        pid=${e2e_pids[i]}
        # CONT: a test may fail while it holds a server stopped
        kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null && kill -CONT "$pid" 2>/dev/null
    done
    for pid in "${e2e_pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if [ "$rc" -ne 0 ] && [ -n "${XM_KEEP_TMP:-}" ]; then
        log "keeping $T"
    else
        rm -rf "$T"
    fi
    exit "$rc"
}
trap e2e_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Remember a background PID so the cleanup trap stops it.
track() { e2e_pids+=("$1"); }

# Forget a PID we have already reaped ourselves.
untrack() {
    local keep=() p
    for p in "${e2e_pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    e2e_pids=("${keep[@]}")
}

need() {
    local p
    for p in "$@"; do
        command -v "$p" >/dev/null 2>&1 || skip "$p is not installed"
    done
}

need_tool() {
    [ -x "$XM" ] || fail "xenmig-mirror is not built at $XM"
}

# wait_for COND-COMMAND... : poll (10 s unless E2E_WAIT is set) until it
# succeeds; gives up at once when it returns 3 (our conditions' "the process
# died").  Other failures, e.g. grep's 2 for a file not created yet, retry.
wait_for() {
    local deadline=$((SECONDS + ${E2E_WAIT:-10})) rc
    while :; do
        rc=0
        "$@" || rc=$?
        [ "$rc" -ne 0 ] || return 0
        [ "$rc" -ne 3 ] || return 3
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.05
    done
}

wait_socket() { # path pid
    wait_for socket_ready "$1" "$2"
}
socket_ready() { [ -S "$1" ] || { kill -0 "$2" 2>/dev/null || return 3; return 1; }; }

# --- images -----------------------------------------------------------------

# make_mixed_image PATH SIZE_MIB SEED: a raw image of 1 MiB runs that are
# random data, allocated zeros or holes in a pattern fixed by SEED.  Returns
# with the file flushed so allocation counts are stable.
make_mixed_image() {
    local path=$1 mib=$2 seed=$3 i kind
    rm -f "$path"
    truncate -s "${mib}M" "$path"
    RANDOM=$seed
    for ((i = 0; i < mib; i++)); do
        kind=$((RANDOM % 4))
        case $kind in
            0|1) head -c "$MiB" /dev/urandom |
                 dd of="$path" bs=1M seek="$i" conv=notrunc status=none ;;
            2)   dd if=/dev/zero of="$path" bs=1M seek="$i" count=1 conv=notrunc status=none ;;
            3)   ;; # hole
        esac
    done
    sync "$path"
}

make_random_image() { # path size_mib
    head -c "$(($2 * MiB))" /dev/urandom >"$1"
}

alloc_bytes() { echo $(( $(stat -c %b "$1") * 512 )); }

# bytes of FILE2 that are allocated inside the holes of FILE1
alloc_in_holes() {
    "$PY" - "$1" "$2" <<'EOF'
import os, sys
def extents(path, whence_from, whence_to):
    fd = os.open(path, os.O_RDONLY)
    size = os.fstat(fd).st_size
    out, pos = [], 0
    try:
        while pos < size:
            try:
                start = os.lseek(fd, pos, whence_from)
            except OSError:
                break
            try:
                end = os.lseek(fd, start, whence_to)
            except OSError:
                end = size
            out.append((start, end))
            pos = end
    finally:
        os.close(fd)
    return out
holes = extents(sys.argv[1], os.SEEK_HOLE, os.SEEK_DATA)
data = extents(sys.argv[2], os.SEEK_DATA, os.SEEK_HOLE)
total = 0
for hs, he in holes:
    for ds, de in data:
        lo, hi = max(hs, ds), min(he, de)
        if lo < hi:
            total += hi - lo
print(total)
EOF
}

# make_pki DIR: DIR/good holds a CA with server and client certificates (the
# layout servers and libnbd clients read), DIR/wrongca the same from an
# unrelated CA, DIR/noclientcert only the right CA certificate.
make_pki() {
    local mk=$XM_SRCDIR/tests/storage-mirror/make-certs.sh
    bash "$mk" "$1/good" >"$1.log" 2>&1 &&
        bash "$mk" "$1/wrongca" "unrelated CA" >>"$1.log" 2>&1 ||
        fail "making certificates with certtool failed" "$1.log"
    mkdir -p "$1/noclientcert"
    cp "$1/good/ca-cert.pem" "$1/noclientcert/"
}

# stats_write_bytes FILE: bytes of WRITE payload counted by nbdkit's stats
# filter (statsfile=FILE, written when nbdkit exits); 0 when none.
stats_write_bytes() {
    awk 'BEGIN { m["bytes"] = 1; m["KiB"] = 1024; m["MiB"] = 1048576; m["GiB"] = 1073741824 }
         /^write:/ { u = $7; sub(/,$/, "", u); printf "%.0f", $6 * m[u]; f = 1 }
         END { if (!f) printf "0" }' "$1"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

assert_identical() { # src dest [logs...]
    local a=$1 b=$2; shift 2
    cmp "$a" "$b" >"$T/cmp.out" 2>&1 || fail "destination differs from source: $(head -1 "$T/cmp.out")" "$@"
}

# assert_as_sparse SRC DEST TOLERANCE_BYTES: holes of SRC are holes in DEST
# (up to the tolerance) and DEST allocates no more than SRC plus tolerance.
assert_as_sparse() {
    local src=$1 dst=$2 tol=$3 inholes sa da
    inholes=$(alloc_in_holes "$src" "$dst")
    sa=$(alloc_bytes "$src"); da=$(alloc_bytes "$dst")
    log "allocated: source $sa, destination $da, destination inside source holes $inholes (tolerance $tol)"
    [ "$inholes" -le "$tol" ] || fail "destination allocates $inholes bytes inside the source's holes (tolerance $tol)"
    [ "$da" -le $((sa + tol)) ] || fail "destination allocates $da bytes, source $sa (tolerance $tol)"
}

# --- peers ------------------------------------------------------------------

# start_nbdkit_file IMG SOCK [--option...] [key=value...]: a file export on a
# unix socket (options go before the plugin, key=value after); sets NBDKIT_PID.
start_nbdkit_file() {
    local img=$1 sock=$2 opts=() params=() a; shift 2
    for a in "$@"; do
        if [ "${a#-}" != "$a" ]; then opts+=("$a"); else params+=("$a"); fi
    done
    nbdkit -f --exit-with-parent -U "$sock" "${opts[@]}" file "$img" "${params[@]}" >>"$T/nbdkit.log" 2>&1 &
    NBDKIT_PID=$!
    track "$NBDKIT_PID"
    wait_socket "$sock" "$NBDKIT_PID" || fail "nbdkit did not start" "$T/nbdkit.log"
}

# start_qemu_nbd IMG SOCK: a persistent qemu-nbd export ""; sets QNBD_PID.
start_qemu_nbd() {
    local img=$1 sock=$2
    qemu-nbd -f raw -t -e 8 --discard=unmap --cache=writeback -k "$sock" "$img" \
        >>"$T/qemu-nbd.log" 2>&1 &
    QNBD_PID=$!
    track "$QNBD_PID"
    wait_socket "$sock" "$QNBD_PID" || fail "qemu-nbd did not start" "$T/qemu-nbd.log"
}

# start_serve IMG LOG args...: our own server; sets SERVE_PID.  With
# --listen HOST:0 it also sets SERVE_PORT from what the tool prints.
start_serve() {
    local img=$1 out=$2; shift 2
    : >"$out"   # exists before the background job opens it
    "$XM" serve "$img" "$@" >"$out" 2>"$out.err" &
    SERVE_PID=$!
    track "$SERVE_PID"
    local a sock=
    for a in "$@"; do
        [ "${prev:-}" = --unix ] && sock=$a
        prev=$a
    done
    unset prev
    if [ -n "$sock" ]; then
        wait_socket "$sock" "$SERVE_PID" || fail "xenmig-mirror serve did not start" "$out" "$out.err"
    else
        wait_for grep -qE '[0-9]+' "$out" || fail "xenmig-mirror serve printed no port" "$out" "$out.err"
        # The bound port is the last number on the first line printed.
        SERVE_PORT=$(head -1 "$out" | grep -oE '[0-9]+' | tail -1)
        wait_for port_open "$SERVE_PORT" || fail "nothing listens on port $SERVE_PORT" "$out" "$out.err"
    fi
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# stop_pid PID: TERM, then reap.
stop_pid() {
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    untrack "$1"
}

# wait_exit PID SECONDS: wait for a background job to end within a bound;
# sets EXIT_RC (124 when it was still running, then it is killed).
wait_exit() {
    local pid=$1 limit=$2 deadline
    deadline=$((SECONDS + limit))
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            kill -KILL "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            untrack "$pid"
            EXIT_RC=124
            return 0
        fi
        sleep 0.05
    done
    EXIT_RC=0
    wait "$pid" || EXIT_RC=$?
    untrack "$pid"
}

# --- writer -----------------------------------------------------------------

# A guest stand-in: qemu-io writing random data (from pattern files of random
# bytes; some with FUA, some small and unaligned), zeros and discards at
# random offsets inside [0, RANGE) of URI, each batch ending with a flush, until
# STOPFILE exists, pausing $WRITER_PAUSE seconds between batches when set.
# Each qemu-io run connects anew.  Appends "bytes N" per
# batch and "error ..." on failure to LOG.
#   writer URI RANGE_BYTES STOPFILE LOG [BATCH_WRITES] [MAX_LEN_KIB]
writer() {
    local uri=$1 range=$2 stop=$3 wlog=$4 batch=${5:-16} maxk=${6:-256}
    local i off len op args bytes p
    for p in 0 1 2 3; do
        [ -f "$T/pat$p" ] || head -c "$((maxk * 1024))" /dev/urandom >"$T/pat$p"
    done
    RANDOM=$BASHPID
    while [ ! -e "$stop" ]; do
        args=() bytes=0
        for ((i = 0; i < batch; i++)); do
            len=$(( (RANDOM % (maxk / 4) + 1) * 4096 ))
            off=$(( ((RANDOM << 15 | RANDOM) % ((range - len) / 4096 + 1)) * 4096 ))
            op=$((RANDOM % 10))
            if [ $op -lt 6 ]; then
                args+=(-c "write -q -s $T/pat$((RANDOM % 4)) $off $len")
            elif [ $op -lt 7 ]; then
                args+=(-c "write -q -f -s $T/pat$((RANDOM % 4)) $off $len")   # FUA
            elif [ $op -lt 8 ]; then
                # small and unaligned: must dirty the blocks it touches
                args+=(-c "write -q -s $T/pat$((RANDOM % 4)) $((off + RANDOM % (len - 700))) $((RANDOM % 700 + 1))")
            elif [ $op -lt 9 ]; then
                args+=(-c "write -q -z -u $off $len")
            else
                args+=(-c "discard -q $off $len")
            fi
            bytes=$((bytes + len))
        done
        args+=(-c flush)
        if qemu-io -f raw "$uri" "${args[@]}" >>"$wlog.out" 2>&1; then
            echo "bytes $bytes $(date +%s.%N)" >>"$wlog"
            [ -z "${WRITER_PAUSE:-}" ] || sleep "$WRITER_PAUSE"
        else
            echo "error qemu-io exit $? $(date +%s.%N)" >>"$wlog"
            return 1
        fi
    done
}

# A second guest stand-in: nbdcopy (several connections if the server offers
# multi-conn) rewriting the whole of URI from `nbdkit sparse-random` (runs of
# random data and zeros, a new layout per seed) until STOPFILE exists.
#   writer_nbdcopy URI SIZE_BYTES STOPFILE LOG
writer_nbdcopy() {
    local uri=$1 size=$2 stop=$3 wlog=$4 seed=0
    while [ ! -e "$stop" ]; do
        seed=$((seed + 1))
        if nbdkit -U - sparse-random "$size" seed="$seed" percent=40 runlength=262144 \
               --run "nbdcopy --connections=4 \"\$uri\" '$uri'" >>"$wlog.out" 2>&1; then
            echo "bytes $size $(date +%s.%N)" >>"$wlog"
            [ -z "${WRITER_PAUSE:-}" ] || sleep "$WRITER_PAUSE"
        else
            echo "error nbdcopy exit $? $(date +%s.%N)" >>"$wlog"
            return 1
        fi
    done
}

writer_bytes() { awk '$1 == "bytes" { s += $2 } END { print s + 0 }' "$1"; }

# --- progress ---------------------------------------------------------------

# last progress field value: progress_field FILE KEY
progress_last() {
    local line
    line=$(grep '^progress ' "$1" | tail -1) || return 1
    sed -nE "s/.* $2=([^ ]*).*/\\1/p" <<<" ${line#progress }"
}

# progress_started PID FILE: the job has reported done > 0 (3: it died)
progress_started() {
    local d
    d=$(progress_last "$2" "done" 2>/dev/null) || d=
    [ -n "$d" ] && [ "$d" -gt 0 ] && return 0
    kill -0 "$1" 2>/dev/null || return 3
    return 1
}

# the last "sync: scanned X bytes, sent Y bytes (Z blocks)" line -> "X Y Z"
sync_summary() {
    sed -nE 's/.*sync: scanned ([0-9]+) bytes, sent ([0-9]+) bytes \(([0-9]+) blocks\).*/\1 \2 \3/p' "$1" | tail -1
}
