#!/bin/bash
# The destination's libvirtd is frozen the instant Prepare creates the
# image (an inotify watch on host 2's storage stops it with SIGSTOP) and
# then SIGKILLed: whether or not its Prepare had returned, the image was on
# record before it could hold data, so the restarted libvirtd removes it.
# The guest keeps running on host 1 only, untouched, with an unbroken
# heartbeat.
. "$(dirname "$0")/mig-lib.sh"
mig_up
mig_memory_guest
pid2=$(lab status | sed -n '/^host 2:/,/^host 3:/ s/.*libvirtd PID \([0-9]*\).*/\1/p')
[ -n "$pid2" ] || fail "no libvirtd PID for host 2: $(lab status)"

# Freezes PID when NAME appears in DIR; prints "ready" once watching.
/usr/bin/python3 - "$(dirname "$(img 2 g1-xvda.img)")" g1-xvda.img "$pid2" \
    > "$LAB_DIR/watch.out" 2>&1 <<'PY' &
import ctypes, os, signal, struct, sys
d, name, pid = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(0)
IN_CREATE = 0x100
if fd < 0 or libc.inotify_add_watch(fd, d.encode(), IN_CREATE) < 0:
    sys.exit("inotify: %s" % os.strerror(ctypes.get_errno()))
print("ready", flush=True)
while True:
    buf = os.read(fd, 65536)
    off = 0
    while off < len(buf):
        _, _, _, n = struct.unpack_from("iIII", buf, off)
        ev = buf[off + 16: off + 16 + n].rstrip(b"\0")
        off += 16 + n
        if ev == name:
            os.kill(pid, signal.SIGSTOP)
            print("stopped", flush=True)
            sys.exit(0)
PY
watch_pid=$!
for _ in $(seq 50); do
    grep -qs ready "$LAB_DIR/watch.out" && break
    sleep 0.1
done
grep -q ready "$LAB_DIR/watch.out" || fail "inotify watch: $(cat "$LAB_DIR/watch.out")"

virsh1 migrate --live --copy-storage-all --bandwidth 1 g1 "$DST_URI" > "$LAB_DIR/migrate.out" 2>&1 &
mig_pid=$!
for _ in $(seq 100); do
    pid_running "$watch_pid" || break
    sleep 0.1
done
pid_running "$watch_pid" && { kill "$watch_pid"; fail "host 2 never created the image"; }
grep -q stopped "$LAB_DIR/watch.out" || fail "inotify watch: $(cat "$LAB_DIR/watch.out")"
[ -e "$(img 2 g1-xvda.img)" ] || fail "the image is not there"

lab restart 2 --kill > /dev/null || fail "restart host 2"
mig_wait_failed "the destination daemon died"
wait_dest_gone g1 g1-xvda.img 10
mig_end_on_source
echo ok
