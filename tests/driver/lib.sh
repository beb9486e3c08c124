# SPDX-License-Identifier: LGPL-2.1-or-later
# Shell side of the libvirt suite: a stock libvirtd loading the xenmig module
# from the build tree with the sim backend, for exactly one test's lifetime.
#   . lib.sh; xm_libvirtd_start; virsh -c "$XM_URI" ...; (cleanup by trap)
# Sets XM_DIR (temp dir), XM_URI, XM_IMAGES.

: "${XENMIG_BUILDDIR:?run through meson test}"
LIBVIRTD=${LIBVIRTD:-/usr/sbin/libvirtd}

XM_DIR=$(mktemp -d /tmp/xmd-sh-XXXXXX)
XM_URI="xen:///system?socket=$XM_DIR/run/libvirt-sock"
XM_IMAGES=$XM_DIR/images
mkdir -p "$XM_DIR"/{run,state,config,save,images}

xm_cleanup() {
    local pid
    xm_libvirtd_stop
    # sim guests outlive libvirtd by design: stop the ones this test made
    for f in "$XM_DIR"/state/sim/*.pid; do
        [ -e "$f" ] || continue
        read -r pid _ < "$f" || continue
        kill -9 "$pid" 2>/dev/null || true
    done
    if [ -n "${XENMIG_KEEP_TEST_DIR:-}" ]; then
        echo "kept $XM_DIR"
    else
        rm -rf "$XM_DIR"
    fi
}
trap 'rc=$?; [ $rc -ne 0 ] && xm_dump_logs; xm_cleanup; exit $rc' EXIT

xm_dump_logs() {
    echo "--- libvirtd output ---"
    tail -n 50 "$XM_DIR/libvirtd.stdout" "$XM_DIR/libvirtd.log" 2>/dev/null || true
}

cat > "$XM_DIR/libvirtd.conf" <<EOC
unix_sock_dir = "$XM_DIR/run"
unix_sock_rw_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
listen_tls = 0
listen_tcp = 0
log_outputs = "3:file:$XM_DIR/libvirtd.log"
EOC
cat > "$XM_DIR/xenmig.conf" <<EOC
backend = "sim"
state_dir = "$XM_DIR/state"
config_dir = "$XM_DIR/config"
save_dir = "$XM_DIR/save"
sim_host_name = "${XM_HOST_NAME:-xenmig-test-host}"
sim_host_memory_mib = 4096
sim_host_cpus = 2
EOC

xm_libvirtd_start() {
    LIBVIRT_DRIVER_DIR="$XENMIG_BUILDDIR/src/driver" \
    XENMIG_CONF="$XM_DIR/xenmig.conf" \
    XENMIG_SIM_GUEST="$XENMIG_BUILDDIR/src/backend/xenmig-sim-guest" \
        "$LIBVIRTD" --config "$XM_DIR/libvirtd.conf" \
        --pid-file "$XM_DIR/libvirtd.pid" \
        >> "$XM_DIR/libvirtd.stdout" 2>&1 < /dev/null &
    XM_LIBVIRTD_PID=$!
    local i
    for i in $(seq 150); do
        if ! kill -0 "$XM_LIBVIRTD_PID" 2>/dev/null; then
            echo "libvirtd exited" >&2
            return 1
        fi
        if [ -S "$XM_DIR/run/libvirt-sock" ] &&
           virsh -q -c "$XM_URI" uri > /dev/null 2>&1; then
            return 0
        fi
        sleep 0.2
    done
    echo "libvirtd did not come up" >&2
    return 1
}

xm_libvirtd_stop() {
    [ -n "${XM_LIBVIRTD_PID:-}" ] || return 0
    kill "$XM_LIBVIRTD_PID" 2>/dev/null || true
    local i
    for i in $(seq 100); do
        kill -0 "$XM_LIBVIRTD_PID" 2>/dev/null || break
        sleep 0.2
    done
    kill -9 "$XM_LIBVIRTD_PID" 2>/dev/null || true
    wait "$XM_LIBVIRTD_PID" 2>/dev/null || true
    XM_LIBVIRTD_PID=
    rm -f "$XM_DIR/run/libvirt-sock"
}

# xm_guest_xml NAME: a sim guest with a fresh 32 MiB disk image
xm_guest_xml() {
    local name=$1 img="$XM_IMAGES/$1.img"
    truncate -s 32M "$img"
    cat <<EOG
<domain type='xen'>
  <name>$name</name>
  <uuid>$(cat /proc/sys/kernel/random/uuid)</uuid>
  <memory unit='MiB'>64</memory>
  <currentMemory unit='MiB'>64</currentMemory>
  <vcpu>1</vcpu>
  <metadata>
    <xenmig:sim xmlns:xenmig='https://xenmig.org/xmlns/sim/1' ram-dirty-mib-s='1' disk-write-mib-s='1' heartbeat-ms='100'/>
  </metadata>
  <os>
    <type arch='x86_64' machine='xenpvh'>xenpvh</type>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$img'/>
      <target dev='xvda' bus='xen'/>
    </disk>
  </devices>
</domain>
EOG
}

xm_virsh() { virsh -q -c "$XM_URI" "$@"; }

xm_fail() { echo "FAIL: $*" >&2; exit 1; }

# xm_expect_eq WHAT GOT WANT
xm_expect_eq() {
    [ "$2" = "$3" ] || xm_fail "$1: got '$2', want '$3'"
}
