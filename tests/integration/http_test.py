#!/usr/bin/env python3
"""Integration tests of examples/http_server.

usage: http_test.py wrk|robustness PATH_TO_http_server

  wrk         wrk -t2 -c100 -d2s against "/": no socket errors, no non-2xx
              responses, a nonzero request count; then a clean SIGTERM stop.
  robustness  a hand-written client: the basic answers (200, 404, HEAD,
              keep-alive, pipelining, HTTP/1.0), then misbehaving clients
              (resets, half-closed connections, oversized and malformed
              requests, byte-by-byte requests), checking after each kind that
              the server still serves; then a clean SIGINT stop.
"""
import signal
import socket
import time

from harness import Server, abort_connection, check, fail, run
from http_client import HttpClient, run_wrk

BODY = b"Hello from psn!\n"


class Client(HttpClient):
    def __init__(self, server, timeout=3.0):
        super().__init__(server, timeout)


def get(path="/", extra=b""):
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: test\r\n" + extra + b"\r\n"


def expect_hello(resp, what):
    check(resp.status == 200 and resp.body == BODY, f"{what}: expected 200 hello, got {resp}")


def still_serving(server, what):
    c = Client(server)
    c.send(get())
    expect_hello(c.response(), f"after {what}")
    c.close()


# --------------------------------------------------------------------------
# wrk

def test_wrk(binary):
    with Server(binary, "--threads", "2") as server:
        run_wrk(server)
        still_serving(server, "wrk")
        server.stop(signal.SIGTERM)


# --------------------------------------------------------------------------
# robustness

def basics(server):
    c = Client(server)
    c.send(get())
    expect_hello(c.response(), "GET /")
    # Keep-alive: the same connection answers again.
    c.send(get("/missing"))
    r = c.response()
    check(r.status == 404, f"GET /missing: expected 404, got {r}")
    c.send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n")
    r = c.response(head=True)
    check(r.status == 200 and r.headers["content-length"] == str(len(BODY)),
          f"HEAD /: expected 200 with the GET length, got {r}")
    c.send(get("/?query=1"))
    expect_hello(c.response(), "GET /?query=1")
    c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
    r = c.response()
    check(r.status == 405, f"POST: expected 405, got {r}")
    # Pipelining: several requests in one segment, answered in order.
    c.send(get() + get("/a") + get() + get("/b"))
    statuses = [c.response().status for _ in range(4)]
    check(statuses == [200, 404, 200, 404], f"pipelined: got {statuses}")
    # Connection: close is honoured.
    c.send(get(extra=b"Connection: close\r\n"))
    r = c.response()
    expect_hello(r, "Connection: close")
    check(r.headers.get("connection") == "close", f"expected Connection: close, got {r}")
    c.expect_closed()
    c.close()

    # HTTP/1.0 closes by default, keeps alive on request.
    c = Client(server)
    c.send(b"GET / HTTP/1.0\r\n\r\n")
    expect_hello(c.response(), "HTTP/1.0")
    c.expect_closed()
    c.close()
    c = Client(server)
    c.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    expect_hello(c.response(), "HTTP/1.0 keep-alive")
    c.send(get())
    expect_hello(c.response(), "HTTP/1.0 keep-alive, second request")
    c.close()

    # A request that arrives one byte at a time.
    c = Client(server)
    for b in get():
        c.send(bytes([b]))
        time.sleep(0.001)
    expect_hello(c.response(), "byte-by-byte request")
    c.close()


def resets(server):
    # Reset before, during and after a request, and with responses unread.
    for i in range(60):
        s = server.connect()
        kind = i % 4
        if kind == 1:
            s.sendall(b"GET / HT")
        elif kind == 2:
            s.sendall(get())
        elif kind == 3:
            s.sendall(get() * 200)  # lots of pipelined requests, responses never read
            time.sleep(0.002)
        abort_connection(s)
    still_serving(server, "resets")


def half_closed(server):
    c = Client(server)
    c.send(get())
    c.sock.shutdown(socket.SHUT_WR)
    expect_hello(c.response(), "half-closed connection")
    c.expect_closed()
    c.close()

    c = Client(server)
    c.send(get() + get("/x") + get())
    c.sock.shutdown(socket.SHUT_WR)
    statuses = [c.response().status for _ in range(3)]
    check(statuses == [200, 404, 200], f"half-closed pipelined: got {statuses}")
    c.expect_closed()
    c.close()

    # Half-closed in the middle of a request: nothing to answer, just close.
    c = Client(server)
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n")
    c.sock.shutdown(socket.SHUT_WR)
    c.expect_closed()
    c.close()
    still_serving(server, "half-closed connections")


def expect_error_and_close(server, request, status, what):
    c = Client(server)
    c.send(request)
    r = c.response()
    check(r.status == status, f"{what}: expected {status}, got {r}")
    check(r.headers.get("connection") == "close", f"{what}: expected Connection: close, got {r}")
    c.expect_closed()
    c.close()


def oversized(server):
    big = b"X-Filler: " + b"a" * 10000 + b"\r\n"
    expect_error_and_close(server, b"GET / HTTP/1.1\r\nHost: t\r\n" + big + b"\r\n", 431,
                           "10 KB header")
    many = b"".join(b"X-Field-%d: %s\r\n" % (i, b"v" * 50) for i in range(400))
    expect_error_and_close(server, b"GET / HTTP/1.1\r\nHost: t\r\n" + many + b"\r\n", 431,
                           "400 header fields")
    # An endless request line, no newline at all.
    expect_error_and_close(server, b"GET /" + b"a" * 9000, 431, "9 KB request line")
    # Just under the limit is fine.
    ok = b"X-Filler: " + b"a" * 7000 + b"\r\n"
    c = Client(server)
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n" + ok + b"\r\n")
    expect_hello(c.response(), "7 KB header")
    c.close()
    still_serving(server, "oversized requests")


def malformed(server):
    cases = [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /\r\n\r\n", 400),
        (b"GET / HTTP/1.1 extra\r\nHost: t\r\n\r\n", 400),
        (b"GET / FTP/1.1\r\nHost: t\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: t\r\nNo colon here\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: t\r\n folded: x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # HTTP/1.1 without Host
        (b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"\x00\x01\x02\x03\xff\xfe\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
        (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
        (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n", 413),
    ]
    for request, status in cases:
        expect_error_and_close(server, request, status, f"malformed {request[:40]!r}")
    # A valid request pipelined after a bad one is not answered.
    c = Client(server)
    c.send(b"BAD\r\n\r\n" + get())
    r = c.response()
    check(r.status == 400, f"bad then good: expected 400 first, got {r}")
    c.expect_closed()
    c.close()
    # A good request, then a bad one on the same connection.
    c = Client(server)
    c.send(get() + b"BAD\r\n\r\n")
    expect_hello(c.response(), "good then bad")
    r = c.response()
    check(r.status == 400, f"good then bad: expected 400 second, got {r}")
    c.expect_closed()
    c.close()
    still_serving(server, "malformed requests")


def many_connections(server):
    clients = [Client(server) for _ in range(200)]
    for c in clients:
        c.send(get())
    for c in clients:
        expect_hello(c.response(), "one of 200 parallel connections")
        c.close()


def test_robustness(binary):
    with Server(binary, "--threads", "3") as server:
        basics(server)
        resets(server)
        half_closed(server)
        oversized(server)
        malformed(server)
        many_connections(server)
        resets(server)
        still_serving(server, "everything")
        server.stop(signal.SIGINT)


def main(argv):
    if len(argv) != 2 or argv[0] not in ("wrk", "robustness"):
        fail("usage: http_test.py wrk|robustness PATH_TO_http_server")
    {"wrk": test_wrk, "robustness": test_robustness}[argv[0]](argv[1])


if __name__ == "__main__":
    run(main)
