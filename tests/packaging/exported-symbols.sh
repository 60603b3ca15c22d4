#!/bin/sh
# Every dynamic symbol libipckit.so defines must be ipckit_[a-z]*; its SONAME
# must be libipckit.so.<major>.
set -eu
lib=$1
bad=$(nm -D --defined-only "$lib" | awk '{ print $NF }' | grep -v '^ipckit_[a-z]' || true)
if [ -n "$bad" ]; then
    echo "symbols outside the ipckit_ namespace:"; echo "$bad"; exit 1
fi
soname=$(objdump -p "$lib" | awk '$1 == "SONAME" { print $2 }')
case "$soname" in
libipckit.so.[0-9]*) ;;
*) echo "unexpected SONAME: '$soname'"; exit 1 ;;
esac
echo "$(nm -D --defined-only "$lib" | wc -l) exported symbols, all ipckit_*; SONAME $soname"
