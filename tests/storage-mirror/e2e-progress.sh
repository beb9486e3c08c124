#!/bin/bash
# `copy --progress=fd:3`: every line written to fd 3 has the documented form
#   progress phase=<bulk|dirty|sync|drain|verify|done> pass=<n> total=<bytes>
#            done=<bytes> remaining=<bytes> dirty=<bytes> sent=<bytes> rate=<bytes/s>
# total is the image size throughout, done never decreases and never exceeds
# total, and the last line is phase=done with done == total, remaining == 0.
. "$(dirname "$0")/e2e-lib.sh"
need nbdkit
need_tool

size=$((32 * MiB))
make_mixed_image "$T/src.img" 32 7
truncate -s "$size" "$T/dst.img"
start_nbdkit_file "$T/dst.img" "$T/dst.sock"

# 8 MiB/s over ~16 MiB of data gives a couple of seconds of progress lines.
"$XM" copy "$T/src.img" "nbd+unix:///?socket=$T/dst.sock" --bandwidth 8 \
    --progress=fd:3 3>"$T/progress" >"$T/out" 2>"$T/err" || fail "copy exited $?" "$T/err"

awk -v size="$size" '
    BEGIN { re = "^progress phase=(bulk|dirty|sync|drain|verify|done) pass=[0-9]+ total=[0-9]+ done=[0-9]+ remaining=[0-9]+ dirty=[0-9]+ sent=[0-9]+ rate=[0-9]+$" }
    {
        if ($0 !~ re) { printf "line %d does not parse: %s\n", NR, $0; bad = 1; exit }
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        if (v["total"] + 0 != size) { printf "line %d: total=%s, image is %d bytes\n", NR, v["total"], size; bad = 1; exit }
        if (v["done"] + 0 < prev) { printf "line %d: done=%s went backwards from %d\n", NR, v["done"], prev; bad = 1; exit }
        if (v["done"] + 0 > v["total"] + 0) { printf "line %d: done=%s > total\n", NR, v["done"]; bad = 1; exit }
        prev = v["done"] + 0; n++; last = $0; lastphase = v["phase"]; lastdone = v["done"]; lastrem = v["remaining"]
    }
    END {
        if (bad) exit 1
        if (n < 2) { printf "only %d progress line(s)\n", n; exit 1 }
        if (lastphase != "done") { printf "last line is not phase=done: %s\n", last; exit 1 }
        if (lastdone + 0 != size || lastrem + 0 != 0) { printf "last line does not have done == total and remaining=0: %s\n", last; exit 1 }
        printf "%d progress lines, last: %s\n", n, last
    }' "$T/progress" >"$T/check" 2>&1 || fail "$(cat "$T/check")" "$T/progress"
log "$(cat "$T/check")"

# The machine-readable lines go to fd 3 only.
if grep -q '^progress ' "$T/out" "$T/err"; then
    fail "progress lines leaked onto stdout/stderr" "$T/out" "$T/err"
fi
stop_pid "$NBDKIT_PID"
assert_identical "$T/src.img" "$T/dst.img" "$T/err"
log "PASS"
