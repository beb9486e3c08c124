#!/bin/sh
# Installs a configuration file unless one is there already: an admin's
# (or the distribution's) file is never overwritten.
# usage: install-conf.sh SOURCE DEST (DEST relative to the prefix, or absolute)
set -eu
src=$1
dest=$2
case "$dest" in
    /*) ;;
    *) dest="$MESON_INSTALL_PREFIX/$dest" ;;
esac
target="${DESTDIR:-}$dest"
if [ -e "$target" ]; then
    echo "Keeping existing $target (new defaults: $src)"
    exit 0
fi
mkdir -p "$(dirname "$target")"
install -m 0644 "$src" "$target"
echo "Installing $target"
