// Winsock basics (R8.2, R8.5, R8.7), written against the Windows headers as a ported program
// is: the types and layouts, WSAStartup/WSACleanup, a TCP echo and UDP through the Winsock
// names only, ioctlsocket, WSAPoll, WSASocket, WSAIoctl, name resolution, address conversions,
// socket options with Windows' value formats, and ProcessSocketNotifications on a socket made
// by socket().
#include <winsock2.h>
#include <ws2tcpip.h>
// POSIX facilities the tests need besides the Windows names (none of them clash).
#include <fcntl.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <thread>
#include <type_traits>

#include "../../src/win32/winsock_layout.hpp"
#include "winsock_support.hpp"

namespace {

using namespace winsocktest;

bool is_nonblocking(SOCKET s) {
  return (::fcntl(static_cast<int>(s), F_GETFL) & O_NONBLOCK) != 0;
}

// Drops every WSAStartup still counted, so a test starts from none.
void drain_startups() {
  while (WSACleanup() == 0) {
  }
}

// ---------------------------------------------------------------------------------------------
// Types and layouts (R8.2).

TEST(WinsockBasics, SocketIsPointerWideAndInvalidSocketIsAllOnes) {
  static_assert(sizeof(SOCKET) == sizeof(void*));
  static_assert(std::is_unsigned_v<SOCKET>);
  static_assert(std::is_same_v<SOCKET, UINT_PTR>);
  EXPECT_EQ(INVALID_SOCKET, static_cast<SOCKET>(~static_cast<SOCKET>(0)));
  EXPECT_EQ(SOCKET_ERROR, -1);
  // The casts a Windows program makes round-trip.
  Sock s(socket(AF_INET, SOCK_STREAM, IPPROTO_TCP));
  ASSERT_NE(static_cast<SOCKET>(s), INVALID_SOCKET);
  PVOID key = (PVOID)(SOCKET)s;
  EXPECT_EQ((SOCKET)key, static_cast<SOCKET>(s));
  ULONG_PTR k = (ULONG_PTR)s;
  EXPECT_EQ((SOCKET)k, static_cast<SOCKET>(s));
}

// The public structures against the private mirrors the implementation uses and against
// Windows' x64 numbers; constants with Windows values against the implementation's.
TEST(WinsockBasics, LayoutsMatchWindowsAndTheImplementation) {
  namespace L = psn::win32::layout;
  using psn::win32::ws_addrinfoa;
  using psn::win32::ws_pollfd;
  using psn::win32::ws_wsabuf;
  using psn::win32::ws_wsadata;
  static_assert(sizeof(LINGER) == L::kLingerSize &&
                sizeof(LINGER) == sizeof(psn::win32::ws_linger));
  static_assert(offsetof(LINGER, l_linger) == 2);
  static_assert(sizeof(ADDRINFOA) == sizeof(ws_addrinfoa) && sizeof(ADDRINFOA) == L::kAddrinfoSize);
  static_assert(offsetof(ADDRINFOA, ai_addrlen) == offsetof(ws_addrinfoa, ai_addrlen));
  static_assert(offsetof(ADDRINFOA, ai_canonname) == offsetof(ws_addrinfoa, ai_canonname));
  static_assert(offsetof(ADDRINFOA, ai_addr) == offsetof(ws_addrinfoa, ai_addr));
  static_assert(offsetof(ADDRINFOA, ai_next) == offsetof(ws_addrinfoa, ai_next));
  static_assert(offsetof(ADDRINFOA, ai_addrlen) == L::kAddrinfoAddrlenOffset);
  static_assert(offsetof(ADDRINFOA, ai_canonname) == L::kAddrinfoCanonnameOffset);
  static_assert(offsetof(ADDRINFOA, ai_addr) == L::kAddrinfoAddrOffset);
  static_assert(offsetof(ADDRINFOA, ai_next) == L::kAddrinfoNextOffset);
  static_assert(std::is_same_v<decltype(ADDRINFOA::ai_addrlen), size_t>);
  static_assert(sizeof(ADDRINFOW) == L::kAddrinfoSize);
  static_assert(offsetof(ADDRINFOW, ai_canonname) == L::kAddrinfoCanonnameOffset);
  static_assert(offsetof(ADDRINFOW, ai_addr) == L::kAddrinfoAddrOffset);
  static_assert(sizeof(WSAPOLLFD) == sizeof(ws_pollfd) && sizeof(WSAPOLLFD) == L::kPollfdSize);
  static_assert(offsetof(WSAPOLLFD, events) == L::kPollfdEventsOffset);
  static_assert(offsetof(WSAPOLLFD, revents) == L::kPollfdReventsOffset);
  static_assert(sizeof(WSADATA) == sizeof(ws_wsadata) && sizeof(WSADATA) == L::kWsadataSize);
  static_assert(offsetof(WSADATA, lpVendorInfo) == L::kWsadataVendorInfoOffset);
  static_assert(offsetof(WSADATA, szDescription) == L::kWsadataDescriptionOffset);
  static_assert(offsetof(WSADATA, szSystemStatus) == L::kWsadataSystemStatusOffset);
  static_assert(sizeof(WSABUF) == sizeof(ws_wsabuf) && sizeof(WSABUF) == L::kWsabufSize);
  static_assert(offsetof(WSABUF, buf) == L::kWsabufBufOffset);
  static_assert(sizeof(WSABUF::len) == 4);
  // Passed to the kernel unchanged: the same numbers the implementation checks Linux's against.
  static_assert(sizeof(SOCKADDR) == L::kSockaddrSize);
  static_assert(sizeof(SOCKADDR_IN) == L::kSockaddrInSize);
  static_assert(sizeof(SOCKADDR_IN6) == L::kSockaddrIn6Size);
  static_assert(offsetof(SOCKADDR_IN6, sin6_scope_id) == L::kSockaddrIn6ScopeIdOffset);
  static_assert(sizeof(SOCKADDR_STORAGE) == L::kSockaddrStorageSize);
  static_assert(sizeof(IN_ADDR) == L::kInAddrSize);
  static_assert(sizeof(IN6_ADDR) == L::kIn6AddrSize);
  static_assert(sizeof(IP_MREQ) == L::kIpMreqSize);
  static_assert(sizeof(IPV6_MREQ) == L::kIpv6MreqSize);
  static_assert(offsetof(SOCKADDR_IN, sin_addr) == 4 && offsetof(SOCKADDR_IN6, sin6_addr) == 8);
  static_assert(sizeof(SOCKADDR_INET) == sizeof(SOCKADDR_IN6));

  namespace C = psn::win32::wsconst;
  static_assert(static_cast<std::uint32_t>(FIONBIO) == C::kFionbio);
  static_assert(static_cast<std::uint32_t>(FIONREAD) == C::kFionread);
  static_assert(SIO_GET_EXTENSION_FUNCTION_POINTER == C::kSioGetExtensionFunctionPointer);
  static_assert(SO_DONTLINGER == C::kSoDontLinger && SO_EXCLUSIVEADDRUSE == C::kSoExclusiveAddrUse);
  static_assert(SO_MAX_MSG_SIZE == C::kSoMaxMsgSize);
  static_assert(SO_CONDITIONAL_ACCEPT == C::kSoConditionalAccept);
  static_assert(SO_UPDATE_ACCEPT_CONTEXT == C::kSoUpdateAcceptContext);
  static_assert(SO_UPDATE_CONNECT_CONTEXT == C::kSoUpdateConnectContext);
  static_assert(IP_DONTFRAGMENT == C::kIpDontFragment);
  static_assert(WSA_FLAG_OVERLAPPED == C::kWsaFlagOverlapped);
  static_assert(WSA_FLAG_NO_HANDLE_INHERIT == C::kWsaFlagNoHandleInherit);
  static_assert(POLLRDNORM == C::kPollRdNorm && POLLRDBAND == C::kPollRdBand);
  static_assert(POLLPRI == C::kPollPri && POLLWRNORM == C::kPollWrNorm);
  static_assert(POLLWRBAND == C::kPollWrBand && POLLERR == C::kPollErr);
  static_assert(POLLHUP == C::kPollHup && POLLNVAL == C::kPollNval);
  static_assert(POLLIN == (POLLRDNORM | POLLRDBAND) && POLLOUT == POLLWRNORM);
  static_assert(AI_PASSIVE == C::kAiPassive && AI_CANONNAME == C::kAiCanonName);
  static_assert(AI_NUMERICHOST == C::kAiNumericHost && AI_NUMERICSERV == C::kAiNumericServ);
  static_assert(AI_ALL == C::kAiAll && AI_ADDRCONFIG == C::kAiAddrConfig);
  static_assert(AI_V4MAPPED == C::kAiV4Mapped && AI_FQDN == C::kAiFqdn);
  static_assert(NI_NOFQDN == C::kNiNoFqdn && NI_NUMERICHOST == C::kNiNumericHost);
  static_assert(NI_NAMEREQD == C::kNiNameReqd && NI_NUMERICSERV == C::kNiNumericServ);
  static_assert(NI_DGRAM == C::kNiDgram);
  // Windows values the documentation promises.
  static_assert(FIONBIO == 0x8004667E && FIONREAD == 0x4004667F);
  static_assert(SD_RECEIVE == 0 && SD_SEND == 1 && SD_BOTH == 2);
  static_assert(SOMAXCONN == 0x7fffffff && SOMAXCONN_HINT(5) == -5);
  static_assert(WINSOCK_VERSION == MAKEWORD(2, 2));
  static_assert(EAI_NONAME == WSAHOST_NOT_FOUND && EAI_AGAIN == WSATRY_AGAIN);
  static_assert(EAI_FAIL == WSANO_RECOVERY && EAI_FAMILY == WSAEAFNOSUPPORT);
  static_assert(EAI_MEMORY == WSA_NOT_ENOUGH_MEMORY && EAI_SERVICE == WSATYPE_NOT_FOUND);
  static_assert(EAI_SOCKTYPE == WSAESOCKTNOSUPPORT && EAI_BADFLAGS == WSAEINVAL);
  static_assert(INADDR_LOOPBACK == 0x7f000001 && INADDR_NONE == 0xffffffff);
}

// ---------------------------------------------------------------------------------------------
// WSAStartup (R8.5).

TEST(WinsockBasics, WSAStartupReportsVersionsAsWindows) {
  drain_startups();
  struct {
    WORD requested;
    int result;
    WORD version;
  } const cases[] = {
      {MAKEWORD(1, 0), WSAVERNOTSUPPORTED, MAKEWORD(2, 2)},
      {MAKEWORD(0, 9), WSAVERNOTSUPPORTED, MAKEWORD(2, 2)},
      {MAKEWORD(1, 1), 0, MAKEWORD(1, 1)},
      {MAKEWORD(2, 0), 0, MAKEWORD(2, 0)},
      {MAKEWORD(2, 1), 0, MAKEWORD(2, 1)},
      {MAKEWORD(2, 2), 0, MAKEWORD(2, 2)},
      {MAKEWORD(2, 3), 0, MAKEWORD(2, 2)},
      {MAKEWORD(3, 0), 0, MAKEWORD(2, 2)},
  };
  int successes = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(testing::Message()
                 << "requested " << int{LOBYTE(c.requested)} << "." << int{HIBYTE(c.requested)});
    WSADATA d;
    std::memset(&d, 0xAB, sizeof d);
    EXPECT_EQ(WSAStartup(c.requested, &d), c.result);
    EXPECT_EQ(d.wVersion, c.version);
    EXPECT_EQ(d.wHighVersion, MAKEWORD(2, 2));
    EXPECT_GT(std::strlen(d.szDescription), 0u);
    EXPECT_LT(std::strlen(d.szDescription), sizeof d.szDescription);
    EXPECT_GT(std::strlen(d.szSystemStatus), 0u);
    if (c.result == 0) successes++;
  }
  // WSACleanup balances the successful calls only, then fails.
  for (int i = 0; i < successes; i++) EXPECT_EQ(WSACleanup(), 0) << i;
  EXPECT_EQ(WSACleanup(), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSANOTINITIALISED);
}

// R8.5 (psn): every function works without WSAStartup.
TEST(WinsockBasics, SocketsWorkWithoutWSAStartup) {
  drain_startups();
  Pair p = tcp_pair();
  ASSERT_EQ(send(p.client, "hi", 2, 0), 2);
  char buf[2];
  ASSERT_EQ(recv(p.server, buf, 2, MSG_WAITALL), 2);
  EXPECT_EQ(std::string(buf, 2), "hi");
}

// ---------------------------------------------------------------------------------------------
// The BSD calls (R8.2).

// R8.2: a TCP echo over loopback with the Winsock names only.
TEST(WinsockBasics, TcpEchoOverLoopback) {
  WSADATA wsa;
  ASSERT_EQ(WSAStartup(WINSOCK_VERSION, &wsa), 0);
  SOCKET listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  ASSERT_NE(listener, INVALID_SOCKET);
  SOCKADDR_IN addr;
  ZeroMemory(&addr, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons(0);
  addr.sin_addr.s_addr = inet_addr("127.0.0.1");
  ASSERT_EQ(bind(listener, (SOCKADDR*)&addr, sizeof addr), 0);
  int len = sizeof addr;
  ASSERT_EQ(getsockname(listener, (SOCKADDR*)&addr, &len), 0);
  EXPECT_EQ(len, static_cast<int>(sizeof addr));
  EXPECT_NE(addr.sin_port, 0);
  ASSERT_EQ(listen(listener, SOMAXCONN), 0);

  std::thread server([listener] {
    SOCKADDR_IN peer;
    int plen = sizeof peer;
    SOCKET c = accept(listener, (SOCKADDR*)&peer, &plen);
    ASSERT_NE(c, INVALID_SOCKET);
    EXPECT_EQ(plen, static_cast<int>(sizeof peer));
    EXPECT_EQ(peer.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    char buf[256];
    int n;
    while ((n = recv(c, buf, sizeof buf, 0)) > 0) EXPECT_EQ(send(c, buf, n, 0), n);
    EXPECT_EQ(n, 0);  // the client's shutdown(SD_SEND)
    EXPECT_EQ(shutdown(c, SD_BOTH), 0);
    EXPECT_EQ(closesocket(c), 0);
  });

  SOCKET client = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  ASSERT_NE(client, INVALID_SOCKET);
  ASSERT_EQ(connect(client, (SOCKADDR*)&addr, sizeof addr), 0);
  const std::string message = "hello, winsock on linux";
  ASSERT_EQ(send(client, message.data(), static_cast<int>(message.size()), 0),
            static_cast<int>(message.size()));
  ASSERT_EQ(shutdown(client, SD_SEND), 0);
  std::string echoed;
  char buf[64];
  int n;
  while ((n = recv(client, buf, sizeof buf, 0)) > 0) echoed.append(buf, static_cast<size_t>(n));
  EXPECT_EQ(n, 0);
  EXPECT_EQ(echoed, message);
  server.join();
  EXPECT_EQ(closesocket(client), 0);
  EXPECT_EQ(closesocket(listener), 0);
  EXPECT_EQ(WSACleanup(), 0);
}

// R8.2: UDP with sendto/recvfrom; the sender's address comes back.
TEST(WinsockBasics, UdpSendtoRecvfrom) {
  SOCKADDR_IN raddr, saddr;
  Sock r = bound4(SOCK_DGRAM, &raddr);
  Sock s = bound4(SOCK_DGRAM, &saddr);
  ASSERT_EQ(sendto(s, "datagram", 8, 0, (SOCKADDR*)&raddr, sizeof raddr), 8);
  char buf[32];
  SOCKADDR_IN from;
  int flen = sizeof from;
  ASSERT_EQ(recvfrom(r, buf, sizeof buf, 0, (SOCKADDR*)&from, &flen), 8);
  EXPECT_EQ(std::string(buf, 8), "datagram");
  EXPECT_EQ(flen, static_cast<int>(sizeof from));
  EXPECT_EQ(from.sin_family, AF_INET);
  EXPECT_EQ(from.sin_port, saddr.sin_port);
  EXPECT_EQ(from.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  // MSG_PEEK leaves the datagram; recvfrom with no address buffer reads it.
  ASSERT_EQ(sendto(s, "again", 5, 0, (SOCKADDR*)&raddr, sizeof raddr), 5);
  ASSERT_EQ(recv(r, buf, sizeof buf, MSG_PEEK), 5);
  ASSERT_EQ(recvfrom(r, buf, sizeof buf, 0, nullptr, nullptr), 5);
  EXPECT_EQ(std::string(buf, 5), "again");
  // Connected to the wildcard address, a datagram socket is disconnected again (Windows).
  ASSERT_EQ(connect(s, (SOCKADDR*)&raddr, sizeof raddr), 0);
  ASSERT_EQ(send(s, "c", 1, 0), 1);
  ASSERT_EQ(recv(r, buf, sizeof buf, 0), 1);
  SOCKADDR_IN any = loopback4(0);
  any.sin_addr.s_addr = htonl(INADDR_ANY);
  ASSERT_EQ(connect(s, (SOCKADDR*)&any, sizeof any), 0);
  EXPECT_EQ(send(s, "c", 1, 0), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAENOTCONN);
}

// R8.2: IPv6 sockets start IPv6-only, as on Windows, so [::] and 0.0.0.0 share a port.
TEST(WinsockBasics, Ipv6SocketsAreV6OnlyByDefault) {
  Sock s6(socket(AF_INET6, SOCK_STREAM, 0));
  ASSERT_NE(static_cast<SOCKET>(s6), INVALID_SOCKET);
  BOOL v6only = FALSE;
  int len = sizeof v6only;
  ASSERT_EQ(getsockopt(s6, IPPROTO_IPV6, IPV6_V6ONLY, (char*)&v6only, &len), 0);
  EXPECT_EQ(v6only, TRUE);
  // Another test's socket (or one in TIME_WAIT) may hold the IPv4 side of
  // the port the kernel picks; with IPV6_V6ONLY off, every attempt fails.
  bool shared = false;
  for (int attempt = 0; attempt < 20 && !shared; ++attempt) {
    Sock v6(socket(AF_INET6, SOCK_STREAM, 0));
    ASSERT_NE(static_cast<SOCKET>(v6), INVALID_SOCKET);
    SOCKADDR_IN6 a6;
    ZeroMemory(&a6, sizeof a6);
    a6.sin6_family = AF_INET6;
    a6.sin6_addr = in6addr_any;
    ASSERT_EQ(bind(v6, (SOCKADDR*)&a6, sizeof a6), 0);
    len = sizeof a6;
    ASSERT_EQ(getsockname(v6, (SOCKADDR*)&a6, &len), 0);
    Sock s4(socket(AF_INET, SOCK_STREAM, 0));
    SOCKADDR_IN a4 = loopback4(ntohs(a6.sin6_port));
    a4.sin_addr.s_addr = htonl(INADDR_ANY);
    shared = bind(s4, (SOCKADDR*)&a4, sizeof a4) == 0;
  }
  EXPECT_TRUE(shared) << "0.0.0.0 never shared a port with [::]";
}

// R8.7: accept returns a SOCKET that inherits the listener's non-blocking mode (as on
// Windows) and is close-on-exec.
TEST(WinsockBasics, AcceptedSocketInheritsNonBlockingMode) {
  SOCKADDR_IN addr;
  Sock l = bound4(SOCK_STREAM, &addr);
  ASSERT_EQ(listen(l, 4), 0);
  EXPECT_NE(::fcntl(static_cast<int>(static_cast<SOCKET>(l)), F_GETFD) & FD_CLOEXEC, 0);
  Sock c1(socket(AF_INET, SOCK_STREAM, 0));
  ASSERT_EQ(connect(c1, (SOCKADDR*)&addr, sizeof addr), 0);
  Sock a1(accept(l, nullptr, nullptr));
  ASSERT_NE(static_cast<SOCKET>(a1), INVALID_SOCKET);
  EXPECT_FALSE(is_nonblocking(a1));
  EXPECT_NE(::fcntl(static_cast<int>(static_cast<SOCKET>(a1)), F_GETFD) & FD_CLOEXEC, 0);
  u_long on = 1;
  ASSERT_EQ(ioctlsocket(l, FIONBIO, &on), 0);
  Sock c2(socket(AF_INET, SOCK_STREAM, 0));
  ASSERT_EQ(connect(c2, (SOCKADDR*)&addr, sizeof addr), 0);
  WSAPOLLFD p = {static_cast<SOCKET>(l), POLLRDNORM, 0};
  ASSERT_EQ(WSAPoll(&p, 1, 5000), 1);
  Sock a2(accept(l, nullptr, nullptr));
  ASSERT_NE(static_cast<SOCKET>(a2), INVALID_SOCKET);
  EXPECT_TRUE(is_nonblocking(a2));
}

// ---------------------------------------------------------------------------------------------
// ioctlsocket, WSAPoll, WSASocket, WSAIoctl (R8.7).

TEST(WinsockBasics, IoctlsocketSetsNonBlockingAndCountsBytes) {
  Pair p = tcp_pair();
  u_long on = 1;
  ASSERT_EQ(ioctlsocket(p.client, FIONBIO, &on), 0);
  EXPECT_TRUE(is_nonblocking(p.client));
  char c;
  EXPECT_EQ(recv(p.client, &c, 1, 0), SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEWOULDBLOCK);
  u_long off = 0;
  ASSERT_EQ(ioctlsocket(p.client, FIONBIO, &off), 0);
  EXPECT_FALSE(is_nonblocking(p.client));
  // FIONBIO given through a 32-bit LONG, as code written for Windows' 32-bit long may.
  LONG cmd = (LONG)FIONBIO;
  ASSERT_EQ(ioctlsocket(p.client, cmd, &on), 0);
  EXPECT_TRUE(is_nonblocking(p.client));

  u_long avail = 99;
  ASSERT_EQ(ioctlsocket(p.server, FIONREAD, &avail), 0);
  EXPECT_EQ(avail, 0u);
  ASSERT_EQ(send(p.client, "12345", 5, 0), 5);
  WSAPOLLFD pfd = {static_cast<SOCKET>(p.server), POLLRDNORM, 0};
  ASSERT_EQ(WSAPoll(&pfd, 1, 5000), 1);
  ASSERT_EQ(ioctlsocket(p.server, FIONREAD, &avail), 0);
  EXPECT_EQ(avail, 5u);
}

TEST(WinsockBasics, WSAPollTranslatesEventsBothWays) {
  Pair p = tcp_pair();
  WSAPOLLFD fds[4];
  fds[0] = {static_cast<SOCKET>(p.client), POLLRDNORM | POLLWRNORM, 0};
  fds[1] = {static_cast<SOCKET>(p.server), POLLRDNORM, 0};
  fds[2] = {INVALID_SOCKET, POLLRDNORM, 0};  // skipped, as Windows skips a "negative" fd
  fds[3] = {static_cast<SOCKET>(0x7fffffffull) + 5, POLLRDNORM, 0};  // no such descriptor
  ASSERT_EQ(WSAPoll(fds, 4, 0), 2);
  EXPECT_EQ(fds[0].revents, POLLWRNORM);  // writable, nothing to read
  EXPECT_EQ(fds[1].revents, 0);
  EXPECT_EQ(fds[2].revents, 0);
  EXPECT_EQ(fds[3].revents, POLLNVAL);

  ASSERT_EQ(send(p.client, "x", 1, 0), 1);
  fds[1].revents = 0;
  ASSERT_EQ(WSAPoll(&fds[1], 1, 5000), 1);
  EXPECT_EQ(fds[1].revents, POLLRDNORM);

  // The peer's orderly close: readable (recv returns 0) and POLLHUP, as Windows reports it.
  char c;
  ASSERT_EQ(recv(p.server, &c, 1, 0), 1);
  p.client.reset();
  fds[1].revents = 0;
  ASSERT_EQ(WSAPoll(&fds[1], 1, 5000), 1);
  EXPECT_TRUE(fds[1].revents & POLLHUP) << fds[1].revents;
  EXPECT_TRUE(fds[1].revents & POLLRDNORM) << fds[1].revents;
  EXPECT_EQ(recv(p.server, &c, 1, 0), 0);

  // A time-out with nothing ready.
  Pair q = tcp_pair();
  WSAPOLLFD idle = {static_cast<SOCKET>(q.server), POLLRDNORM, 0};
  EXPECT_EQ(WSAPoll(&idle, 1, 20), 0);
  EXPECT_EQ(idle.revents, 0);
}

TEST(WinsockBasics, WSASocketCreatesSockets) {
  Sock a(WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, WSA_FLAG_OVERLAPPED));
  ASSERT_NE(static_cast<SOCKET>(a), INVALID_SOCKET);
  Sock w(WSASocketW(AF_INET6, SOCK_DGRAM, IPPROTO_UDP, nullptr, 0,
                    WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT));
  ASSERT_NE(static_cast<SOCKET>(w), INVALID_SOCKET);
  Sock t(WSASocket(AF_INET, SOCK_DGRAM, 0, nullptr, 0, 0));
  ASSERT_NE(static_cast<SOCKET>(t), INVALID_SOCKET);
  for (SOCKET s : {static_cast<SOCKET>(a), static_cast<SOCKET>(w), static_cast<SOCKET>(t)})
    EXPECT_NE(::fcntl(static_cast<int>(s), F_GETFD) & FD_CLOEXEC, 0);
  int type = 0;
  int len = sizeof type;
  ASSERT_EQ(getsockopt(w, SOL_SOCKET, SO_TYPE, (char*)&type, &len), 0);
  EXPECT_EQ(type, SOCK_DGRAM);
  // A socket from WSASocket is a socket like any other: it can be connected and used.
  SOCKADDR_IN addr;
  Sock l = bound4(SOCK_STREAM, &addr);
  ASSERT_EQ(listen(l, 1), 0);
  EXPECT_EQ(connect(a, (SOCKADDR*)&addr, sizeof addr), 0);
}

TEST(WinsockBasics, WSAIoctlFionbioAndFionread) {
  Pair p = tcp_pair();
  u_long on = 1;
  DWORD got = 123;
  ASSERT_EQ(WSAIoctl(p.server, FIONBIO, &on, sizeof on, nullptr, 0, &got, nullptr, nullptr), 0);
  EXPECT_EQ(got, 0u);
  EXPECT_TRUE(is_nonblocking(p.server));
  DWORD off32 = 0;  // a Windows-sized (4-byte) u_long
  ASSERT_EQ(WSAIoctl(p.server, FIONBIO, &off32, sizeof off32, nullptr, 0, &got, nullptr, nullptr),
            0);
  EXPECT_FALSE(is_nonblocking(p.server));
  ASSERT_EQ(send(p.client, "abc", 3, 0), 3);
  WSAPOLLFD pfd = {static_cast<SOCKET>(p.server), POLLRDNORM, 0};
  ASSERT_EQ(WSAPoll(&pfd, 1, 5000), 1);
  u_long avail = 0;
  ASSERT_EQ(WSAIoctl(p.server, FIONREAD, nullptr, 0, &avail, sizeof avail, &got, nullptr, nullptr),
            0);
  EXPECT_EQ(avail, 3u);
  EXPECT_EQ(got, sizeof avail);
  EXPECT_EQ(WSAIoctl(p.server, FIONREAD, nullptr, 0, &avail, 2, &got, nullptr, nullptr),
            SOCKET_ERROR);
  EXPECT_LAST_ERROR(WSAEFAULT);
}

// ---------------------------------------------------------------------------------------------
// Names and addresses (R8.7).

TEST(WinsockBasics, GetaddrinfoResolvesNumericAndLocalNames) {
  ADDRINFOA hints;
  ZeroMemory(&hints, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = AI_NUMERICHOST;
  PADDRINFOA res = nullptr;
  ASSERT_EQ(getaddrinfo("127.0.0.1", "8080", &hints, &res), 0);
  ASSERT_NE(res, nullptr);
  EXPECT_EQ(res->ai_family, AF_INET);
  EXPECT_EQ(res->ai_socktype, SOCK_STREAM);
  EXPECT_EQ(res->ai_protocol, IPPROTO_TCP);
  EXPECT_EQ(res->ai_addrlen, sizeof(SOCKADDR_IN));
  const auto* sin = (const SOCKADDR_IN*)res->ai_addr;
  EXPECT_EQ(sin->sin_family, AF_INET);
  EXPECT_EQ(ntohs(sin->sin_port), 8080);
  EXPECT_EQ(sin->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  EXPECT_TRUE(res->ai_flags & AI_NUMERICHOST);  // Windows flag values in the results too
  // The address is usable as it is.
  Sock s(socket(res->ai_family, res->ai_socktype, res->ai_protocol));
  sockaddr_in copy = *sin;
  copy.sin_port = 0;
  EXPECT_EQ(bind(s, (SOCKADDR*)&copy, (int)res->ai_addrlen), 0);
  freeaddrinfo(res);

  // A name with AI_NUMERICHOST is not looked up.
  res = nullptr;
  EXPECT_EQ(getaddrinfo("localhost", "80", &hints, &res), EAI_NONAME);
  EXPECT_LAST_ERROR(WSAHOST_NOT_FOUND);
  EXPECT_EQ(res, nullptr);

  // No host with AI_PASSIVE: the wildcard address, for a server to bind.
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  ASSERT_EQ(getaddrinfo(nullptr, "27015", &hints, &res), 0);
  sin = (const SOCKADDR_IN*)res->ai_addr;
  EXPECT_EQ(sin->sin_addr.s_addr, htonl(INADDR_ANY));
  EXPECT_EQ(ntohs(sin->sin_port), 27015);
  freeaddrinfo(res);

  // "localhost", IPv4 and IPv6, with its canonical name on the first entry.
  ZeroMemory(&hints, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_CANONNAME;
  ASSERT_EQ(getaddrinfo("localhost", nullptr, &hints, &res), 0);
  ASSERT_NE(res, nullptr);
  ASSERT_NE(res->ai_canonname, nullptr);
  EXPECT_GT(std::strlen(res->ai_canonname), 0u);
  bool loopback = false;
  for (PADDRINFOA p = res; p != nullptr; p = p->ai_next) {
    if (p->ai_family == AF_INET)
      loopback |= ((const SOCKADDR_IN*)p->ai_addr)->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
    if (p->ai_family == AF_INET6)
      loopback |= IN6_IS_ADDR_LOOPBACK(&((const SOCKADDR_IN6*)p->ai_addr)->sin6_addr) != 0;
  }
  EXPECT_TRUE(loopback);
  freeaddrinfo(res);
  freeaddrinfo(nullptr);

  // Hints Windows rejects: an unknown flag, a non-zero ai_addrlen.
  ZeroMemory(&hints, sizeof hints);
  hints.ai_flags = 0x40000000;
  EXPECT_EQ(getaddrinfo("127.0.0.1", nullptr, &hints, &res), EAI_BADFLAGS);
  EXPECT_LAST_ERROR(WSAEINVAL);
  hints.ai_flags = 0;
  hints.ai_addrlen = 16;
  EXPECT_EQ(getaddrinfo("127.0.0.1", nullptr, &hints, &res), EAI_FAIL);
  EXPECT_LAST_ERROR(WSANO_RECOVERY);
}

TEST(WinsockBasics, GetAddrInfoWResolvesWideNames) {
  ADDRINFOW hints;
  ZeroMemory(&hints, sizeof hints);
  hints.ai_family = AF_INET6;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICHOST | AI_CANONNAME;
  PADDRINFOW res = nullptr;
  ASSERT_EQ(GetAddrInfoW(L"::1", L"53", &hints, &res), 0);
  ASSERT_NE(res, nullptr);
  EXPECT_EQ(res->ai_family, AF_INET6);
  EXPECT_EQ(res->ai_addrlen, sizeof(SOCKADDR_IN6));
  const auto* sin6 = (const SOCKADDR_IN6*)res->ai_addr;
  EXPECT_TRUE(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
  EXPECT_EQ(ntohs(sin6->sin6_port), 53);
  ASSERT_NE(res->ai_canonname, nullptr);
  EXPECT_EQ(std::wstring(res->ai_canonname), L"::1");
  FreeAddrInfoW(res);
  res = nullptr;
  hints.ai_family = AF_INET;
  EXPECT_EQ(GetAddrInfoW(L"not-an-address", nullptr, &hints, &res), EAI_NONAME);
  EXPECT_LAST_ERROR(WSAHOST_NOT_FOUND);
  // ADDRINFOT and GetAddrInfo follow UNICODE.
  static_assert(std::is_same_v<ADDRINFOT, ADDRINFOA>);
  PADDRINFOT t = nullptr;
  ASSERT_EQ(GetAddrInfo("127.0.0.1", nullptr, nullptr, &t), 0);
  FreeAddrInfo(t);
}

TEST(WinsockBasics, GetnameinfoGivesNumericNames) {
  SOCKADDR_IN a = loopback4(8080);
  char host[NI_MAXHOST], serv[NI_MAXSERV];
  ASSERT_EQ(getnameinfo((SOCKADDR*)&a, sizeof a, host, sizeof host, serv, sizeof serv,
                        NI_NUMERICHOST | NI_NUMERICSERV),
            0);
  EXPECT_STREQ(host, "127.0.0.1");
  EXPECT_STREQ(serv, "8080");
  SOCKADDR_IN6 a6;
  ZeroMemory(&a6, sizeof a6);
  a6.sin6_family = AF_INET6;
  a6.sin6_addr = in6addr_loopback;
  a6.sin6_port = htons(443);
  WCHAR whost[NI_MAXHOST], wserv[NI_MAXSERV];
  ASSERT_EQ(GetNameInfoW((SOCKADDR*)&a6, sizeof a6, whost, NI_MAXHOST, wserv, NI_MAXSERV,
                         NI_NUMERICHOST | NI_NUMERICSERV),
            0);
  EXPECT_EQ(std::wstring(whost), L"::1");
  EXPECT_EQ(std::wstring(wserv), L"443");
  char tiny[4];
  EXPECT_EQ(getnameinfo((SOCKADDR*)&a, sizeof a, tiny, sizeof tiny, nullptr, 0, NI_NUMERICHOST),
            WSAEFAULT);
  EXPECT_LAST_ERROR(WSAEFAULT);
  EXPECT_EQ(getnameinfo((SOCKADDR*)&a, sizeof a, host, sizeof host, nullptr, 0, 0x1000), WSAEINVAL);
  EXPECT_LAST_ERROR(WSAEINVAL);
}

TEST(WinsockBasics, AddressConversions) {
  IN_ADDR a4;
  ASSERT_EQ(inet_pton(AF_INET, "192.168.1.20", &a4), 1);
  EXPECT_EQ(a4.S_un.S_un_b.s_b1, 192);
  EXPECT_EQ(a4.S_un.S_un_b.s_b4, 20);
  EXPECT_EQ(a4.s_addr, inet_addr("192.168.1.20"));
  EXPECT_EQ(inet_pton(AF_INET, "300.1.1.1", &a4), 0);
  EXPECT_EQ(inet_addr("not.an.address"), INADDR_NONE);
  IN6_ADDR a6;
  ASSERT_EQ(InetPtonA(AF_INET6, "2001:db8::1", &a6), 1);
  EXPECT_EQ(a6.s6_addr[0], 0x20);
  EXPECT_EQ(a6.s6_addr[15], 0x01);
  ASSERT_EQ(InetPtonW(AF_INET6, L"::1", &a6), 1);
  EXPECT_TRUE(IN6_IS_ADDR_LOOPBACK(&a6));
  EXPECT_TRUE(IN6_ADDR_EQUAL(&a6, &in6addr_loopback));
  EXPECT_EQ(InetPtonW(AF_INET, L"1.2.3.x", &a4), 0);
  char buf[INET6_ADDRSTRLEN];
  EXPECT_STREQ(inet_ntop(AF_INET6, &a6, buf, sizeof buf), "::1");
  a4.s_addr = htonl(0x0a000001);
  EXPECT_STREQ(InetNtopA(AF_INET, &a4, buf, sizeof buf), "10.0.0.1");
  EXPECT_STREQ(inet_ntoa(a4), "10.0.0.1");
  WCHAR wbuf[INET6_ADDRSTRLEN];
  EXPECT_EQ(std::wstring(InetNtopW(AF_INET, &a4, wbuf, INET6_ADDRSTRLEN)), L"10.0.0.1");
  EXPECT_EQ(inet_ntop(AF_INET, &a4, buf, 4), nullptr);  // too small
  EXPECT_LAST_ERROR(ERROR_INVALID_PARAMETER);
  IN6_ADDR any = IN6ADDR_ANY_INIT;
  EXPECT_TRUE(IN6_IS_ADDR_UNSPECIFIED(&any));
  EXPECT_TRUE(IN6_ADDR_EQUAL(&any, &in6addr_any));
  EXPECT_EQ(htons(0x1234), 0x3412);
  EXPECT_EQ(ntohs(0x3412), 0x1234);
  EXPECT_EQ(htonl(0x12345678u), 0x78563412u);
  EXPECT_EQ(ntohl(0x78563412u), 0x12345678u);
  static_assert(sizeof(htonl(0)) == 4);  // Windows' u_long is 32 bits
}

TEST(WinsockBasics, GethostnameFitsAndNarrowAndWideAgree) {
  char name[256];
  ASSERT_EQ(gethostname(name, sizeof name), 0);
  EXPECT_GT(std::strlen(name), 0u);
  WCHAR wname[256];
  ASSERT_EQ(GetHostNameW(wname, 256), 0);
  EXPECT_EQ(std::wstring(wname), std::wstring(name, name + std::strlen(name)));
}

// ---------------------------------------------------------------------------------------------
// Socket options with Windows' value formats (R8.2).

TEST(WinsockBasics, SocketOptionsRoundTripInWindowsFormats) {
  Pair p = tcp_pair();
  SOCKET s = p.client;
  // Time-outs: a DWORD of milliseconds.
  DWORD ms = 1500;
  ASSERT_EQ(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (const char*)&ms, sizeof ms), 0);
  DWORD got = 0;
  int len = sizeof got;
  ASSERT_EQ(getsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (char*)&got, &len), 0);
  EXPECT_EQ(got, 1500u);
  EXPECT_EQ(len, static_cast<int>(sizeof(DWORD)));
  // (Linux keeps time-outs in clock ticks: multiples of 100 ms come back exact.)
  ms = 300;
  ASSERT_EQ(setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, (const char*)&ms, sizeof ms), 0);
  len = sizeof got;
  ASSERT_EQ(getsockopt(s, SOL_SOCKET, SO_SNDTIMEO, (char*)&got, &len), 0);
  EXPECT_EQ(got, 300u);
  ms = 0;  // 0: no time-out, on both
  ASSERT_EQ(setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, (const char*)&ms, sizeof ms), 0);
  ASSERT_EQ(getsockopt(s, SOL_SOCKET, SO_SNDTIMEO, (char*)&got, &len), 0);
  EXPECT_EQ(got, 0u);
  // Linger: u_short members.
  LINGER lg = {1, 7};
  ASSERT_EQ(setsockopt(s, SOL_SOCKET, SO_LINGER, (const char*)&lg, sizeof lg), 0);
  LINGER lg2 = {0, 0};
  len = sizeof lg2;
  ASSERT_EQ(getsockopt(s, SOL_SOCKET, SO_LINGER, (char*)&lg2, &len), 0);
  EXPECT_EQ(len, static_cast<int>(sizeof(LINGER)));
  EXPECT_EQ(lg2.l_onoff, 1);
  EXPECT_EQ(lg2.l_linger, 7);
  BOOL dont = TRUE;
  ASSERT_EQ(setsockopt(s, SOL_SOCKET, SO_DONTLINGER, (const char*)&dont, sizeof dont), 0);
  len = sizeof lg2;
  ASSERT_EQ(getsockopt(s, SOL_SOCKET, SO_LINGER, (char*)&lg2, &len), 0);
  EXPECT_EQ(lg2.l_onoff, 0);
  BOOL b = FALSE;
  len = sizeof b;
  ASSERT_EQ(getsockopt(s, SOL_SOCKET, SO_DONTLINGER, (char*)&b, &len), 0);
  EXPECT_EQ(b, TRUE);
  // BOOL options, also from a single byte as Windows accepts.
  BOOL yes = TRUE;
  ASSERT_EQ(setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char*)&yes, sizeof yes), 0);
  b = FALSE;
  len = sizeof b;
  ASSERT_EQ(getsockopt(s, IPPROTO_TCP, TCP_NODELAY, (char*)&b, &len), 0);
  EXPECT_EQ(b, TRUE);
  char zero = 0;
  ASSERT_EQ(setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &zero, 1), 0);
  len = sizeof b;
  ASSERT_EQ(getsockopt(s, IPPROTO_TCP, TCP_NODELAY, (char*)&b, &len), 0);
  EXPECT_EQ(b, FALSE);
  Sock fresh(socket(AF_INET, SOCK_STREAM, 0));
  ASSERT_EQ(setsockopt(fresh, SOL_SOCKET, SO_REUSEADDR, (const char*)&yes, sizeof yes), 0);
  len = sizeof b;
  ASSERT_EQ(getsockopt(fresh, SOL_SOCKET, SO_REUSEADDR, (char*)&b, &len), 0);
  EXPECT_EQ(b, TRUE);
  BOOL no = FALSE;
  ASSERT_EQ(setsockopt(fresh, SOL_SOCKET, SO_REUSEADDR, (const char*)&no, sizeof no), 0);
  ASSERT_EQ(getsockopt(fresh, SOL_SOCKET, SO_REUSEADDR, (char*)&b, &len), 0);
  EXPECT_EQ(b, FALSE);
  // SO_EXCLUSIVEADDRUSE is accepted (Linux binding without SO_REUSEADDR is exclusive).
  ASSERT_EQ(setsockopt(fresh, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (const char*)&yes, sizeof yes), 0);
  ASSERT_EQ(getsockopt(fresh, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (char*)&b, &len), 0);
  EXPECT_EQ(b, TRUE);
  // SO_ERROR, SO_TYPE, SO_KEEPALIVE, buffers.
  int err = -1;
  len = sizeof err;
  ASSERT_EQ(getsockopt(s, SOL_SOCKET, SO_ERROR, (char*)&err, &len), 0);
  EXPECT_EQ(err, 0);
  int type = 0;
  len = sizeof type;
  ASSERT_EQ(getsockopt(s, SOL_SOCKET, SO_TYPE, (char*)&type, &len), 0);
  EXPECT_EQ(type, SOCK_STREAM);
  ASSERT_EQ(setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, (const char*)&yes, sizeof yes), 0);
  DWORD idle = 30;
  ASSERT_EQ(setsockopt(s, IPPROTO_TCP, TCP_KEEPALIVE, (const char*)&idle, sizeof idle), 0);
  len = sizeof got;
  ASSERT_EQ(getsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, (char*)&got, &len), 0);
  EXPECT_EQ(got, 30u);
  int rcvbuf = 0;
  len = sizeof rcvbuf;
  ASSERT_EQ(getsockopt(s, SOL_SOCKET, SO_RCVBUF, (char*)&rcvbuf, &len), 0);
  EXPECT_GT(rcvbuf, 0);
  // Options a Windows socket server sets after AcceptEx/ConnectEx are accepted.
  ASSERT_EQ(setsockopt(p.server, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (const char*)&s, sizeof s),
            0);
  ASSERT_EQ(setsockopt(s, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, nullptr, 0), 0);
  // SO_MAX_MSG_SIZE of a UDP socket.
  Sock u(socket(AF_INET, SOCK_DGRAM, 0));
  unsigned max = 0;
  len = sizeof max;
  ASSERT_EQ(getsockopt(u, SOL_SOCKET, SO_MAX_MSG_SIZE, (char*)&max, &len), 0);
  EXPECT_EQ(max, 65507u);
  // IP_DONTFRAGMENT round trip.
  ASSERT_EQ(setsockopt(u, IPPROTO_IP, IP_DONTFRAGMENT, (const char*)&yes, sizeof yes), 0);
  len = sizeof b;
  ASSERT_EQ(getsockopt(u, IPPROTO_IP, IP_DONTFRAGMENT, (char*)&b, &len), 0);
  EXPECT_EQ(b, TRUE);
}

// ---------------------------------------------------------------------------------------------
// ProcessSocketNotifications on Winsock sockets (R8.2, R8.7).

TEST(WinsockBasics, ProcessSocketNotificationsWithSocketAsKey) {
  Pair p = tcp_pair();
  HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 0);
  ASSERT_NE(port, nullptr);
  SOCKET s = p.server;
  SOCK_NOTIFY_REGISTRATION reg = {};
  reg.socket = s;
  reg.completionKey = (PVOID)s;
  reg.eventFilter = SOCK_NOTIFY_REGISTER_EVENT_IN;
  reg.operation = SOCK_NOTIFY_OP_ENABLE;
  reg.triggerFlags = SOCK_NOTIFY_TRIGGER_ONESHOT | SOCK_NOTIFY_TRIGGER_LEVEL;
  ASSERT_EQ(ProcessSocketNotifications(port, 1, &reg, 0, 0, nullptr, nullptr),
            static_cast<DWORD>(ERROR_SUCCESS));
  ASSERT_EQ(reg.registrationResult, static_cast<DWORD>(ERROR_SUCCESS));
  ASSERT_EQ(send(p.client, "ping", 4, 0), 4);
  OVERLAPPED_ENTRY entries[4];
  UINT32 n = 0;
  ASSERT_EQ(ProcessSocketNotifications(port, 0, nullptr, 5000, ARRAYSIZE(entries), entries, &n),
            static_cast<DWORD>(ERROR_SUCCESS));
  ASSERT_EQ(n, 1u);
  EXPECT_EQ((SOCKET)entries[0].lpCompletionKey, s);
  EXPECT_TRUE(SocketNotificationRetrieveEvents(&entries[0]) & SOCK_NOTIFY_EVENT_IN);
  char buf[8];
  SOCKET from_key = (SOCKET)entries[0].lpCompletionKey;
  EXPECT_EQ(recv(from_key, buf, sizeof buf, 0), 4);
  EXPECT_EQ(closesocket(p.server.release()), 0);  // drops the registration (R5.11)
  EXPECT_EQ(CloseHandle(port), TRUE);
}

}  // namespace
