#!/usr/bin/env python3
"""Integration test of examples/iocp_echo_server (overlapped I/O, SPEC 9).

usage: iocp_echo_test.py PATH_TO_iocp_echo_server

The program is both the server and the client (its --client mode, ConnectEx
and WSASend/WSARecv on its own port). Two runs:

  limit  a server started with --connections 64 serves one client of
         64 connections x 50 messages x 1000 bytes and then stops by itself.
  quit   a server with no limit serves two clients at the same time, one with
         200 KB messages and one with 4 MiB messages (more than one send call
         of the kernel takes on loopback, so psn has to continue the sends);
         then an idle connection is opened and another connection sends
         "quit": the server cancels the idle connection's receive, closes it
         cleanly and stops.

Each client must exit 0 (every byte came back intact); each server must exit
0 and print a summary whose counts equal what the clients exchanged.
"""
import re
import subprocess
import sys

from harness import Server, check, fail, read_until_closed, run

CLIENT_TIMEOUT = 30.0
SERVER_EXIT_TIMEOUT = 10.0


def start_client(binary, port, conns, msgs, size):
    args = [binary, "--client", "127.0.0.1", str(port), str(conns), str(msgs), str(size)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    return proc, args, conns * msgs * size


def finish_client(client):
    proc, args, expected = client
    try:
        out, err = proc.communicate(timeout=CLIENT_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        fail(f"client {args[3:]} did not finish within {CLIENT_TIMEOUT}s; stderr: {err!r}")
    text = out.decode(errors="replace").strip()
    check(proc.returncode == 0, f"client {args[3:]} exited with status {proc.returncode}: "
                                f"{text!r}; stderr: {err.decode(errors='replace').strip()!r}")
    m = re.search(r"(\d+) bytes echoed intact, (\d+) connections failed", text)
    check(m is not None, f"no summary from client {args[3:]}: {text!r}")
    check(int(m.group(1)) == expected and int(m.group(2)) == 0,
          f"client {args[3:]}: expected {expected} bytes and no failure: {text!r}")
    return expected


def finish_server(server, connections, echoed):
    """The server must exit 0 on its own and report exactly these counts."""
    try:
        out, _ = server.proc.communicate(timeout=SERVER_EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        server.kill()
        fail(f"server did not stop within {SERVER_EXIT_TIMEOUT}s; stderr: {server.stderr_text()}")
    text = out.decode(errors="replace").strip()
    check(server.proc.returncode == 0, f"server exited with status {server.proc.returncode}: "
                                       f"{text!r}; stderr: {server.stderr_text()}")
    m = re.fullmatch(r"served (\d+) connections, echoed (\d+) bytes, (\d+) errors", text)
    check(m is not None, f"unexpected server summary {text!r}")
    got = tuple(int(g) for g in m.groups())
    check(got == (connections, echoed, 0),
          f"server summary {text!r}: expected {connections} connections, {echoed} bytes, "
          f"0 errors; stderr: {server.stderr_text()}")
    check(server.stderr_text() == "", f"server wrote to stderr: {server.stderr_text()}")


def limit_run(binary):
    with Server(binary, "--connections", "64") as server:
        echoed = finish_client(start_client(binary, server.port, 64, 50, 1000))
        finish_server(server, 64, echoed)


def quit_run(binary):
    with Server(binary) as server:
        clients = [start_client(binary, server.port, 4, 3, 200 * 1024),
                   start_client(binary, server.port, 2, 2, 4 << 20)]
        echoed = sum(finish_client(c) for c in clients)
        check(server.alive(), f"server stopped early; stderr: {server.stderr_text()}")
        idle = server.connect(timeout=5.0)
        # The idle connection is accepted (its receive under way) before the
        # quit arrives: an echo on it proves that.
        idle.sendall(b"ping")
        check(idle.recv(16) == b"ping", "no echo on the idle connection")
        quitter = server.connect(timeout=5.0)
        quitter.sendall(b"quit\n")
        check(read_until_closed(quitter) == b"", "the server answered the quit request")
        check(read_until_closed(idle) == b"", "bytes on the idle connection after its echo")
        quitter.close()
        idle.close()
        # The clients' connections and the idle one; the quit request is not
        # counted as served.
        finish_server(server, 4 + 2 + 1, echoed + 4)


def main(argv):
    if len(argv) != 1:
        fail(f"usage: {sys.argv[0]} PATH_TO_iocp_echo_server")
    limit_run(argv[0])
    print("limit: ok", flush=True)
    quit_run(argv[0])
    print("quit: ok", flush=True)


if __name__ == "__main__":
    run(main)
