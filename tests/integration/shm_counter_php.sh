#!/bin/sh
# The counter example on PHP's own objects: 3 PHP processes run the
# tutorial's shm_shared.php loop (shm_attach(ftok(F, 'm')), sem_get(ftok(F,
# 's')), shm_has_var/shm_get_var/shm_put_var under sem_acquire) while
# "example_shm_counter sysvshm:F" runs its 3 C processes on the same keys.
# Every increment is counted: the "count: N" lines of all six processes are
# 0, 1, 2, ... each exactly once (a lost update would show a number twice),
# and nothing is left in ipcs afterwards.
# Usage: shm_counter_php.sh EXAMPLE PHP PEER_SHM_PHP
set -eu
example=$1 php=$2 peer=$3
if ! "$php" "$peer" check; then
    echo "SKIP: php-cli with sysvshm, sysvsem and posix cannot run"
    exit 77
fi
rounds=60 crounds=40
dir=$(mktemp -d /tmp/ipckit-counter-php.XXXXXX)
file=$dir/shm_shared.php
: > "$file"
cleanup() {
    "$php" "$peer" remove_ftok "$file" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
keys=$("$php" "$peer" keys_ftok "$file")

# The PHP workers first; C joins once each of them has counted once.
pids=
for i in 1 2 3; do
    "$php" "$peer" counter_ftok "$file" 1 "$rounds" 3000 > "$dir/php$i.out" &
    pids="$pids $!"
done
waited=0
for i in 1 2 3; do
    while ! grep -q "count:" "$dir/php$i.out"; do
        sleep 0.05
        waited=$((waited + 1))
        [ "$waited" -lt 1200 ] || { echo "PHP worker $i did not start"; exit 1; }
    done
done
"$example" --fast --repeat "$crounds" "sysvshm:$file" > "$dir/c.out"
for p in $pids; do
    wait "$p" || { echo "a PHP worker failed"; cat "$dir"/php*.out; exit 1; }
done

total=$((3 * rounds + 3 * crounds))
cat "$dir"/php*.out "$dir/c.out" | sed -n 's/^([0-9]*) count: \([0-9]*\)$/\1/p' | sort -n > "$dir/counts"
seq 0 $((total - 1)) > "$dir/want"
if ! cmp -s "$dir/counts" "$dir/want"; then
    echo "the counts are not 0..$((total - 1)) once each:"
    diff "$dir/want" "$dir/counts" | head -20
    exit 1
fi
c_lines=$(grep -c "count:" "$dir/c.out")
[ "$c_lines" = $((3 * crounds)) ] || { echo "C counted $c_lines times"; exit 1; }

"$php" "$peer" remove_ftok "$file"
for k in $keys; do
    if ipcs -m -s | grep -qi "^$k "; then
        echo "key $k is still in ipcs"
        exit 1
    fi
done
echo "ok: $total increments by 3 PHP and 3 C processes, each counted once; nothing left in ipcs"
