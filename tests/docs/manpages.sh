#!/bin/sh
# manpages.sh LIB MANDIR
# Every symbol libipckit exports has a section-3 page, and every page renders
# without a warning.
set -eu
lib=$1 mandir=$2
command -v man >/dev/null || { echo "man is not installed (scripts/setup.sh installs man-db)"; exit 1; }
missing=0
for sym in $(nm -D --defined-only "$lib" | awk '{ print $NF }' | grep '^ipckit_'); do
    if [ ! -f "$mandir/man3/$sym.3" ]; then
        echo "no man page for exported symbol $sym"
        missing=$((missing + 1))
    fi
done
cd "$mandir"
bad=0 pages=0
for page in man1/*.1 man3/*.3 man7/*.7; do
    [ -f "$page" ] || continue
    pages=$((pages + 1))
    out=$(MANWIDTH=80 man -l --warnings -E UTF-8 "$page" 2>&1 >/dev/null || echo "man failed")
    if [ -n "$out" ]; then
        echo "$page: $out"
        bad=$((bad + 1))
    fi
done
echo "$pages pages checked, $missing symbol(s) without a page, $bad page(s) with warnings"
[ "$missing" = 0 ] && [ "$bad" = 0 ]
