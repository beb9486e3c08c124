#!/bin/bash
# The destination's migrate hook (migrate_hook in libxl.conf), called as
# libvirt's libxl driver calls /etc/libvirt/hooks/libxl: "<name> migrate
# begin -" with the domain XML on stdin. A non-zero exit refuses the
# migration (the guest stays on host 1, host 2 keeps nothing); XML it
# prints replaces the definition on host 2.
. "$(dirname "$0")/mig-lib.sh"
mig_up
hook="$LAB_DIR/hook"
cat > "$hook" <<EOT
#!/bin/bash
echo "\$*" >> "$LAB_DIR/hook.args"
xml=\$(cat)
if [ -e "$LAB_DIR/hook.refuse" ]; then
    echo "not on this host" >&2
    exit 1
fi
printf '%s\n' "\$xml" | sed 's|</name>|</name><description>set by the hook</description>|'
EOT
chmod +x "$hook"
echo "migrate_hook = \"$hook\"" >> "$LAB_DIR/host2/etc/xenmig.conf"
lab restart 2 > /dev/null
mig_guest g1 --disk-size 8M --write-rate 1 --heartbeat-ms 50

touch "$LAB_DIR/hook.refuse"
if out=$(virsh1 migrate --live --copy-storage-all g1 "$DST_URI" 2>&1); then
    fail "migration succeeded although the hook refused it"
fi
echo "refused: $out"
case "$out" in *"not on this host"*) ;; *) fail "the hook's message is not in the error" ;; esac
assert_on_source g1 g1-xvda.img
[ "$(head -n1 "$LAB_DIR/hook.args")" = "g1 migrate begin -" ] ||
    fail "hook arguments: $(head -n1 "$LAB_DIR/hook.args")"

rm "$LAB_DIR/hook.refuse"
out=$(virsh1 migrate --live --copy-storage-all g1 "$DST_URI" 2>&1) || fail "virsh migrate: $out"
assert_on_dest g1
virsh -q -c "$U2" dumpxml g1 | grep -q "<description>set by the hook</description>" ||
    fail "the hook's XML was not used on host 2"
echo ok
