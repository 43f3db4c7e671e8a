"""HTTP for the integration tests: a client on one connection, whose
responses are read off it one by one and checked for form (a status line
with a reason, well-formed header lines, no header twice, the headers a
test names as required), and a wrk run with its checks."""
import re
import socket
import subprocess

from harness import check, fail, read_until_closed, require_tool


class Response:
    def __init__(self, status, reason, headers, body):
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    def __repr__(self):
        return f"Response({self.status} {self.reason}, {self.headers}, {self.body[:80]!r})"


class HttpClient:
    def __init__(self, server, timeout, nodelay=False, required=("content-length",)):
        self.sock = server.connect(timeout)
        if nodelay:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.required = required
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            fail(f"no complete response in time (have {self.buf[:200]!r})")
        except ConnectionResetError:
            fail(f"connection reset while waiting for a response (have {self.buf[:200]!r})")
        if not chunk:
            fail(f"connection closed in the middle of a response (have {self.buf[:200]!r})")
        self.buf += chunk

    def response(self, head=False):
        """The next response; `head`: it answers a HEAD, so has no body."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        header, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = header.decode("latin-1").split("\r\n")
        m = re.fullmatch(r"HTTP/1\.1 (\d{3}) (.+)", lines[0])
        check(m is not None, f"bad status line {lines[0]!r}")
        headers = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            check(colon == ":" and name.strip() == name and name,
                  f"bad header line {line!r} in {lines}")
            check(name.lower() not in headers, f"repeated header {name!r} in {lines}")
            headers[name.lower()] = value.strip()
        for name in self.required:
            check(name in headers, f"response without {name}: {lines}")
        length = 0 if head else int(headers["content-length"])
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return Response(int(m.group(1)), m.group(2), headers, body)

    def responses(self, n):
        return [self.response() for _ in range(n)]

    def expect_closed(self):
        """The server must close the connection cleanly (FIN, no reset) and
        send nothing more."""
        rest = self.buf + read_until_closed(self.sock)
        check(rest == b"", f"unexpected bytes after the last response: {rest[:200]!r}")

    def close(self):
        self.sock.close()


def run_wrk(server):
    """wrk -t2 -c100 -d2s against "/" of the server: it must finish with no
    socket errors and no non-2xx responses. Returns the requests it
    completed (more than 0)."""
    wrk = require_tool("wrk", "wrk")
    url = f"http://127.0.0.1:{server.port}/"
    try:
        out = subprocess.run([wrk, "-t2", "-c100", "-d2s", url], capture_output=True, text=True,
                             timeout=20)
    except subprocess.TimeoutExpired:
        fail("wrk did not finish within 20s")
    text = out.stdout + out.stderr
    print(text)
    check(out.returncode == 0, f"wrk exited with status {out.returncode}")
    check("Non-2xx or 3xx responses" not in text, "wrk saw non-2xx responses")
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        check(all(int(x) == 0 for x in m.groups()), f"wrk saw socket errors: {m.group(0)}")
    else:
        check("Socket errors" not in text, "unrecognised 'Socket errors' line from wrk")
    m = re.search(r"(\d+) requests in", text)
    check(m is not None and int(m.group(1)) > 0, "wrk reported no completed requests")
    requests = int(m.group(1))
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    check(m is not None and float(m.group(1)) > 0, "wrk reported no request rate")
    return requests
