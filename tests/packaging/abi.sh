#!/bin/sh
# abi.sh check LIB SRCDIR BINDIR
# abi.sh dump  LIB SRCDIR BINDIR OUT
#
# The ABI check of docs/abi.md, with libabigail (Debian: abigail-tools).
#   dump   write the ABI of LIB (a build with debug information) as abidw
#          XML: the types of the public headers, SRCDIR/include/ipckit and
#          BINDIR/include/ipckit, that the exported functions reach.
#   check  compare LIB with the stored baseline of its SONAME,
#          SRCDIR/abi/<soname>.abi (made with "dump" from the 0.1.0 library),
#          through the suppressions SRCDIR/abi/<soname>.abignore. Any change
#          that is not suppressed fails: a removed function, a parameter or
#          return type changed, a public struct changed other than by
#          appending behind its version field. Added functions pass (their
#          symbol versions are tests/packaging/exported-symbols.sh's).
#
# Symbol versions are taken out of both sides before the comparison:
# libabigail ties a function to its symbol by name@version, so it finds
# nothing to compare between 0.1.0's unversioned ipckit_open and
# ipckit_open@@IPCKIT_0.1, and would miss every change of type. The
# versions are checked by exported-symbols.sh instead.
#
# check exits 77 (skipped) when abidw or abidiff is missing, when LIB has no
# debug information, or on another architecture than the baseline's, unless
# IPCKIT_ABI_REQUIRED=1 (scripts/check), which makes those failures.
set -eu
cmd=$1 lib=$2 src=$3 bin=$4

skip() {
    echo "ABI check skipped: $*"
    [ "${IPCKIT_ABI_REQUIRED:-0}" = 1 ] && exit 1
    exit 77
}

dump() { # LIB OUT
    # --exported-interfaces-only: without it, a function that other files
    # of the library declare and call was not tied to its symbol, and the
    # changes of its parameters were not seen.
    abidw --exported-interfaces-only --drop-private-types \
        --headers-dir "$src/include/ipckit" --headers-dir "$bin/include/ipckit" \
        --no-corpus-path --no-comp-dir-path --short-locs --out-file "$2" "$1"
}

unversion() { # XML OUT
    sed -e "s/ version='[^']*' is-default-version='[^']*'//" \
        -e "s/\(elf-symbol-id='[^'@]*\)@[^']*'/\1'/g" "$1" >"$2"
}

for t in abidw abidiff; do
    command -v "$t" >/dev/null || skip "$t is not installed (Debian: apt-get install abigail-tools)"
done
readelf -S "$lib" | grep -q '\.debug_info' || skip "$lib has no debug information (build with -g, e.g. RelWithDebInfo)"

case "$cmd" in
dump)
    dump "$lib" "$5"
    echo "ABI of $lib written to $5"
    exit 0
    ;;
check) ;;
*) echo "usage: $0 check LIB SRCDIR BINDIR | dump LIB SRCDIR BINDIR OUT" >&2; exit 2 ;;
esac

soname=$(objdump -p "$lib" | awk '$1 == "SONAME" { print $2 }')
base="$src/abi/$soname.abi"
suppr="$src/abi/$soname.abignore"
[ -f "$base" ] || { echo "no ABI baseline for $soname ($base): see docs/abi.md"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dump "$lib" "$work/lib.abi"
arch() { sed -n "s/.*<abi-corpus [^>]*architecture='\([^']*\)'.*/\1/p" "$1" | head -n1; }
[ "$(arch "$base")" = "$(arch "$work/lib.abi")" ] \
    || skip "the baseline is for $(arch "$base"), $lib for $(arch "$work/lib.abi")"
unversion "$base" "$work/base.abi"
unversion "$work/lib.abi" "$work/new.abi"
set -- --no-added-syms
[ -f "$suppr" ] && set -- "$@" --suppressions "$suppr"
if abidiff "$@" "$work/base.abi" "$work/new.abi" >"$work/report" 2>&1; then
    sed -n '/changes summary/p' "$work/report"
    echo "ABI of $lib: compatible with $(basename "$base")"
else
    rc=$?
    cat "$work/report"
    echo "ABI of $lib: abidiff exit $rc against $(basename "$base"); docs/abi.md says what a release may change"
    exit 1
fi
