<?php
// PHP peer for the sysvshm: interoperability tests
// (tests/interop/test_interop_sysvshm.c) and the counter example's check
// (tests/integration/shm_counter_php.sh). It uses PHP's own shm_attach(),
// shm_*_var(), sem_get(), sem_acquire() and sem_release(), as the
// tutorial does. Values cross as hex of their serialize() text.
//   php peer_shm.php check
//   php peer_shm.php create SHMKEY SEMKEY SIZE
//   php peer_shm.php put SHMKEY SEMKEY VAR HEX [VAR HEX ...]
//   php peer_shm.php get SHMKEY SEMKEY VAR [VAR ...]      one line each: HEX or -
//   php peer_shm.php remove_var SHMKEY SEMKEY VAR
//   php peer_shm.php counter SHMKEY SEMKEY VAR ROUNDS MAX_SLEEP_US
//   php peer_shm.php counter_ftok PATH VAR ROUNDS MAX_SLEEP_US
//   php peer_shm.php hold SHMKEY SEMKEY                    prints "held", sleeps
//   php peer_shm.php try SHMKEY SEMKEY                     prints 1 (got it) or 0
//   php peer_shm.php reserialize                           stdin: HEX lines
//   php peer_shm.php remove SHMKEY SEMKEY
//   php peer_shm.php remove_ftok PATH                      the tutorial's objects, if there
//   php peer_shm.php keys_ftok PATH                        prints the two keys, 0x%08x
// Keys are decimal or 0x hex.
function fail($what) {
    fwrite(STDERR, "peer_shm.php: $what\n");
    exit(1);
}
function key_arg($s) {
    return (int) (strncasecmp($s, '0x', 2) === 0 ? hexdec(substr($s, 2)) : $s);
}
function attach($argv) {
    $shm = @shm_attach(key_arg($argv[2]));
    if ($shm === false)
        fail("shm_attach({$argv[2]}) failed");
    $sem = sem_get(key_arg($argv[3]));
    if ($sem === false)
        fail("sem_get({$argv[3]}) failed");
    return [$shm, $sem];
}
// The tutorial's loop: take the lock, initialise the counter to 0 or add
// one, print "(pid) count: N", release, sleep a little.
function counter($shm, $sem, $var, $rounds, $max_sleep) {
    $pid = posix_getpid();
    for ($i = 0; $i < $rounds; $i++) {
        if (!sem_acquire($sem))
            fail('sem_acquire failed');
        if (shm_has_var($shm, $var)) {
            $count = shm_get_var($shm, $var);
            if (!is_int($count))
                fail('the counter is not an int: ' . var_export($count, true));
            $count++;
        } else {
            $count = 0;
        }
        if (!shm_put_var($shm, $var, $count))
            fail('shm_put_var failed');
        echo "($pid) count: $count\n";
        if (!sem_release($sem))
            fail('sem_release failed');
        if ($max_sleep > 0)
            usleep(rand(0, $max_sleep));
    }
}
$cmd = $argv[1] ?? '';
if ($cmd === 'check') {
    foreach (['shm_attach', 'sem_get', 'posix_getpid'] as $f)
        if (!function_exists($f))
            fail("$f() is missing (php-cli with sysvshm, sysvsem and posix)");
    exit(0);
}
if ($cmd === 'create') {
    $shm = shm_attach(key_arg($argv[2]), intval($argv[4]));
    $sem = sem_get(key_arg($argv[3]));
    if ($shm === false || $sem === false)
        fail('create failed');
} elseif ($cmd === 'put') {
    [$shm, $sem] = attach($argv);
    sem_acquire($sem);
    for ($i = 4; $i + 1 < $argc; $i += 2) {
        $v = unserialize(hex2bin($argv[$i + 1]));
        if (!shm_put_var($shm, intval($argv[$i]), $v))
            fail("shm_put_var({$argv[$i]}) failed");
    }
    sem_release($sem);
} elseif ($cmd === 'get') {
    [$shm, $sem] = attach($argv);
    sem_acquire($sem);
    for ($i = 4; $i < $argc; $i++) {
        $k = intval($argv[$i]);
        echo shm_has_var($shm, $k) ? bin2hex(serialize(shm_get_var($shm, $k))) : '-', "\n";
    }
    sem_release($sem);
} elseif ($cmd === 'remove_var') {
    [$shm, $sem] = attach($argv);
    sem_acquire($sem);
    if (!shm_remove_var($shm, intval($argv[4])))
        fail('shm_remove_var failed');
    sem_release($sem);
} elseif ($cmd === 'counter') {
    [$shm, $sem] = attach($argv);
    counter($shm, $sem, intval($argv[4]), intval($argv[5]), intval($argv[6]));
} elseif ($cmd === 'counter_ftok') {
    // the tutorial's own keys
    $shm = shm_attach(ftok($argv[2], 'm'));
    $sem = sem_get(ftok($argv[2], 's'));
    if ($shm === false || $sem === false)
        fail('attach failed');
    counter($shm, $sem, intval($argv[3]), intval($argv[4]), intval($argv[5]));
} elseif ($cmd === 'hold') {
    [$shm, $sem] = attach($argv);
    sem_acquire($sem);
    echo "held\n";
    fflush(STDOUT);
    sleep(600);
} elseif ($cmd === 'try') {
    [$shm, $sem] = attach($argv);
    $got = sem_acquire($sem, true);
    echo $got ? "1\n" : "0\n";
    if ($got)
        sem_release($sem);
} elseif ($cmd === 'reserialize') {
    while (($line = fgets(STDIN)) !== false) {
        $v = unserialize(hex2bin(trim($line)));
        echo bin2hex(serialize($v)), "\n";
    }
} elseif ($cmd === 'remove') {
    [$shm, $sem] = attach($argv);
    shm_remove($shm);
    sem_remove($sem);
} elseif ($cmd === 'remove_ftok') {
    // as the tutorial's parent ends; objects that are not there are fine
    $shm = @shm_attach(ftok($argv[2], 'm'), 10000);
    if ($shm !== false)
        shm_remove($shm);
    $sem = @sem_get(ftok($argv[2], 's'));
    if ($sem !== false)
        sem_remove($sem);
} elseif ($cmd === 'keys_ftok') {
    printf("0x%08x 0x%08x\n", ftok($argv[2], 'm'), ftok($argv[2], 's'));
} else {
    fail("unknown command $cmd");
}
