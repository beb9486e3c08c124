# Sourced by the xenmig-lab tests: a private lab directory, the tool, and a
# trap that brings every host down (by the PIDs in the lab state) whatever
# happens.
set -euo pipefail

: "${XENMIG_BUILDDIR:?run through meson test}"
LAB_BIN="$XENMIG_BUILDDIR/tools/lab/xenmig-lab"
MODULE="$XENMIG_BUILDDIR/src/driver/libvirt_driver_libxl.so"
# Short: libvirtd's socket paths live below it (108-byte limit).
LAB_DIR=$(mktemp -d /tmp/xmlab.XXXXXX)
EMPTY_MODULE_DIR="$LAB_DIR/no-module"
mkdir -p "$EMPTY_MODULE_DIR"

lab() { "$LAB_BIN" --dir "$LAB_DIR" "$@"; }

lab_cleanup() {
    local rc=$?
    "$LAB_BIN" --dir "$LAB_DIR" down --purge || rc=1
    rm -rf "$LAB_DIR"
    exit "$rc"
}
trap lab_cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# The PIDs `status` reports, one per line.
lab_pids() {
    lab status | sed -n 's/.*holder PID \([0-9]*\).*libvirtd PID \([0-9]*\).*/\1\n\2/p'
}

# A process counts as running unless it is gone or a zombie (the machine's
# init may not reap orphans).
pid_running() {
    local state
    state=$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# Skips (exit 77) only when the module was not built at all; a module that
# exists but fails is a failure of the test.
require_module() {
    if [ ! -e "$MODULE" ]; then
        echo "SKIP: $MODULE is not built yet"
        trap - EXIT
        rm -rf "$LAB_DIR"
        exit 77
    fi
}

# The namespace names of this lab: "<prefix>-hub", "<prefix>-<i>".
lab_ns_prefix() {
    echo "xenmig-lab-$(printf %s "$LAB_DIR" | sha256sum | cut -c1-8)"
}
