#!/bin/bash
# Unknown migration flags and parameters are refused with
# VIR_ERR_INVALID_ARG before anything happens, and TLS without a
# certificate directory with VIR_ERR_OPERATION_INVALID naming the key: the
# guest keeps running on host 1 and host 2 learns nothing.
. "$(dirname "$0")/mig-lib.sh"
mig_up
mig_guest g1 --disk-size 8M --write-rate 0 --heartbeat-ms 100

/usr/bin/python3 - "$U1" "$U2" <<'PY' || fail "python checks"
import sys
import libvirt

libvirt.registerErrorHandler(lambda *a: None, None)
src = libvirt.open(sys.argv[1])
dst = libvirt.open(sys.argv[2])
dom = src.lookupByName("g1")

def refused(what, params, flags, needle, code=libvirt.VIR_ERR_INVALID_ARG):
    try:
        dom.migrate3(dst, params, flags)
    except libvirt.libvirtError as e:
        if e.get_error_code() != code or needle not in str(e):
            sys.exit("%s: wrong error %d %s" % (what, e.get_error_code(), e))
        print("%s: %s" % (what, e))
        return
    sys.exit("%s: accepted" % what)

live = libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_NON_SHARED_DISK
refused("postcopy flag", {}, live | libvirt.VIR_MIGRATE_POSTCOPY, "unsupported flags")
refused("compressed flag", {}, live | libvirt.VIR_MIGRATE_COMPRESSED, "unsupported flags")
refused("unknown parameter", {libvirt.VIR_MIGRATE_PARAM_COMPRESSION_MT_THREADS: 2},
        live, "unsupported migration parameter")
refused("both storage flags", {}, live | libvirt.VIR_MIGRATE_NON_SHARED_INC,
        "mutually exclusive")
refused("migrate_disks without storage copy",
        {libvirt.VIR_MIGRATE_PARAM_MIGRATE_DISKS: ["xvda"]},
        libvirt.VIR_MIGRATE_LIVE, "migrate_disks")
# the lab configures no certificates (and /etc/pki/libvirt-migrate is absent)
import os
if not os.path.isdir("/etc/pki/libvirt-migrate"):
    refused("TLS without certificates", {}, live | libvirt.VIR_MIGRATE_TLS,
            "migrate_tls_x509_cert_dir", libvirt.VIR_ERR_OPERATION_INVALID)
PY

assert_on_source g1 g1-xvda.img
echo ok
