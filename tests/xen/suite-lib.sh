# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared part of the 'xen' suite's tests; source it after
# `set -euo pipefail`. A test defines scenario functions and calls
#
#   xt_run_scenario NAME NHOSTS FUNCTION
#
# which boots NHOSTS fresh nested hosts (a, then b), runs FUNCTION, and on
# failure collects the hosts' logs and tries again on fresh hosts (up to
# $XEN_TRIES, default 2). Every try is reported with its time and, when it
# failed, whether Xen's own migration code failed ("xc: error" in the logs:
# libxc, not us) or we did. Everything started is stopped on exit, by PID.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${XENMIG_BUILDDIR:?run me through meson test (or tests/xen/run-suite)}"
HOSTCTL=$XEN_TESTDIR/hostctl
XEN_TRIES=${XEN_TRIES:-2}

xt_skip() { echo "SKIP: $*"; exit 77; }
xt_fail() { echo "FAIL: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || xt_skip "the Xen test bed needs root (debootstrap, chroot)"
for p in qemu-system-x86_64 qemu-img debootstrap cpio mke2fs /usr/bin/python3; do
    command -v "$p" > /dev/null || xt_skip "$p is not installed"
done

XT_BASE=$(mktemp -d "${TMPDIR:-/tmp}/xenmig-xen.XXXXXX")
XT_KEEP=${XEN_KEEP_LOGS:-}
_xt_cleanup() {
    local rc=$? d n
    for d in "$XT_BASE"/try*; do
        [ -d "$d" ] || continue
        for n in a b; do
            XENMIG_XEN_RUN=$d "$HOSTCTL" stop "$n" 2> /dev/null || true
        done
        rm -f "$d"/*.qcow2
    done
    if [ $rc = 0 ] && [ -z "$XT_KEEP" ]; then
        rm -rf "$XT_BASE"
    else
        echo "logs kept in $XT_BASE"
    fi
    exit $rc
}
trap _xt_cleanup EXIT
trap 'exit 130' INT TERM

# The cached test bed (built on first use) and this build's image.
"$XEN_TESTDIR/build-testbed" > /dev/null
"$XEN_TESTDIR/install-build" "$XENMIG_BUILDDIR" "$XT_BASE/build.img"

# Host access for scenario functions: A/B run a bash command in the dom0 of
# host a/b (agent port 0); A1/B1 use port 1 (for a second command at the
# same time). Options -t SECONDS before the command.
A() { "$HOSTCTL" run a "$@"; }
B() { "$HOSTCTL" run b "$@"; }
A1() { "$HOSTCTL" run a -p 1 "$@"; }
B1() { "$HOSTCTL" run b -p 1 "$@"; }

# xt_step TEXT COMMAND...: runs COMMAND, prints TEXT with its duration and
# appends it to the try's timings; fails the scenario if COMMAND fails.
xt_step() {
    local text=$1 t rc=0
    shift
    t=$(xnow_ms)
    "$@" || rc=$?
    echo "  [$(xelapsed $t)s] $text$([ $rc = 0 ] || echo " FAILED (exit $rc)")"
    echo "$text: $(xelapsed $t)s$([ $rc = 0 ] || echo " (failed)")" >> "$XENMIG_XEN_RUN/timings"
    return $rc
}

# xt_collect HOST: copies the dom0's logs into the try's directory (agent
# port 2, which no scenario uses): kernel messages (crashes of libvirtd
# show there), Xen's, libvirtd's, and /var/log/xen.
xt_collect() {
    local h=$1 d=$XENMIG_XEN_RUN/logs-$1 f
    mkdir -p "$d"
    "$HOSTCTL" run "$h" -p 2 -t 60 'dmesg' > "$d/dom0-dmesg.txt" 2>&1 || true
    "$HOSTCTL" run "$h" -p 2 -t 60 'xl dmesg' > "$d/xl-dmesg.txt" 2>&1 || true
    for f in libvirtd.out libvirtd.log; do
        "$HOSTCTL" run "$h" -p 2 -t 120 "tail -c 4000000 /var/log/xenmig/$f" > "$d/$f" 2>&1 || true
    done
    { "$HOSTCTL" run "$h" -p 2 -t 120 'tar -C /var/log -cf - xen | base64 -w 0' 2> /dev/null || true; } |
        base64 -d 2> /dev/null | tar -C "$d" -xf - 2> /dev/null || true
}

# XT_DIAG: what a dom0 is doing, for a step that got no answer: whether
# libvirtd answers at all, and where each of its threads waits (kernel
# stack and wait channel; a thread blocked on a lock in libvirtd shows
# futex_wait), plus every process's state (D: stuck in the kernel, e.g.
# on an NBD device).
XT_DIAG='
echo "== virsh list (20 s limit)"
t0=$(date +%s%N)
timeout 20 virsh -c xen:///system list --all 2>&1
echo "exit $? after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
for p in $(pidof libvirtd xenmig-datapath nbd-client 2> /dev/null); do
    echo "== pid $p: $(tr "\0" " " < /proc/$p/cmdline)"
    for t in /proc/$p/task/*; do
        echo "-- thread ${t##*/} $(cat $t/comm) state $(cut -d" " -f3 $t/stat) wchan $(cat $t/wchan 2> /dev/null)"
        cat $t/stack 2> /dev/null | head -12
    done
done
echo "== processes"
ps -eo pid,ppid,stat,wchan:32,etime,args
echo "== /dev/nbd*"
for f in /sys/block/nbd*/pid; do [ -e "$f" ] && echo "$f: $(cat $f)"; done
'

# xt_diag HOST [TAG]: XT_DIAG on HOST's dom0 (agent port 2) into its
# logs, diag[-TAG].txt.
xt_diag() {
    local d=$XENMIG_XEN_RUN/logs-$1
    mkdir -p "$d"
    "$HOSTCTL" run "$1" -p 2 -t 90 "$XT_DIAG" > "$d/diag${2:+-$2}.txt" 2>&1 || true
}

# xt_classify DIR: "libxc" when Xen's migration code failed, "guest" when
# the test guest triple-faulted (a flake of PVH guests under nested TCG,
# seen at boot: Xen logs "Triple fault"), else "xenmig".
xt_classify() {
    if grep -r -a -q -E 'xc: error|xc: Mapping of pfn' "$1" 2> /dev/null; then
        echo libxc
    elif grep -r -a -q -E 'd[0-9]+v[0-9]+ Triple fault' "$1" 2> /dev/null; then
        echo guest
    else
        echo xenmig
    fi
}

xt_run_scenario() {
    local name=$1 nhosts=$2 fn=$3 try rc t class
    for try in $(seq "$XEN_TRIES"); do
        export XENMIG_XEN_RUN=$XT_BASE/try$try-$name
        mkdir -p "$XENMIG_XEN_RUN"
        ln -sf "$XT_BASE/build.img" "$XENMIG_XEN_RUN/build.img"
        echo "== $name: try $try of $XEN_TRIES"
        t=$(xnow_ms)
        set +e
        (
            set -e
            xt_step "boot host a" "$HOSTCTL" start a 1
            if [ "$nhosts" = 2 ]; then xt_step "boot host b" "$HOSTCTL" start b 2; fi
            "$fn"
        )
        rc=$?
        set -e
        if [ $rc = 0 ] || [ $rc = 77 ]; then
            echo "== $name: try $try $([ $rc = 0 ] && echo passed || echo skipped) in $(xelapsed $t)s"
            echo "-- timings:"
            sed 's/^/   /' "$XENMIG_XEN_RUN/timings"
        else
            xt_diag a
            [ "$nhosts" != 2 ] || xt_diag b
            xt_collect a
            [ "$nhosts" != 2 ] || xt_collect b
            cp "$XENMIG_XEN_RUN"/*.console "$XENMIG_XEN_RUN/logs-a/" 2> /dev/null || true
            class=$(xt_classify "$XENMIG_XEN_RUN")
            echo "== $name: try $try FAILED (exit $rc) in $(xelapsed $t)s;" \
                 "$(case $class in
                    libxc) echo "libxc failure (xc: error in the logs: Xen's code, not ours)" ;;
                    guest) echo "the guest triple-faulted (Triple fault in Xen's log: nested TCG, not ours)" ;;
                    *) echo "no xc: error in the logs: a xenmig (or test bed) failure" ;;
                    esac)"
            { grep -r -a -h -E 'xc: error|v[0-9]+ Triple fault' "$XENMIG_XEN_RUN" 2> /dev/null || true; } |
                sort -u | head -5 | sed 's/^/   /'
            { grep -a -h -E ' error : ' "$XENMIG_XEN_RUN"/logs-*/libvirtd.log 2> /dev/null || true; } |
                tail -5 | sed 's/^/   /'
            { grep -a -h -E 'segfault|general protection|traps:' "$XENMIG_XEN_RUN"/logs-*/dom0-dmesg.txt 2> /dev/null || true; } |
                sed 's/^/   dom0 kernel: /'
            XT_KEEP=1
        fi
        for h in a b; do "$HOSTCTL" stop "$h"; done
        rm -f "$XENMIG_XEN_RUN"/*.qcow2
        [ $rc != 0 ] || return 0
        [ $rc != 77 ] || exit 77
    done
    xt_fail "$name failed in all $XEN_TRIES tries (logs in $XT_BASE)"
}

# --- the guest ---------------------------------------------------------------
# Files of the test guest on a dom0: the busybox initramfs of
# testbed/guest-init (heartbeat every 100 ms to console and raw disk).
XT_IMAGES=/var/lib/xen/images
XT_KERNEL=$XT_IMAGES/vmlinuz
XT_INITRD=$XT_IMAGES/initrd-guest.gz

# xt_guest_xml NAME TYPE(pvh|pv) DISK [DRIVER]: libvirt XML of the guest.
# DRIVER: empty = libxl's default backend, qemu = qdisk, phy = blkback.
xt_guest_xml() {
    local name=$1 type=$2 disk=$3 drv=${4:-} ostype machine=
    if [ "$type" = pvh ]; then ostype=xenpvh; machine=" machine='xenpvh'"; else ostype=xen; fi
    cat <<EOF
<domain type='xen'>
  <name>$name</name>
  <memory unit='MiB'>96</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64'$machine>$ostype</type>
    <kernel>$XT_KERNEL</kernel>
    <initrd>$XT_INITRD</initrd>
    <cmdline>console=hvc0 quiet</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>preserve</on_crash>
  <devices>
    <disk type='file' device='disk'>
$([ -z "$drv" ] || echo "      <driver name='$drv' type='raw'/>")
      <source file='$disk'/>
      <target dev='xvda' bus='xen'/>
    </disk>
    <console type='pty'>
      <target type='xen' port='0'/>
    </console>
  </devices>
</domain>
EOF
}

# xt_heartbeats HOSTFN NAME: the guest's heartbeat records ("HB seq time
# uptime") from its console log(s) in that dom0, in file order. Found
# anywhere in a line (the guest's debug shell prints its prompt on the same
# console) by cutting what precedes "HB ": "grep -o -E" spun for minutes
# of CPU on a 19 KB log in the nested dom0. Says so when the dom0 does not
# answer (one retry).
XT_HB_PIPE="tr -d '\\r' | sed 's/^.*HB /HB /' | grep -a -E '^HB [0-9]+ [0-9]+[.][0-9]+ [0-9]+[.][0-9]+\$'"
xt_heartbeats() {
    local out rc=0 try
    for try in 1 2; do
        rc=0
        out=$("$1" -t 300 "cat /var/log/xen/console/guest-$2*.log 2>/dev/null | $XT_HB_PIPE") || rc=$?
        if [ $rc = 0 ]; then
            echo "$out"
            return 0
        fi
        echo "reading the heartbeats of $2 failed (exit $rc, try $try)" >&2
    done
    return $rc
}

# xt_snapshot HOSTFN: what the dom0 behind HOSTFN does now, asked on
# agent port 2 (a command on port 0 or 1 may be what hangs): processes with
# their wait channels, console logs, load, Xen's domains, the kernel's last
# words. (Twice a heartbeat count right after the guest's start hung for
# 120 s, and the guest's console log stayed empty meanwhile.)
xt_snapshot() {
    local h
    case $1 in A | A1) h=a ;; B | B1) h=b ;; *) return 0 ;; esac
    echo "-- snapshot of host $h's dom0 (agent port 2):"
    "$HOSTCTL" run "$h" -p 2 -t 60 'cat /proc/loadavg; xl list; ls -la --time-style=+%T /var/log/xen/console/
        ps -eo pid,ppid,stat,etime,time,wchan:24,args | grep -v "\]$"; dmesg | tail -8' 2>&1 | sed 's/^/   /' || true
}

# xt_count_heartbeats HOSTFN NAME: how many heartbeats the guest's console
# log(s) in that dom0 hold; fails when the dom0 does not answer.
xt_count_heartbeats() {
    local n try rc pid i
    for try in 1 2 3; do
        rc=0
        # In the background, so that a count still running after 60 s
        # can be looked at while it hangs.
        "$1" -t 120 "cat /var/log/xen/console/guest-$2*.log 2>/dev/null | $XT_HB_PIPE | wc -l" \
            > "$XENMIG_XEN_RUN/count.out" 2>&1 &
        pid=$!
        for i in $(seq 120); do kill -0 $pid 2> /dev/null || break; sleep 0.5; done
        if kill -0 $pid 2> /dev/null; then
            echo "counting the heartbeats of $2: no answer after 60 s" >&2
            xt_snapshot "$1" >&2
        fi
        wait $pid || rc=$?
        n=$(cat "$XENMIG_XEN_RUN/count.out")
        if [[ $n =~ ^[0-9]+$ ]]; then
            echo "$n"
            return 0
        fi
        echo "counting the heartbeats of $2: exit $rc, answer '$n' (try $try)" >&2
        sleep 2
    done
    return 1
}

# xt_guest_present HOSTFN NAME: "present" or "gone" (Xen knows the
# domain or not), or nothing when the dom0 does not answer.
xt_guest_present() {
    "$1" -t 60 "xl domid $2 > /dev/null 2>&1 && echo present || echo gone" 2> /dev/null || true
}

# xt_wait_heartbeats HOSTFN NAME COUNT TIMEOUT: waits until the guest's
# console shows COUNT heartbeats more than it did when called.
xt_wait_heartbeats() {
    local h=$1 name=$2 more=$3 to=$4 n0 n t last=-1
    t=$(xnow_ms)
    n0=$(xt_count_heartbeats "$h" "$name") || return 1
    while true; do
        n=$(xt_count_heartbeats "$h" "$name") || return 1
        [ "$n" -lt $((n0 + more)) ] || { echo "  $name: heartbeats $n0 -> $n"; return 0; }
        # A guest that crashed (or rebooted, which the test guests' XML
        # turns into destroy) writes no more heartbeats: say so at once
        # instead of waiting out the timeout.
        if [ "$n" = "$last" ] && [ "$(xt_guest_present "$h" "$name")" = gone ]; then
            echo "guest $name is no longer in Xen (crashed or destroyed) after $n0 -> $n heartbeats" >&2
            return 1
        fi
        if [ $(( ($(xnow_ms) - t) / 1000 )) -ge "$to" ]; then
            echo "no $more new heartbeats of $name within ${to}s ($n0 -> $n)" >&2
            return 1
        fi
        last=$n
        sleep 5
    done
}

# xt_wait_boot HOSTFN NAME COUNT TIMEOUT START-COMMAND: xt_wait_heartbeats
# for a guest just started. PVH guests under nested TCG sometimes
# triple-fault while booting (Xen logs "dN.. Triple fault"; seen with and
# without our module, before the guest did anything the test checks):
# when the guest is gone and Xen logged a triple fault not seen before,
# says so, records it in the timings, moves the guest's console log aside
# and runs START-COMMAND (bash, in that dom0) again, at most twice.
XT_TRIPLE_SEEN=0
xt_wait_boot() {
    local h=$1 name=$2 more=$3 to=$4 start=$5 i n
    for i in 1 2 3; do
        xt_wait_heartbeats "$h" "$name" "$more" "$to" && return 0
        [ "$(xt_guest_present "$h" "$name")" = gone ] || return 1
        n=$("$h" -t 60 "xl dmesg | grep -a -c 'Triple fault'") || return 1
        [ "$n" -gt "$XT_TRIPLE_SEEN" ] || return 1
        XT_TRIPLE_SEEN=$n
        echo "  guest $name triple-faulted while booting ($("$h" -t 60 "xl dmesg | grep -a 'Triple fault' | tail -1"))"
        echo "guest $name triple-faulted while booting (nested TCG), try $i" >> "$XENMIG_XEN_RUN/timings"
        [ $i -lt 3 ] || return 1
        echo "  starting $name again"
        # Its console log starts anew: the heartbeat checks read one boot.
        "$h" -t 500 "mv -f /var/log/xen/console/guest-$name.log \
            /var/log/xen/console/triple-faulted-$i-guest-$name.log 2> /dev/null; $start" || return 1
    done
}

# xt_check_sequence: reads heartbeat lines on stdin and checks that the
# sequence numbers run 1, 2, 3... without a gap, repeat or restart; prints
# the count, the largest step of the guest's wall time (its downtime seen
# from inside, in seconds) and where it happened.
xt_check_sequence() {
    awk '
        $1 != "HB" { next }
        {
            seq = $2 + 0; t = $3 + 0
            if (n > 0 && seq != last + 1) {
                printf "heartbeat sequence broken: %d after %d\n", seq, last; bad = 1; exit 1
            }
            if (n > 0 && t - lt > gap) { gap = t - lt; at = seq }
            n++; last = seq; lt = t
        }
        END {
            if (bad) exit 1
            if (n == 0) { print "no heartbeats"; exit 1 }
            printf "heartbeats=%d last=%d max_gap=%.3fs at_seq=%d\n", n, last, gap, at
        }'
}
