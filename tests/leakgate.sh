#!/bin/sh
# Leak gate for the test suite.
#   leakgate.sh snapshot FILE   record the IPC objects that exist now
#   leakgate.sh compare FILE    fail if objects exist now that were not recorded
# Objects: System V queues, segments and semaphore sets, entries of /dev/shm
# and /dev/mqueue, and FIFOs under /tmp.
#
# When the comparison runs, every process of the test run has exited. A new
# object that a live process still uses belongs to someone else working on
# the machine at the same time, and is not counted: a System V object whose
# creator or last user is alive, a file that a process has open or mapped, or
# a creator record (/dev/shm/ipckit-creator.*) whose creator is alive. A
# record that outlives its object shows up here like the object would.
set -eu
list() {
    for f in msg shm sem; do
        [ -r /proc/sysvipc/$f ] || continue
        # Pids that tell whether someone uses the object: the creator and last
        # user of a segment, the last sender and receiver of a queue (a
        # semaphore set records none). Columns are found by name.
        awk -v t="$f" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i ~ /^(cpid|lpid|lspid|lrpid)$/) c[i] = 1; next }
                       { p = ""; for (i in c) p = p "," $i; print "sysv-" t " key=" $1 " id=" $2 "\t" p }' /proc/sysvipc/$f
    done
    for d in /dev/shm /dev/mqueue; do
        [ -d $d ] && find $d -mindepth 1 -maxdepth 1 -printf "$d/%f\n" 2>/dev/null
    done
    # valgrind's own gdbserver FIFOs (vgdb-pipe-*) are no test's objects
    find /tmp -maxdepth 4 -type p ! -name 'vgdb-pipe-*' -print 2>/dev/null || true
}
in_use() {
    case "$1" in
    sysv-*)
        for pid in $(echo "$2" | tr ',' ' '); do
            [ "$pid" != 0 ] && [ -d "/proc/$pid" ] && return 0
        done
        return 1
        ;;
    /dev/shm/ipckit-creator.*)
        # one line: "ipckit-creator 1 KIND pid=PID ..."; a record that does
        # not parse is counted
        pid=$(head -c 16384 "$1" 2>/dev/null | sed -n '1s/^ipckit-creator [0-9]* [a-z]* pid=\([0-9]*\) .*/\1/p')
        [ -n "$pid" ] && [ -d "/proc/$pid" ]
        ;;
    *)
        find /proc/[0-9]*/fd -maxdepth 1 -lname "$1" 2>/dev/null | grep -q . ||
            grep -qsF " $1" /proc/[0-9]*/maps
        ;;
    esac
}
case "$1" in
snapshot) list | cut -f1 | sort > "$2" ;;
compare)
    now=$(mktemp)
    list | sort > "$now"
    new=$(cut -f1 "$now" | sort | comm -13 "$2" -)
    echo "$new" | while IFS= read -r obj; do
        [ -n "$obj" ] || continue
        pids=$(grep -F "$obj	" "$now" | cut -f2 | head -n1)
        if in_use "$obj" "$pids"; then
            echo "leak gate: ignoring $obj (in use by a live process outside this run)"
        else
            echo "LEAK $obj"
        fi
    done > "$2.result"
    rm -f "$now"
    cat "$2.result"
    if grep -q '^LEAK' "$2.result"; then
        echo "leak gate: the tests left IPC objects behind (LEAK lines above)"
        exit 1
    fi
    echo "leak gate: no IPC object left behind"
    ;;
*) echo "usage: $0 snapshot|compare FILE" >&2; exit 2 ;;
esac
