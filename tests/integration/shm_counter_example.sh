#!/bin/sh
# The counter example prints the tutorial's 15 count lines, 0 to 14 in
# order, and leaves no shared memory behind.
# Usage: shm_counter_example.sh PATH-TO-example_shm_counter
set -eu
out=$("$1" --fast)
counts=$(printf '%s\n' "$out" | sed -n 's/^([0-9]*) count: \([0-9]*\)$/\1/p' | tr '\n' ' ')
if [ "$counts" != "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 " ]; then
    printf 'unexpected count lines: "%s"\n%s\n' "$counts" "$out"
    exit 1
fi
parent=$(printf '%s\n' "$out" | sed -n 's/^parent progress pid:\([0-9]*\)$/\1/p')
if [ -z "$parent" ] || [ -e "/dev/shm/ipckit-example-$parent.counter" ]; then
    echo "the example left /dev/shm/ipckit-example-$parent.counter behind"
    exit 1
fi
echo "ok: 15 count lines ending in 14, nothing left in /dev/shm"
