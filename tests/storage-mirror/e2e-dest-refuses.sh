#!/bin/bash
# A destination that is up but does not take the data: the tool never ends
# with exit 0 and a wrong destination, and never hangs.
#   readonly  nbdkit -r: exit 1, a message naming the problem
#   short     a destination 8 MiB smaller than the source: exit 1 before
#             writing, a message about the size
#   eio       nbdkit error filter failing every data write with EIO: exit 1
#             with a message naming the error (retrying is fine, forever is not)
. "$(dirname "$0")/e2e-lib.sh"
need nbdkit
need_tool

case=${1:-readonly}
make_random_image "$T/src.img" 16
before=$(sha "$T/src.img")
case $case in
    readonly) truncate -s 16M "$T/dst.img"; start_nbdkit_file "$T/dst.img" "$T/dst.sock" -r ;;
    short)    truncate -s 8M "$T/dst.img"; start_nbdkit_file "$T/dst.img" "$T/dst.sock" ;;
    eio)      truncate -s 16M "$T/dst.img"
              start_nbdkit_file "$T/dst.img" "$T/dst.sock" --filter=error error=EIO error-pwrite-rate=100% ;;
    *) fail "usage: $0 readonly|short|eio" ;;
esac
empty=$(sha "$T/dst.img")

rc=0
timeout -k 5 60 "$XM" copy "$T/src.img" "nbd+unix:///?socket=$T/dst.sock" \
    --progress=fd:3 3>"$T/progress" >"$T/out" 2>"$T/err" || rc=$?
log "$case: exit $rc: $(grep -m1 '^xenmig-mirror: ' "$T/err" || true)"
[ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || fail "copy hung (60 s)" "$T/err" "$T/progress"
[ "$(sha "$T/src.img")" = "$before" ] || fail "the source image changed"

case $case in
    readonly)
        [ "$rc" -eq 1 ] || fail "copy to a read-only export exited $rc, expected 1" "$T/err"
        grep -qiE 'read-only|readonly|read only|writ' "$T/err" || fail "the message does not say the destination is read-only" "$T/err"
        [ "$(sha "$T/dst.img")" = "$empty" ] || fail "the read-only destination changed"
        ;;
    short)
        [ "$rc" -eq 1 ] || fail "copy to a smaller destination exited $rc, expected 1" "$T/err"
        grep -qiE 'size|small|short|bytes' "$T/err" || fail "the message does not mention the size" "$T/err"
        [ "$(sha "$T/dst.img")" = "$empty" ] || fail "the destination was written although it is too small"
        ;;
    eio)
        [ "$rc" -eq 1 ] || fail "copy to a destination failing every write exited $rc, expected 1" "$T/err"
        grep -qiE 'input/output|EIO' "$T/err" || fail "the message does not name the I/O error" "$T/err"
        ;;
esac
if [ "$rc" -ne 0 ] && grep -q '^progress phase=done' "$T/progress"; then
    fail "phase=done reported for a failed copy" "$T/progress"
fi
grep -q '^xenmig-mirror: ' "$T/err" || fail "no \"xenmig-mirror: \" message" "$T/err"
log "PASS ($case)"
