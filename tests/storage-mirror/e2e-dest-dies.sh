#!/bin/bash
# The destination server is killed (SIGKILL) in the middle of a copy: the tool
# ends with exit 1 and a clear message (naming an error or the destination),
# well before a 60 s bound — never a hang and never a "done".
#   e2e-dest-dies.sh nbdkit | qemu-nbd | serve | mirror | frozen
# (mirror: the `mirror` command with an nbdkit destination; frozen: nbdkit
# is not killed but stopped with SIGSTOP — connection open, no answers — and
# the tool must still give up within the 60 s bound)
. "$(dirname "$0")/e2e-lib.sh"
need nbdkit qemu-nbd
need_tool

peer=${1:-nbdkit}
make_random_image "$T/src.img" 32
truncate -s 32M "$T/dst.img"
case $peer in
    nbdkit|mirror|frozen) start_nbdkit_file "$T/dst.img" "$T/dst.sock"; spid=$NBDKIT_PID ;;
    qemu-nbd)      start_qemu_nbd "$T/dst.img" "$T/dst.sock"; spid=$QNBD_PID ;;
    serve)         start_serve "$T/dst.img" "$T/serve.out" --unix "$T/dst.sock"; spid=$SERVE_PID ;;
    *) fail "usage: $0 nbdkit|qemu-nbd|serve|mirror|frozen" ;;
esac
dest="nbd+unix:///?socket=$T/dst.sock"

if [ "$peer" = mirror ]; then
    "$XM" mirror "$T/src.img" "$dest" --unix "$T/src.sock" --bandwidth 2 \
        --progress=fd:3 3>"$T/progress" >"$T/out" 2>"$T/err" &
else
    "$XM" copy "$T/src.img" "$dest" --bandwidth 2 \
        --progress=fd:3 3>"$T/progress" >"$T/out" 2>"$T/err" &
fi
pid=$!
track "$pid"

wait_for progress_started "$pid" "$T/progress" || fail "no progress in 10 s" "$T/err" "$T/progress"
sleep 1
kill -0 "$pid" 2>/dev/null || fail "the copy ended before the server could be killed" "$T/err" "$T/progress"

if [ "$peer" = frozen ]; then
    kill -STOP "$spid"   # the cleanup trap resumes and stops it
else
    kill -KILL "$spid"
    wait "$spid" 2>/dev/null || true
    untrack "$spid"
fi
t0=$SECONDS
wait_exit "$pid" 60
log "tool exited $EXIT_RC $((SECONDS - t0)) s after the destination died"
[ "$EXIT_RC" -ne 124 ] || fail "the tool was still running 60 s after the destination died (hang)" "$T/err" "$T/progress"
[ "$EXIT_RC" -eq 1 ] || fail "exit code $EXIT_RC after the destination died, expected 1" "$T/err"
grep -q '^xenmig-mirror: ' "$T/err" || fail "no message prefixed \"xenmig-mirror: \" on stderr" "$T/err"
grep -qiE "error|fail|$T/dst.sock|nbd\+unix" "$T/err" ||
    fail "the message names neither an error nor the destination" "$T/err"
if grep -q '^progress phase=done' "$T/progress"; then
    fail "the tool reported phase=done although the destination died" "$T/progress"
fi
log "PASS ($peer)"
