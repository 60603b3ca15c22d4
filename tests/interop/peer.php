<?php
// PHP peer for the mq: interoperability tests (tests/interop/test_interop.c).
// It uses a System V queue the way the tutorial does, with PHP's own
// msg_* functions. Messages are given and printed in hex, one per line as
// "TYPE HEX", so that any byte can be checked.
//   php peer.php check
//   php peer.php send KEY SERIALIZE DELAY_MS TYPE HEX [TYPE HEX ...]
//   php peer.php recv KEY UNSERIALIZE DESIRED_TYPE COUNT
//   php peer.php remove KEY DELAY_MS
// SERIALIZE/UNSERIALIZE are msg_send's and msg_receive's flags (0 or 1).
function fail($what) {
    fwrite(STDERR, "peer.php: $what\n");
    exit(1);
}
$cmd = $argv[1] ?? '';
if ($cmd === 'check') {
    if (!function_exists('msg_get_queue'))
        fail('the sysvmsg extension is missing');
    exit(0);
}
$key = intval($argv[2] ?? '0');
if (!msg_queue_exists($key))
    fail("no queue with key $key");
$q = msg_get_queue($key);
if ($cmd === 'send') {
    $serialize = $argv[3] === '1';
    usleep(intval($argv[4]) * 1000);
    for ($i = 5; $i + 1 < $argc; $i += 2) {
        $data = hex2bin($argv[$i + 1]);
        if (!msg_send($q, intval($argv[$i]), $data, $serialize, true, $err))
            fail("msg_send: error $err");
    }
} elseif ($cmd === 'recv') {
    $unserialize = $argv[3] === '1';
    for ($i = 0; $i < intval($argv[5]); $i++) {
        if (!msg_receive($q, intval($argv[4]), $type, 65536, $msg, $unserialize, 0, $err))
            fail("msg_receive: error $err");
        echo $type, ' ', bin2hex(is_string($msg) ? $msg : serialize($msg)), "\n";
    }
} elseif ($cmd === 'remove') {
    usleep(intval($argv[3]) * 1000);
    if (!msg_remove_queue($q))
        fail('msg_remove_queue failed');
} else {
    fail("unknown command $cmd");
}
