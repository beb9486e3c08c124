#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# xenmig-datapath's command line and its man page:
#   usage    bad command lines exit 2 with a message and start nothing
#   export   each disk is an NBD export "" of the image's size on its own
#            socket, writable, with multi-conn
#   manpage  every option of --help, every control command and every
#            MIRROR key is documented in xenmig-datapath.8.rst
set -euo pipefail
. "$(dirname "$0")/datapath-lib.sh"

DP=$XENMIG_DATAPATH
MAN=$XENMIG_SRCDIR/docs/manpages/xenmig-datapath.8.rst

# expect_usage ARGS...: exits 2 with a "xenmig-datapath:" message
expect_usage() {
    local rc=0 out
    out=$("$DP" "$@" 2>&1) || rc=$?
    [ "$rc" = 2 ] || fail "'$*' exited $rc, not 2: $out"
    case "$out" in xenmig-datapath:\ *) ;; *) fail "'$*' gave no message: $out" ;; esac
    [ ! -e "$CTL" ] && [ ! -e "$PIDF" ] || fail "'$*' created files"
}

case "${1:?case}" in
usage)
    img=$tmp/disk.img
    truncate -s 1M "$img"
    expect_usage
    expect_usage --control "$CTL" --pid-file "$PIDF"
    expect_usage --pid-file "$PIDF" --disk "xvda=$img=$tmp/a.sock"
    expect_usage --control "$CTL" --disk "xvda=$img=$tmp/a.sock"
    expect_usage --control "$CTL" --pid-file "$PIDF" --disk "xvda"
    expect_usage --control "$CTL" --pid-file "$PIDF" --disk "xvda=$tmp/a.sock"
    expect_usage --control "$CTL" --pid-file "$PIDF" --disk "=$img=$tmp/a.sock"
    expect_usage --control "$CTL" --pid-file "$PIDF" --disk "xvda=$img="
    expect_usage --control "$CTL" --pid-file "$PIDF" --disk "xv,da=$img=$tmp/a.sock"
    expect_usage --control "$CTL" --pid-file "$PIDF" --disk "xvda=$img=$tmp/a.sock" \
        --disk "xvda=$img=$tmp/b.sock"
    expect_usage --control "$CTL" --pid-file "$PIDF" --disk "xvda=$img=$tmp/a.sock" \
        --disk "xvdb=$img=$tmp/a.sock"
    expect_usage --control "$CTL" --pid-file "$PIDF" --disk "xvda=$img=$CTL"
    expect_usage --control "$CTL" --pid-file "$PIDF" --disk "xvda=$img=$tmp/a.sock" extra
    expect_usage --frobnicate
    # an image path may contain '='
    cp "$img" "$tmp/a=b.img"
    spawn_datapath "xvda=$tmp/a=b.img=$tmp/a.sock"
    dp quit >/dev/null
    ;;
export)
    require nbdinfo
    truncate -s 8M "$tmp/a.img"
    truncate -s 3M "$tmp/b.img"
    spawn_datapath "xvda=$tmp/a.img=$tmp/a.sock" "xvdb=$tmp/b.img=$tmp/b.sock"
    for d in a b; do
        uri="nbd+unix:///?socket=$tmp/$d.sock"
        [ "$(nbdinfo --size "$uri")" = "$(stat -c %s "$tmp/$d.img")" ] ||
            fail "disk $d: wrong size"
        nbdinfo --can multi-conn "$uri" || fail "disk $d: no multi-conn"
        rc=0
        nbdinfo --is readonly "$uri" || rc=$?
        [ "$rc" = 2 ] || fail "disk $d: read-only or nbdinfo failed ($rc)"
    done
    # only the export "" exists
    ! nbdinfo --size "nbd+unix:///other?socket=$tmp/a.sock" 2>/dev/null ||
        fail "export 'other' accepted"
    [ "$(dp raw PING)" = "OK version=1 disks=xvda%2Cxvdb" ] || fail "PING: $(dp raw PING)"
    dp quit >/dev/null
    ;;
manpage)
    [ -f "$MAN" ] || fail "no man page at $MAN"
    for opt in $("$DP" --help | grep -o -- '--[a-z-]*' | sort -u); do
        case "$opt" in --help*) continue ;; esac
        grep -q -- "\*\*$opt\*\*" "$MAN" || fail "option $opt is not documented"
    done
    src=$XENMIG_SRCDIR/tools/datapath/requests.c
    for cmd in $(sed -n 's/^    { "\([A-Z]*\)", do_.*/\1/p' "$src"); do
        grep -q "^\`\`$cmd" "$MAN" || fail "request $cmd is not documented"
    done
    keys=$(sed -n '/^static const char \*const mirror_keys/,/};/p' "$src" |
        grep -o '"[a-z_]*"' | tr -d '"')
    [ -n "$keys" ] || fail "cannot find the MIRROR keys in $src"
    for k in $keys; do
        grep -q "\`\`$k=" "$MAN" || fail "MIRROR key $k is not documented"
    done
    ;;
*)
    fail "unknown case $1"
    ;;
esac
echo PASS
