#!/bin/sh
# no-check.sh SRCDIR WORKDIR CC BUILD_SHARED_LIBS
# Building and installing the library does not need Check. Configure the
# source tree with -DBUILD_TESTING=ON where pkg-config sees every package of
# the system but check (libbsd included); configure must succeed and say how
# to get the Check suites or silence the warning, build, and install the
# library, headers and ipckit.pc. Then -DBUILD_TESTING=OFF configures
# without the warning.
set -eu
src=$1 work=$2 cc=$3 shared=$4
rm -rf "$work"
mkdir -p "$work/pc"

# A pkg-config directory with every .pc file pkg-config sees but check.pc.
IFS=:
for d in ${PKG_CONFIG_PATH:-} $(pkg-config --variable pc_path pkg-config); do
    for f in "$d"/*.pc; do
        [ -f "$f" ] || continue
        case "$(basename "$f")" in check.pc) continue ;; esac
        [ -e "$work/pc/$(basename "$f")" ] || ln -s "$f" "$work/pc/"
    done
done
unset IFS
PKG_CONFIG_LIBDIR="$work/pc"
PKG_CONFIG_PATH=""
export PKG_CONFIG_LIBDIR PKG_CONFIG_PATH
if pkg-config --exists check; then
    echo "check is still visible to pkg-config"; exit 1
fi
pkg-config --exists libbsd || { echo "libbsd is not visible to pkg-config"; exit 1; }

b="$work/build"
if ! cmake -S "$src" -B "$b" -DCMAKE_C_COMPILER="$cc" -DBUILD_TESTING=ON \
        -DBUILD_SHARED_LIBS="$shared" >"$work/configure.log" 2>&1; then
    echo "configure without Check failed:"; cat "$work/configure.log"; exit 1
fi
said=$(tr -s '\n ' '  ' <"$work/configure.log")
for hint in "apt-get install check" "check.pc" "-DBUILD_TESTING=OFF"; do
    case "$said" in *"$hint"*) ;; *)
        echo "configure without Check does not say \"$hint\":"; cat "$work/configure.log"; exit 1 ;;
    esac
done
echo "configure without Check succeeds and says:"
sed -n '/^CMake Warning/,/^$/p' "$work/configure.log" | sed 's/^/    /'
if (cd "$b" && ctest -N) | grep -Eq 'test_core|test_fifo'; then
    echo "Check suites registered without Check:"; (cd "$b" && ctest -N); exit 1
fi

cmake --build "$b" -j2 >"$work/build.log" 2>&1 || { echo "build failed:"; cat "$work/build.log"; exit 1; }
cmake --install "$b" --prefix "$work/prefix" >"$work/install.log" 2>&1 \
    || { echo "install failed:"; cat "$work/install.log"; exit 1; }
for f in include/ipckit/ipckit.h include/ipckit/version.h; do
    [ -f "$work/prefix/$f" ] || { echo "not installed: $f"; exit 1; }
done
[ -n "$(find "$work/prefix" -name ipckit.pc)" ] || { echo "not installed: ipckit.pc"; exit 1; }
[ -n "$(find "$work/prefix" -name 'libipckit.so.0' -o -name libipckit.a)" ] \
    || { echo "not installed: the library"; exit 1; }
echo "built and installed without Check"

if ! cmake -S "$src" -B "$work/notests" -DCMAKE_C_COMPILER="$cc" -DBUILD_TESTING=OFF \
        >"$work/notests.log" 2>&1; then
    echo "configure with -DBUILD_TESTING=OFF failed:"; cat "$work/notests.log"; exit 1
fi
if grep -q "Check, the unit test framework" "$work/notests.log"; then
    echo "-DBUILD_TESTING=OFF still warns about Check"; exit 1
fi
rm -rf "$b" "$work/notests"
echo "configure with -DBUILD_TESTING=OFF is quiet about Check"
