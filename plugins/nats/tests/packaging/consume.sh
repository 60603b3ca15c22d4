#!/bin/sh
# consume.sh STAGE SRCDIR WORKDIR [NATS_SERVER]
# The nats: plug-in as an installed package (STAGE, from cmake --install):
#   - libipckit.so.0 needs no NATS library (ldd), libipckit-nats.so.0 does;
#   - a consumer built with pkg-config ipckit-nats, and one built with
#     find_package(ipckit COMPONENTS nats), register the backend and, when
#     NATS_SERVER is given, exchange a message through a server that this
#     script starts on a free loopback port and stops;
#   - a program linked against libipckit alone opens nats: names (the
#     plug-in is loaded from beside the library).
set -eu
stage=$1 src=$2 work=$3 server=${4:-}
rm -rf "$work"
mkdir -p "$work"

lib=$(find "$stage" -name 'libipckit.so.0' | head -n1)
libdir=$(dirname "$lib")
[ -n "$lib" ] || { echo "no libipckit.so.0 in $stage"; exit 1; }
[ -f "$libdir/libipckit-nats.so.0" ] || { echo "no libipckit-nats.so.0 beside $lib"; exit 1; }
if ldd "$lib" | grep -i nats; then
    echo "libipckit.so.0 depends on a NATS library"; exit 1
fi
if readelf -d "$lib" | grep NEEDED | grep -i nats; then
    echo "libipckit.so.0 needs a NATS library"; exit 1
fi
ldd "$libdir/libipckit-nats.so.0" | grep -q libnats || { echo "libipckit-nats.so.0 does not link libnats"; exit 1; }
echo "ldd: libipckit.so.0 needs no NATS library; libipckit-nats.so.0 needs libnats"

url=""
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
}
trap cleanup EXIT INT TERM
if [ -n "$server" ] && [ -x "$server" ]; then
    mkdir -p "$work/server"
    "$server" -a 127.0.0.1 -p -1 -js -sd "$work/server/store" --ports_file_dir "$work/server" \
        -l "$work/server/log" &
    pid=$!
    for _ in $(seq 1 200); do
        f=$(ls "$work/server/"*.ports 2>/dev/null | head -n1 || true)
        if [ -n "$f" ] && [ -s "$f" ]; then
            port=$(sed -n 's/.*"nats":\["nats:\/\/127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$f")
            [ -n "$port" ] && url="nats://127.0.0.1:$port" && break
        fi
        sleep 0.05
    done
    [ -n "$url" ] || { echo "nats-server did not start"; cat "$work/server/log"; exit 1; }
fi

# pkg-config
pcdir=$(dirname "$(find "$stage" -name ipckit-nats.pc | head -n1)")
flags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs ipckit-nats)
echo "pkg-config --cflags --libs ipckit-nats: $flags"
case " $flags " in *" -lipckit-nats "*) ;; *) echo "ipckit-nats.pc: no -lipckit-nats"; exit 1 ;; esac
# shellcheck disable=SC2086
${CC:-cc} -std=c11 -Wall -Werror -D_GNU_SOURCE -o "$work/pc-consumer" "$src/consumer.c" $flags
LD_LIBRARY_PATH="$libdir" "$work/pc-consumer" $url

# CMake
cmake -S "$src/cmake-consumer" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$stage" \
    >"$work/cmake-configure.log" 2>&1 || { cat "$work/cmake-configure.log"; exit 1; }
cmake --build "$work/cmake" >"$work/cmake-build.log" 2>&1 || { cat "$work/cmake-build.log"; exit 1; }
LD_LIBRARY_PATH="$libdir" "$work/cmake/consumer" $url
if readelf -d "$work/cmake/autoload" | grep NEEDED | grep -i nats; then
    echo "the autoload program links the plug-in"; exit 1
fi
LD_LIBRARY_PATH="$libdir" "$work/cmake/autoload" $url
echo "find_package(ipckit COMPONENTS nats) and pkg-config ipckit-nats consumers work"
