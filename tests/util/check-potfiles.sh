#!/bin/bash
# Every source file with translatable strings must be listed in po/POTFILES,
# and every listed file must exist, or its messages silently miss the catalogue.
set -euo pipefail
cd "${XENMIG_SRCDIR:?}"
status=0
while IFS= read -r f; do
    if grep -q '_("' "$f" && ! grep -qxF "$f" po/POTFILES; then
        echo "not in po/POTFILES: $f"
        status=1
    fi
done < <(find src tools -name '*.c' | sort)
while IFS= read -r f; do
    [ -z "$f" ] || [ "${f#\#}" != "$f" ] || [ -f "$f" ] || { echo "listed but missing: $f"; status=1; }
done < po/POTFILES
exit $status
