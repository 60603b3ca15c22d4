#!/bin/sh
# consume.sh cmake|pkg-config|moved STAGE SRCDIR WORKDIR
# Build tests/packaging/consumer.c against the install staged in STAGE and run it.
#   cmake       find_package(ipckit) with CMAKE_PREFIX_PATH=STAGE
#   pkg-config  pkg-config with PKG_CONFIG_PATH in STAGE, as ipckit.pc is: the
#               compile and link flags must point into STAGE (not at the
#               prefix the build was configured with)
#   moved       copy STAGE to another place (WORKDIR/elsewhere/prefix), as one
#               moves an install, and do both of the above against the copy
set -eu
how=$1 stage=$2 src=$3 work=$4
rm -rf "$work"
mkdir -p "$work"

# in_prefix PATH PREFIX: PATH is PREFIX or below it, once both are resolved.
in_prefix() {
    p=$(realpath -m "$1") q=$(realpath -m "$2")
    case "$p/" in "$q"/*) return 0 ;; esac
    return 1
}

libdir_of() {
    find "$1" -name 'libipckit.*' -path '*/lib*' | head -n1 | xargs dirname
}

use_cmake() { # PREFIX WORK
    cmake -S "$src/cmake-consumer" -B "$2" -DCMAKE_PREFIX_PATH="$1" >"$2/configure.log" 2>&1 \
        || { cat "$2/configure.log"; exit 1; }
    found=$(sed -n 's/^ipckit_DIR:PATH=//p' "$2/CMakeCache.txt")
    in_prefix "$found" "$1" || { echo "find_package(ipckit) found $found, not the package in $1"; exit 1; }
    cmake --build "$2" >"$2/build.log" 2>&1 || { cat "$2/build.log"; exit 1; }
    LD_LIBRARY_PATH=$(libdir_of "$1") "$2/consumer" "$2/consumer.pipe"
}

use_pkg_config() { # PREFIX WORK
    pcdir=$(find "$1" -name ipckit.pc | head -n1 | xargs dirname)
    prefix=$(PKG_CONFIG_PATH="$pcdir" pkg-config --variable=prefix ipckit)
    flags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs ipckit)
    libdir=$(libdir_of "$1")
    static=""
    [ -f "$libdir/libipckit.so" ] || static=$(PKG_CONFIG_PATH="$pcdir" pkg-config --static --libs ipckit)
    echo "pkg-config --cflags --libs ipckit: $flags"
    in_prefix "$prefix" "$1" || { echo "ipckit.pc: prefix $prefix is not $1"; exit 1; }
    # Every -I and -L but libbsd's is in the prefix, and they are the
    # directories the headers and the library are in.
    bsd=" $(pkg-config --cflags --libs libbsd) "
    seen_i="" seen_l=""
    for f in $flags; do
        case "$f" in
        -I*) d=${f#-I} ;;
        -L*) d=${f#-L} ;;
        *) continue ;;
        esac
        case "$bsd" in *" $f "*) continue ;; esac
        in_prefix "$d" "$1" || { echo "ipckit.pc: $f is outside $1"; exit 1; }
        case "$f" in
        -I*) [ -f "$d/ipckit/ipckit.h" ] && seen_i=1 ;;
        -L*) [ "$(realpath "$d")" = "$(realpath "$libdir")" ] && seen_l=1 ;;
        esac
    done
    [ -n "$seen_i" ] || { echo "ipckit.pc: no -I for the headers in $1"; exit 1; }
    [ -n "$seen_l" ] || { echo "ipckit.pc: no -L for $libdir"; exit 1; }
    # shellcheck disable=SC2086
    ${CC:-cc} -std=c11 -Wall -Werror -D_GNU_SOURCE -o "$2/consumer" "$src/consumer.c" $flags $static
    LD_LIBRARY_PATH="$libdir" "$2/consumer" "$2/consumer.pipe"
}

case "$how" in
cmake) use_cmake "$stage" "$work" ;;
pkg-config) use_pkg_config "$stage" "$work" ;;
moved)
    moved="$work/elsewhere/prefix"
    mkdir -p "$work/elsewhere" "$work/cmake" "$work/pkg-config"
    cp -a "$stage" "$moved"
    echo "install copied from $stage to $moved"
    use_pkg_config "$moved" "$work/pkg-config"
    use_cmake "$moved" "$work/cmake"
    ;;
*) echo "usage: $0 cmake|pkg-config|moved STAGE SRCDIR WORKDIR" >&2; exit 2 ;;
esac
