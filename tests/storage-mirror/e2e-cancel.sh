#!/bin/bash
# Cancel mid-copy: SIGTERM (copy, sync) or SIGINT (mirror) while a 64 MiB image is
# being copied at 1 MiB/s.  The tool exits 1 within a few seconds with a
# message containing "cancelled", and the source image is unchanged.
#   e2e-cancel.sh copy | sync | mirror
. "$(dirname "$0")/e2e-lib.sh"
need nbdkit
need_tool

cmd=${1:-copy}
make_random_image "$T/src.img" 64
before=$(sha "$T/src.img")
truncate -s 64M "$T/dst.img"
start_nbdkit_file "$T/dst.img" "$T/dst.sock"
dest="nbd+unix:///?socket=$T/dst.sock"

case $cmd in
    copy)
        sig=TERM
        "$XM" copy "$T/src.img" "$dest" --bandwidth 1 --connections 4 \
            --progress=fd:3 3>"$T/progress" >"$T/out" 2>"$T/err" &
        ;;
    sync)
        sig=TERM
        "$XM" sync "$T/src.img" "$dest" --bandwidth 1 --block-size 65536 \
            --progress=fd:3 3>"$T/progress" >"$T/out" 2>"$T/err" &
        ;;
    mirror)
        sig=INT
        # A background job of a non-interactive shell ignores SIGINT; give
        # the tool the default disposition a terminal user's tool would have.
        env --default-signal=INT "$XM" mirror "$T/src.img" "$dest" --unix "$T/src.sock" --bandwidth 1 \
            --progress=fd:3 3>"$T/progress" >"$T/out" 2>"$T/err" &
        ;;
    *) fail "usage: $0 copy|sync|mirror" ;;
esac
pid=$!
track "$pid"

# Cancel once the copy is demonstrably under way.
wait_for progress_started "$pid" "$T/progress" || fail "$cmd made no progress in 10 s" "$T/err" "$T/progress"
sleep 1
kill -0 "$pid" 2>/dev/null || fail "$cmd ended before it could be cancelled (the 1 MiB/s limit is not applied?)" "$T/err" "$T/progress"
t0=$SECONDS
kill -"$sig" "$pid"
wait_exit "$pid" 10
log "$cmd exited $EXIT_RC $((SECONDS - t0)) s after SIG$sig"
[ "$EXIT_RC" -ne 124 ] || fail "$cmd still running 10 s after SIG$sig" "$T/err"
[ $((SECONDS - t0)) -le 5 ] || fail "$cmd took $((SECONDS - t0)) s to exit after SIG$sig" "$T/err"
[ "$EXIT_RC" -eq 1 ] || fail "$cmd exited $EXIT_RC after SIG$sig, expected 1" "$T/err"
grep -q 'cancelled' "$T/err" || fail "no \"cancelled\" in the tool's stderr" "$T/err"
grep -q '^xenmig-mirror: ' "$T/err" || fail "the message is not prefixed \"xenmig-mirror: \"" "$T/err"
[ "$(sha "$T/src.img")" = "$before" ] || fail "the source image changed"
[ "$cmd" != mirror ] || [ ! -S "$T/src.sock" ] || fail "the mirror left its socket $T/src.sock behind"
log "PASS ($cmd)"
