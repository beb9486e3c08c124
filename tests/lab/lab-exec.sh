#!/bin/bash
# exec runs a command inside the host with its URI in the environment,
# passes options through to the command and returns the command's status.
. "$(dirname "$0")/lab-lib.sh"

lab up 1 --module-dir "$EMPTY_MODULE_DIR" > "$LAB_DIR/uris"
uri=$(cat "$LAB_DIR/uris")
[ "$(lab exec 1 -- printenv LIBVIRT_DEFAULT_URI)" = "$uri" ] || fail "LIBVIRT_DEFAULT_URI is not the host's URI"
[ "$(lab exec 1 -- printenv XENMIG_LAB_HOST)" = 1 ] || fail "XENMIG_LAB_HOST not set"
[ "$(lab exec 1 -- ls -d --color=never /)" = / ] || fail "options after -- do not reach the command"
[ "$(cd /tmp && lab exec 1 -- pwd)" = /tmp ] || fail "exec does not keep the working directory"
rc=0; lab exec 1 -- sh -c 'exit 7' || rc=$?
[ "$rc" = 7 ] || fail "exec returned $rc, expected the command's 7"
rc=0; lab exec 2 -- true 2> "$LAB_DIR/err" || rc=$?
[ "$rc" = 1 ] && grep -q "no host 2" "$LAB_DIR/err" || fail "exec into a missing host: rc=$rc $(cat "$LAB_DIR/err")"
rc=0; lab exec 1 -- /nonexistent/cmd 2> "$LAB_DIR/err" || rc=$?
[ "$rc" = 1 ] && grep -q "cannot run /nonexistent/cmd" "$LAB_DIR/err" || fail "exec of a missing program: rc=$rc"
rc=0; lab exec 1 2> /dev/null || rc=$?
[ "$rc" = 2 ] || fail "exec without a command returned $rc, expected 2"
echo "ok"
