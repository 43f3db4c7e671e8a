// Winsock errors (R8.3) and no SIGPIPE (R8.4), written against the Windows headers as a ported
// program is. Every code is produced by a real failing call on loopback where Linux can produce
// it without sending traffic elsewhere; the few it cannot are checked through the one errno
// table the calls use. After each failure GetLastError() and WSAGetLastError() agree.
#include <winsock2.h>
#include <ws2tcpip.h>
// POSIX facilities the tests need besides the Windows names (none of them clash).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <cwchar>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../../src/win32/error_table.hpp"
#include "winsock_support.hpp"

namespace {

using namespace winsocktest;

void set_nonblocking(SOCKET s) {
  u_long on = 1;
  ASSERT_EQ(ioctlsocket(s, FIONBIO, &on), 0);
}

// Aborts the connection: SO_LINGER {1, 0} then close sends a reset.
void reset_close(Sock& s) {
  LINGER lg;
  lg.l_onoff = 1;
  lg.l_linger = 0;
  ASSERT_EQ(setsockopt(s, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&lg), sizeof lg), 0);
  s.reset();
}

// Waits (up to 5 s) until s reports one of the Windows POLL* `events`.
SHORT wait_for(SOCKET s, SHORT events) {
  WSAPOLLFD p;
  p.fd = s;
  p.events = events;
  p.revents = 0;
  EXPECT_EQ(WSAPoll(&p, 1, 5000), 1);
  return p.revents;
}

// ---------------------------------------------------------------------------------------------
// Connection errors.

// R8.3: a blocking connect to a port nobody listens on.
TEST(WinsockErrors, RefusedBlockingConnectIsWsaeconnrefused) {
  SOCKADDR_IN addr;
  Sock reserved = bound4(SOCK_STREAM, &addr);  // bound, not listening: connects are refused
  Sock c(socket(AF_INET, SOCK_STREAM, IPPROTO_TCP));
  EXPECT_EQ(connect(c, reinterpret_cast<SOCKADDR*>(&addr), sizeof addr), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAECONNREFUSED);
}

// R8.3: a non-blocking connect is under way (WSAEWOULDBLOCK), then SO_ERROR reports the refusal
// as a Winsock code, once.
TEST(WinsockErrors, RefusedNonBlockingConnectReportsWsaeconnrefusedThroughSoError) {
  SOCKADDR_IN addr;
  Sock reserved = bound4(SOCK_STREAM, &addr);
  Sock c(socket(AF_INET, SOCK_STREAM, IPPROTO_TCP));
  set_nonblocking(c);
  ASSERT_EQ(connect(c, reinterpret_cast<SOCKADDR*>(&addr), sizeof addr), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEWOULDBLOCK);
  EXPECT_NE(wait_for(c, POLLWRNORM) & (POLLERR | POLLHUP | POLLWRNORM), 0);
  int err = -1;
  int len = sizeof err;
  ASSERT_EQ(getsockopt(c, SOL_SOCKET, SO_ERROR, reinterpret_cast<char*>(&err), &len), 0);
  EXPECT_EQ(len, static_cast<int>(sizeof err));
  EXPECT_EQ(err, WSAECONNREFUSED);
  ASSERT_EQ(getsockopt(c, SOL_SOCKET, SO_ERROR, reinterpret_cast<char*>(&err), &len), 0);
  EXPECT_EQ(err, 0);  // reading it cleared it
}

// R8.3: the peer aborted the connection; recv says so.
TEST(WinsockErrors, RecvFromResetPeerIsWsaeconnreset) {
  Pair p = tcp_pair();
  reset_close(p.server);
  char c;
  EXPECT_EQ(recv(p.client, &c, 1, 0), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAECONNRESET);
}

// R8.3, R8.4: sending on a connection the peer reset fails with WSAECONNRESET, the first time
// (Linux: ECONNRESET) and the next (Linux: EPIPE), without SIGPIPE.
TEST(WinsockErrors, SendToResetPeerIsWsaeconnresetEveryTime) {
  Pair p = tcp_pair();
  reset_close(p.server);
  wait_for(p.client, POLLRDNORM);
  const char data[] = "x";
  EXPECT_EQ(send(p.client, data, 1, 0), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAECONNRESET);
  EXPECT_EQ(send(p.client, data, 1, 0), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAECONNRESET);
}

// R8.3: sending after this side's shutdown(SD_SEND) is WSAESHUTDOWN, on a stream and on a
// connected datagram socket alike.
TEST(WinsockErrors, SendAfterOwnShutdownIsWsaeshutdown) {
  Pair p = tcp_pair();
  ASSERT_EQ(shutdown(p.client, SD_SEND), 0);
  EXPECT_EQ(send(p.client, "x", 1, 0), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAESHUTDOWN);
  ASSERT_EQ(shutdown(p.server, SD_BOTH), 0);
  EXPECT_EQ(send(p.server, "x", 1, 0), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAESHUTDOWN);

  SOCKADDR_IN addr;
  Sock r = bound4(SOCK_DGRAM, &addr);
  Sock u(socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP));
  ASSERT_EQ(connect(u, reinterpret_cast<SOCKADDR*>(&addr), sizeof addr), 0);
  ASSERT_EQ(shutdown(u, SD_SEND), 0);
  EXPECT_EQ(send(u, "x", 1, 0), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAESHUTDOWN);
}

// R8.3: a stream that was never connected.
TEST(WinsockErrors, UnconnectedStreamIsWsaenotconn) {
  Sock s(socket(AF_INET, SOCK_STREAM, 0));
  char c;
  EXPECT_EQ(recv(s, &c, 1, 0), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAENOTCONN);
  EXPECT_EQ(send(s, "x", 1, 0), SOCKET_ERROR);  // Linux: EPIPE
  EXPECT_LAST_ERROR(WSAENOTCONN);
  SOCKADDR_IN peer;
  int len = sizeof peer;
  EXPECT_EQ(getpeername(s, reinterpret_cast<SOCKADDR*>(&peer), &len), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAENOTCONN);
  EXPECT_EQ(shutdown(s, SD_BOTH), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAENOTCONN);
  // A datagram socket with no destination: send() says not connected, sendto() without an
  // address says a destination is needed.
  Sock u(socket(AF_INET, SOCK_DGRAM, 0));
  EXPECT_EQ(send(u, "x", 1, 0), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAENOTCONN);
  EXPECT_EQ(sendto(u, "x", 1, 0, nullptr, 0), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEDESTADDRREQ);
}

// R8.3: connecting a connected socket, or listening on one.
TEST(WinsockErrors, ConnectedSocketIsWsaeisconn) {
  SOCKADDR_IN addr;
  Sock l = bound4(SOCK_STREAM, &addr);
  ASSERT_EQ(listen(l, 4), 0);
  Sock c(socket(AF_INET, SOCK_STREAM, 0));
  ASSERT_EQ(connect(c, reinterpret_cast<SOCKADDR*>(&addr), sizeof addr), 0);
  EXPECT_EQ(connect(c, reinterpret_cast<SOCKADDR*>(&addr), sizeof addr), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEISCONN);
  EXPECT_EQ(listen(c, 4), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEISCONN);
}

// R8.3: a non-blocking connect whose SYN the listener drops (its accept queue is full) stays
// under way: WSAEWOULDBLOCK, then WSAEALREADY for a second connect.
TEST(WinsockErrors, NonBlockingConnectUnderWayIsWouldBlockThenAlready) {
  SOCKADDR_IN addr;
  Sock l = bound4(SOCK_STREAM, &addr);
  ASSERT_EQ(listen(l, 0), 0);
  Sock first(socket(AF_INET, SOCK_STREAM, 0));
  ASSERT_EQ(connect(first, reinterpret_cast<SOCKADDR*>(&addr), sizeof addr), 0);  // fills it
  Sock c(socket(AF_INET, SOCK_STREAM, 0));
  set_nonblocking(c);
  EXPECT_EQ(connect(c, reinterpret_cast<SOCKADDR*>(&addr), sizeof addr), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEWOULDBLOCK);
  EXPECT_EQ(connect(c, reinterpret_cast<SOCKADDR*>(&addr), sizeof addr), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEALREADY);
}

// R8.3: a call that would block on a non-blocking socket.
TEST(WinsockErrors, RecvOnEmptyNonBlockingSocketIsWsaewouldblock) {
  Pair p = tcp_pair();
  set_nonblocking(p.client);
  char c;
  EXPECT_EQ(recv(p.client, &c, 1, 0), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEWOULDBLOCK);
  SOCKADDR_IN addr;
  Sock l = bound4(SOCK_STREAM, &addr);
  ASSERT_EQ(listen(l, 4), 0);
  set_nonblocking(l);
  EXPECT_EQ(accept(l, nullptr, nullptr), INVALID_SOCKET);
  EXPECT_LAST_ERROR(WSAEWOULDBLOCK);
}

// R8.3: on a blocking socket, SO_RCVTIMEO running out is WSAETIMEDOUT (Linux: EAGAIN), not
// before the time-out.
TEST(WinsockErrors, RecvTimeoutOnBlockingSocketIsWsaetimedout) {
  Pair p = tcp_pair();
  DWORD ms = 200;
  ASSERT_EQ(
      setsockopt(p.client, SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<const char*>(&ms), sizeof ms),
      0);
  char c;
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(recv(p.client, &c, 1, 0), SOCKET_ERROR);
  auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_LAST_ERROR(WSAETIMEDOUT);
  EXPECT_GE(elapsed, std::chrono::milliseconds(150));
  EXPECT_LT(elapsed, std::chrono::seconds(10));
}

// ---------------------------------------------------------------------------------------------
// Addresses.

// R8.3: an address another socket holds.
TEST(WinsockErrors, BindTakenAddressIsWsaeaddrinuse) {
  SOCKADDR_IN addr;
  Sock first = bound4(SOCK_STREAM, &addr);
  Sock second(socket(AF_INET, SOCK_STREAM, 0));
  EXPECT_EQ(bind(second, reinterpret_cast<SOCKADDR*>(&addr), sizeof addr), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEADDRINUSE);
}

// R8.3: an address that is not this host's (binding sends nothing), and, as on Windows, the
// wildcard address or port 0 as a destination.
TEST(WinsockErrors, NonLocalOrWildcardAddressIsWsaeaddrnotavail) {
  Sock s(socket(AF_INET, SOCK_STREAM, 0));
  SOCKADDR_IN a = loopback4();
  ASSERT_EQ(inet_pton(AF_INET, "203.0.113.77", &a.sin_addr), 1);  // TEST-NET-3
  EXPECT_EQ(bind(s, reinterpret_cast<SOCKADDR*>(&a), sizeof a), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEADDRNOTAVAIL);

  SOCKADDR_IN any = loopback4(9);
  any.sin_addr.s_addr = htonl(INADDR_ANY);
  EXPECT_EQ(connect(s, reinterpret_cast<SOCKADDR*>(&any), sizeof any), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEADDRNOTAVAIL);
  SOCKADDR_IN port0 = loopback4(0);
  EXPECT_EQ(connect(s, reinterpret_cast<SOCKADDR*>(&port0), sizeof port0), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEADDRNOTAVAIL);
  Sock u(socket(AF_INET, SOCK_DGRAM, 0));
  EXPECT_EQ(sendto(u, "x", 1, 0, reinterpret_cast<SOCKADDR*>(&any), sizeof any), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEADDRNOTAVAIL);
}

// R8.3: a TCP connect to the broadcast address is refused by the local stack before anything
// is sent (Linux: ENETUNREACH).
TEST(WinsockErrors, ConnectToBroadcastIsWsaenetunreach) {
  SOCKADDR_IN local;
  Sock s = bound4(SOCK_STREAM, &local);
  SOCKADDR_IN b = loopback4(9);
  b.sin_addr.s_addr = htonl(INADDR_BROADCAST);
  EXPECT_EQ(connect(s, reinterpret_cast<SOCKADDR*>(&b), sizeof b), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAENETUNREACH);
}

// R8.3: a broadcast without SO_BROADCAST fails locally.
TEST(WinsockErrors, BroadcastWithoutSoBroadcastIsWsaeacces) {
  SOCKADDR_IN local;
  Sock u = bound4(SOCK_DGRAM, &local);  // bound to 127.0.0.1: the route is loopback's
  SOCKADDR_IN b = loopback4(9);
  b.sin_addr.s_addr = htonl(INADDR_BROADCAST);
  EXPECT_EQ(sendto(u, "x", 1, 0, reinterpret_cast<SOCKADDR*>(&b), sizeof b), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEACCES);
}

// ---------------------------------------------------------------------------------------------
// Sockets and arguments.

// R8.3: a SOCKET that is not an open socket: closed, made up, too large for a descriptor,
// INVALID_SOCKET, or a pipe.
TEST(WinsockErrors, NotAnOpenSocketIsWsaenotsock) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  SOCKET closed = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_NE(closed, INVALID_SOCKET);
  ASSERT_EQ(closesocket(closed), 0);
  const SOCKET bad[] = {closed, static_cast<SOCKET>(INT_MAX) - 7, static_cast<SOCKET>(INT_MAX) + 1,
                        INVALID_SOCKET, static_cast<SOCKET>(fds[0])};
  for (SOCKET s : bad) {
    SCOPED_TRACE(testing::Message() << "SOCKET " << s);
    char c = 0;
    int type = 0;
    int len = sizeof type;
    u_long arg = 1;
    SOCKADDR_IN a = loopback4();
    int alen = sizeof a;
    EXPECT_EQ(send(s, &c, 1, 0), SOCKET_ERROR);
    EXPECT_LAST_ERROR(WSAENOTSOCK);
    EXPECT_EQ(recv(s, &c, 1, 0), SOCKET_ERROR);
    EXPECT_LAST_ERROR(WSAENOTSOCK);
    EXPECT_EQ(bind(s, reinterpret_cast<SOCKADDR*>(&a), sizeof a), SOCKET_ERROR);
    EXPECT_LAST_ERROR(WSAENOTSOCK);
    EXPECT_EQ(listen(s, 1), SOCKET_ERROR);
    EXPECT_LAST_ERROR(WSAENOTSOCK);
    EXPECT_EQ(accept(s, nullptr, nullptr), INVALID_SOCKET);
    EXPECT_LAST_ERROR(WSAENOTSOCK);
    EXPECT_EQ(getsockname(s, reinterpret_cast<SOCKADDR*>(&a), &alen), SOCKET_ERROR);
    EXPECT_LAST_ERROR(WSAENOTSOCK);
    EXPECT_EQ(getsockopt(s, SOL_SOCKET, SO_TYPE, reinterpret_cast<char*>(&type), &len),
              SOCKET_ERROR);
    EXPECT_LAST_ERROR(WSAENOTSOCK);
    EXPECT_EQ(setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &c, 1), SOCKET_ERROR);
    EXPECT_LAST_ERROR(WSAENOTSOCK);
    EXPECT_EQ(ioctlsocket(s, FIONBIO, &arg), SOCKET_ERROR);
    EXPECT_LAST_ERROR(WSAENOTSOCK);
    EXPECT_EQ(shutdown(s, SD_BOTH), SOCKET_ERROR);
    EXPECT_LAST_ERROR(WSAENOTSOCK);
    EXPECT_EQ(closesocket(s), SOCKET_ERROR);
    EXPECT_LAST_ERROR(WSAENOTSOCK);
  }
  EXPECT_NE(::fcntl(fds[0], F_GETFD), -1);  // the pipe was not closed by closesocket
  ::close(fds[0]);
  ::close(fds[1]);
}

// R8.3: arguments not valid for the call or the socket's state.
TEST(WinsockErrors, InvalidArgumentOrStateIsWsaeinval) {
  SOCKADDR_IN addr;
  Sock s = bound4(SOCK_STREAM, &addr);
  SOCKADDR_IN again = loopback4();
  EXPECT_EQ(bind(s, reinterpret_cast<SOCKADDR*>(&again), sizeof again), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEINVAL);  // already bound
  EXPECT_EQ(accept(s, nullptr, nullptr), INVALID_SOCKET);
  EXPECT_LAST_ERROR(WSAEINVAL);  // not listening
  Sock unbound(socket(AF_INET, SOCK_STREAM, 0));
  EXPECT_EQ(listen(unbound, 4), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEINVAL);  // Windows does not bind implicitly
  SOCKADDR_IN name;
  int len = sizeof name;
  EXPECT_EQ(getsockname(unbound, reinterpret_cast<SOCKADDR*>(&name), &len), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEINVAL);  // no name yet
  EXPECT_EQ(shutdown(s, 7), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEINVAL);
  u_long arg = 0;
  EXPECT_EQ(ioctlsocket(s, 0x12345678L, &arg), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEINVAL);
  WSAPOLLFD p;
  p.fd = s;
  p.events = POLLRDNORM;
  EXPECT_EQ(WSAPoll(&p, 0, 0), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEINVAL);
  p.events = 0x4000;  // no such POLL bit
  EXPECT_EQ(WSAPoll(&p, 1, 0), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEINVAL);
  WSAPROTOCOL_INFOA info;
  ZeroMemory(&info, sizeof info);
  EXPECT_EQ(WSASocketA(AF_INET, SOCK_STREAM, 0, &info, 0, 0), INVALID_SOCKET);
  EXPECT_LAST_ERROR(WSAEINVAL);
  EXPECT_EQ(WSASocketW(AF_INET, SOCK_STREAM, 0, nullptr, 0, 0x40000), INVALID_SOCKET);
  EXPECT_LAST_ERROR(WSAEINVAL);
  // SO_EXCLUSIVEADDRUSE cannot be combined with SO_REUSEADDR.
  BOOL yes = TRUE;
  ASSERT_EQ(
      setsockopt(unbound, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<char*>(&yes), sizeof yes), 0);
  EXPECT_EQ(setsockopt(unbound, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, reinterpret_cast<char*>(&yes),
                       sizeof yes),
            SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEINVAL);
}

// R8.3: a NULL or too small pointer or length, where Linux would truncate silently.
TEST(WinsockErrors, BadPointerOrLengthIsWsaefault) {
  SOCKADDR_IN addr;
  Sock s = bound4(SOCK_STREAM, &addr);
  SOCKADDR_IN name;
  int len = sizeof name - 1;
  EXPECT_EQ(getsockname(s, reinterpret_cast<SOCKADDR*>(&name), &len), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEFAULT);
  EXPECT_EQ(getsockname(s, nullptr, &len), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEFAULT);
  EXPECT_EQ(getsockname(s, reinterpret_cast<SOCKADDR*>(&name), nullptr), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEFAULT);
  Pair p = tcp_pair();
  len = 4;
  EXPECT_EQ(getpeername(p.client, reinterpret_cast<SOCKADDR*>(&name), &len), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEFAULT);
  // Options: a DWORD time-out in two bytes, a linger in two, no value at all.
  DWORD ms = 0;
  int olen = 2;
  EXPECT_EQ(getsockopt(s, SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<char*>(&ms), &olen),
            SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEFAULT);
  EXPECT_EQ(setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, reinterpret_cast<char*>(&ms), 2), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEFAULT);
  LINGER lg;
  olen = 2;
  EXPECT_EQ(getsockopt(s, SOL_SOCKET, SO_LINGER, reinterpret_cast<char*>(&lg), &olen),
            SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEFAULT);
  olen = sizeof(int);
  EXPECT_EQ(getsockopt(s, SOL_SOCKET, SO_RCVBUF, nullptr, &olen), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEFAULT);
  olen = 2;
  int rcvbuf = 0;
  EXPECT_EQ(getsockopt(s, SOL_SOCKET, SO_RCVBUF, reinterpret_cast<char*>(&rcvbuf), &olen),
            SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEFAULT);
  // Addresses shorter than their family's structure.
  Sock t(socket(AF_INET, SOCK_STREAM, 0));
  SOCKADDR_IN a = loopback4();
  EXPECT_EQ(bind(t, reinterpret_cast<SOCKADDR*>(&a), sizeof a - 4), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEFAULT);
  EXPECT_EQ(bind(t, nullptr, sizeof a), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEFAULT);
  EXPECT_EQ(connect(t, reinterpret_cast<SOCKADDR*>(&addr), 8), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEFAULT);
  // Buffers.
  EXPECT_EQ(send(p.client, nullptr, 4, 0), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEFAULT);
  EXPECT_EQ(recv(p.client, nullptr, 4, 0), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEFAULT);
  char c;
  EXPECT_EQ(recv(p.client, &c, -1, 0), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEFAULT);
  EXPECT_EQ(ioctlsocket(s, FIONREAD, nullptr), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEFAULT);
  EXPECT_EQ(WSAPoll(nullptr, 1, 0), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEFAULT);
  EXPECT_EQ(WSAStartup(MAKEWORD(2, 2), nullptr), WSAEFAULT);  // returned, as on Windows
  EXPECT_EQ(gethostname(&c, 1), SOCKET_ERROR);                // room for the NUL only
  EXPECT_LAST_ERROR(WSAEFAULT);
}

// R8.3: an accepted peer or datagram sender whose address does not fit the caller's buffer.
TEST(WinsockErrors, AddressLargerThanCallersBufferIsWsaefault) {
  Sock l(socket(AF_INET6, SOCK_STREAM, 0));
  SOCKADDR_IN6 a6;
  ZeroMemory(&a6, sizeof a6);
  a6.sin6_family = AF_INET6;
  a6.sin6_addr = in6addr_loopback;
  ASSERT_EQ(bind(l, reinterpret_cast<SOCKADDR*>(&a6), sizeof a6), 0);
  int len = sizeof a6;
  ASSERT_EQ(getsockname(l, reinterpret_cast<SOCKADDR*>(&a6), &len), 0);
  ASSERT_EQ(listen(l, 4), 0);
  Sock c(socket(AF_INET6, SOCK_STREAM, 0));
  ASSERT_EQ(connect(c, reinterpret_cast<SOCKADDR*>(&a6), sizeof a6), 0);
  SOCKADDR_IN small;
  len = sizeof small;
  EXPECT_EQ(accept(l, reinterpret_cast<SOCKADDR*>(&small), &len), INVALID_SOCKET);
  EXPECT_LAST_ERROR(WSAEFAULT);
  len = -1;
  EXPECT_EQ(accept(l, reinterpret_cast<SOCKADDR*>(&small), &len), INVALID_SOCKET);
  EXPECT_LAST_ERROR(WSAEFAULT);

  Sock r(socket(AF_INET6, SOCK_DGRAM, 0));
  ZeroMemory(&a6, sizeof a6);
  a6.sin6_family = AF_INET6;
  a6.sin6_addr = in6addr_loopback;
  ASSERT_EQ(bind(r, reinterpret_cast<SOCKADDR*>(&a6), sizeof a6), 0);
  len = sizeof a6;
  ASSERT_EQ(getsockname(r, reinterpret_cast<SOCKADDR*>(&a6), &len), 0);
  Sock u(socket(AF_INET6, SOCK_DGRAM, 0));
  ASSERT_EQ(sendto(u, "abc", 3, 0, reinterpret_cast<SOCKADDR*>(&a6), sizeof a6), 3);
  char buf[8];
  len = sizeof small;
  EXPECT_EQ(recvfrom(r, buf, sizeof buf, 0, reinterpret_cast<SOCKADDR*>(&small), &len),
            SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEFAULT);
  EXPECT_EQ(recvfrom(r, buf, sizeof buf, 0, reinterpret_cast<SOCKADDR*>(&small), nullptr),
            SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEFAULT);
}

// R8.3: a datagram larger than the buffer fills it and fails with WSAEMSGSIZE (the rest is
// lost, as on Windows); one larger than UDP allows cannot be sent.
TEST(WinsockErrors, OversizedDatagramIsWsaemsgsize) {
  SOCKADDR_IN addr;
  Sock r = bound4(SOCK_DGRAM, &addr);
  Sock u(socket(AF_INET, SOCK_DGRAM, 0));
  char big[100];
  for (int i = 0; i < 100; i++) big[i] = static_cast<char>('a' + i % 26);
  ASSERT_EQ(sendto(u, big, sizeof big, 0, reinterpret_cast<SOCKADDR*>(&addr), sizeof addr), 100);
  ASSERT_EQ(sendto(u, "next", 4, 0, reinterpret_cast<SOCKADDR*>(&addr), sizeof addr), 4);
  char small[10] = {};
  SOCKADDR_IN from;
  int flen = sizeof from;
  EXPECT_EQ(recvfrom(r, small, sizeof small, 0, reinterpret_cast<SOCKADDR*>(&from), &flen),
            SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEMSGSIZE);
  EXPECT_EQ(std::memcmp(small, big, sizeof small), 0);
  EXPECT_EQ(flen, static_cast<int>(sizeof from));
  EXPECT_EQ(from.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  char rest[16] = {};
  EXPECT_EQ(recv(r, rest, sizeof rest, 0), 4);  // the next datagram, not the tail
  EXPECT_EQ(std::string(rest, 4), "next");
  ASSERT_EQ(sendto(u, big, sizeof big, 0, reinterpret_cast<SOCKADDR*>(&addr), sizeof addr), 100);
  EXPECT_EQ(recv(r, small, sizeof small, 0), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEMSGSIZE);
  std::vector<char> huge(70000);
  EXPECT_EQ(sendto(u, huge.data(), static_cast<int>(huge.size()), 0,
                   reinterpret_cast<SOCKADDR*>(&addr), sizeof addr),
            SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEMSGSIZE);
}

// R8.3: families, protocols, types and options the stack does not have.
TEST(WinsockErrors, UnsupportedFamilyProtocolTypeOrOption) {
  EXPECT_EQ(socket(4242, SOCK_STREAM, 0), INVALID_SOCKET);
  EXPECT_LAST_ERROR(WSAEAFNOSUPPORT);
  BYTE buf[16];
  EXPECT_EQ(inet_pton(4242, "1.2.3.4", buf), -1);
  EXPECT_LAST_ERROR(WSAEAFNOSUPPORT);
  char text[64];
  EXPECT_EQ(inet_ntop(4242, buf, text, sizeof text), nullptr);
  EXPECT_LAST_ERROR(WSAEAFNOSUPPORT);
  EXPECT_EQ(socket(AF_INET, SOCK_STREAM, IPPROTO_UDP), INVALID_SOCKET);
  EXPECT_LAST_ERROR(WSAEPROTONOSUPPORT);
  EXPECT_EQ(socket(AF_INET, 77, 0), INVALID_SOCKET);
  EXPECT_LAST_ERROR(WSAESOCKTNOSUPPORT);
  Sock s(socket(AF_INET, SOCK_STREAM, 0));
  int v = 0;
  int len = sizeof v;
  EXPECT_EQ(getsockopt(s, SOL_SOCKET, 12345, reinterpret_cast<char*>(&v), &len), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAENOPROTOOPT);
  EXPECT_EQ(setsockopt(s, SOL_SOCKET, 12345, reinterpret_cast<char*>(&v), sizeof v), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAENOPROTOOPT);
  BOOL yes = TRUE;  // no WSAAccept, so no conditional accept
  EXPECT_EQ(
      setsockopt(s, SOL_SOCKET, SO_CONDITIONAL_ACCEPT, reinterpret_cast<char*>(&yes), sizeof yes),
      SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAENOPROTOOPT);
  Sock u(socket(AF_INET, SOCK_DGRAM, 0));
  SOCKADDR_IN a = loopback4();
  ASSERT_EQ(bind(u, reinterpret_cast<SOCKADDR*>(&a), sizeof a), 0);
  EXPECT_EQ(listen(u, 1), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEOPNOTSUPP);
  DWORD got = 0;
  void* fn = nullptr;
  GUID id;
  ZeroMemory(&id, sizeof id);
  EXPECT_EQ(WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id, &fn, sizeof fn, &got,
                     nullptr, nullptr),
            SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEINVAL);
}

// R8.3: the process has no descriptor left (RLIMIT_NOFILE lowered for the test, restored).
TEST(WinsockErrors, NoDescriptorLeftIsWsaemfile) {
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
  int probe = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(probe, 0);
  ::close(probe);  // every descriptor below `probe` is in use
  rlimit low = old;
  low.rlim_cur = static_cast<rlim_t>(probe);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  SOCKET s = socket(AF_INET, SOCK_STREAM, 0);
  DWORD err = GetLastError();
  int wsa = WSAGetLastError();
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old), 0);
  if (s != INVALID_SOCKET) closesocket(s);
  EXPECT_EQ(s, INVALID_SOCKET);
  EXPECT_EQ(err, static_cast<DWORD>(WSAEMFILE));
  EXPECT_EQ(wsa, WSAEMFILE);
}

void on_signal(int) {}

// R8.3: a signal handler installed without SA_RESTART interrupts a blocking recv.
TEST(WinsockErrors, SignalDuringBlockingRecvIsWsaeintr) {
  struct sigaction sa {};
  struct sigaction old {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART
  ASSERT_EQ(::sigaction(SIGUSR1, &sa, &old), 0);
  Pair p = tcp_pair();
  std::atomic<bool> done{false};
  int rc = 0, wsa = 0;
  DWORD gle = 0;
  std::thread t([&] {
    char c;
    rc = recv(p.client, &c, 1, 0);
    wsa = WSAGetLastError();
    gle = GetLastError();
    done = true;
  });
  // The signal may come before the thread blocks: repeat until the call returns.
  for (int i = 0; i < 500 && !done; i++) {
    ::pthread_kill(t.native_handle(), SIGUSR1);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!done) send(p.server, "x", 1, 0);  // release the thread before failing
  t.join();
  ::sigaction(SIGUSR1, &old, nullptr);
  EXPECT_EQ(rc, SOCKET_ERROR);
  EXPECT_EQ(wsa, WSAEINTR);
  EXPECT_EQ(gle, static_cast<DWORD>(WSAEINTR));
}

// R8.3: Linux never restarts an interrupted call that has a time-out, and io_uring task work
// interrupts like a signal; Windows has neither. Such a call goes on and still ends with
// WSAETIMEDOUT, not WSAEINTR.
TEST(WinsockErrors, SignalDuringTimedRecvStillTimesOut) {
  struct sigaction sa {};
  struct sigaction old {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  ASSERT_EQ(::sigaction(SIGUSR1, &sa, &old), 0);
  Pair p = tcp_pair();
  DWORD ms = 300;
  ASSERT_EQ(
      setsockopt(p.client, SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<const char*>(&ms), sizeof ms),
      0);
  std::atomic<bool> done{false};
  int rc = 0, wsa = 0;
  std::chrono::steady_clock::duration elapsed{};
  std::thread t([&] {
    char c;
    auto t0 = std::chrono::steady_clock::now();
    rc = recv(p.client, &c, 1, 0);
    wsa = WSAGetLastError();
    elapsed = std::chrono::steady_clock::now() - t0;
    done = true;
  });
  for (int i = 0; i < 500 && !done; i++) {
    ::pthread_kill(t.native_handle(), SIGUSR1);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!done) send(p.server, "x", 1, 0);
  t.join();
  ::sigaction(SIGUSR1, &old, nullptr);
  EXPECT_EQ(rc, SOCKET_ERROR);
  EXPECT_EQ(wsa, WSAETIMEDOUT);
  EXPECT_GE(elapsed, std::chrono::milliseconds(250));
  EXPECT_LT(elapsed, std::chrono::seconds(10));
}

// R8.3: the codes Linux cannot produce on loopback without traffic elsewhere, through the same
// table the calls use; and no errno value ever comes out as itself.
TEST(WinsockErrors, ErrnoTableGivesWinsockCodes) {
  struct {
    int err;
    DWORD code;
  } const cases[] = {
      {ENETUNREACH, WSAENETUNREACH},
      {EHOSTUNREACH, WSAEHOSTUNREACH},
      {ECONNABORTED, WSAECONNABORTED},
      {ENOBUFS, WSAENOBUFS},
      {ENOMEM, WSAENOBUFS},
      {EALREADY, WSAEALREADY},
      {ECONNRESET, WSAECONNRESET},
      {ECONNREFUSED, WSAECONNREFUSED},
      {ETIMEDOUT, WSAETIMEDOUT},
      {EADDRINUSE, WSAEADDRINUSE},
      {EADDRNOTAVAIL, WSAEADDRNOTAVAIL},
      {EAGAIN, WSAEWOULDBLOCK},
      {EINPROGRESS, WSAEWOULDBLOCK},
      {EINTR, WSAEINTR},
      {EBADF, WSAENOTSOCK},
      {ENOTSOCK, WSAENOTSOCK},
      {EMSGSIZE, WSAEMSGSIZE},
      {ENETDOWN, WSAENETDOWN},
      {EHOSTDOWN, WSAEHOSTDOWN},
      {ENOTCONN, WSAENOTCONN},
      {EISCONN, WSAEISCONN},
      {EACCES, WSAEACCES},
      {EMFILE, WSAEMFILE},
      {ENFILE, WSAEMFILE},
      {EPIPE, WSAECONNRESET},
      {EPROTO, WSAECONNABORTED},
  };
  for (const auto& c : cases) EXPECT_EQ(psn::win32::wsa_from_errno(c.err), c.code) << c.err;
  // Unlisted values take the documented fallback.
  EXPECT_EQ(psn::win32::wsa_from_errno(EXDEV), static_cast<DWORD>(WSASYSCALLFAILURE));
  EXPECT_EQ(psn::win32::wsa_from_errno(9999), static_cast<DWORD>(WSASYSCALLFAILURE));
  for (int e = 1; e < 134; e++) {
    DWORD code = psn::win32::wsa_from_errno(e);
    EXPECT_NE(code, static_cast<DWORD>(e));
    EXPECT_NE(psn::win32::error_text(code), nullptr) << "errno " << e << " -> " << code;
  }
}

// R8.4: a send to a peer that closed never raises SIGPIPE: a child process with SIGPIPE at its
// default disposition survives and sees WSAECONNRESET or WSAECONNABORTED.
TEST(WinsockErrors, SendToClosedPeerRaisesNoSigpipe) {
  Pair p = tcp_pair();
  p.server.reset();  // an orderly close; the peer answers further data with a reset
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::signal(SIGPIPE, SIG_DFL);
    static const char data[1024] = {};
    for (int i = 0; i < 500; i++) {
      if (send(p.client, data, sizeof data, 0) == SOCKET_ERROR) {
        int e = WSAGetLastError();
        bool ok =
            (e == WSAECONNRESET || e == WSAECONNABORTED) && GetLastError() == static_cast<DWORD>(e);
        ::_exit(ok ? 0 : 2);
      }
      ::usleep(2000);
    }
    ::_exit(3);  // never failed
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_FALSE(WIFSIGNALED(status)) << "killed by signal " << WTERMSIG(status);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// ---------------------------------------------------------------------------------------------
// FormatMessage (R8.3).

// Every code psn can set: the ERROR_ codes of <psn/psn.h> and <windows.h>, the wait results
// that are errors, and every Winsock code.
const DWORD kAllCodes[] = {
    ERROR_SUCCESS,
    ERROR_INVALID_FUNCTION,
    ERROR_FILE_NOT_FOUND,
    ERROR_PATH_NOT_FOUND,
    ERROR_TOO_MANY_OPEN_FILES,
    ERROR_ACCESS_DENIED,
    ERROR_INVALID_HANDLE,
    ERROR_NOT_ENOUGH_MEMORY,
    ERROR_INVALID_DATA,
    ERROR_OUTOFMEMORY,
    ERROR_GEN_FAILURE,
    ERROR_HANDLE_EOF,
    ERROR_NOT_SUPPORTED,
    ERROR_NETNAME_DELETED,
    ERROR_INVALID_PARAMETER,
    ERROR_BROKEN_PIPE,
    ERROR_SEM_TIMEOUT,
    ERROR_INSUFFICIENT_BUFFER,
    ERROR_INVALID_NAME,
    ERROR_BUSY,
    ERROR_ALREADY_EXISTS,
    ERROR_MORE_DATA,
    WAIT_TIMEOUT,
    ERROR_MR_MID_NOT_FOUND,
    ERROR_ABANDONED_WAIT_0,
    ERROR_OPERATION_ABORTED,
    ERROR_IO_INCOMPLETE,
    ERROR_IO_PENDING,
    ERROR_NOACCESS,
    ERROR_NOT_FOUND,
    ERROR_CANCELLED,
    ERROR_CONNECTION_REFUSED,
    ERROR_GRACEFUL_DISCONNECT,
    ERROR_ADDRESS_ALREADY_ASSOCIATED,
    ERROR_CONNECTION_INVALID,
    ERROR_CONNECTION_ACTIVE,
    ERROR_NETWORK_UNREACHABLE,
    ERROR_HOST_UNREACHABLE,
    ERROR_PORT_UNREACHABLE,
    ERROR_REQUEST_ABORTED,
    ERROR_CONNECTION_ABORTED,
    ERROR_NO_SYSTEM_RESOURCES,
    ERROR_TIMEOUT,
    ERROR_INVALID_USER_BUFFER,
#ifdef ERROR_UNIDENTIFIED_ERROR
    ERROR_UNIDENTIFIED_ERROR,
#endif
    WSA_INVALID_HANDLE,
    WSA_NOT_ENOUGH_MEMORY,
    WSA_INVALID_PARAMETER,
    WSA_OPERATION_ABORTED,
    WSA_IO_INCOMPLETE,
    WSA_IO_PENDING,
    WSAEINTR,
    WSAEBADF,
    WSAEACCES,
    WSAEFAULT,
    WSAEINVAL,
    WSAEMFILE,
    WSAEWOULDBLOCK,
    WSAEINPROGRESS,
    WSAEALREADY,
    WSAENOTSOCK,
    WSAEDESTADDRREQ,
    WSAEMSGSIZE,
    WSAEPROTOTYPE,
    WSAENOPROTOOPT,
    WSAEPROTONOSUPPORT,
    WSAESOCKTNOSUPPORT,
    WSAEOPNOTSUPP,
    WSAEPFNOSUPPORT,
    WSAEAFNOSUPPORT,
    WSAEADDRINUSE,
    WSAEADDRNOTAVAIL,
    WSAENETDOWN,
    WSAENETUNREACH,
    WSAENETRESET,
    WSAECONNABORTED,
    WSAECONNRESET,
    WSAENOBUFS,
    WSAEISCONN,
    WSAENOTCONN,
    WSAESHUTDOWN,
    WSAETOOMANYREFS,
    WSAETIMEDOUT,
    WSAECONNREFUSED,
    WSAELOOP,
    WSAENAMETOOLONG,
    WSAEHOSTDOWN,
    WSAEHOSTUNREACH,
    WSAENOTEMPTY,
    WSAEPROCLIM,
    WSAEUSERS,
    WSAEDQUOT,
    WSAESTALE,
    WSAEREMOTE,
    WSASYSNOTREADY,
    WSAVERNOTSUPPORTED,
    WSANOTINITIALISED,
    WSAEDISCON,
    WSAENOMORE,
    WSAECANCELLED,
    WSAEINVALIDPROCTABLE,
    WSAEINVALIDPROVIDER,
    WSAEPROVIDERFAILEDINIT,
    WSASYSCALLFAILURE,
    WSASERVICE_NOT_FOUND,
    WSATYPE_NOT_FOUND,
    WSA_E_NO_MORE,
    WSA_E_CANCELLED,
    WSAEREFUSED,
    WSAHOST_NOT_FOUND,
    WSATRY_AGAIN,
    WSANO_RECOVERY,
    WSANO_DATA,
};

// One line of text, ending in "\r\n" as Windows' system texts do.
void expect_one_line(const std::wstring& text, DWORD code) {
  SCOPED_TRACE(testing::Message() << "code " << code);
  ASSERT_GE(text.size(), 4u);
  EXPECT_EQ(text.substr(text.size() - 2), L"\r\n");
  EXPECT_EQ(text.find_first_of(L"\r\n"), text.size() - 2);
}

TEST(WinsockErrors, FormatMessageGivesOneLineForEveryCode) {
  for (DWORD code : kAllCodes) {
    char a[512];
    DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr,
                             code, 0, a, sizeof a, nullptr);
    ASSERT_GT(n, 0u) << code;
    EXPECT_EQ(n, std::strlen(a));
    std::wstring narrow(a, a + n);
    expect_one_line(narrow, code);
    WCHAR w[512];
    DWORD wn =
        FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM, nullptr, code, 0, w, ARRAYSIZE(w), nullptr);
    ASSERT_EQ(wn, n) << code;
    EXPECT_EQ(std::wstring(w, wn), narrow);
  }
  // The table knows no code the list above misses, and every one of them has a text.
  std::size_t count = 0;
  const std::uint32_t* codes = psn::win32::error_codes(&count);
  std::set<DWORD> listed(std::begin(kAllCodes), std::end(kAllCodes));
  for (std::size_t i = 0; i < count; i++) {
    // ERROR_NO_MORE_ITEMS and ERROR_UNIDENTIFIED_ERROR: texts for codes programs pass in.
    if (codes[i] == 259 || codes[i] == 1287) continue;
    EXPECT_TRUE(listed.count(codes[i])) << "table code " << codes[i] << " not in the list";
  }
  // An HRESULT wrapping a Win32 code names the same text.
  char a[256], b[256];
  ASSERT_GT(
      FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM, nullptr, 0x80070005u, 0, a, sizeof a, nullptr),
      0u);
  ASSERT_GT(FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM, nullptr, ERROR_ACCESS_DENIED, 0, b, sizeof b,
                           nullptr),
            0u);
  EXPECT_STREQ(a, b);
}

TEST(WinsockErrors, FormatMessageFailsForUnknownIdsAndSmallBuffers) {
  char a[256];
  WCHAR w[256];
  for (DWORD id : {4242u, 10010u, 0x12345678u}) {
    SetLastError(0);
    EXPECT_EQ(FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM, nullptr, id, 0, a, sizeof a, nullptr), 0u);
    EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_MR_MID_NOT_FOUND));
    SetLastError(0);
    EXPECT_EQ(FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM, nullptr, id, 0, w, 256, nullptr), 0u);
    EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_MR_MID_NOT_FOUND));
  }
  DWORD n =
      FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM, nullptr, WSAECONNRESET, 0, a, sizeof a, nullptr);
  ASSERT_GT(n, 0u);
  EXPECT_EQ(FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM, nullptr, WSAECONNRESET, 0, a, n, nullptr),
            0u);  // no room for the NUL
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INSUFFICIENT_BUFFER));
  EXPECT_EQ(FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM, nullptr, WSAECONNRESET, 0, w, 3, nullptr),
            0u);
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_INSUFFICIENT_BUFFER));
  EXPECT_EQ(
      FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM, nullptr, WSAECONNRESET, 0, a, n + 1, nullptr), n);
  // Not from the system: a string source is not supported, a module has no table.
  EXPECT_EQ(FormatMessageA(FORMAT_MESSAGE_FROM_STRING, "x", 0, 0, a, sizeof a, nullptr), 0u);
  EXPECT_EQ(
      FormatMessageA(FORMAT_MESSAGE_FROM_HMODULE, nullptr, WSAECONNRESET, 0, a, sizeof a, nullptr),
      0u);
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_MR_MID_NOT_FOUND));
}

TEST(WinsockErrors, FormatMessageAllocatesBufferForLocalFree) {
  LPSTR a = nullptr;
  DWORD n = FormatMessageA(
      FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_IGNORE_INSERTS,
      nullptr, WSAEWOULDBLOCK, MAKELANGID(LANG_NEUTRAL, SUBLANG_DEFAULT),
      reinterpret_cast<LPSTR>(&a), 0, nullptr);
  ASSERT_GT(n, 0u);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(std::strlen(a), n);
  EXPECT_EQ(LocalFree(a), nullptr);
  LPWSTR w = nullptr;
  n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_ALLOCATE_BUFFER, nullptr,
                     ERROR_INVALID_HANDLE, 0, reinterpret_cast<LPWSTR>(&w), 0, nullptr);
  ASSERT_GT(n, 0u);
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(std::wcslen(w), n);
  EXPECT_EQ(LocalFree(w), nullptr);
  EXPECT_EQ(LocalFree(nullptr), nullptr);
  // A maximum width: the one-line text without its line break.
  char line[256];
  n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_MAX_WIDTH_MASK, nullptr,
                     WSAECONNRESET, 0, line, sizeof line, nullptr);
  ASSERT_GT(n, 0u);
  EXPECT_EQ(std::string(line).find_first_of("\r\n"), std::string::npos);
  // gai_strerror: the same text on one line.
  const char* g = gai_strerror(EAI_NONAME);
  ASSERT_NE(g, nullptr);
  EXPECT_GT(std::strlen(g), 0u);
  EXPECT_EQ(std::string(g).find_first_of("\r\n"), std::string::npos);
  EXPECT_GT(std::wcslen(gai_strerrorW(EAI_AGAIN)), 0u);
}

}  // namespace
