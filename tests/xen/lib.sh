# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared definitions for the nested-Xen test bed; source it after
# `set -euo pipefail`.
#
# Everything built from Debian's packages lives under $XENMIG_XEN_CACHE
# (default /var/cache/xenmig-xen), in directories named after a hash of the
# package versions they were built from, so a rebuild happens only when a
# package changes (or the recipe in tests/xen/ does).

XEN_TESTDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
XENMIG_XEN_CACHE=${XENMIG_XEN_CACHE:-/var/cache/xenmig-xen}
XEN_SUITE=${XEN_SUITE:-bookworm}
XEN_PKG_HV=xen-hypervisor-4.17-amd64

# Packages whose versions decide the rootfs: the Xen tools and libvirt must
# be the very versions the project was built against on this machine (our
# module only loads into the libvirt it was generated for, and links
# libxenlight of one Xen release).
XEN_ROOTFS_PKGS="xen-utils-4.17 xen-utils-common qemu-system-xen qemu-utils
 libvirt-daemon libvirt-clients libvirt0 libglib2.0-0 libxml2 libgnutls30
 libnbd0 libxxhash0 libxenmisc4.17 busybox iproute2 kmod bridge-utils procps
 socat netcat-openbsd less nbd-client"
# Bump when the rootfs recipe in build-testbed changes.
XEN_ROOTFS_RECIPE=1
# Pinned to the outer machine's installed version when it has them.
XEN_PINNED_PKGS="libvirt-daemon libvirt-clients libvirt0 xen-utils-4.17
 libxenmisc4.17"

xlog() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
xdie() { xlog "ERROR: $*"; exit 1; }

# Milliseconds since the epoch (for timings).
xnow_ms() { date +%s%3N; }

# xelapsed START_MS: seconds since START_MS with one decimal.
xelapsed() { local d=$(( $(xnow_ms) - $1 )); printf '%d.%d' $((d / 1000)) $(((d % 1000) / 100)); }

# The Debian mirror apt uses here, else deb.debian.org.
xen_mirror() {
    local m
    m=$(grep -h -E '^URIs:.*/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2; exit}' || true)
    echo "${m:-http://deb.debian.org/debian}"
}

# Version apt would install (candidate), or the installed one for pinned
# packages when installed here.
xen_pkg_version() {
    local p=$1 v=
    case " $(echo $XEN_PINNED_PKGS) " in
    *" $p "*)
        v=$(dpkg-query -W -f='${db:Status-Status} ${Version}\n' "$p" 2>/dev/null |
            awk '$1 == "installed" {print $2}') || true
        # Same source package as libxen-dev, which the build used.
        case $p in xen-utils-4.17 | libxenmisc4.17)
            [ -n "$v" ] || v=$(dpkg-query -W -f='${Version}' libxen-dev 2>/dev/null || true) ;;
        esac
        ;;
    esac
    [ -n "$v" ] || v=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2; exit}')
    [ -n "$v" ] && [ "$v" != "(none)" ] || xdie "no version of package $p known to apt (apt-get update?)"
    echo "$v"
}

# The kernel ABI name linux-image-amd64 points to, e.g. 6.1.0-41-amd64.
xen_kver() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        awk '/Depends: linux-image-[0-9]/ {sub("linux-image-", "", $2); print $2; exit}'
}

# Prints "name=version" lines of everything the images are built from.
# One apt-cache call for all candidates: each call costs seconds on a
# loaded machine.
xen_versions() {
    local p kver pinned cand
    kver=$(xen_kver)
    [ -n "$kver" ] || xdie "cannot resolve linux-image-amd64"
    cand=$(apt-cache policy $XEN_PKG_HV linux-image-$kver $XEN_ROOTFS_PKGS 2>/dev/null |
        awk '/^[^ ]/ {sub(":$", "", $1); p = $1} /Candidate:/ {print p "=" $2}')
    pinned=" $(echo $XEN_PINNED_PKGS) "
    echo "suite=$XEN_SUITE"
    for p in $XEN_PKG_HV linux-image-$kver $XEN_ROOTFS_PKGS; do
        case $pinned in
        *" $p "*) echo "$p=$(xen_pkg_version "$p")" ;;
        *) grep -m1 "^$p=" <<< "$cand" | grep -v '=(none)$' || xdie "no version of package $p known to apt" ;;
        esac
    done
    echo "busybox-static(outer)=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || echo none)"
}

# Short hash of stdin.
xen_hash() { sha256sum | cut -c1-16; }

# Key of the package-derived rootfs, and of the final images, which also
# depend on the files under tests/xen/testbed/ and the image recipe.
xen_rootfs_key() {
    { xen_versions; echo "$XEN_ROOTFS_PKGS recipe $XEN_ROOTFS_RECIPE"; } | xen_hash
}
xen_images_key() {
    { echo "$1"; cat "$XEN_TESTDIR"/testbed/* "$XEN_TESTDIR/build-testbed"; } | xen_hash
}

# The directory of the current images: $XENMIG_XEN_CACHE/images-<key>.
# Set by build-testbed (which writes "current"), read by everything else.
xen_images_dir() {
    local d
    d=$(cat "$XENMIG_XEN_CACHE/current" 2>/dev/null) || xdie "no test bed built yet: run tests/xen/build-testbed"
    [ -f "$d/dom0-base.qcow2" ] || xdie "test bed $d is incomplete: run tests/xen/build-testbed"
    echo "$d"
}
