#!/bin/bash
# The public API as a user of an installed libxenmig sees it. Cases:
#   headers-c99   every installed header compiles alone, -std=c99 -pedantic
#   headers-cxx   every installed header compiles alone as C++ (extern "C")
#   pkg-config    `pkg-config --cflags --libs libxenmig` from a
#                 `meson install --destdir` tree builds and runs a program
#   exports       libxenmig.so exports exactly the functions the installed
#                 headers declare, all under the version node XENMIG_0.1.0
set -euo pipefail

case_name=${1:?usage: audit-public-api.sh CASE}
builddir=${XENMIG_BUILDDIR:?}
srcdir=${XENMIG_SRCDIR:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# In a sanitizer build libxenmig.so needs the sanitizer runtime: programs
# linked against it here get the same -fsanitize flags.
sanitize=$(meson introspect "$builddir" --buildoptions |
           /usr/bin/python3 -c 'import json,sys
print(next((o["value"] for o in json.load(sys.stdin) if o["name"] == "b_sanitize"), "none"))')
san_flags=()
[ "$sanitize" = none ] || san_flags=("-fsanitize=$sanitize")

# Install into a private tree; --no-rebuild because meson test already
# built everything and must not race a rebuild with other tests.
install_tree() {
    meson install -C "$builddir" --no-rebuild --quiet --destdir "$tmp/root" \
        >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; fail "meson install"; }
    incdir=$(find "$tmp/root" -type d -path '*/include/xenmig' | head -n1)
    [ -n "$incdir" ] || fail "no include/xenmig in the installed tree"
    pcfile=$(find "$tmp/root" -name libxenmig.pc | head -n1)
    [ -n "$pcfile" ] || fail "no libxenmig.pc in the installed tree"
}

# Each header on its own, so a header that relies on another being
# included first is caught. The public headers need only GLib.
compile_headers() {
    local compiler=$1 ext=$2; shift 2
    local glib_cflags h n=0
    glib_cflags=$(pkg-config --cflags glib-2.0 gio-2.0)
    for h in "$incdir"/*.h; do
        printf '#include <xenmig/%s>\nint main(void) { return 0; }\n' \
            "$(basename "$h")" >"$tmp/one.$ext"
        # shellcheck disable=SC2086
        "$compiler" "$@" -Werror -I"$(dirname "$incdir")" $glib_cflags \
            -c "$tmp/one.$ext" -o "$tmp/one.o" \
            || fail "$(basename "$h") does not compile with $compiler $*"
        n=$((n + 1))
    done
    [ "$n" -ge 7 ] || fail "only $n installed headers"
    echo "$n headers compile with $compiler $*"
}

case $case_name in
headers-c99)
    install_tree
    # -Wno-pedantic would hide the C99 problems; GLib's headers are C99-clean.
    compile_headers gcc c -std=c99 -pedantic -Wall -Wextra -Wstrict-prototypes
    ;;
headers-cxx)
    install_tree
    command -v g++ >/dev/null || { echo "g++ not installed"; exit 77; }
    compile_headers g++ cc -std=c++11 -Wall -Wextra
    # extern "C" must be there: a C++ program links against the C symbols.
    cat >"$tmp/link.cc" <<'EOF'
#include <xenmig/xenmig.h>
#include <cstring>
int main() { xm_init(); return std::strlen(xm_version_string()) > 0 ? 0 : 1; }
EOF
    # shellcheck disable=SC2046
    g++ -std=c++11 "${san_flags[@]}" -I"$(dirname "$incdir")" $(pkg-config --cflags glib-2.0) \
        "$tmp/link.cc" -o "$tmp/link" -L"$builddir/src" -lxenmig \
        $(pkg-config --libs glib-2.0) || fail "C++ program does not link"
    LD_LIBRARY_PATH="$builddir/src" "$tmp/link" || fail "C++ program failed"
    ;;
pkg-config)
    install_tree
    # The .pc file is prefix-relative: point its prefix into the destdir
    # tree, the relocation a packager's staged install relies on
    # (--define-variable or PKG_CONFIG_SYSROOT_DIR would also move GLib's).
    mkdir "$tmp/pc"
    prefix=$(sed -n 's/^prefix=//p' "$pcfile")
    [ -n "$prefix" ] || fail "libxenmig.pc has no prefix= line"
    grep -q '^includedir=\${prefix}' "$pcfile" || fail "includedir is not prefix-relative"
    grep -q '^libdir=\${prefix}' "$pcfile" || fail "libdir is not prefix-relative"
    sed "s|^prefix=.*|prefix=$tmp/root$prefix|" "$pcfile" >"$tmp/pc/libxenmig.pc"
    export PKG_CONFIG_PATH="$tmp/pc"
    pkg-config --exists libxenmig || fail "pkg-config does not find libxenmig"
    version=$(pkg-config --modversion libxenmig)
    want=$(meson introspect "$builddir" --projectinfo |
           /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
    [ "$version" = "$want" ] || fail "pkg-config version $version, project $want"
    cflags=$(pkg-config --cflags libxenmig)
    libs=$(pkg-config --libs libxenmig)
    case " $cflags " in *" -I$tmp/root"*) ;; *) fail "cflags lack the installed include dir: $cflags" ;; esac
    cat >"$tmp/prog.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include <xenmig/xenmig.h>
int main(void)
{
    GError *err = NULL;
    xm_init();
    /* a call that goes through GError, to prove the error domain links */
    if (xm_mirror_job_new("/nonexistent/xenmig-audit", "nbd://127.0.0.1:1/",
                          NULL, &err) != NULL || err == NULL ||
        err->domain != XM_ERROR) {
        fprintf(stderr, "expected an XM_ERROR\n");
        return 1;
    }
    g_error_free(err);
    printf("%s\n", xm_version_string());
    return 0;
}
EOF
    # shellcheck disable=SC2086
    gcc -std=c99 -Wall -Werror "${san_flags[@]}" "$tmp/prog.c" -o "$tmp/prog" $cflags $libs \
        || fail "a program built with pkg-config's flags does not compile/link"
    libdir=$(dirname "$(find "$tmp/root" -name 'libxenmig.so.0' | head -n1)")
    out=$(LD_LIBRARY_PATH="$libdir" "$tmp/prog") || fail "program failed"
    [ "$out" = "$want" ] || fail "xm_version_string() is '$out', want '$want'"
    # the program must use the installed library, not the build tree's
    LD_LIBRARY_PATH="$libdir" ldd "$tmp/prog" >"$tmp/ldd" 2>&1 || true
    grep -q "$libdir/libxenmig.so.0" "$tmp/ldd" \
        || { cat "$tmp/ldd" >&2; fail "program does not resolve the installed libxenmig.so.0"; }
    echo "pkg-config: $cflags $libs"
    ;;
exports)
    lib="$builddir/src/libxenmig.so"
    [ -f "$lib" ] || fail "no $lib"
    # functions declared in the installed headers: a declaration line
    # starts at column 0 (not a comment or directive) and names xm_*(.
    grep -hE '^[A-Za-z_][^;{}]*\bxm_[a-z0-9_]+ *\(' "$srcdir"/include/xenmig/*.h |
        grep -v '^typedef' |
        sed -E 's/^.*\b(xm_[a-z0-9_]+) *\(.*$/\1/' | sort -u >"$tmp/declared"
    [ "$(wc -l <"$tmp/declared")" -ge 40 ] || fail "parsed too few declarations"
    nm -D --defined-only "$lib" >"$tmp/nm"
    # every defined dynamic symbol other than the version node itself
    awk '$2 != "A" { print $3 }' "$tmp/nm" | sort -u >"$tmp/exported-versioned"
    if grep -v '@@XENMIG_0\.1\.0$' "$tmp/exported-versioned"; then
        fail "symbols above are exported outside the XENMIG_0.1.0 node"
    fi
    sed 's/@@.*//' "$tmp/exported-versioned" | sort -u >"$tmp/exported"
    if ! diff -u "$tmp/declared" "$tmp/exported"; then
        fail "exports differ from the headers' declarations (- declared only, + exported only)"
    fi
    echo "$(wc -l <"$tmp/exported") functions: headers == exports"
    ;;
*)
    fail "unknown case $case_name"
    ;;
esac
