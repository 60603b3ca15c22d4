# Shared set-up of scripts/demo and scripts/check (sourced, not run).
# Installs the Debian packages the build and the tests need when they are
# missing, then configures and builds into the directory given as $1.
set -eu

IPCKIT_ROOT=$(cd "$(dirname "$0")/.." && pwd)

# Packages: build (cmake, compiler, pkg-config, libbsd), tests (check,
# procps for ps, util-linux for ipcs), the extra checks (valgrind, man,
# doxygen, g++ for the headers as C++, abigail-tools for the ABI check), the
# interop peers (php-cli for mq: and sysvshm:, with its sysvshm, sysvsem
# and posix extensions; python3-sysv-ipc), fuzzing, and the nats: plug-in
# (libnats-dev, and nats-server for its tests).
IPCKIT_PACKAGES="cmake make gcc libc6-dev pkgconf libbsd-dev check util-linux procps file"
IPCKIT_CHECK_PACKAGES="valgrind man-db groff-base doxygen php-cli python3-sysv-ipc g++ abigail-tools"
IPCKIT_FUZZ_PACKAGES="clang libclang-rt-14-dev"
# scripts/bench only (not needed to build the library): the nng and ZeroMQ
# peers, the plots, and Eclipse iceoryx for "scripts/bench --pubsub" (its C
# binding, and iox-roudi from the iceoryx package).
IPCKIT_BENCH_PACKAGES="libnng-dev libzmq3-dev gnuplot-nox libiceoryx-binding-c-dev iceoryx"
# The nats: plug-in: the C client to build it, the server for its tests, the
# demo and the benchmark (Debian's nats-server listens on 127.0.0.1 only),
# openssl for the certificates of the TLS test.
IPCKIT_NATS_PACKAGES="nats-server libnats-dev openssl"

ipckit_install() {
    missing=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    echo "== installing:$missing"
    if [ "$(id -u)" != 0 ]; then
        echo "error: packages missing ($missing) and not root; install them with apt-get" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    # shellcheck disable=SC2086
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing >/dev/null
}

# ipckit_build DIR [cmake args...]
ipckit_build() {
    dir=$1
    shift
    echo "== configure $dir $*"
    cmake -S "$IPCKIT_ROOT" -B "$dir" "$@" >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; exit 1; }
    echo "== build $dir"
    cmake --build "$dir" -j"$(nproc)" >"$dir.build.log" 2>&1 || { cat "$dir.build.log"; exit 1; }
}

# The Debian packages (scripts/deb): the packaging tools, lintian, mmdebstrap
# for the new root the installed packages are tested in, autopkgtest for
# debian/tests, and what debian/control needs to build beyond
# IPCKIT_PACKAGES (man-db for the tests, libnats-dev for the nats: plug-in).
IPCKIT_DEB_PACKAGES="build-essential debhelper devscripts dpkg-dev fakeroot lintian mmdebstrap autopkgtest man-db libnats-dev"
