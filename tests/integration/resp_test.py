#!/usr/bin/env python3
"""Integration tests of examples/resp_server.

usage: resp_test.py benchmark|consistency|robustness PATH_TO_resp_server

  benchmark    redis-benchmark -q -n 20000 -P 16 -t ping,set,get finishes and
               reports a nonzero rate for PING_INLINE, PING_MBULK, SET and GET.
  consistency  a hand-written RESP client: every GET returns what was SET
               (binary values, empty and large values, pipelined batches,
               several connections at once, one connection's writes seen by
               another), DEL/EXISTS/DBSIZE, inline commands, error replies.
  robustness   resets, half-closed connections, protocol errors and oversized
               input get a clear answer and close; the server keeps serving.
"""
import random
import re
import signal
import socket
import subprocess
import threading

from harness import (Server, abort_connection, check, fail, read_until_closed, require_tool,
                     run)


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Error(str):
    """An error reply."""


class Client:
    def __init__(self, server, timeout=3.0):
        self.sock = server.connect(timeout)
        self.buf = b""

    def _fill(self):
        try:
            chunk = self.sock.recv(1 << 20)
        except socket.timeout:
            fail(f"no complete reply in time (have {self.buf[:200]!r})")
        except ConnectionResetError:
            fail(f"connection reset while waiting for a reply (have {self.buf[:200]!r})")
        if not chunk:
            fail(f"connection closed while waiting for a reply (have {self.buf[:200]!r})")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return Error(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data, tail, self.buf = self.buf[:n], self.buf[n:n + 2], self.buf[n + 2:]
            check(tail == b"\r\n", f"bulk reply not terminated by CRLF: {tail!r}")
            return data
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        fail(f"unknown reply type {line[:80]!r}")

    def call(self, *args):
        self.sock.sendall(encode(*args))
        return self.reply()

    def pipeline(self, commands):
        self.sock.sendall(b"".join(encode(*c) for c in commands))
        return [self.reply() for _ in commands]

    def expect_closed(self):
        rest = self.buf + read_until_closed(self.sock)
        check(rest == b"", f"unexpected bytes before the close: {rest[:200]!r}")

    def close(self):
        self.sock.close()


def still_serving(server, what):
    c = Client(server)
    r = c.call("PING")
    check(r == "PONG", f"after {what}: PING answered {r!r}")
    c.close()


# --------------------------------------------------------------------------
# redis-benchmark

def test_benchmark(binary):
    bench = require_tool("redis-benchmark", "redis-tools")
    with Server(binary, "--threads", "2") as server:
        cmd = [bench, "-h", "127.0.0.1", "-p", str(server.port), "-q", "-n", "20000", "-P", "16",
               "-t", "ping,set,get"]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            fail("redis-benchmark did not finish within 30s")
        # -q still draws progress lines ending in CR; keep the final ones.
        lines = [l.strip() for l in re.split(r"[\r\n]", out.stdout) if "per second" in l]
        print("\n".join(lines))
        if out.stderr.strip():
            print(out.stderr.strip())
        check(out.returncode == 0, f"redis-benchmark exited with status {out.returncode}")
        for test in ("PING_INLINE", "PING_MBULK", "SET", "GET"):
            rates = [float(m.group(1)) for l in lines
                     for m in [re.match(re.escape(test) + r": ([\d.]+) requests per second", l)]
                     if m]
            check(rates, f"redis-benchmark printed no result for {test}")
            check(rates[-1] > 0, f"redis-benchmark: zero rate for {test}")
        still_serving(server, "redis-benchmark")
        server.stop(signal.SIGTERM)


# --------------------------------------------------------------------------
# consistency

def random_value(rng):
    kind = rng.randrange(6)
    if kind == 0:
        return b""
    if kind == 1:
        return b"\r\n$5\r\n*1\r\n"  # protocol bytes inside a value
    if kind == 2:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
    if kind == 3:
        return rng.randbytes(rng.randrange(1000, 70000))  # spans reads and writes
    return ("v%d" % rng.randrange(10**9)).encode()


def worker_session(server, worker, errors):
    try:
        rng = random.Random(worker)
        c = Client(server)
        expected = {}
        for round_ in range(20):
            batch = []
            for _ in range(rng.randrange(1, 40)):
                key = b"w%d:k%d" % (worker, rng.randrange(50))
                value = random_value(rng)
                expected[key] = value
                batch.append(("SET", key, value))
            replies = c.pipeline(batch)
            check(all(r == "OK" for r in replies), f"SET replies: {replies[:5]}")
            keys = list(expected)
            replies = c.pipeline([("GET", k) for k in keys])
            for k, r in zip(keys, replies):
                check(r == expected[k], f"GET {k!r} returned {r!r:.80}, expected "
                                        f"{expected[k]!r:.80}")
            if round_ % 5 == 4:  # delete some
                gone = rng.sample(keys, min(5, len(keys)))
                r = c.call("DEL", *gone)
                check(r == len(gone), f"DEL of {len(gone)} existing keys answered {r!r}")
                for k in gone:
                    del expected[k]
                    check(c.call("GET", k) is None, f"GET of deleted {k!r} was not null")
        c.close()
    except Exception as e:  # reported by the main thread
        errors.append(f"worker {worker}: {e}")


def test_consistency(binary):
    with Server(binary, "--threads", "3") as server:
        c = Client(server)
        check(c.call("FLUSHALL") == "OK", "FLUSHALL")
        check(c.call("PING") == "PONG", "PING")
        check(c.call("PING", "hello") == b"hello", "PING with a message")
        check(c.call("GET", "absent") is None, "GET of a missing key must be null")
        check(c.call("SET", "k", "v1") == "OK", "SET")
        check(c.call("SET", "k", "v2") == "OK", "SET overwrite")
        check(c.call("GET", "k") == b"v2", "GET after overwrite")
        check(c.call("EXISTS", "k", "k", "absent") == 2, "EXISTS counts each argument")
        check(c.call("DBSIZE") == 1, "DBSIZE")
        check(c.call("DEL", "k", "absent") == 1, "DEL counts deleted keys")
        check(c.call("GET", "k") is None, "GET after DEL")
        r = c.call("GET")
        check(isinstance(r, Error) and "wrong number of arguments" in r, f"GET arity: {r!r}")
        r = c.call("NOSUCHCOMMAND", "x")
        check(isinstance(r, Error) and "unknown command" in r, f"unknown command: {r!r}")
        r = c.call("NO\r\nSUCH")  # CR LF in a command name must not break the reply
        check(isinstance(r, Error), f"odd command name: {r!r}")
        check(c.call("PING") == "PONG", "PING after error replies")
        check(c.call("CONFIG", "GET", "save") == [b"save", b""], "CONFIG GET save")
        check(isinstance(c.call("COMMAND"), list), "COMMAND")
        # Inline commands, pipelined with RESP ones.
        c.sock.sendall(b"PING\r\nSET inline value\r\n" + encode("GET", "inline") + b"\r\n")
        check(c.reply() == "PONG", "inline PING")
        check(c.reply() == "OK", "inline SET")
        check(c.reply() == b"value", "GET of an inline SET")
        # A big pipeline in one send: replies in order.
        n = 3000
        replies = c.pipeline([("SET", "p%d" % i, "x%d" % i) for i in range(n)] +
                             [("GET", "p%d" % i) for i in range(n)])
        check(replies[:n] == ["OK"] * n, "pipelined SETs")
        check(replies[n:] == [b"x%d" % i for i in range(n)], "pipelined GETs in order")
        # A large value, written on one connection and read on another.
        big = random.Random(7).randbytes(3 * 1024 * 1024)
        check(c.call("SET", "big", big) == "OK", "SET of 3 MiB")
        other = Client(server)
        check(other.call("GET", "big") == big, "GET of 3 MiB on another connection")
        other.close()
        c.close()

        # Several connections at once, each checking its own keys.
        errors = []
        threads = [threading.Thread(target=worker_session, args=(server, w, errors))
                   for w in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        check(not any(t.is_alive() for t in threads), "concurrent clients did not finish")
        check(not errors, "; ".join(errors))
        server.stop(signal.SIGTERM)


# --------------------------------------------------------------------------
# robustness

def expect_error_and_close(server, data, what, pattern="Protocol error"):
    c = Client(server)
    c.sock.sendall(data)
    r = c.reply()
    check(isinstance(r, Error) and pattern in r, f"{what}: expected an error reply, got {r!r}")
    c.expect_closed()
    c.close()


def test_robustness(binary):
    with Server(binary, "--threads", "3") as server:
        # Resets: idle, mid-command, and with many replies never read.
        for i in range(60):
            s = server.connect()
            kind = i % 4
            if kind == 1:
                s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk")
            elif kind == 2:
                s.sendall(encode("SET", "reset%d" % i, "v"))
            elif kind == 3:
                s.sendall(encode("SET", "bigval", b"z" * 100000))
                s.sendall(encode("GET", "bigval") * 100)  # ~10 MB of replies, unread
            abort_connection(s)
        still_serving(server, "resets")

        # Half-closed: the replies still come, then the server closes.
        c = Client(server)
        c.sock.sendall(encode("PING") + encode("SET", "hc", "1") + encode("GET", "hc"))
        c.sock.shutdown(socket.SHUT_WR)
        check([c.reply() for _ in range(3)] == ["PONG", "OK", b"1"], "half-closed replies")
        c.expect_closed()
        c.close()
        c = Client(server)
        c.sock.sendall(b"*2\r\n$3\r\nGET\r\n")  # then half-close mid-command
        c.sock.shutdown(socket.SHUT_WR)
        c.expect_closed()
        c.close()
        still_serving(server, "half-closed connections")

        # QUIT answers OK and closes.
        c = Client(server)
        check(c.call("QUIT") == "OK", "QUIT")
        c.expect_closed()
        c.close()

        # Protocol errors and oversized input: an error reply, then a clean close.
        expect_error_and_close(server, b"*1\r\n$x\r\nPING\r\n", "bad bulk length")
        expect_error_and_close(server, b"*1\r\n+PING\r\n", "array element not a bulk string")
        expect_error_and_close(server, b"*abc\r\n", "bad array length")
        expect_error_and_close(server, b"*1\r\n$4\r\nPINGxx\r\n", "bulk without CRLF")
        expect_error_and_close(server, b"*1\r\n$-5\r\n", "negative bulk length")
        expect_error_and_close(server, b"*1\r\n$999999999999\r\n", "huge bulk length")
        expect_error_and_close(server, b"*99999999999\r\n", "huge array length")
        expect_error_and_close(server, b"A" * 70000, "70 KB inline command")
        expect_error_and_close(server, b"*" + b"1" * 70000, "70 KB array header")
        # A command before the error is still answered.
        c = Client(server)
        c.sock.sendall(encode("PING") + b"*1\r\n$x\r\n" + encode("PING"))
        check(c.reply() == "PONG", "command before a protocol error")
        r = c.reply()
        check(isinstance(r, Error) and "Protocol error" in r, f"then the error: {r!r}")
        c.expect_closed()
        c.close()

        # A slow client: one byte at a time.
        c = Client(server)
        for b in encode("SET", "slow", "value") + encode("GET", "slow"):
            c.sock.sendall(bytes([b]))
        check(c.reply() == "OK" and c.reply() == b"value", "byte-by-byte commands")
        c.close()

        # Many connections at once.
        clients = [Client(server) for _ in range(200)]
        for i, c in enumerate(clients):
            c.sock.sendall(encode("SET", "many%d" % i, str(i)) + encode("GET", "many%d" % i))
        for i, c in enumerate(clients):
            check(c.reply() == "OK" and c.reply() == str(i).encode(), "200 connections")
            c.close()

        still_serving(server, "everything")
        c = Client(server)
        check(c.call("GET", "hc") == b"1", "data survives misbehaving clients")
        c.close()
        server.stop(signal.SIGINT)


def main(argv):
    tests = {"benchmark": test_benchmark, "consistency": test_consistency,
             "robustness": test_robustness}
    if len(argv) != 2 or argv[0] not in tests:
        fail("usage: resp_test.py benchmark|consistency|robustness PATH_TO_resp_server")
    tests[argv[0]](argv[1])


if __name__ == "__main__":
    run(main)
