#!/usr/bin/env python3
"""What Redis spends to register event ids, by the parts of `burnrate run`'s
checkpoint script (state/redis_state_store.cc): moving the ids into Lua,
SMISMEMBER (the check), SADD (the insert), and the whole check-then-insert.

Starts its own redis-server on a free loopback port (no persistence), sends
IDS random 8-byte ids (as the engine sends StableHash64 values) in scripts of
CHUNK ids, 100k ids per set (about a minute of a 1M-event drain), and prints
each variant's Redis CPU from INFO commandstats per million ids.

  bench/redis_claim_cost.py [IDS] [CHUNK]      (defaults 1000000 1000)

Python rather than C++ because it only needs a tiny RESP client that can send
binary arguments; nothing of burnrate is linked.
"""
import os
import socket
import subprocess
import sys
import time

SCRIPTS = {
    # Only the cost of handing the ids to Lua as ARGV.
    "argv only": "return #ARGV",
    "SMISMEMBER only": "redis.call('SMISMEMBER', KEYS[1], unpack(ARGV)) return 0",
    "SADD only": "return redis.call('SADD', KEYS[1], unpack(ARGV))",
    # What the checkpoint script does per chunk.
    "check then insert": """
local found = redis.call('SMISMEMBER', KEYS[1], unpack(ARGV))
for k = 1, #found do if found[k] == 1 then return 1 end end
redis.call('SADD', KEYS[1], unpack(ARGV))
return 0""",
}


class Resp:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.reader = self.sock.makefile("rb")

    def call(self, *args):
        parts = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(parts))
        return self._read()

    def _read(self):
        line = self.reader.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.reader.read(n + 2)[:-2]
        if kind == b"*":
            return [self._read() for _ in range(int(rest))]
        raise RuntimeError("unexpected reply %r" % line)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ids = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    chunk = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis = Resp(port)
                redis.call("PING")
                break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit("redis-server did not start on port %d" % port)
                time.sleep(0.05)
        print("variant               Redis CPU per 1M ids")
        for name, body in SCRIPTS.items():
            sha = redis.call("SCRIPT", "LOAD", body)
            redis.call("FLUSHALL")
            redis.call("CONFIG", "RESETSTAT")
            for start in range(0, ids, chunk):
                batch = [os.urandom(8) for _ in range(min(chunk, ids - start))]
                redis.call("EVALSHA", sha, 1, "ids:%d" % (start // 100_000), *batch)
            stats = redis.call("INFO", "commandstats").decode()
            line = next(l for l in stats.split("\r\n") if l.startswith("cmdstat_evalsha:"))
            usec = int(line.split("usec=")[1].split(",")[0])
            print("%-21s %.2f s" % (name, usec / 1e6 * 1_000_000 / ids))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
