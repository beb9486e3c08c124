#!/bin/bash
# `--progress=fd:3`: every line written to fd 3 has the documented form
#   progress phase=<bulk|dirty|sync|drain|verify|done> pass=<n> total=<bytes>
#            done=<bytes> remaining=<bytes> dirty=<bytes> sent=<bytes> rate=<bytes/s>
# total is the image size throughout, done never exceeds total, sent and
# pass never decrease, phases only move forward, and the last line is
# phase=done with done == total and remaining == dirty == 0.
#   e2e-progress.sh copy    also: done never decreases
#   e2e-progress.sh mirror  with guest writes during the job, ended by
#                           SIGUSR1; also: at least one phase=dirty pass
#   e2e-progress.sh tty     plain --progress: a bar on a terminal, nothing
#                           on a pipe
. "$(dirname "$0")/e2e-lib.sh"
need nbdkit qemu-io
need_tool

cmd=${1:-copy}
size=$((32 * MiB))
make_mixed_image "$T/src.img" 32 7
truncate -s "$size" "$T/dst.img"
start_nbdkit_file "$T/dst.img" "$T/dst.sock"
dest="nbd+unix:///?socket=$T/dst.sock"

case $cmd in
    copy)
        # 8 MiB/s over ~16 MiB of data gives a couple of seconds of lines.
        "$XM" copy "$T/src.img" "$dest" --bandwidth 8 \
            --progress=fd:3 3>"$T/progress" >"$T/out" 2>"$T/err" || fail "copy exited $?" "$T/err"
        ;;
    mirror)
        "$XM" mirror "$T/src.img" "$dest" --unix "$T/src.sock" --bandwidth 8 \
            --progress=fd:3 3>"$T/progress" >"$T/out" 2>"$T/err" &
        mpid=$!
        track "$mpid"
        wait_socket "$T/src.sock" "$mpid" || fail "mirror did not start serving" "$T/err"
        uri="nbd+unix:///?socket=$T/src.sock"
        sleep 0.5
        qemu-io -f raw "$uri" -c "write -P 1 0 4M" >"$T/qio.out" 2>&1 || fail "write 1 failed" "$T/qio.out"
        E2E_WAIT=30 wait_for grep -q '^progress phase=dirty' "$T/progress" ||
            fail "no phase=dirty after a guest write during bulk" "$T/err" "$T/progress"
        qemu-io -f raw "$uri" -c "write -P 2 8M 4M" >"$T/qio.out" 2>&1 || fail "write 2 failed" "$T/qio.out"
        sleep 0.5
        kill -USR1 "$mpid"
        wait_exit "$mpid" 30
        [ "$EXIT_RC" -eq 0 ] || fail "mirror exited $EXIT_RC after SIGUSR1" "$T/err" "$T/progress"
        ;;
    tty)
        # --progress without fd:N draws a bar on a terminal (script(1) gives
        # it one) and stays quiet when stderr is not a terminal.
        need script
        script -qec "$(printf '%q ' "$XM" copy "$T/src.img" "$dest" --progress --bandwidth 16)" /dev/null \
            >"$T/tty.out" 2>&1 </dev/null || fail "copy --progress on a terminal failed" "$T/tty.out"
        grep -q '100\.0%' "$T/tty.out" || fail "no bar reaching 100.0% on the terminal" "$T/tty.out"
        [ "$(tr -cd '\r' <"$T/tty.out" | wc -c)" -ge 3 ] || fail "the bar is not redrawn in place" "$T/tty.out"
        "$XM" copy "$T/src.img" "$dest" --progress >"$T/out" 2>"$T/err" || fail "copy --progress exited $?" "$T/err"
        if grep -q '%' "$T/out" "$T/err"; then fail "a progress bar was drawn on a non-terminal" "$T/err"; fi
        stop_pid "$NBDKIT_PID"
        assert_identical "$T/src.img" "$T/dst.img" "$T/err"
        log "PASS ($cmd)"
        exit 0
        ;;
    *) fail "usage: $0 copy|mirror|tty" ;;
esac

awk -v size="$size" -v cmd="$cmd" '
    BEGIN {
        re = "^progress phase=(bulk|dirty|sync|drain|verify|done) pass=[0-9]+ total=[0-9]+ done=[0-9]+ remaining=[0-9]+ dirty=[0-9]+ sent=[0-9]+ rate=[0-9]+$"
        split("bulk dirty sync drain verify done", names, " ")
        for (i in names) order[names[i]] = i
    }
    function bad(msg) { printf "line %d: %s: %s\n", NR, msg, $0; err = 1; exit }
    {
        if ($0 !~ re) bad("does not parse")
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        if (v["total"] + 0 != size) bad("total is not the image size " size)
        if (v["done"] + 0 > v["total"] + 0) bad("done > total")
        if (cmd == "copy" && v["done"] + 0 < pdone) bad("done went backwards from " pdone)
        if (v["sent"] + 0 < psent) bad("sent went backwards from " psent)
        if (v["pass"] + 0 < ppass) bad("pass went backwards from " ppass)
        if (order[v["phase"]] < pphase) bad("phase went backwards")
        pdone = v["done"] + 0; psent = v["sent"] + 0; ppass = v["pass"] + 0; pphase = order[v["phase"]]
        seen[v["phase"]] = 1; n++; last = $0
        lphase = v["phase"]; ldone = v["done"]; lrem = v["remaining"]; ldirty = v["dirty"]
    }
    END {
        if (err) exit 1
        if (n < 2) { printf "only %d progress line(s)\n", n; exit 1 }
        if (lphase != "done") { printf "last line is not phase=done: %s\n", last; exit 1 }
        if (ldone + 0 != size || lrem + 0 != 0 || ldirty + 0 != 0) {
            printf "last line does not have done == total, remaining=0, dirty=0: %s\n", last; exit 1 }
        if (cmd == "mirror" && !seen["dirty"]) { print "no phase=dirty line"; exit 1 }
        printf "%d progress lines, last: %s\n", n, last
    }' "$T/progress" >"$T/check" 2>&1 || fail "$(cat "$T/check")" "$T/progress"
log "$(cat "$T/check")"

# The machine-readable lines go to fd 3 only.
if grep -q '^progress ' "$T/out" "$T/err"; then
    fail "progress lines leaked onto stdout/stderr" "$T/out" "$T/err"
fi
stop_pid "$NBDKIT_PID"
assert_identical "$T/src.img" "$T/dst.img" "$T/err"
log "PASS ($cmd)"
