#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The copy client's I/O shape as the destination sees it (nbdkit's log
# filter, writes slowed down by the delay filter so requests pile up):
#   audit-client-io.sh connections  --connections 4 opens exactly 4
#       connections and spreads the writes over all of them; --connections 1
#       opens one
#   audit-client-io.sh in-flight    the client is asynchronous (more requests
#       outstanding at once than it has connections) and bounded (never more
#       than the documented 64 requests in flight)
. "$(dirname "$0")/e2e-lib.sh"
need nbdkit
need_tool

case=${1:?usage: audit-client-io.sh connections|in-flight}

# copy_logged IMG CONNECTIONS LOG: copies IMG into an nbdkit memory export
# whose log filter writes every request and reply to LOG
copy_logged() {
    local img=$1 conns=$2 log=$3 size
    size=$(stat -c %s "$img")
    nbdkit -U - --threads 128 --filter=log --filter=delay memory "$size" \
        delay-write=200ms logfile="$log" \
        --run "'$XM' copy '$img' \"\$uri\" --connections $conns" \
        >"$T/run.out" 2>&1 || fail "copy with --connections $conns failed" "$T/run.out"
}

# log_stats LOG: "CONNECTIONS MAX_IN_FLIGHT WRITES_PER_CONNECTION..."
log_stats() {
    "$PY" - "$1" <<'PY'
import re, sys
cur = peak = 0
conns, writes = set(), {}
for line in open(sys.argv[1]):
    if re.search(r'connection=(\d+) Connect ', line):
        conns.add(re.search(r'connection=(\d+)', line).group(1))
    m = re.search(r'connection=(\d+) (\.\.\.)?(Write|Zero|Trim|Flush|Read|Cache|Extents)\b', line)
    if not m:
        continue
    if m.group(2):
        cur -= 1
    else:
        cur += 1
        peak = max(peak, cur)
        if m.group(3) == 'Write':
            writes[m.group(1)] = writes.get(m.group(1), 0) + 1
print(len(conns), peak, *sorted(writes.values()))
PY
}

make_random_image "$T/src.img" 96
case $case in
connections)
    copy_logged "$T/src.img" 4 "$T/log4"
    read -r n peak w1 w2 w3 w4 rest <<<"$(log_stats "$T/log4")"
    log "--connections 4: $n connections, writes per connection ${w1:-} ${w2:-} ${w3:-} ${w4:-}"
    [ "$n" -eq 4 ] || fail "--connections 4 opened $n connections" "$T/log4"
    [ -n "${w4:-}" ] && [ -z "${rest:-}" ] && [ "$w1" -gt 0 ] ||
        fail "the writes are not spread over the 4 connections" "$T/log4"
    copy_logged "$T/src.img" 1 "$T/log1"
    read -r n peak w1 rest <<<"$(log_stats "$T/log1")"
    [ "$n" -eq 1 ] || fail "--connections 1 opened $n connections" "$T/log1"
    ;;
in-flight)
    copy_logged "$T/src.img" 4 "$T/log"
    read -r n peak rest <<<"$(log_stats "$T/log")"
    log "at most $peak requests in flight over $n connections"
    [ "$peak" -gt 8 ] || fail "at most $peak requests in flight: not asynchronous" "$T/log"
    [ "$peak" -le 64 ] || fail "$peak requests in flight, more than the bound of 64" "$T/log"
    ;;
*) fail "unknown case $case" ;;
esac
log "PASS ($case)"
