#!/usr/bin/python3
"""Python peer for the mq: interoperability tests (tests/interop/test_interop.c).

It uses a System V queue through Debian's python3-sysv-ipc. Messages are
given and printed in hex, one per line as "TYPE HEX".
  peer.py check
  peer.py send KEY 0 DELAY_MS TYPE HEX [TYPE HEX ...]
  peer.py recv KEY 0 DESIRED_TYPE COUNT
  peer.py remove KEY DELAY_MS
(The 0 stands where the PHP peer takes its serialize flag.)
"""
import sys
import time


def fail(what):
    sys.stderr.write("peer.py: %s\n" % what)
    sys.exit(1)


def main(argv):
    try:
        import sysv_ipc
    except ImportError:
        fail("the sysv_ipc module is missing (Debian package python3-sysv-ipc)")
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "check":
        return 0
    key = int(argv[2])
    try:
        q = sysv_ipc.MessageQueue(key, max_message_size=65536)
    except sysv_ipc.ExistentialError:
        fail("no queue with key %d" % key)
    if cmd == "send":
        time.sleep(int(argv[4]) / 1000.0)
        for i in range(5, len(argv) - 1, 2):
            q.send(bytes.fromhex(argv[i + 1]), True, int(argv[i]))
    elif cmd == "recv":
        for _ in range(int(argv[5])):
            msg, mtype = q.receive(True, int(argv[4]))
            print("%d %s" % (mtype, msg.hex()), flush=True)
    elif cmd == "remove":
        time.sleep(int(argv[3]) / 1000.0)
        q.remove()
    else:
        fail("unknown command %s" % cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
