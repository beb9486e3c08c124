#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# xenmig-mirror(1) documents exactly the options the tool accepts: for each
# command, every option `COMMAND --help` lists (long and short form) appears
# as **--name** / **-x** in the man page's section of that command (or, for
# sync and mirror, in COPY, whose options they accept), and every option the
# section documents is one `--help` lists. Also: every command the tool's
# --help lists has a section, and --version is what the synopsis promises.
set -euo pipefail
. "${XENMIG_SRCDIR:?}/tests/storage-mirror/lib.sh"

rst=${AUDIT_MANPAGE_RST:-$XENMIG_SRCDIR/docs/manpages/xenmig-mirror.1.rst}
status=0
bad() { echo "FAIL: $*" >&2; status=1; }

# the body of the section whose title is $1 (up to the next title)
section() {
    awk -v t="$1" '
        prev == t && /^=+$/ { on = 1; prev = ""; next }
        on && /^=+$/ { exit }
        { if (on && prevline != "") print prevline; prevline = on ? $0 : ""; prev = $0 }
    ' "$rst"
}

# long and short options of `xenmig-mirror $1 --help`, one per line
help_opts() {
    "$XENMIG_MIRROR" "$1" --help | sed -n '/^Application Options:/,$p' |
        grep -oE '^ +(-[a-zA-Z], )?--[a-z0-9-]+' |
        tr ',' '\n' | tr -d ' ' | sort -u
}
# options documented in a section as **--x** or **-x** at a line's start
rst_opts() {
    grep -oE '^\*\*--?[a-zA-Z0-9-]+\*\*(, \*\*--?[a-z0-9-]+\*\*)?' |
        grep -oE -- '--?[a-zA-Z0-9-]+' | sort -u
}

commands=$("$XENMIG_MIRROR" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR>1 && NF { print $1 }')
[ "$(echo "$commands" | wc -w)" -eq 4 ] || bad "expected 4 commands, got: $commands"
section COPY | rst_opts >"$tmp/copy.rst"
[ -s "$tmp/copy.rst" ] || bad "no options found in COPY"
for cmd in $commands; do
    title=$(echo "$cmd" | tr a-z A-Z)
    section "$title" >"$tmp/$cmd.section"
    [ -s "$tmp/$cmd.section" ] || { bad "no section $title"; continue; }
    help_opts "$cmd" >"$tmp/$cmd.help"
    [ -s "$tmp/$cmd.help" ] || bad "$cmd --help lists no options"
    rst_opts <"$tmp/$cmd.section" >"$tmp/$cmd.rst"
    cp "$tmp/$cmd.rst" "$tmp/$cmd.doc"
    if [ "$cmd" = sync ] || [ "$cmd" = mirror ]; then
        [[ "$(tr '\n' ' ' <"$tmp/$cmd.section")" == *'every option of **copy**'* ]] ||
            bad "$title does not say it accepts copy's options"
        sort -u "$tmp/$cmd.rst" "$tmp/copy.rst" >"$tmp/$cmd.doc"
    fi
    while read -r o; do
        grep -qxF -- "$o" "$tmp/$cmd.doc" || bad "$cmd: $o is in --help but not in the man page"
    done <"$tmp/$cmd.help"
    while read -r o; do
        grep -qxF -- "$o" "$tmp/$cmd.help" || bad "$cmd: $o is in the man page but not in --help"
    done <"$tmp/$cmd.rst"
    echo "$cmd: $(tr '\n' ' ' <"$tmp/$cmd.help")"
done
[[ "$("$XENMIG_MIRROR" --version)" =~ ^xenmig-mirror\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || bad "--version"
exit $status
