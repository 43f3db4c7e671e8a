"""An HTTP/1.1 client for the integration tests: one connection, whose
responses are read off it one by one and checked for form (a status line
with a reason, well-formed header lines, no header twice, the headers a
test names as required)."""
import re
import socket

from harness import check, fail, read_until_closed


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
