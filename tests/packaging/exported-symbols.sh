#!/bin/sh
# exported-symbols.sh LIB BASELINE
# Every dynamic symbol libipckit.so defines must be ipckit_[a-z]*, with a
# symbol version of lib/ipckit.map (docs/abi.md); its SONAME must be
# libipckit.so.<major>. BASELINE is the stored ABI of the last release
# (abi/libipckit.so.0.abi, from 0.1.0): each function it exports is still
# exported at the same version node (0.1.0 had no versions: its functions
# are at IPCKIT_0.1), and every function added since is in a node the
# baseline did not have, not in one of its own.
set -eu
lib=$1 baseline=$2
# "name@@VERSION" (the default version) or "name@VERSION" (a compatibility
# one); version nodes themselves are absolute symbols named after the node.
syms=$(nm -D --defined-only "$lib" | awk '$2 != "A" { print $NF }')
nodes=$(nm -D --defined-only "$lib" | awk '$2 == "A" { print $NF }')
bad=$(printf '%s\n' "$syms" | sed 's/@.*//' | grep -v '^ipckit_[a-z]' || true)
if [ -n "$bad" ]; then
    echo "symbols outside the ipckit_ namespace:"; echo "$bad"; exit 1
fi
soname=$(objdump -p "$lib" | awk '$1 == "SONAME" { print $2 }')
case "$soname" in
libipckit.so.[0-9]*) ;;
*) echo "unexpected SONAME: '$soname'"; exit 1 ;;
esac
bad=$(printf '%s\n' "$nodes" | grep -v '^IPCKIT_[0-9]*\.[0-9]*$' || true)
[ -z "$bad" ] || { echo "version nodes not named IPCKIT_MAJOR.MINOR: $bad"; exit 1; }
bad=$(printf '%s\n' "$syms" | grep -v '@@IPCKIT_' || true)
[ -z "$bad" ] || { echo "symbols without a default IPCKIT_ version:"; echo "$bad"; exit 1; }

# "name version" of each function of the baseline.
base=$(sed -n "s/.*<elf-symbol name='\(ipckit_[a-z0-9_]*\)'\( version='\([^']*\)'\)\{0,1\}.*type='func-type'.*/\1 \3/p" \
    "$baseline" | awk '{ print $1, ($2 == "" ? "IPCKIT_0.1" : $2) }' | sort -u)
[ -n "$base" ] || { echo "no functions in $baseline"; exit 1; }
base_nodes=$(printf '%s\n' "$base" | awk '{ print $2 }' | sort -u)
# shellcheck disable=SC2086 # one word per symbol
all=" $(printf '%s ' $syms)"
fail=0 kept=0 added=0
for entry in $(printf '%s\n' "$base" | tr ' ' '@'); do
    name=${entry%@*} ver=${entry#*@}
    kept=$((kept + 1))
    case "$all" in
    *" $name@@$ver "*) ;;
    *) echo "$name, exported by $(basename "$baseline") at $ver, is not exported at $ver"; fail=1 ;;
    esac
done
for s in $syms; do
    name=${s%%@*} ver=${s#*@@}
    printf '%s\n' "$base" | grep -q "^$name " && continue
    added=$((added + 1))
    if printf '%s\n' "$base_nodes" | grep -qx "$ver"; then
        echo "$name, which $(basename "$baseline") does not export, is at $ver, a node of that" \
            "release: it belongs in the newest node"
        fail=1
    fi
done
[ "$fail" = 0 ] || exit 1
echo "$(printf '%s\n' "$syms" | wc -l) exported symbols, all ipckit_* and versioned" \
    "($kept at their versions of $(basename "$baseline"), $added added since);" \
    "nodes $(printf %s "$nodes" | tr "\n" " "); SONAME $soname"
