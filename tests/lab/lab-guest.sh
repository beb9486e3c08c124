#!/bin/bash
# guest makes sparse raw images on the chosen host's storage only and
# prints a sim guest's domain XML naming them at the common image path.
. "$(dirname "$0")/lab-lib.sh"

lab up 2 --module-dir "$EMPTY_MODULE_DIR" > /dev/null
lab guest g1 --host 2 --disks 2 --disk-size 16M --write-rate 3 --dirty-rate 5 \
    --heartbeat-ms 250 --memory 48 > "$LAB_DIR/g1.xml"

for d in a b; do
    img="$LAB_DIR/host2/storage/g1-xvd$d.img"
    [ -f "$img" ] || fail "no image $img"
    [ "$(stat -c %s "$img")" = $((16 * 1024 * 1024)) ] || fail "$img has the wrong size"
    [ "$(stat -c %b "$img")" -lt 64 ] || fail "$img is not sparse"
    lab exec 2 -- test -f "/var/lib/xenmig-lab/images/g1-xvd$d.img" || fail "host 2 does not see $img"
    if lab exec 1 -- test -e "/var/lib/xenmig-lab/images/g1-xvd$d.img"; then
        fail "host 1 sees host 2's image"
    fi
done

/usr/bin/python3 - "$LAB_DIR/g1.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
d = ET.parse(sys.argv[1]).getroot()
def check(cond, what):
    if not cond:
        sys.exit("bad XML: " + what)
check(d.tag == "domain" and d.get("type") == "xen", "domain type")
check(d.findtext("name") == "g1", "name")
check(len(d.findtext("uuid")) == 36, "uuid")
check(d.find("memory").text == "48" and d.find("memory").get("unit") == "MiB", "memory")
check(d.findtext("os/type") in ("xenpvh", "xen"), "os type")
sim = d.find("metadata/{https://xenmig.org/xmlns/sim/1}sim")
check(sim is not None, "sim metadata")
check(sim.get("disk-write-mib-s") == "3" and sim.get("ram-dirty-mib-s") == "5"
      and sim.get("heartbeat-ms") == "250", "sim rates")
disks = d.findall("devices/disk")
check([x.find("target").get("dev") for x in disks] == ["xvda", "xvdb"], "targets")
check(all(x.get("type") == "file" and x.find("driver").get("type") == "raw" for x in disks), "raw files")
check([x.find("source").get("file") for x in disks] ==
      ["/var/lib/xenmig-lab/images/g1-xvda.img", "/var/lib/xenmig-lab/images/g1-xvdb.img"], "paths")
PY

# An existing image is never overwritten; nothing is printed then.
rc=0; lab guest g1 --host 2 > "$LAB_DIR/out" 2> "$LAB_DIR/err" || rc=$?
[ "$rc" = 1 ] && [ ! -s "$LAB_DIR/out" ] && grep -q "File exists" "$LAB_DIR/err" ||
    fail "a second guest g1 on host 2: rc=$rc $(cat "$LAB_DIR/err")"
# The same name on another host is another file.
lab guest g1 --host 1 > /dev/null || fail "guest g1 on host 1 refused"
rc=0; lab guest g2 --host 3 2> /dev/null || rc=$?
[ "$rc" = 1 ] || fail "guest on a missing host returned $rc"
rc=0; lab guest g3 --disk-size 12Q 2> /dev/null || rc=$?
[ "$rc" = 2 ] || fail "a bad size returned $rc"
rc=0; lab guest 'bad/name' 2> /dev/null || rc=$?
[ "$rc" = 2 ] || fail "a bad name returned $rc"
[ ! -e "$LAB_DIR/host1/storage/g3-xvda.img" ] || fail "a refused guest left an image"
echo "ok"
