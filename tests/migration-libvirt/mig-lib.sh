# Sourced by the migration tests: a two-host lab (tests/lab/lab-lib.sh does
# the lab directory and the cleanup trap) and helpers to start a sim guest
# on host 1, run virsh inside a host and check where the guest runs.
. "$(dirname "$0")/../lab/lab-lib.sh"

SIM_GUEST="$XENMIG_BUILDDIR/src/backend/xenmig-sim-guest"
DST_URI=xen+tcp://xenmig-host2/system

# Two hosts; U1 and U2 are their URIs as seen from this machine.
mig_up() {
    require_module
    lab up 2 > "$LAB_DIR/uris"
    mapfile -t uris < "$LAB_DIR/uris"
    U1=${uris[0]} U2=${uris[1]}
}

# mig_guest NAME [lab guest options...]: defines and starts NAME on host 1.
mig_guest() {
    local name=$1
    shift
    lab guest "$name" --host 1 "$@" > "$LAB_DIR/$name.xml"
    virsh -q -c "$U1" define "$LAB_DIR/$name.xml" > /dev/null || fail "define $name"
    virsh -q -c "$U1" start "$name" > /dev/null || fail "start $name"
}

# mig_slow_guest: defines and starts g1 on host 1 with 16 MiB of random data
# beyond the heartbeat area, so that a copy at --bandwidth 1 takes a while.
mig_slow_guest() {
    lab guest g1 --host 1 --disk-size 64M --write-rate 1 --heartbeat-ms 50 > "$LAB_DIR/g1.xml"
    dd if=/dev/urandom of="$(img 1 g1-xvda.img)" bs=1M seek=32 count=16 conv=notrunc status=none
    virsh -q -c "$U1" define "$LAB_DIR/g1.xml" > /dev/null || fail "define g1"
    virsh -q -c "$U1" start g1 > /dev/null || fail "start g1"
}

# mig_start_slow: starts `virsh migrate --live --copy-storage-all
# --bandwidth 1 g1` to host 2 in the background (PID in mig_pid, output in
# $LAB_DIR/migrate.out) and returns once host 1 reports copied data.
mig_start_slow() {
    local job= _
    virsh1 migrate --live --copy-storage-all --bandwidth 1 g1 "$DST_URI" \
        > "$LAB_DIR/migrate.out" 2>&1 &
    mig_pid=$!
    for _ in $(seq 100); do
        job=$(virsh -c "$U1" domjobinfo g1 2>&1 || true)
        grep -q "^Data processed: *[1-9]" <<< "$job" && return 0
        sleep 0.2
    done
    fail "no progress on host 1: $job / $(cat "$LAB_DIR/migrate.out")"
}

# Host i's view of an image: its private storage seen from the machine.
img() { echo "$LAB_DIR/host$1/storage/$2"; }

# virsh inside host 1 (where "virsh migrate" runs, as an admin would).
virsh1() { lab exec 1 -- virsh "$@"; }

# The domain's state on a host, empty when the host does not know it.
state_on() { { virsh -q -c "$1" domstate "$2" 2>/dev/null || true; } | head -n1; }

# Fails unless NAME runs on host 2 and is not running on host 1.
assert_on_dest() {
    local name=$1 s1 s2
    s2=$(state_on "$U2" "$name")
    [ "$s2" = running ] || fail "$name is '$s2' on host 2, not running"
    s1=$(state_on "$U1" "$name")
    case "$s1" in
        running|paused|"in shutdown") fail "$name is still '$s1' on host 1" ;;
    esac
    if virsh -q -c "$U1" list --name | grep -qx "$name"; then
        fail "host 1 lists $name as active"
    fi
}

# Fails unless NAME runs on host 1 only and host 2 has neither the domain
# nor the image FILE (the images the destination created are removed).
assert_on_source() {
    local name=$1 file=$2 s1
    s1=$(state_on "$U1" "$name")
    [ "$s1" = running ] || fail "$name is '$s1' on host 1, not running"
    if virsh -q -c "$U2" list --all --name | grep -qx "$name"; then
        fail "host 2 still knows $name"
    fi
    [ ! -e "$(img 2 "$file")" ] || fail "host 2 kept the image $file it created"
}

# heartbeat_ok IMAGE: the guest's heartbeat has no gap in its sequence and
# was written on both hosts; prints heartbeat-check's line (with the gap).
heartbeat_ok() {
    local out
    out=$("$SIM_GUEST" heartbeat-check "$1") || fail "heartbeat-check: $out"
    case "$out" in
        *missing=0*) ;;
        *) fail "heartbeat has missing records: $out" ;;
    esac
    case "$out" in
        *xenmig-host1*xenmig-host2*|*xenmig-host2*xenmig-host1*) ;;
        *) fail "heartbeat not written on both hosts: $out" ;;
    esac
    echo "heartbeat: $out"
}

# The heartbeat area at the start of a sim guest's first disk
# (XM_SIM_HB_AREA); a guest started with --write-rate 0 writes nothing else.
HB_AREA=$((4 * 1048576))

# data_sum IMAGE: sha256 of IMAGE beyond the heartbeat area, the part only a
# migration could change when the guest writes nothing but its heartbeat.
data_sum() { tail -c +$((HB_AREA + 1)) "$1" | sha256sum | cut -d' ' -f1; }

# mig_memory_guest: defines and starts g1 on host 1 with 16 MiB of RAM
# dirtied at 1 MiB/s (at --bandwidth 1 its memory stream lasts tens of
# seconds) and a 16 MiB disk holding 4 MiB of random data beyond the
# heartbeat area that the guest never writes; that data's digest goes to
# src_sum.
mig_memory_guest() {
    lab guest g1 --host 1 --disk-size 16M --write-rate 0 --heartbeat-ms 50 \
        --memory 16 --dirty-rate 1 > "$LAB_DIR/g1.xml"
    dd if=/dev/urandom of="$(img 1 g1-xvda.img)" bs=1M seek=8 count=4 conv=notrunc status=none
    src_sum=$(data_sum "$(img 1 g1-xvda.img)")
    virsh -q -c "$U1" define "$LAB_DIR/g1.xml" > /dev/null || fail "define g1"
    virsh -q -c "$U1" start g1 > /dev/null || fail "start g1"
}

# mig_start_memory [virsh migrate options...]: starts `virsh migrate --live
# --copy-storage-all --bandwidth 1 g1` to host 2 in the background (PID in
# mig_pid, output in $LAB_DIR/migrate.out) and returns once host 1 reports
# at least 1 MiB of streamed memory: the disks are copied, the memory
# stream runs and the guest still runs on host 1.
mig_start_memory() {
    local job= _
    virsh1 migrate --live --copy-storage-all --bandwidth 1 "$@" g1 "$DST_URI" \
        > "$LAB_DIR/migrate.out" 2>&1 &
    mig_pid=$!
    for _ in $(seq 150); do
        job=$(virsh -c "$U1" domjobinfo g1 2>&1 || true)
        grep -Eq "^Memory processed: *([1-9][0-9.]* MiB|[0-9.]+ GiB)" <<< "$job" && return 0
        pid_running "$mig_pid" || break
        sleep 0.2
    done
    fail "no memory stream on host 1: $job / $(cat "$LAB_DIR/migrate.out")"
}

# assert_source_intact: the data of g1's disk on host 1 beyond the
# heartbeat area still has the digest mig_memory_guest recorded.
assert_source_intact() {
    [ "$(data_sum "$(img 1 g1-xvda.img)")" = "$src_sum" ] ||
        fail "the migration modified the source image of g1"
}

# heartbeat_unbroken IMAGE: the heartbeat in IMAGE has no missing sequence
# number (wherever it was written); prints heartbeat-check's line.
heartbeat_unbroken() {
    local out
    out=$("$SIM_GUEST" heartbeat-check "$1") || fail "heartbeat-check: $out"
    case "$out" in
        *missing=0*) ;;
        *) fail "heartbeat has missing records: $out" ;;
    esac
    echo "heartbeat: $out"
}

# wait_dest_gone NAME FILE SECS: waits until host 2 knows neither NAME nor
# the image FILE, at most SECS seconds; fails if NAME ever runs there.
wait_dest_gone() {
    local name=$1 file=$2 end=$((SECONDS + $3))
    while [ "$SECONDS" -lt "$end" ]; do
        [ "$(state_on "$U2" "$name")" != running ] || fail "$name runs on host 2 too"
        if ! virsh -q -c "$U2" list --all --name | grep -qx "$name" &&
           [ ! -e "$(img 2 "$file")" ]; then
            return 0
        fi
        sleep 0.5
    done
    fail "host 2 still has $name ('$(state_on "$U2" "$name")') or its image $file after $3 s"
}

# tls_pki DIR CA-NAME: a throw-away CA and certificates in the file names
# libvirt reads, for `xenmig-lab up --tls-dir DIR` and for URIs with
# pkipath= (so nothing under /etc/pki is needed):
#   DIR/cacert.pem                      the CA (its key in DIR/ca/)
#   DIR/host<i>/servercert.pem, serverkey.pem
#                                       host i's libvirtd (i = 1, 2), CN and
#                                       SAN xenmig-host<i> and 10.77.0.<i>
#   DIR/host<i>/cacert.pem, clientcert.pem, clientkey.pem
#                                       host i as a client (pkipath=DIR/host<i>
#                                       in a --p2p destination URI)
#   DIR/client/cacert.pem, clientcert.pem, clientkey.pem
#                                       an administrator's virsh
tls_pki() {
    local dir=$1 ca_name=$2 i
    mkdir -p "$dir/ca" "$dir/client"
    printf 'cn = %s\nca\ncert_signing_key\nexpiration_days = 30\n' "$ca_name" > "$dir/ca/ca.info"
    _tls_key "$dir/ca/cakey.pem"
    certtool --generate-self-signed --load-privkey "$dir/ca/cakey.pem" \
        --template "$dir/ca/ca.info" --outfile "$dir/cacert.pem" 2>/dev/null ||
        fail "certtool: cannot make the CA in $dir"
    for i in 1 2; do
        mkdir -p "$dir/host$i"
        cp "$dir/cacert.pem" "$dir/host$i/"
        _tls_cert "$dir" "$dir/host$i/server" server "xenmig-host$i" \
            "dns_name = xenmig-host$i
ip_address = 10.77.0.$i"
        _tls_cert "$dir" "$dir/host$i/client" client "xenmig-host$i" ""
    done
    cp "$dir/cacert.pem" "$dir/client/"
    _tls_cert "$dir" "$dir/client/client" client "xenmig lab admin" ""
}

# RSA: libvirtd insists on key encipherment in the key usage of its
# certificates, which certtool leaves out for ECDSA keys.
_tls_key() {
    certtool --generate-privkey --key-type=rsa --bits=2048 --outfile "$1" 2>/dev/null ||
        fail "certtool: cannot make the key $1"
    chmod 600 "$1"
}

# _tls_cert PKI PREFIX server|client CN EXTRA: PREFIXcert.pem and
# PREFIXkey.pem signed by PKI's CA, for TLS servers or clients only.
_tls_cert() {
    local pki=$1 prefix=$2 role=$3 cn=$4 extra=$5
    printf 'organization = xenmig tests\ncn = %s\n%s\ntls_www_%s\nencryption_key\nsigning_key\nexpiration_days = 30\n' \
        "$cn" "$extra" "$role" > "$prefix.info"
    _tls_key "${prefix}key.pem"
    certtool --generate-certificate --load-privkey "${prefix}key.pem" \
        --load-ca-certificate "$pki/cacert.pem" --load-ca-privkey "$pki/ca/cakey.pem" \
        --template "$prefix.info" --outfile "${prefix}cert.pem" 2>/dev/null ||
        fail "certtool: cannot make ${prefix}cert.pem"
}

# tls_uri I PKIPATH: host i's libvirtd over TLS, as seen inside the lab,
# with the client certificates of PKIPATH.
tls_uri() { echo "xen+tls://xenmig-host$1/system?pkipath=$2"; }

# mig_up_tls PKI: like mig_up, every libvirtd also listening for TLS with
# the certificates tls_pki made in PKI.
mig_up_tls() {
    require_module
    lab up 2 --tls-dir "$1" > "$LAB_DIR/uris"
    mapfile -t uris < "$LAB_DIR/uris"
    U1=${uris[0]} U2=${uris[1]}
}

# mig_wait_failed WHY: waits for the background `virsh migrate` (mig_pid),
# which must fail (because of WHY), and prints its output.
mig_wait_failed() {
    local rc=0
    wait "$mig_pid" || rc=$?
    [ "$rc" -ne 0 ] || fail "virsh migrate succeeded although $1"
    echo "migrate: $(tr '\n' ' ' < "$LAB_DIR/migrate.out")"
}

# mig_end_on_source: the safety invariant for mig_memory_guest's g1 after
# a failed migration: it runs on host 1 only, host 2 has neither it nor
# the image it created, the image's data is untouched and, once the guest
# is stopped, its heartbeat has no gap.
mig_end_on_source() {
    assert_on_source g1 g1-xvda.img
    assert_source_intact
    sleep 0.5
    virsh -q -c "$U1" destroy g1 > /dev/null
    heartbeat_unbroken "$(img 1 g1-xvda.img)"
}

# --- the final drain (the guest suspended on host 1 while the disks' last
# copy and verification run) ---

# mig_up_direct: like mig_up, the sim guests writing their images directly
# (no datapath daemon), so that the migration copies the disks in scan
# mode and its final drain re-reads and verifies every disk: with a few
# hundred MiB of data that lasts long enough to be hit.
mig_up_direct() {
    require_module
    lab up 2 --sim-disk-datapath direct > "$LAB_DIR/uris"
    mapfile -t uris < "$LAB_DIR/uris"
    U1=${uris[0]} U2=${uris[1]}
}

# mig_drain_guest: defines and starts g1 on host 1 with 16 MiB of RAM it
# never dirties and a 512 MiB disk holding 384 MiB of random data beyond
# the heartbeat area that the guest never writes (sparse elsewhere); that
# data's digest goes to src_sum.
mig_drain_guest() {
    lab guest g1 --host 1 --disk-size 512M --write-rate 0 --heartbeat-ms 50 \
        --memory 16 --dirty-rate 0 > "$LAB_DIR/g1.xml"
    dd if=/dev/urandom of="$(img 1 g1-xvda.img)" bs=1M seek=64 count=384 conv=notrunc status=none
    src_sum=$(data_sum "$(img 1 g1-xvda.img)")
    virsh -q -c "$U1" define "$LAB_DIR/g1.xml" > /dev/null || fail "define g1"
    virsh -q -c "$U1" start g1 > /dev/null || fail "start g1"
}

# libvirtd_pid I: the PID of host i's libvirtd.
libvirtd_pid() { lab_pids | sed -n "$(($1 * 2))p"; }

# mig_at_drain CMD [ARG...]: starts `virsh migrate --live
# --copy-storage-all g1` to host 2 in the background (PID in mig_pid,
# output in $LAB_DIR/migrate.out) and runs CMD the moment the final drain
# begins. The driver's domain state says "running" until Perform returns,
# so a watcher holding one connection to host 1 polls the job every 5 ms:
# all memory sent (the guest is suspended for the last part) while the job
# runs is the drain, and a heartbeat still for 80 ms proves the guest
# suspended. It prints how long g1's heartbeat had been still (the
# image's mtime; a suspended guest writes nothing) when CMD ran.
mig_at_drain() {
    virsh1 migrate --live --copy-storage-all g1 "$DST_URI" \
        > "$LAB_DIR/migrate.out" 2>&1 &
    mig_pid=$!
    /usr/bin/python3 - "$U1" "$(img 1 g1-xvda.img)" "$mig_pid" "$@" <<'PY' || fail "the drain was not reached: $(cat "$LAB_DIR/migrate.out")"
import os, subprocess, sys, time
import libvirt

def alive(pid):
    try:
        with open("/proc/%s/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False

dom = libvirt.open(sys.argv[1]).lookupByName("g1")
end = time.monotonic() + 60
seen = False
while time.monotonic() < end:
    st = dom.jobStats()
    if st.get("type", 0) == 0:
        # before Begin, or over
        if seen or not alive(sys.argv[3]):
            sys.exit("the job ended before its drain was seen")
        time.sleep(0.005)
        continue
    seen = True
    if st.get("memory_total", 0) > 0 and st.get("memory_remaining", 1) == 0:
        break
    time.sleep(0.005)
else:
    sys.exit("no drain within 60 s")
# the last memory is sent with the guest suspended: once its heartbeat
# (every 50 ms) has been still for 80 ms the drain runs for sure
end = time.monotonic() + 0.5
while time.time() - os.stat(sys.argv[2]).st_mtime < 0.08 and time.monotonic() < end:
    time.sleep(0.002)
subprocess.run(sys.argv[4:], check=True)
print("at the drain: ran %s with the heartbeat still for %.0f ms"
      % (sys.argv[4], 1000 * (time.time() - os.stat(sys.argv[2]).st_mtime)))
PY
}

# mig_end_exactly_once: the safety invariant for mig_drain_guest's g1
# after a fault in the final drain, with either outcome accepted: before
# the completion record g1 runs on host 1 only (resumed), its image's data
# untouched, and host 2 removes the domain and the image it created (at
# most SECS=$1 seconds); after it, g1 runs on host 2 only. Either way its
# heartbeat has no gap. Prints the outcome.
mig_end_exactly_once() {
    local s1 s2 end=$((SECONDS + 20))
    # the restarted daemons settle: wait until one side runs g1
    while [ "$SECONDS" -lt "$end" ]; do
        s1=$(state_on "$U1" g1) s2=$(state_on "$U2" g1)
        [ "$s1" = running ] || [ "$s2" = running ] && break
        sleep 0.5
    done
    if [ "$s1" = running ]; then
        [ "$s2" != running ] || fail "g1 runs on both hosts"
        echo "outcome: g1 stayed on host 1"
        wait_dest_gone g1 g1-xvda.img "$1"
        mig_end_on_source
    elif [ "$s2" = running ]; then
        echo "outcome: g1 switched over to host 2"
        assert_on_dest g1
        sleep 0.5
        virsh -q -c "$U2" destroy g1 > /dev/null
        heartbeat_ok "$(img 2 g1-xvda.img)"
    else
        fail "g1 runs nowhere: '$(virsh -q -c "$U1" domstate --reason g1 2>&1)' on host 1, '$s2' on host 2"
    fi
}
