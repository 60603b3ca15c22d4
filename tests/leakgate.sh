#!/bin/sh
# Leak gate for the test suite.
#   leakgate.sh snapshot FILE   record the IPC objects that exist now
#   leakgate.sh compare FILE    fail if objects exist now that were not recorded
# Objects: System V queues, segments and semaphore sets (by key and id),
# entries of /dev/shm and /dev/mqueue, and FIFOs under /tmp.
set -eu
list() {
    for f in msg shm sem; do
        [ -r /proc/sysvipc/$f ] && awk -v t="$f" 'NR > 1 { print "sysv-" t " key=" $1 " id=" $2 }' /proc/sysvipc/$f
    done
    for d in /dev/shm /dev/mqueue; do
        [ -d $d ] && find $d -mindepth 1 -maxdepth 1 -printf "$d/%f\n" 2>/dev/null
    done
    find /tmp -maxdepth 4 -type p -print 2>/dev/null || true
}
case "$1" in
snapshot) list | sort > "$2" ;;
compare)
    now=$(mktemp)
    list | sort > "$now"
    new=$(comm -13 "$2" "$now")
    rm -f "$now"
    if [ -n "$new" ]; then
        echo "leak gate: the tests left these IPC objects behind:"
        echo "$new"
        exit 1
    fi
    echo "leak gate: no IPC object left behind"
    ;;
*) echo "usage: $0 snapshot|compare FILE" >&2; exit 2 ;;
esac
