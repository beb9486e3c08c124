#!/bin/bash
# `xenmig-mirror copy` to our own `xenmig-mirror serve --tls-dir` with
# certtool-made certificates (make-certs.sh).  One case per run:
#   right          nbds://127.0.0.1:PORT/disk with the right CA and client cert: works, identical
#   unix           nbds+unix:///disk?socket=PATH: works, identical
#   verify         copy --verify: exit 0 and a report of successful verification
#   wrong-ca       client certificate and CA from an unrelated CA: refused, image untouched
#   no-client-cert the right CA but no client certificate: refused (server verifies clients)
#   plaintext      nbd:// (no TLS) against the TLS server: refused, image untouched
#   sync           `sync` over TLS after 5% of the blocks changed: identical
#   mirror         `mirror` over TLS while qemu-io writes, SIGUSR1: exit 0, identical
. "$(dirname "$0")/e2e-lib.sh"
need certtool qemu-io
need_tool

case=${1:-right}
make_pki "$T/pki"

make_mixed_image "$T/src.img" 16 6
truncate -s 16M "$T/dst.img"
empty=$(sha "$T/dst.img")

if [ "$case" = unix ]; then
    start_serve "$T/dst.img" "$T/serve.out" --unix "$T/dst.sock" --export disk --tls-dir "$T/pki/good"
    uri="nbds+unix:///disk?socket=$T/dst.sock"
else
    start_serve "$T/dst.img" "$T/serve.out" --listen 127.0.0.1:0 --export disk --tls-dir "$T/pki/good"
    uri="nbds://127.0.0.1:$SERVE_PORT/disk"
fi
log "serving on $uri"

copy() { # tls-dir-or-empty uri extra-args...
    local dir=$1 u=$2; shift 2
    local a=()
    [ -z "$dir" ] || a=(--tls-dir "$T/pki/$dir")
    rc=0
    timeout -k 5 60 "$XM" copy "$T/src.img" "$u" "${a[@]}" "$@" >"$T/copy.out" 2>"$T/copy.err" || rc=$?
    [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || fail "copy hung (60 s)" "$T/copy.err" "$T/serve.out.err"
}

expect_refused() { # what
    [ "$rc" -eq 1 ] || fail "$1: copy exited $rc, expected 1 (refused)" "$T/copy.err" "$T/serve.out.err"
    grep -q '^xenmig-mirror: ' "$T/copy.err" || fail "$1: no \"xenmig-mirror: \" message" "$T/copy.err"
    kill -0 "$SERVE_PID" 2>/dev/null || fail "$1: the server died" "$T/serve.out.err"
    [ "$(sha "$T/dst.img")" = "$empty" ] || fail "$1: the destination image was written"
    # Control: the same server accepts the right credentials, so the refusal
    # above was about TLS and not some other failure.
    cp "$T/copy.err" "$T/refused.err"
    copy good "$uri"
    [ "$rc" -eq 0 ] || fail "$1: control copy with the right certificates exited $rc" "$T/copy.err" "$T/serve.out.err"
    log "$1: refused with: $(grep -m1 '^xenmig-mirror: ' "$T/refused.err")"
}

case $case in
    right|unix)
        copy good "$uri"
        [ "$rc" -eq 0 ] || fail "TLS copy exited $rc" "$T/copy.err" "$T/serve.out.err"
        stop_pid "$SERVE_PID"
        assert_identical "$T/src.img" "$T/dst.img" "$T/copy.err"
        ;;
    verify)
        copy good "$uri" --verify
        [ "$rc" -eq 0 ] || fail "copy --verify exited $rc" "$T/copy.err" "$T/serve.out.err"
        grep -qi 'verif' "$T/copy.out" "$T/copy.err" ||
            fail "copy --verify printed no verification report" "$T/copy.out" "$T/copy.err"
        if grep -qiE 'mismatch|differ|fail' "$T/copy.out" "$T/copy.err"; then
            fail "copy --verify reports a problem" "$T/copy.out" "$T/copy.err"
        fi
        stop_pid "$SERVE_PID"
        assert_identical "$T/src.img" "$T/dst.img" "$T/copy.err"
        ;;
    sync)
        copy good "$uri"
        [ "$rc" -eq 0 ] || fail "TLS copy exited $rc" "$T/copy.err" "$T/serve.out.err"
        for b in $(shuf -i 0-255 -n 13); do
            head -c 65536 /dev/urandom | dd of="$T/src.img" bs=64k seek="$b" conv=notrunc status=none
        done
        rc=0
        timeout -k 5 60 "$XM" sync "$T/src.img" "$uri" --tls-dir "$T/pki/good" --block-size 65536 \
            >"$T/sync.out" 2>"$T/sync.err" || rc=$?
        [ "$rc" -eq 0 ] || fail "TLS sync exited $rc" "$T/sync.err" "$T/serve.out.err"
        log "$(grep '^sync:' "$T/sync.err" || true)"
        stop_pid "$SERVE_PID"
        assert_identical "$T/src.img" "$T/dst.img" "$T/sync.err"
        ;;
    mirror)
        "$XM" mirror "$T/src.img" "$uri" --tls-dir "$T/pki/good" --unix "$T/src.sock" \
            --progress=fd:3 3>"$T/progress" >"$T/mirror.out" 2>"$T/mirror.err" &
        mpid=$!
        track "$mpid"
        wait_socket "$T/src.sock" "$mpid" || fail "mirror did not start serving" "$T/mirror.err"
        WRITER_PAUSE=0.1 writer "nbd+unix:///?socket=$T/src.sock" $((8 * MiB)) "$T/stop" "$T/writer.log" &
        wpid=$!
        track "$wpid"
        sleep 4
        touch "$T/stop"
        wait_exit "$wpid" 30
        [ "$EXIT_RC" -eq 0 ] || fail "the writer failed" "$T/writer.log.out" "$T/mirror.err"
        kill -USR1 "$mpid"
        wait_exit "$mpid" 30
        [ "$EXIT_RC" -eq 0 ] || fail "TLS mirror exited $EXIT_RC after SIGUSR1" "$T/mirror.err" "$T/serve.out.err"
        stop_pid "$SERVE_PID"
        assert_identical "$T/src.img" "$T/dst.img" "$T/mirror.err"
        ;;
    wrong-ca)       copy wrongca "$uri"; expect_refused "wrong CA" ;;
    no-client-cert) copy noclientcert "$uri"; expect_refused "no client certificate" ;;
    plaintext)      copy "" "nbd://127.0.0.1:$SERVE_PORT/disk"; expect_refused "plaintext" ;;
    *) fail "unknown case $case" ;;
esac
log "PASS ($case)"
