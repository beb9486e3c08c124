#!/bin/bash
# Usage errors exit 2, refused operations exit 1 with a clear message, and
# nothing runs without root.
. "$(dirname "$0")/lab-lib.sh"

expect() { # rc pattern command...
    local want=$1 pattern=$2 rc=0; shift 2
    "$@" > "$LAB_DIR/out" 2> "$LAB_DIR/err" || rc=$?
    [ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want: $(cat "$LAB_DIR/err")"
    grep -q -- "$pattern" "$LAB_DIR/err" || fail "'$*' did not say '$pattern': $(cat "$LAB_DIR/err")"
}

expect 2 "unknown command" lab frobnicate
expect 2 "number of hosts" lab up
expect 2 "number of hosts" lab up 0
expect 2 "number of hosts" lab up two
expect 1 "no lab is up" lab status
expect 1 "no lab is up" lab exec 1 -- true
expect 1 "no lab is up" lab guest g
expect 1 "must run as root" setpriv --reuid=65534 --regid=65534 --clear-groups "$LAB_BIN" --dir "$LAB_DIR" status

long=/tmp/$(printf 'x%.0s' $(seq 100))
expect 1 "too long" "$LAB_BIN" --dir "$long" up 1
[ ! -e "$long" ] || fail "a refused up created $long"

# Without a module file libvirtd still starts, and up says so.
lab up 1 --module-dir "$EMPTY_MODULE_DIR" > "$LAB_DIR/uris" 2> "$LAB_DIR/warn"
grep -q "run without the xen driver" "$LAB_DIR/warn" || fail "no warning about the missing module"
[ "$(wc -l < "$LAB_DIR/uris")" = 1 ] || fail "up 1 printed $(cat "$LAB_DIR/uris")"
expect 1 "already up" lab up 1 --module-dir "$EMPTY_MODULE_DIR"
lab status > /dev/null || fail "the refused up broke the running lab"
lab exec 1 -- test -S /run/libvirt/libvirt-sock || fail "the refused up broke the running lab"
echo "ok"
