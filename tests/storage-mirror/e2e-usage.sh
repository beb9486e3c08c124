#!/bin/bash
# Command-line errors of xenmig-mirror: a message on stderr prefixed
# "xenmig-mirror: " and exit 2 for usage errors, exit 1 for run-time errors.
#   e2e-usage.sh unknown-option | missing-args | bad-values | no-such-src |
#                not-an-image | bad-uri
. "$(dirname "$0")/e2e-lib.sh"
need nbdkit
need_tool

case=${1:-unknown-option}

# expect RC DESCRIPTION cmd...: run the tool, check exit code and prefix.
expect() {
    local want=$1 what=$2 rc=0; shift 2
    timeout -k 5 20 "$XM" "$@" </dev/null >"$T/out" 2>"$T/err" || rc=$?
    [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || fail "$what: xenmig-mirror $* hung" "$T/err"
    case $want in
        1or2) [ "$rc" -eq 1 ] || [ "$rc" -eq 2 ] || fail "$what: xenmig-mirror $* exited $rc, expected 1 or 2" "$T/out" "$T/err" ;;
        *)    [ "$rc" -eq "$want" ] || fail "$what: xenmig-mirror $* exited $rc, expected $want" "$T/out" "$T/err" ;;
    esac
    grep -q '^xenmig-mirror: ' "$T/err" || fail "$what: no message prefixed \"xenmig-mirror: \" on stderr" "$T/err"
    log "$what: exit $rc: $(grep -m1 '^xenmig-mirror: ' "$T/err")"
}

truncate -s 4M "$T/src.img" "$T/dst.img"
start_nbdkit_file "$T/dst.img" "$T/dst.sock"
dest="nbd+unix:///?socket=$T/dst.sock"

case $case in
    unknown-option)
        expect 2 "unknown option to copy" copy "$T/src.img" "$dest" --no-such-option
        expect 2 "unknown option to serve" serve "$T/src.img" --unix "$T/s.sock" --frobnicate
        expect 2 "unknown command" frobnicate "$T/src.img" "$dest"
        expect 2 "non-numeric --connections" copy "$T/src.img" "$dest" --connections many
        ;;
    missing-args)
        expect 2 "no command" 
        expect 2 "copy without arguments" copy
        expect 2 "copy without DEST-URI" copy "$T/src.img"
        expect 2 "sync without DEST-URI" sync "$T/src.img"
        expect 2 "mirror without --unix" mirror "$T/src.img" "$dest"
        expect 2 "serve without --listen or --unix" serve "$T/src.img"
        [ ! -S "$T/s.sock" ] || fail "a failed command created a socket"
        ;;
    no-such-src)
        for cmd in copy sync; do
            expect 1 "$cmd from a missing source" "$cmd" "$T/no/such/image.raw" "$dest"
            grep -qF "$T/no/such/image.raw" "$T/err" || fail "$cmd: the message does not name the missing path" "$T/err"
        done
        expect 1 "serve of a missing image" serve "$T/no/such/image.raw" --unix "$T/s.sock"
        grep -qF "$T/no/such/image.raw" "$T/err" || fail "serve: the message does not name the missing path" "$T/err"
        [ "$(alloc_bytes "$T/dst.img")" -eq 0 ] || fail "the destination was written"
        ;;
    bad-values)
        expect 2 "--connections 0" copy "$T/src.img" "$dest" --connections 0
        expect 2 "--connections 65" copy "$T/src.img" "$dest" --connections 65
        expect 2 "--bandwidth 0" copy "$T/src.img" "$dest" --bandwidth 0
        expect 2 "--bandwidth -1" copy "$T/src.img" "$dest" --bandwidth -1
        expect 2 "--block-size 1000" sync "$T/src.img" "$dest" --block-size 1000
        expect 2 "--progress=bogus" copy "$T/src.img" "$dest" --progress=bogus
        expect 2 "--progress=fd:99 (not open)" copy "$T/src.img" "$dest" --progress=fd:99
        [ "$(alloc_bytes "$T/dst.img")" -eq 0 ] || fail "the destination was written"
        ;;
    not-an-image)
        # only regular files and block devices are images; a FIFO must be
        # refused, not opened (open(2) of a FIFO blocks until a writer comes)
        mkdir "$T/dir"
        mkfifo "$T/fifo"
        for src in /dev/zero "$T/dir" "$T/fifo"; do
            expect 1 "copy from $src" copy "$src" "$dest"
            grep -qF "$src" "$T/err" || fail "the message does not name $src" "$T/err"
        done
        expect 1 "mirror of a FIFO" mirror "$T/fifo" "$dest" --unix "$T/s.sock"
        expect 1 "serve of a FIFO" serve "$T/fifo" --unix "$T/s.sock"
        [ "$(alloc_bytes "$T/dst.img")" -eq 0 ] || fail "the destination was written"
        ;;
    bad-uri)
        for uri in "http://127.0.0.1/disk" "nbd:/missing-slashes" "nbd+unix:///disk" "nbd://127.0.0.1:notaport/disk" "not a uri"; do
            expect 1or2 "malformed DEST-URI $uri" copy "$T/src.img" "$uri"
            grep -qiF -e "$uri" -e "uri" "$T/err" || fail "the message for $uri names neither the URI nor 'URI'" "$T/err"
        done
        ;;
    *) fail "unknown case $case" ;;
esac
log "PASS ($case)"
