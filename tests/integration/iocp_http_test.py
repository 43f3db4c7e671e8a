#!/usr/bin/env python3
"""Integration tests of examples/iocp_http_server (overlapped I/O, SPEC 9).

usage: iocp_http_test.py wrk|robustness PATH_TO_iocp_http_server

  wrk         wrk -t2 -c100 -d2s against "/": no socket errors, no non-2xx
              responses, a nonzero request count; then a clean SIGTERM stop,
              whose summary must agree with what wrk saw.
  robustness  a hand-written client: the basic answers (200, 404, HEAD,
              405, keep-alive, pipelining, HTTP/1.0, Connection: close),
              requests cut into pieces or sent byte by byte, long pipelines,
              request bodies; then misbehaving clients (resets before, during
              and after requests, half-closed connections, oversized and
              malformed requests), checking after each kind that the server
              still serves; then a clean SIGINT stop with connections still
              open, whose summary must agree with what the client counted.

The server's summary line is "served C connections, R requests, E errors":
C connections accepted, R requests answered (200, 404, 405), E requests
refused with an error status (and calls that failed, which it also writes to
stderr; here stderr must stay empty).
"""
import re
import signal
import socket

from harness import Server, abort_connection, check, fail, run
from http_client import HttpClient, run_wrk

BODY = b"Hello from psn!\n"
ANSWERED = (200, 404, 405)  # the statuses the server counts as requests


class Tally:
    """What the client side knows of the server's counts."""

    def __init__(self):
        self.connections = 0      # connections opened
        self.maybe_unaccepted = 0  # of those, reset before the server surely took them
        self.answered = 0         # responses read with a status in ANSWERED
        self.refused = 0          # responses read with an error status
        self.maybe_answered = 0   # requests the server may have answered unread


class Client(HttpClient):
    """One connection, whose responses also go into the tally."""

    def __init__(self, server, tally, timeout=5.0, nodelay=False):
        super().__init__(server, timeout, nodelay,
                         required=("content-length", "content-type", "connection", "date"))
        self.tally = tally
        tally.connections += 1

    def response(self, head=False):
        r = super().response(head)
        if r.status in ANSWERED:
            self.tally.answered += 1
        else:
            self.tally.refused += 1
        return r


def get(path="/", extra=b"", method=b"GET"):
    return method + b" " + path.encode() + b" HTTP/1.1\r\nHost: test\r\n" + extra + b"\r\n"


def expect_hello(resp, what, keep_alive=True):
    check(resp.status == 200 and resp.reason == "OK" and resp.body == BODY,
          f"{what}: expected 200 hello, got {resp}")
    check(resp.headers["content-length"] == str(len(BODY)), f"{what}: bad length in {resp}")
    want = "keep-alive" if keep_alive else "close"
    check(resp.headers["connection"] == want, f"{what}: expected Connection: {want}, got {resp}")


def still_serving(server, tally, what):
    c = Client(server, tally)
    c.send(get())
    expect_hello(c.response(), f"after {what}")
    c.close()


def stop_and_summary(server, sig):
    """Stops the server (clean exit required) and returns its counts."""
    server.stop(sig)
    text = server.proc.stdout.read().decode(errors="replace").strip()
    m = re.fullmatch(r"served (\d+) connections, (\d+) requests, (\d+) errors", text)
    check(m is not None, f"unexpected server summary {text!r}; stderr: {server.stderr_text()}")
    check(server.stderr_text() == "", f"server wrote to stderr: {server.stderr_text()}")
    print(text, flush=True)
    return tuple(int(g) for g in m.groups())


# --------------------------------------------------------------------------
# wrk

def test_wrk(binary):
    tally = Tally()
    with Server(binary, "--threads", "2") as server:
        wrk_requests = run_wrk(server)
        still_serving(server, tally, "wrk")
        served, requests, errors = stop_and_summary(server, signal.SIGTERM)
        # wrk's 100 connections and ours. wrk counts the responses it read; when
        # it stops, each connection may have had one more answered and unread.
        check(served >= 100 + tally.connections, f"served {served} connections, expected at "
                                                 f"least {100 + tally.connections}")
        low = wrk_requests + tally.answered
        check(low <= requests <= low + served,
              f"server answered {requests} requests; wrk and the check read {low}")
        check(errors == 0, f"server counted {errors} errors")


# --------------------------------------------------------------------------
# robustness

def basics(server, tally):
    c = Client(server, tally)
    c.send(get())
    expect_hello(c.response(), "GET /")
    # Keep-alive: the same connection answers again.
    c.send(get("/missing"))
    r = c.response()
    check(r.status == 404 and r.body == b"not found\n", f"GET /missing: expected 404, got {r}")
    c.send(get(method=b"HEAD"))
    r = c.response(head=True)
    check(r.status == 200 and r.headers["content-length"] == str(len(BODY)),
          f"HEAD /: expected 200 with the GET length, got {r}")
    c.send(get("/missing", method=b"HEAD"))
    r = c.response(head=True)
    check(r.status == 404 and r.headers["content-length"] == str(len(b"not found\n")),
          f"HEAD /missing: expected 404 with the GET length, got {r}")
    c.send(get("/?query=1"))
    expect_hello(c.response(), "GET /?query=1")
    c.send(get("/missing?x=/"))
    check(c.response().status == 404, "GET /missing?x=/: expected 404")
    c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
    r = c.response()
    check(r.status == 405 and r.headers.get("allow") == "GET, HEAD",
          f"POST: expected 405 with Allow, got {r}")
    # Methods are case-sensitive.
    c.send(get(method=b"get"))
    check(c.response().status == 405, "lower-case get: expected 405")
    # Pipelining: several requests in one segment, answered in order.
    c.send(get() + get("/a") + get(method=b"HEAD") + get("/b"))
    statuses = [c.response(head=(i == 2)).status for i in range(4)]
    check(statuses == [200, 404, 200, 404], f"pipelined: got {statuses}")
    # Empty lines before a request are ignored.
    c.send(b"\r\n\r\n" + get())
    expect_hello(c.response(), "empty lines first")
    # Connection: close is honoured, in any case and among other options.
    c.send(get(extra=b"Connection: Upgrade, CLOSE\r\n"))
    expect_hello(c.response(), "Connection: close", keep_alive=False)
    c.expect_closed()
    c.close()

    # HTTP/1.0 closes by default, keeps alive on request; no Host needed.
    c = Client(server, tally)
    c.send(b"GET / HTTP/1.0\r\n\r\n")
    expect_hello(c.response(), "HTTP/1.0", keep_alive=False)
    c.expect_closed()
    c.close()
    c = Client(server, tally)
    c.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    expect_hello(c.response(), "HTTP/1.0 keep-alive")
    c.send(get())
    expect_hello(c.response(), "HTTP/1.0 keep-alive, second request")
    # A pipelined request after the one that closes is not answered.
    c.send(get(extra=b"Connection: close\r\n") + get())
    expect_hello(c.response(), "close then another", keep_alive=False)
    c.expect_closed()
    c.close()

    # Bare LF line ends are accepted.
    c = Client(server, tally)
    c.send(b"GET / HTTP/1.1\nHost: t\n\n")
    expect_hello(c.response(), "bare LF")
    c.close()


def pieces(server, tally):
    # A request that arrives one byte at a time (TCP_NODELAY: a segment each).
    c = Client(server, tally, nodelay=True)
    for b in get(extra=b"X-Padding: " + b"p" * 100 + b"\r\n"):
        c.send(bytes([b]))
    expect_hello(c.response(), "byte-by-byte request")
    # A complete request and the first half of the next one, then the rest.
    second = get("/two")
    c.send(get() + second[:20])
    expect_hello(c.response(), "first of a split pair")
    c.send(second[20:])
    check(c.response().status == 404, "second of a split pair: expected 404")
    # The end of the header section split between CR and LF.
    req = get()
    c.send(req[:-1])
    c.send(req[-1:])
    expect_hello(c.response(), "split CRLF CRLF")
    c.close()
    still_serving(server, tally, "requests in pieces")


def pipelines(server, tally):
    # More pipelined requests than the server's buffers hold: it answers as
    # many as fit, sends them, and goes on with the rest, in order.
    c = Client(server, tally)
    n = 2000
    paths = ["/" if i % 3 else f"/n{i}" for i in range(n)]
    c.send(b"".join(get(p) for p in paths))
    got = [c.response() for _ in range(n)]
    for i, (p, r) in enumerate(zip(paths, got)):
        want = 200 if p == "/" else 404
        check(r.status == want, f"pipelined request {i} ({p}): expected {want}, got {r}")
    c.send(get())
    expect_hello(c.response(), "after a long pipeline")
    c.close()

    # Request bodies are read and dropped: a small one in the same segment, a
    # large one (more than a receive buffer) that trickles in after its answer.
    c = Client(server, tally)
    c.send(get(extra=b"Content-Length: 5\r\n") + b"hello" + get())
    expect_hello(c.response(), "GET with a body")
    expect_hello(c.response(), "after a GET with a body")
    size = 200000
    c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % size)
    check(c.response().status == 405, "POST with a large body: expected 405")
    body = bytes(i & 0xFF for i in range(size))
    for i in range(0, size, 7000):
        c.send(body[i:i + 7000])
    c.send(get())
    expect_hello(c.response(), "after a large body")
    c.close()


def resets(server, tally):
    # Reset before, during and after a request, and with responses unread.
    for i in range(60):
        c = Client(server, tally)
        kind = i % 5
        if kind == 0:
            tally.maybe_unaccepted += 1
        elif kind == 1:
            c.send(b"GET / HT")
            tally.maybe_unaccepted += 1
        elif kind == 2:
            c.send(get())
            tally.maybe_unaccepted += 1
            tally.maybe_answered += 1
        elif kind == 3:
            # Lots of pipelined requests; once the first answer is there, reset
            # with the rest unread.
            c.send(get() * 200)
            check(c.sock.recv(1) == b"H", "no answer to 200 pipelined requests")
            tally.maybe_answered += 200
        else:
            # In the middle of a request body.
            c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\nabc")
            check(c.response().status == 405, "POST before a reset: expected 405")
        abort_connection(c.sock)
    still_serving(server, tally, "resets")


def half_closed(server, tally):
    c = Client(server, tally)
    c.send(get())
    c.sock.shutdown(socket.SHUT_WR)
    expect_hello(c.response(), "half-closed connection")
    c.expect_closed()
    c.close()

    c = Client(server, tally)
    c.send(get() + get("/x") + get())
    c.sock.shutdown(socket.SHUT_WR)
    statuses = [r.status for r in c.responses(3)]
    check(statuses == [200, 404, 200], f"half-closed pipelined: got {statuses}")
    c.expect_closed()
    c.close()

    # Half-closed in the middle of a request: nothing to answer, just close.
    c = Client(server, tally)
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n")
    c.sock.shutdown(socket.SHUT_WR)
    c.expect_closed()
    c.close()

    # Half-closed at once.
    c = Client(server, tally)
    c.sock.shutdown(socket.SHUT_WR)
    c.expect_closed()
    c.close()
    still_serving(server, tally, "half-closed connections")


def expect_error_and_close(server, tally, request, status, what):
    c = Client(server, tally)
    c.send(request)
    r = c.response()
    check(r.status == status, f"{what}: expected {status}, got {r}")
    check(r.headers["connection"] == "close", f"{what}: expected Connection: close, got {r}")
    check(r.body == r.reason.encode() + b"\n", f"{what}: unexpected body in {r}")
    c.expect_closed()
    c.close()


def oversized(server, tally):
    big = b"X-Filler: " + b"a" * 10000 + b"\r\n"
    expect_error_and_close(server, tally, b"GET / HTTP/1.1\r\nHost: t\r\n" + big + b"\r\n", 431,
                           "10 KB header")
    many = b"".join(b"X-Field-%d: %s\r\n" % (i, b"v" * 50) for i in range(400))
    expect_error_and_close(server, tally, b"GET / HTTP/1.1\r\nHost: t\r\n" + many + b"\r\n", 431,
                           "400 header fields")
    # An endless request line, no newline at all.
    expect_error_and_close(server, tally, b"GET /" + b"a" * 9000, 431, "9 KB request line")
    # Far more than the server reads before it closes: it may reset, but the
    # answer must have been sent first.
    c = Client(server, tally)
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n" + b"X: " + b"y" * 50000)
    r = c.response()
    check(r.status == 431, f"50 KB header: expected 431, got {r}")
    c.close()
    # Just under the limit is fine, also after a response on the connection.
    ok = b"X-Filler: " + b"a" * 7000 + b"\r\n"
    c = Client(server, tally)
    c.send(get() + b"GET / HTTP/1.1\r\nHost: t\r\n" + ok + b"\r\n")
    expect_hello(c.response(), "before a 7 KB header")
    expect_hello(c.response(), "7 KB header")
    c.close()
    still_serving(server, tally, "oversized requests")


MALFORMED = [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET /\r\n\r\n", 400),
    (b"GET / HTTP/1.1 extra\r\nHost: t\r\n\r\n", 400),
    (b"GET  / HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    (b"GET / FTP/1.1\r\nHost: t\r\n\r\n", 400),
    (b"GET / HTTP/1.10\r\nHost: t\r\n\r\n", 400),
    (b"G(T / HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: t\r\nNo colon here\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: t\r\n folded: x\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: t\r\n: x\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n\r\n", 400),  # HTTP/1.1 without Host
    (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length:\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x01b\r\n\r\n", 400),
    (b"\x00\x01\x02\x03\xff\xfe\r\n\r\n", 400),
    (b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
    (b"GET / HTTP/0.9\r\nHost: t\r\n\r\n", 505),
    (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
    (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n", 413),
    (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413),
]


def malformed(server, tally):
    for request, status in MALFORMED:
        expect_error_and_close(server, tally, request, status, f"malformed {request[:40]!r}")
    # A valid request pipelined after a bad one is not answered.
    c = Client(server, tally)
    c.send(b"BAD\r\n\r\n" + get())
    r = c.response()
    check(r.status == 400, f"bad then good: expected 400 first, got {r}")
    c.expect_closed()
    c.close()
    # A good request, then a bad one on the same connection.
    c = Client(server, tally)
    c.send(get() + b"BAD\r\n\r\n")
    expect_hello(c.response(), "good then bad")
    r = c.response()
    check(r.status == 400, f"good then bad: expected 400 second, got {r}")
    c.expect_closed()
    c.close()
    # A bad request after the client has half-closed.
    c = Client(server, tally)
    c.send(b"BAD\r\n\r\n")
    c.sock.shutdown(socket.SHUT_WR)
    check(c.response().status == 400, "half-closed bad request: expected 400")
    c.expect_closed()
    c.close()
    still_serving(server, tally, "malformed requests")


def many_connections(server, tally):
    clients = [Client(server, tally) for _ in range(200)]
    for c in clients:
        c.send(get())
    for c in clients:
        expect_hello(c.response(), "one of 200 parallel connections")
    for c in clients:
        c.send(get("/again"))
    for c in clients:
        check(c.response().status == 404, "second request of 200 parallel connections")
        c.close()


def open_at_stop(server, tally):
    """Connections in every state the server can be in when it stops."""
    idle = Client(server, tally)  # between requests, a receive under way
    idle.send(get())
    expect_hello(idle.response(), "idle connection")
    partial = Client(server, tally)  # in the middle of a request
    partial.send(get())
    expect_hello(partial.response(), "partial connection")
    partial.send(b"GET / HTTP/1.1\r\nHo")
    lingering = Client(server, tally)  # answered and closing, draining the client
    lingering.send(get(extra=b"Connection: close\r\n"))
    expect_hello(lingering.response(), "lingering connection", keep_alive=False)
    check(lingering.sock.recv(16) == b"", "lingering connection: expected the end of stream")
    fresh = Client(server, tally)  # accepted or not, nothing sent
    tally.maybe_unaccepted += 1
    # The first two must end cleanly. The server may not have read the
    # partial request yet, nor accepted the fresh connection, and closing a
    # socket with unread data, or a listener with a connection waiting,
    # resets: those two may also end in a reset.
    return [idle, lingering], [partial, fresh]


def expect_closed_or_reset(c, what):
    try:
        rest = c.buf + c.sock.recv(65536)
    except socket.timeout:
        fail(f"{what}: connection not closed by the server in time")
    except ConnectionResetError:
        return
    check(rest == b"", f"{what}: unexpected bytes {rest[:200]!r}")


def test_robustness(binary):
    tally = Tally()
    with Server(binary, "--threads", "3") as server:
        for step in (basics, pieces, pipelines, resets, half_closed, oversized, malformed,
                     many_connections, resets):
            step(server, tally)
            print(f"{step.__name__}: ok", flush=True)
        still_serving(server, tally, "everything")
        clean, either = open_at_stop(server, tally)
        served, requests, errors = stop_and_summary(server, signal.SIGINT)
        for c in clean:
            c.expect_closed()
            c.close()
        for c in either:
            expect_closed_or_reset(c, "open at stop")
            c.close()
        low = tally.connections - tally.maybe_unaccepted
        check(low <= served <= tally.connections,
              f"served {served} connections; {tally.connections} opened, of which "
              f"{tally.maybe_unaccepted} may not have been accepted")
        check(tally.answered <= requests <= tally.answered + tally.maybe_answered,
              f"server answered {requests} requests; the client read {tally.answered}, and "
              f"up to {tally.maybe_answered} more may have been answered unread")
        check(errors == tally.refused,
              f"server counted {errors} errors; the client read {tally.refused} refusals")


def main(argv):
    if len(argv) != 2 or argv[0] not in ("wrk", "robustness"):
        fail("usage: iocp_http_test.py wrk|robustness PATH_TO_iocp_http_server")
    {"wrk": test_wrk, "robustness": test_robustness}[argv[0]](argv[1])


if __name__ == "__main__":
    run(main)
