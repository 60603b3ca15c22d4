#!/bin/sh
# consume.sh cmake|pkg-config STAGE SRCDIR WORKDIR
# Build tests/packaging/consumer.c against the install staged in STAGE and run it.
set -eu
how=$1 stage=$2 src=$3 work=$4
rm -rf "$work"
mkdir -p "$work"
libdir=$(find "$stage" -name 'libipckit.*' -path '*/lib*' | head -n1 | xargs dirname)
fifo="$work/consumer.pipe"
case "$how" in
cmake)
    cmake -S "$src/cmake-consumer" -B "$work" -DCMAKE_PREFIX_PATH="$stage" >"$work/configure.log" 2>&1 \
        || { cat "$work/configure.log"; exit 1; }
    cmake --build "$work" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
    ;;
pkg-config)
    pcdir=$(find "$stage" -name ipckit.pc | head -n1 | xargs dirname)
    flags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --define-prefix --cflags --libs ipckit)
    static=""
    [ -f "$libdir/libipckit.so" ] || static=$(PKG_CONFIG_PATH="$pcdir" pkg-config --define-prefix --static --libs ipckit)
    echo "pkg-config --cflags --libs ipckit: $flags"
    ${CC:-cc} -std=c11 -Wall -Werror -D_GNU_SOURCE -o "$work/consumer" "$src/consumer.c" $flags $static
    ;;
*) echo "usage: $0 cmake|pkg-config STAGE SRCDIR WORKDIR" >&2; exit 2 ;;
esac
LD_LIBRARY_PATH="$libdir" "$work/consumer" "$fifo"
