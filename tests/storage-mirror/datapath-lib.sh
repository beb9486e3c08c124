# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers for the datapath-*.sh tests; source after `set -euo pipefail`.
# Builds on lib.sh ($tmp, start_bg, wait_for, fail, on_exit). The daemon is
# detached, so it is stopped by the PID its pid file names, even when the
# test fails.

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

: "${XENMIG_DATAPATH:?run me through meson test}"
: "${DATAPATH_CLIENT:?run me through meson test}"
CLIENT=$DATAPATH_CLIENT
CTL=$tmp/control.sock
PIDF=$tmp/datapath.pid
DPLOG=$tmp/datapath.log
MiB=$((1024 * 1024))
DP_PID=

# Kills the daemon started by this test (if its pid still names it).
_kill_datapath() {
    local i
    [ -n "$DP_PID" ] || return 0
    grep -qs xenmig-datapath "/proc/$DP_PID/cmdline" || return 0
    kill -TERM "$DP_PID" 2>/dev/null || true
    for i in $(seq 50); do
        grep -qs xenmig-datapath "/proc/$DP_PID/cmdline" || return 0
        sleep 0.1
    done
    kill -KILL "$DP_PID" 2>/dev/null || true
}
on_exit _kill_datapath

# On failure the daemon's log explains more than the assertion.
dp_fail() {
    echo "--- datapath log ---" >&2
    tail -n 40 "$DPLOG" >&2 || true
    fail "$@"
}

# spawn_datapath TARGET=IMAGE=SOCKET...: starts the daemon through
# xm_datapath_spawn; sets DP_PID.
spawn_datapath() {
    local out
    out=$("$CLIENT" spawn "$CTL" "$PIDF" "$DPLOG" "$@") || dp_fail "spawn: $out"
    DP_PID=$out
    [ "$DP_PID" = "$(cat "$PIDF")" ] || dp_fail "spawn returned $DP_PID, pid file says $(cat "$PIDF")"
    grep -qs xenmig-datapath "/proc/$DP_PID/cmdline" || dp_fail "no daemon with pid $DP_PID"
}

# start_dest IMAGE SOCKET: a qemu-nbd destination (export "", writeback,
# several connections) on a unix socket; sets DEST_PID.
start_dest() {
    start_bg qemu-nbd -f raw -t -e 16 -x '' --socket="$2" "$1"
    DEST_PID=$BG_PID
    wait_for test -S "$2" || fail "qemu-nbd did not start on $2"
}

# dp CMD ARGS...: a client call that must succeed; prints its output.
dp() {
    local out
    out=$("$CLIENT" "$1" "$CTL" "${@:2}") || dp_fail "$1 ${*:2}: $out"
    printf '%s\n' "$out"
}

# dp_err CODE CMD ARGS...: a client call that must fail with error CODE (a
# case pattern, e.g. [0-9]* for any).
dp_err() {
    local code=$1 out rc=0
    shift
    out=$("$CLIENT" "$1" "$CTL" "${@:2}") || rc=$?
    [ "$rc" = 1 ] || dp_fail "$1 ${*:2}: expected error $code, got rc=$rc: $out"
    case "$out" in
        ERR\ $code\ *) printf '%s\n' "$out" ;;
        *) dp_fail "$1 ${*:2}: expected error $code, got: $out" ;;
    esac
}

# field NAME LINE: the value of NAME=... in a key=value line
field() {
    printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# wait_phase TARGET PHASE [SECONDS]: polls PROGRESS until the phase is PHASE.
wait_phase() {
    local target=$1 phase=$2 secs=${3:-20} i p
    for i in $(seq $((secs * 10))); do
        # a MIRROR sent in the background may not have created its job yet
        if ! p=$("$CLIENT" progress "$CTL" "$target" 2>&1); then
            case "$p" in *"ERR 55 "*) sleep 0.1; continue ;; esac
            dp_fail "progress $target: $p"
        fi
        [ "$(field phase "$p")" = "$phase" ] && return 0
        case "$(field phase "$p")" in failed|cancelled) dp_fail "job ended: $p" ;; esac
        sleep 0.1
    done
    dp_fail "phase $phase not reached in ${secs}s: $p"
}

# daemon_gone: the daemon exited and left neither socket nor pid file.
daemon_gone() {
    ! grep -qs xenmig-datapath "/proc/$DP_PID/cmdline"
}
