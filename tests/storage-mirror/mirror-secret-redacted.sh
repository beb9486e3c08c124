#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A migration's NBD export name is its secret: no error the engine reports
# may quote it. Copies to a refused port, to a server that has no such
# export, and to a server killed mid-copy fail with messages that name the
# destination's host and port but not the export name.
. "$(dirname "$0")/e2e-lib.sh"
need_tool

secret=Xs3cr3t7f0e2a9c4d1b8e6
make_random_image "$T/src.img" 16
truncate -s 16M "$T/dst.img"

check_err() { # case file
    [ -s "$2" ] || fail "$1: no error message" "$2"
    if grep -q "$secret" "$2"; then
        fail "$1: the error quotes the export name" "$2"
    fi
    grep -q "127.0.0.1" "$2" || fail "$1: the error does not name the destination" "$2"
    log "$1: $(tail -1 "$2")"
}

# nothing listens: bind a port, release it, copy there
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if "$XM" copy "$T/src.img" "nbd://127.0.0.1:$port/$secret" 2>"$T/err1"; then
    fail "copy to a closed port succeeded"
fi
check_err refused "$T/err1"

# the server exports another name
start_serve "$T/dst.img" "$T/serve.out" --listen 127.0.0.1:0 --export right
if "$XM" copy "$T/src.img" "nbd://127.0.0.1:$SERVE_PORT/$secret" 2>"$T/err2"; then
    fail "copy to a missing export succeeded"
fi
check_err "unknown export" "$T/err2"
stop_pid "$SERVE_PID"

# the server dies while the copy runs (slowed down to last seconds)
start_serve "$T/dst.img" "$T/serve2.out" --listen 127.0.0.1:0 --export "$secret"
"$XM" copy "$T/src.img" "nbd://127.0.0.1:$SERVE_PORT/$secret" --bandwidth 2 2>"$T/err3" &
copy_pid=$!
track "$copy_pid"
sleep 1
kill -KILL "$SERVE_PID"
wait_exit "$copy_pid" 60
[ "$EXIT_RC" != 0 ] && [ "$EXIT_RC" != 124 ] || fail "copy did not fail when the server died (rc $EXIT_RC)" "$T/err3"
check_err "server killed" "$T/err3"
log PASS
