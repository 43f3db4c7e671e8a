"""Shared pieces of the integration tests: run an example server, find tools,
fail loudly.

A server is started with --port 0, and its port is read from the
"listening on PORT" line it prints when ready. Stopping it sends a signal and
requires a clean exit (status 0) within a few seconds.
"""
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

START_TIMEOUT = 5.0
STOP_TIMEOUT = 5.0


class TestFailure(Exception):
    pass


def fail(message):
    raise TestFailure(message)


def check(condition, message):
    if not condition:
        fail(message)


def require_tool(name, package):
    """The path of a command-line tool; a missing tool fails the test."""
    path = shutil.which(name)
    if path is None:
        fail(f"required tool '{name}' not found in PATH; install the Debian package "
             f"'{package}' (apt-get install -y {package})")
    return path


class Server:
    """An example server process, started on an ephemeral port."""

    def __init__(self, binary, *args):
        if not os.access(binary, os.X_OK):
            fail(f"server binary {binary} is missing or not executable")
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([binary, "--port", "0", *args], stdout=subprocess.PIPE,
                                     stderr=self.stderr, stdin=subprocess.DEVNULL)
        self.port = self._read_port()
        self.name = os.path.basename(binary)

    def _read_port(self):
        deadline = time.monotonic() + START_TIMEOUT
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                self.kill()
                fail(f"server printed no 'listening on PORT' line within {START_TIMEOUT}s")
            chunk = os.read(self.proc.stdout.fileno(), 1)
            if not chunk:
                self.proc.wait()
                fail(f"server exited with status {self.proc.returncode} before listening; "
                     f"stderr: {self.stderr_text()}")
            line += chunk
        words = line.decode(errors="replace").split()
        check(len(words) == 3 and words[:2] == ["listening", "on"] and words[2].isdigit(),
              f"unexpected first line from the server: {line!r}")
        port = int(words[2])
        check(0 < port < 65536, f"bad port {port}")
        return port

    def stderr_text(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace").strip()

    def alive(self):
        return self.proc.poll() is None

    def connect(self, timeout=3.0):
        check(self.alive(), f"server died (status {self.proc.returncode}); "
                            f"stderr: {self.stderr_text()}")
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def stop(self, sig=signal.SIGTERM):
        """Signals the server and requires a clean exit."""
        check(self.alive(), f"server died early (status {self.proc.returncode}); "
                            f"stderr: {self.stderr_text()}")
        self.proc.send_signal(sig)
        try:
            status = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            fail(f"server did not exit within {STOP_TIMEOUT}s of {signal.Signals(sig).name}")
        check(status == 0, f"server exited with status {status} after "
                           f"{signal.Signals(sig).name}; stderr: {self.stderr_text()}")

    def kill(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        return False


def abort_connection(sock):
    """Closes with SO_LINGER 0, so the peer gets a reset instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def read_until_closed(sock, limit=1 << 20):
    """Everything the peer sends until it closes cleanly; a reset or a
    time-out fails the test."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            fail(f"connection not closed by the server in time (got {len(data)} bytes: "
                 f"{data[:200]!r})")
        except ConnectionResetError:
            fail(f"connection reset instead of closed cleanly (got {data[:200]!r})")
        if not chunk:
            return data
        data += chunk
        check(len(data) <= limit, "server sent far more than expected")


def run(main):
    """Runs a test's main(argv), turning failures into exit status 1."""
    try:
        main(sys.argv[1:])
    except TestFailure as e:
        print(f"FAIL: {e}", flush=True)
        sys.exit(1)
    print("PASS", flush=True)
