#!/bin/sh
# headers.sh STD COMPILER SRCDIR BINDIR WORKDIR [PLUGIN_INCLUDEDIR...]
# Every public header, alone, in a translation unit of its own, compiles with
# COMPILER in the strict mode STD (c99, c11, c17: ISO C without GNU
# extensions; c++11, c++17: C++), with -pedantic-errors and no feature macro
# such as _GNU_SOURCE or _POSIX_C_SOURCE: what a user whose build says
# C_STANDARD 11 and C_EXTENSIONS OFF gets. The headers are those of the
# source tree (SRCDIR/include/ipckit/*.h) and the generated ones of the build
# (BINDIR/include/ipckit/*.h, version.h); each is included twice, for its
# include guard. Each PLUGIN_INCLUDEDIR, a plug-in's include directory
# (plugins/nats/include when the nats: plug-in is built; an empty argument
# is none), adds its ipckit/*.h, compiled the same way with that directory
# searched too.
set -eu
std=$1 cc=$2 src=$3 bin=$4 work=$5
shift 5
case "$std" in
c++*) lang=c++ warn="" ;;
c*) lang=c warn="-Wstrict-prototypes -Wmissing-prototypes" ;;
*) echo "usage: $0 c99|c11|c17|c++11|c++17 COMPILER SRCDIR BINDIR WORKDIR [PLUGIN_INCLUDEDIR...]" >&2; exit 2 ;;
esac
rm -rf "$work"
mkdir -p "$work"
n=0 bad=0
# check HEADER [INCLUDEDIR]: compile HEADER alone
check() {
    h=$1 plugin=${2:-}
    [ -f "$h" ] || return 0
    name=$(basename "$h" .h)
    tu="$work/$name.$lang"
    # A function of its own, so that no translation unit is empty (export.h
    # declares nothing), which also builds the options initialiser the
    # header offers, in C and in C++.
    cat >"$tu" <<EOF
#include <ipckit/$name.h>
#include <ipckit/$name.h>
int ipckit_header_check_$name(void);
int ipckit_header_check_$name(void)
{
#ifdef IPCKIT_OPTS_INIT
    ipckit_opts opts = IPCKIT_OPTS_INIT;
    return (int) opts.version;
#else
    return 0;
#endif
}
EOF
    n=$((n + 1))
    # shellcheck disable=SC2086
    if ! out=$("$cc" -x "$lang" -std="$std" -pedantic-errors -Wall -Wextra -Werror $warn \
            ${plugin:+-I"$plugin"} -I"$src/include" -I"$bin/include" \
            -c -o "$work/$name.o" "$tu" 2>&1); then
        echo "FAIL <ipckit/$name.h> with $cc -std=$std -pedantic-errors:"
        echo "$out" | sed 's/^/    /'
        bad=$((bad + 1))
    fi
}
for h in "$src"/include/ipckit/*.h "$bin"/include/ipckit/*.h; do
    check "$h"
done
for d in "$@"; do
    [ -n "$d" ] || continue
    [ -d "$d/ipckit" ] || { echo "headers.sh: no $d/ipckit" >&2; exit 2; }
    for h in "$d"/ipckit/*.h; do
        check "$h" "$d"
    done
done
echo "$n headers compiled alone with $cc -std=$std -pedantic-errors, $bad failed"
[ "$n" -gt 0 ] && [ "$bad" = 0 ]
