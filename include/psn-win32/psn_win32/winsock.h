/*
 * psn_win32/winsock.h - Winsock 2 with Windows' names, signatures and
 * layouts, on Linux (R8.2, R8.3, R8.5, R8.7).
 *
 * Not included directly: include <winsock2.h>, <ws2tcpip.h>, <mswsock.h> or
 * <windows.h> from the psn-win32 include directory.
 *
 * This header never includes <sys/socket.h>, <netinet/in.h>, <netdb.h>,
 * <arpa/inet.h> or <poll.h>: their POSIX declarations of send, recv, bind...
 * would clash with the Windows signatures declared here. The functions whose
 * names libc also has are declared with an asm label, so a call to `send`
 * reaches psn's `psn_ws_send`, never libc's `send`.
 *
 * Structures: where Windows' layout equals Linux's (sockaddr, sockaddr_in,
 * sockaddr_in6, sockaddr_storage, in_addr, in6_addr, ip_mreq, ipv6_mreq) the
 * kernel takes them as they are; where it differs (linger, addrinfo, WSAPOLLFD,
 * WSADATA, WSABUF) psn translates.
 *
 * Constants: address families, socket types, IPPROTO_*, SOL_SOCKET, the
 * SO_/IP_/IPV6_/TCP_ option names and the MSG_ flags have their LINUX values,
 * so that addresses and options reach the kernel unchanged (AF_INET6 is 10,
 * not 23; SOL_SOCKET is 1, not 0xffff). Use the names, never numbers. The
 * Windows-only names (SO_EXCLUSIVEADDRUSE, SO_DONTLINGER, FIONBIO, AI_*,
 * NI_*, POLL*, EAI_*...) have their Windows values.
 *
 * select() and fd_set are not provided: glibc's own are visible to C++
 * through <stdlib.h> and cannot be replaced. WSAPoll is the multiplexer to
 * use (or ProcessSocketNotifications). See docs/windows-differences.md.
 */
#ifndef PSN_WIN32_WINSOCK_H
#define PSN_WIN32_WINSOCK_H

#include "psn_win32/base.h"

/* socklen_t is an int on Windows. If glibc defined it first (it is unsigned
 * there), its definition stays. */
#ifndef __socklen_t_defined
typedef int socklen_t;
#define __socklen_t_defined 1
#endif

/* glibc's <unistd.h> declares gethostname(char*, size_t), which cannot
 * coexist with Windows' gethostname(char*, int): it is included first, and
 * the Windows function is reached through the macro `gethostname` below. */
#include <unistd.h>

/* struct timeval is glibc's (Windows' has 32-bit long members). */
#if defined(__has_include)
#if __has_include(<bits/types/struct_timeval.h>)
#include <bits/types/struct_timeval.h>
#else
#include <sys/time.h>
#endif
#else
#include <sys/time.h>
#endif

/* The symbol psn defines for a Winsock function whose name libc also uses. */
#define PSN_WS_SYMBOL(name) __asm__("psn_ws_" #name)

#ifdef __cplusplus
extern "C" {
#endif

/* ---- basic types ---------------------------------------------------------- */
/* As glibc's <sys/types.h> has them (both may be seen): u_long is 64 bits
 * here, 32 on Windows. */
typedef unsigned char u_char;
typedef unsigned short u_short;
typedef unsigned int u_int;
typedef unsigned long u_long;
typedef uint64_t u_int64;
typedef USHORT ADDRESS_FAMILY;
typedef unsigned int GROUP;
typedef int IPPROTO;
typedef struct timeval TIMEVAL, *PTIMEVAL, *LPTIMEVAL;

#ifndef GUID_DEFINED
#define GUID_DEFINED
typedef struct _GUID {
  DWORD Data1;
  WORD Data2;
  WORD Data3;
  BYTE Data4[8];
} GUID, *LPGUID;
#endif

/* ---- addresses (same layout as Linux) ------------------------------------- */
typedef struct in_addr {
  union {
    struct {
      UCHAR s_b1, s_b2, s_b3, s_b4;
    } S_un_b;
    struct {
      USHORT s_w1, s_w2;
    } S_un_w;
    ULONG S_addr;
  } S_un;
} IN_ADDR, *PIN_ADDR, *LPIN_ADDR;
#define s_addr S_un.S_addr
#define s_host S_un.S_un_b.s_b2
#define s_net S_un.S_un_b.s_b1
#define s_imp S_un.S_un_w.s_w2
#define s_impno S_un.S_un_b.s_b4
#define s_lh S_un.S_un_b.s_b3

typedef struct in6_addr {
  union {
    UCHAR Byte[16];
    USHORT Word[8];
  } u;
} IN6_ADDR, *PIN6_ADDR, *LPIN6_ADDR;
#define in_addr6 in6_addr
#define s6_addr u.Byte
#define s6_bytes u.Byte
#define s6_words u.Word

typedef struct sockaddr {
  ADDRESS_FAMILY sa_family;
  CHAR sa_data[14];
} SOCKADDR, *PSOCKADDR, *LPSOCKADDR;

typedef struct sockaddr_in {
  ADDRESS_FAMILY sin_family;
  USHORT sin_port;
  IN_ADDR sin_addr;
  CHAR sin_zero[8];
} SOCKADDR_IN, *PSOCKADDR_IN, *LPSOCKADDR_IN;

typedef enum _SCOPE_LEVEL {
  ScopeLevelInterface = 1,
  ScopeLevelLink = 2,
  ScopeLevelSubnet = 3,
  ScopeLevelAdmin = 4,
  ScopeLevelSite = 5,
  ScopeLevelOrganization = 8,
  ScopeLevelGlobal = 14,
  ScopeLevelCount = 16
} SCOPE_LEVEL;

typedef struct _SCOPE_ID {
  union {
    __extension__ struct { /* anonymous, as Windows has it */
      ULONG Zone : 28;
      ULONG Level : 4;
    };
    ULONG Value;
  };
} SCOPE_ID, *PSCOPE_ID;

typedef struct sockaddr_in6 {
  ADDRESS_FAMILY sin6_family;
  USHORT sin6_port;
  ULONG sin6_flowinfo;
  IN6_ADDR sin6_addr;
  union {
    ULONG sin6_scope_id;
    SCOPE_ID sin6_scope_struct;
  };
} SOCKADDR_IN6_LH, *PSOCKADDR_IN6_LH, *LPSOCKADDR_IN6_LH;
typedef SOCKADDR_IN6_LH SOCKADDR_IN6;
typedef SOCKADDR_IN6_LH* PSOCKADDR_IN6;
typedef SOCKADDR_IN6_LH* LPSOCKADDR_IN6;

typedef struct sockaddr_storage {
  ADDRESS_FAMILY ss_family;
  CHAR __ss_pad1[6];
  int64_t __ss_align;
  CHAR __ss_pad2[112];
} SOCKADDR_STORAGE_LH, *PSOCKADDR_STORAGE_LH, *LPSOCKADDR_STORAGE_LH;
typedef SOCKADDR_STORAGE_LH SOCKADDR_STORAGE;
typedef SOCKADDR_STORAGE_LH* PSOCKADDR_STORAGE;
typedef SOCKADDR_STORAGE_LH* LPSOCKADDR_STORAGE;

typedef union _SOCKADDR_INET {
  SOCKADDR_IN Ipv4;
  SOCKADDR_IN6 Ipv6;
  ADDRESS_FAMILY si_family;
} SOCKADDR_INET, *PSOCKADDR_INET;

typedef struct _SOCKET_ADDRESS {
  LPSOCKADDR lpSockaddr;
  INT iSockaddrLength;
} SOCKET_ADDRESS, *PSOCKET_ADDRESS, *LPSOCKET_ADDRESS;

typedef struct ip_mreq {
  IN_ADDR imr_multiaddr;
  IN_ADDR imr_interface;
} IP_MREQ, *PIP_MREQ;

typedef struct ipv6_mreq {
  IN6_ADDR ipv6mr_multiaddr;
  ULONG ipv6mr_interface;
} IPV6_MREQ, *PIPV6_MREQ;

/* ---- structures with Windows' own layout (translated by psn) --------------- */
typedef struct linger {
  u_short l_onoff;
  u_short l_linger;
} LINGER, *PLINGER, *LPLINGER;

typedef struct addrinfo {
  int ai_flags;
  int ai_family;
  int ai_socktype;
  int ai_protocol;
  size_t ai_addrlen;
  char* ai_canonname;
  struct sockaddr* ai_addr;
  struct addrinfo* ai_next;
} ADDRINFOA, *PADDRINFOA, *LPADDRINFOA;
typedef ADDRINFOA ADDRINFO, *LPADDRINFO;

typedef struct addrinfoW {
  int ai_flags;
  int ai_family;
  int ai_socktype;
  int ai_protocol;
  size_t ai_addrlen;
  PWSTR ai_canonname;
  struct sockaddr* ai_addr;
  struct addrinfoW* ai_next;
} ADDRINFOW, *PADDRINFOW, *LPADDRINFOW;

typedef struct pollfd {
  SOCKET fd;
  SHORT events;
  SHORT revents;
} WSAPOLLFD, *PWSAPOLLFD, *LPWSAPOLLFD;

#define WSADESCRIPTION_LEN 256
#define WSASYS_STATUS_LEN 128
/* The Win64 layout. */
typedef struct WSAData {
  WORD wVersion;
  WORD wHighVersion;
  unsigned short iMaxSockets;
  unsigned short iMaxUdpDg;
  char* lpVendorInfo;
  char szDescription[WSADESCRIPTION_LEN + 1];
  char szSystemStatus[WSASYS_STATUS_LEN + 1];
} WSADATA, *LPWSADATA;

typedef struct _WSABUF {
  ULONG len;
  CHAR* buf;
} WSABUF, *LPWSABUF;

#define WSAOVERLAPPED OVERLAPPED
typedef struct _OVERLAPPED* LPWSAOVERLAPPED;
typedef void(CALLBACK* LPWSAOVERLAPPED_COMPLETION_ROUTINE)(DWORD dwError, DWORD cbTransferred,
                                                           LPWSAOVERLAPPED lpOverlapped,
                                                           DWORD dwFlags);
#define WSAEVENT HANDLE
#define LPWSAEVENT LPHANDLE
#define WSA_INVALID_EVENT ((WSAEVENT)NULL)

#define MAX_PROTOCOL_CHAIN 7
#define BASE_PROTOCOL 1
#define LAYERED_PROTOCOL 0
typedef struct _WSAPROTOCOLCHAIN {
  int ChainLen;
  DWORD ChainEntries[MAX_PROTOCOL_CHAIN];
} WSAPROTOCOLCHAIN, *LPWSAPROTOCOLCHAIN;

#define WSAPROTOCOL_LEN 255
typedef struct _WSAPROTOCOL_INFOA {
  DWORD dwServiceFlags1;
  DWORD dwServiceFlags2;
  DWORD dwServiceFlags3;
  DWORD dwServiceFlags4;
  DWORD dwProviderFlags;
  GUID ProviderId;
  DWORD dwCatalogEntryId;
  WSAPROTOCOLCHAIN ProtocolChain;
  int iVersion;
  int iAddressFamily;
  int iMaxSockAddr;
  int iMinSockAddr;
  int iSocketType;
  int iProtocol;
  int iProtocolMaxOffset;
  int iNetworkByteOrder;
  int iSecurityScheme;
  DWORD dwMessageSize;
  DWORD dwProviderReserved;
  CHAR szProtocol[WSAPROTOCOL_LEN + 1];
} WSAPROTOCOL_INFOA, *LPWSAPROTOCOL_INFOA;

typedef struct _WSAPROTOCOL_INFOW {
  DWORD dwServiceFlags1;
  DWORD dwServiceFlags2;
  DWORD dwServiceFlags3;
  DWORD dwServiceFlags4;
  DWORD dwProviderFlags;
  GUID ProviderId;
  DWORD dwCatalogEntryId;
  WSAPROTOCOLCHAIN ProtocolChain;
  int iVersion;
  int iAddressFamily;
  int iMaxSockAddr;
  int iMinSockAddr;
  int iSocketType;
  int iProtocol;
  int iProtocolMaxOffset;
  int iNetworkByteOrder;
  int iSecurityScheme;
  DWORD dwMessageSize;
  DWORD dwProviderReserved;
  WCHAR szProtocol[WSAPROTOCOL_LEN + 1];
} WSAPROTOCOL_INFOW, *LPWSAPROTOCOL_INFOW;

/* ---- versions and limits ------------------------------------------------- */
#define WINSOCK_VERSION MAKEWORD(2, 2)
/* listen(s, SOMAXCONN): Linux caps the backlog at net.core.somaxconn. */
#define SOMAXCONN 0x7fffffff
#define SOMAXCONN_HINT(b) (-(b))
#define MSG_MAXIOVLEN 16
#define INET_ADDRSTRLEN 22
#define INET6_ADDRSTRLEN 65
#define NI_MAXHOST 1025
#define NI_MAXSERV 32

/* ---- address families, socket types, protocols: Linux values --------------- */
#define AF_UNSPEC 0
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define PF_UNSPEC AF_UNSPEC
#define PF_UNIX AF_UNIX
#define PF_INET AF_INET
#define PF_INET6 AF_INET6

#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define SOCK_RAW 3
#define SOCK_RDM 4
#define SOCK_SEQPACKET 5

#define IPPROTO_IP 0
#define IPPROTO_HOPOPTS 0
#define IPPROTO_ICMP 1
#define IPPROTO_IGMP 2
#define IPPROTO_IPV4 4
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_IPV6 41
#define IPPROTO_ROUTING 43
#define IPPROTO_FRAGMENT 44
#define IPPROTO_ESP 50
#define IPPROTO_AH 51
#define IPPROTO_ICMPV6 58
#define IPPROTO_NONE 59
#define IPPROTO_DSTOPTS 60
#define IPPROTO_SCTP 132
#define IPPROTO_RAW 255

#define IPPORT_RESERVED 1024

#define INADDR_ANY ((ULONG)0x00000000)
#define INADDR_LOOPBACK 0x7f000001
#define INADDR_BROADCAST ((ULONG)0xffffffff)
#define INADDR_NONE 0xffffffff
#define ADDR_ANY INADDR_ANY

/* clang-format off */
#define IN6ADDR_ANY_INIT {{{0}}}
#define IN6ADDR_LOOPBACK_INIT {{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}}
/* clang-format on */

/* ---- socket options: Linux values ----------------------------------------- */
#define SOL_SOCKET 1
#define SO_DEBUG 1
#define SO_REUSEADDR 2
#define SO_TYPE 3
#define SO_ERROR 4 /* reports a Winsock code (R8.3) */
#define SO_DONTROUTE 5
#define SO_BROADCAST 6
#define SO_SNDBUF 7
#define SO_RCVBUF 8
#define SO_KEEPALIVE 9
#define SO_OOBINLINE 10
#define SO_LINGER 13 /* struct linger with u_short members, as on Windows */
#define SO_RCVLOWAT 18
#define SO_SNDLOWAT 19
#define SO_RCVTIMEO 20 /* a DWORD of milliseconds, as on Windows */
#define SO_SNDTIMEO 21 /* a DWORD of milliseconds, as on Windows */
#define SO_ACCEPTCONN 30
/* Windows-only options, Windows values. */
#define SO_DONTLINGER ((int)(~SO_LINGER))
#define SO_EXCLUSIVEADDRUSE ((int)(~SO_REUSEADDR))
#define SO_MAX_MSG_SIZE 0x2003
#define SO_CONDITIONAL_ACCEPT 0x3002
#define SO_UPDATE_ACCEPT_CONTEXT 0x700B
#define SO_UPDATE_CONNECT_CONTEXT 0x7010

#define TCP_NODELAY 1
#define TCP_MAXSEG 2
#define TCP_KEEPIDLE 4
#define TCP_KEEPINTVL 5
#define TCP_KEEPCNT 6
#define TCP_KEEPALIVE TCP_KEEPIDLE /* Windows' name for the idle time, in seconds */

#define IP_TOS 1
#define IP_TTL 2
#define IP_HDRINCL 3
#define IP_OPTIONS 4
#define IP_MULTICAST_IF 32
#define IP_MULTICAST_TTL 33
#define IP_MULTICAST_LOOP 34
#define IP_ADD_MEMBERSHIP 35
#define IP_DROP_MEMBERSHIP 36
/* Windows-only, Windows value: translated to IP_MTU_DISCOVER. */
#define IP_DONTFRAGMENT 14

#define IPV6_UNICAST_HOPS 16
#define IPV6_MULTICAST_IF 17
#define IPV6_MULTICAST_HOPS 18
#define IPV6_MULTICAST_LOOP 19
#define IPV6_JOIN_GROUP 20
#define IPV6_LEAVE_GROUP 21
#define IPV6_ADD_MEMBERSHIP IPV6_JOIN_GROUP
#define IPV6_DROP_MEMBERSHIP IPV6_LEAVE_GROUP
#define IPV6_V6ONLY 26 /* TRUE by default, as on Windows */

/* ---- send/recv flags: Linux values ---------------------------------------- */
#define MSG_OOB 0x1
#define MSG_PEEK 0x2
#define MSG_DONTROUTE 0x4
#define MSG_CTRUNC 0x8
#define MSG_TRUNC 0x20
#define MSG_WAITALL 0x100

/* ---- shutdown --------------------------------------------------------------- */
#define SD_RECEIVE 0x00
#define SD_SEND 0x01
#define SD_BOTH 0x02

/* ---- ioctls: Windows values ------------------------------------------------- */
#define IOCPARM_MASK 0x7f
#define IOC_VOID 0x20000000
#define IOC_OUT 0x40000000
#define IOC_IN 0x80000000
#define IOC_INOUT (IOC_IN | IOC_OUT)
#define IOC_UNIX 0x00000000
#define IOC_WS2 0x08000000
#define IOC_PROTOCOL 0x10000000
#define IOC_VENDOR 0x18000000
#define _WSAIO(x, y) (IOC_VOID | (x) | (y))
#define _WSAIOR(x, y) (IOC_OUT | (x) | (y))
#define _WSAIOW(x, y) (IOC_IN | (x) | (y))
#define _WSAIORW(x, y) (IOC_INOUT | (x) | (y))
/* Spelled out: Windows computes them with a 4-byte u_long. */
#define FIONBIO 0x8004667EL
#define FIONREAD 0x4004667FL
/* WSAID_ACCEPTEX, WSAID_CONNECTEX, WSAID_DISCONNECTEX, WSAID_GETACCEPTEXSOCKADDRS (SPEC 9). */
#define SIO_GET_EXTENSION_FUNCTION_POINTER _WSAIORW(IOC_WS2, 6)

/* ---- WSASocket flags ------------------------------------------------------- */
#define FROM_PROTOCOL_INFO (-1)
#define WSA_FLAG_OVERLAPPED 0x01
#define WSA_FLAG_NO_HANDLE_INHERIT 0x80

/* ---- WSAPoll: Windows values ------------------------------------------------ */
#define POLLRDNORM 0x0100
#define POLLRDBAND 0x0200
#define POLLIN (POLLRDNORM | POLLRDBAND)
#define POLLPRI 0x0400
#define POLLWRNORM 0x0010
#define POLLOUT (POLLWRNORM)
#define POLLWRBAND 0x0020
#define POLLERR 0x0001
#define POLLHUP 0x0002
#define POLLNVAL 0x0004

/* ---- getaddrinfo / getnameinfo: Windows values ------------------------------ */
#define AI_PASSIVE 0x00000001
#define AI_CANONNAME 0x00000002
#define AI_NUMERICHOST 0x00000004
#define AI_NUMERICSERV 0x00000008
#define AI_DNS_ONLY 0x00000010
#define AI_ALL 0x00000100
#define AI_ADDRCONFIG 0x00000400
#define AI_V4MAPPED 0x00000800
#define AI_NON_AUTHORITATIVE 0x00004000
#define AI_SECURE 0x00008000
#define AI_RETURN_PREFERRED_NAMES 0x00010000
#define AI_FQDN 0x00020000
#define AI_FILESERVER 0x00040000
#define AI_DISABLE_IDN_ENCODING 0x00080000

#define NI_NOFQDN 0x01
#define NI_NUMERICHOST 0x02
#define NI_NAMEREQD 0x04
#define NI_NUMERICSERV 0x08
#define NI_DGRAM 0x10

#define EAI_AGAIN WSATRY_AGAIN
#define EAI_BADFLAGS WSAEINVAL
#define EAI_FAIL WSANO_RECOVERY
#define EAI_FAMILY WSAEAFNOSUPPORT
#define EAI_MEMORY WSA_NOT_ENOUGH_MEMORY
#define EAI_NONAME WSAHOST_NOT_FOUND
#define EAI_SERVICE WSATYPE_NOT_FOUND
#define EAI_SOCKTYPE WSAESOCKTNOSUPPORT
/* As in Windows' <ws2tcpip.h>; getaddrinfo itself may return WSANO_DATA. */
#define EAI_NODATA EAI_NONAME

/* ---- the BSD functions, Windows signatures ---------------------------------- */
/* Descriptors are created with SOCK_CLOEXEC; AF_INET6 sockets start with
 * IPV6_V6ONLY set, as on Windows. */
SOCKET WSAAPI socket(int af, int type, int protocol) PSN_WS_SYMBOL(socket);
int WSAAPI bind(SOCKET s, const struct sockaddr* name, int namelen) PSN_WS_SYMBOL(bind);
int WSAAPI listen(SOCKET s, int backlog) PSN_WS_SYMBOL(listen);
SOCKET WSAAPI accept(SOCKET s, struct sockaddr* addr, int* addrlen) PSN_WS_SYMBOL(accept);
int WSAAPI connect(SOCKET s, const struct sockaddr* name, int namelen) PSN_WS_SYMBOL(connect);
int WSAAPI send(SOCKET s, const char* buf, int len, int flags) PSN_WS_SYMBOL(send);
int WSAAPI recv(SOCKET s, char* buf, int len, int flags) PSN_WS_SYMBOL(recv);
int WSAAPI sendto(SOCKET s, const char* buf, int len, int flags, const struct sockaddr* to,
                  int tolen) PSN_WS_SYMBOL(sendto);
int WSAAPI recvfrom(SOCKET s, char* buf, int len, int flags, struct sockaddr* from, int* fromlen)
    PSN_WS_SYMBOL(recvfrom);
int WSAAPI shutdown(SOCKET s, int how) PSN_WS_SYMBOL(shutdown);
int WSAAPI getsockopt(SOCKET s, int level, int optname, char* optval, int* optlen)
    PSN_WS_SYMBOL(getsockopt);
int WSAAPI setsockopt(SOCKET s, int level, int optname, const char* optval, int optlen)
    PSN_WS_SYMBOL(setsockopt);
int WSAAPI getsockname(SOCKET s, struct sockaddr* name, int* namelen) PSN_WS_SYMBOL(getsockname);
int WSAAPI getpeername(SOCKET s, struct sockaddr* name, int* namelen) PSN_WS_SYMBOL(getpeername);

/* 32-bit values, as Windows' u_long is. */
ULONG WSAAPI htonl(ULONG hostlong) PSN_WS_SYMBOL(htonl);
u_short WSAAPI htons(u_short hostshort) PSN_WS_SYMBOL(htons);
ULONG WSAAPI ntohl(ULONG netlong) PSN_WS_SYMBOL(ntohl);
u_short WSAAPI ntohs(u_short netshort) PSN_WS_SYMBOL(ntohs);
ULONG WSAAPI inet_addr(const char* cp) PSN_WS_SYMBOL(inet_addr);
char* WSAAPI inet_ntoa(struct in_addr in) PSN_WS_SYMBOL(inet_ntoa);
INT WSAAPI inet_pton(INT Family, PCSTR pszAddrString, PVOID pAddrBuf) PSN_WS_SYMBOL(inet_pton);
PCSTR WSAAPI inet_ntop(INT Family, const VOID* pAddr, PSTR pStringBuf, size_t StringBufSize)
    PSN_WS_SYMBOL(inet_ntop);

PSN_API int WSAAPI psn_ws_gethostname(char* name, int namelen);
#define gethostname psn_ws_gethostname
PSN_API int WSAAPI GetHostNameW(PWSTR name, int namelen);

extern const struct in6_addr in6addr_any PSN_WS_SYMBOL(in6addr_any);
extern const struct in6_addr in6addr_loopback PSN_WS_SYMBOL(in6addr_loopback);

/* ---- Winsock names ---------------------------------------------------------- */
/* Optional: every function also works without it (R8.5). */
PSN_API int WSAAPI WSAStartup(WORD wVersionRequested, LPWSADATA lpWSAData);
PSN_API int WSAAPI WSACleanup(void);
PSN_API void WSAAPI WSASetLastError(int iError);
PSN_API int WSAAPI ioctlsocket(SOCKET s, long cmd, u_long* argp);
PSN_API int WSAAPI WSAPoll(LPWSAPOLLFD fdArray, ULONG fds, INT timeout);
/* lpProtocolInfo must be NULL; g is ignored; WSA_FLAG_OVERLAPPED and
 * WSA_FLAG_NO_HANDLE_INHERIT are accepted. */
PSN_API SOCKET WSAAPI WSASocketA(int af, int type, int protocol, LPWSAPROTOCOL_INFOA lpProtocolInfo,
                                 GROUP g, DWORD dwFlags);
PSN_API SOCKET WSAAPI WSASocketW(int af, int type, int protocol, LPWSAPROTOCOL_INFOW lpProtocolInfo,
                                 GROUP g, DWORD dwFlags);
/* FIONBIO, FIONREAD and SIO_GET_EXTENSION_FUNCTION_POINTER. */
PSN_API int WSAAPI WSAIoctl(SOCKET s, DWORD dwIoControlCode, LPVOID lpvInBuffer, DWORD cbInBuffer,
                            LPVOID lpvOutBuffer, DWORD cbOutBuffer, LPDWORD lpcbBytesReturned,
                            LPWSAOVERLAPPED lpOverlapped,
                            LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);

/* ---- overlapped socket I/O (SPEC 9; docs/overlapped.md) --------------------- */
/* With lpOverlapped NULL these are plain blocking (or non-blocking) calls.
 * With it, the socket must be associated with a port (CreateIoCompletionPort)
 * and lpCompletionRoutine must be NULL (no APCs): the call returns 0 if it
 * completed at once, else SOCKET_ERROR with WSA_IO_PENDING, and its
 * completion is queued on the port. */
PSN_API int WSAAPI WSARecv(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
                           LPDWORD lpNumberOfBytesRecvd, LPDWORD lpFlags,
                           LPWSAOVERLAPPED lpOverlapped,
                           LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
PSN_API int WSAAPI WSARecvFrom(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
                               LPDWORD lpNumberOfBytesRecvd, LPDWORD lpFlags,
                               struct sockaddr* lpFrom, LPINT lpFromlen,
                               LPWSAOVERLAPPED lpOverlapped,
                               LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
PSN_API int WSAAPI WSASend(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
                           LPDWORD lpNumberOfBytesSent, DWORD dwFlags,
                           LPWSAOVERLAPPED lpOverlapped,
                           LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
PSN_API int WSAAPI WSASendTo(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
                             LPDWORD lpNumberOfBytesSent, DWORD dwFlags,
                             const struct sockaddr* lpTo, int iTolen,
                             LPWSAOVERLAPPED lpOverlapped,
                             LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
PSN_API BOOL WSAAPI WSAGetOverlappedResult(SOCKET s, LPWSAOVERLAPPED lpOverlapped,
                                           LPDWORD lpcbTransfer, BOOL fWait, LPDWORD lpdwFlags);
#define MSG_PARTIAL 0x8000

/* <mswsock.h>: the extension functions, by name and through
 * WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER). */
#define WSAID_ACCEPTEX \
  {0xb5367df1, 0xcbac, 0x11cf, {0x95, 0xca, 0x00, 0x80, 0x5f, 0x48, 0xa1, 0x92}}
#define WSAID_GETACCEPTEXSOCKADDRS \
  {0xb5367df2, 0xcbac, 0x11cf, {0x95, 0xca, 0x00, 0x80, 0x5f, 0x48, 0xa1, 0x92}}
#define WSAID_CONNECTEX \
  {0x25a207b9, 0xddf3, 0x4660, {0x8e, 0xe9, 0x76, 0xe5, 0x8c, 0x74, 0x06, 0x3e}}
#define WSAID_DISCONNECTEX \
  {0x7fda2e11, 0x8630, 0x436f, {0xa0, 0x31, 0xf5, 0x36, 0xa6, 0xee, 0xc1, 0x57}}
#define TF_DISCONNECT 0x01
#define TF_REUSE_SOCKET 0x02

typedef BOOL(PASCAL* LPFN_ACCEPTEX)(SOCKET sListenSocket, SOCKET sAcceptSocket,
                                    PVOID lpOutputBuffer, DWORD dwReceiveDataLength,
                                    DWORD dwLocalAddressLength, DWORD dwRemoteAddressLength,
                                    LPDWORD lpdwBytesReceived, LPOVERLAPPED lpOverlapped);
typedef VOID(PASCAL* LPFN_GETACCEPTEXSOCKADDRS)(PVOID lpOutputBuffer, DWORD dwReceiveDataLength,
                                                DWORD dwLocalAddressLength,
                                                DWORD dwRemoteAddressLength,
                                                struct sockaddr** LocalSockaddr,
                                                LPINT LocalSockaddrLength,
                                                struct sockaddr** RemoteSockaddr,
                                                LPINT RemoteSockaddrLength);
typedef BOOL(PASCAL* LPFN_CONNECTEX)(SOCKET s, const struct sockaddr* name, int namelen,
                                     PVOID lpSendBuffer, DWORD dwSendDataLength,
                                     LPDWORD lpdwBytesSent, LPOVERLAPPED lpOverlapped);
typedef BOOL(PASCAL* LPFN_DISCONNECTEX)(SOCKET s, LPOVERLAPPED lpOverlapped, DWORD dwFlags,
                                        DWORD dwReserved);
PSN_API BOOL PASCAL AcceptEx(SOCKET sListenSocket, SOCKET sAcceptSocket, PVOID lpOutputBuffer,
                             DWORD dwReceiveDataLength, DWORD dwLocalAddressLength,
                             DWORD dwRemoteAddressLength, LPDWORD lpdwBytesReceived,
                             LPOVERLAPPED lpOverlapped);
PSN_API VOID PASCAL GetAcceptExSockaddrs(PVOID lpOutputBuffer, DWORD dwReceiveDataLength,
                                         DWORD dwLocalAddressLength, DWORD dwRemoteAddressLength,
                                         struct sockaddr** LocalSockaddr, LPINT LocalSockaddrLength,
                                         struct sockaddr** RemoteSockaddr,
                                         LPINT RemoteSockaddrLength);
PSN_API BOOL PASCAL ConnectEx(SOCKET s, const struct sockaddr* name, int namelen,
                              PVOID lpSendBuffer, DWORD dwSendDataLength, LPDWORD lpdwBytesSent,
                              LPOVERLAPPED lpOverlapped);
PSN_API BOOL PASCAL DisconnectEx(SOCKET s, LPOVERLAPPED lpOverlapped, DWORD dwFlags,
                                 DWORD dwReserved);

PSN_API INT WSAAPI InetPtonA(INT Family, PCSTR pszAddrString, PVOID pAddrBuf);
PSN_API INT WSAAPI InetPtonW(INT Family, PCWSTR pszAddrString, PVOID pAddrBuf);
PSN_API PCSTR WSAAPI InetNtopA(INT Family, const VOID* pAddr, PSTR pStringBuf,
                               size_t StringBufSize);
PSN_API PCWSTR WSAAPI InetNtopW(INT Family, const VOID* pAddr, PWSTR pStringBuf,
                                size_t StringBufSize);

/* ---- name resolution (<ws2tcpip.h>) ---------------------------------------- */
INT WSAAPI getaddrinfo(PCSTR pNodeName, PCSTR pServiceName, const ADDRINFOA* pHints,
                       PADDRINFOA* ppResult) PSN_WS_SYMBOL(getaddrinfo);
VOID WSAAPI freeaddrinfo(PADDRINFOA pAddrInfo) PSN_WS_SYMBOL(freeaddrinfo);
INT WSAAPI getnameinfo(const SOCKADDR* pSockaddr, socklen_t SockaddrLength, PCHAR pNodeBuffer,
                       DWORD NodeBufferSize, PCHAR pServiceBuffer, DWORD ServiceBufferSize,
                       INT Flags) PSN_WS_SYMBOL(getnameinfo);
PSN_API INT WSAAPI GetAddrInfoW(PCWSTR pNodeName, PCWSTR pServiceName, const ADDRINFOW* pHints,
                                PADDRINFOW* ppResult);
PSN_API VOID WSAAPI FreeAddrInfoW(PADDRINFOW pAddrInfo);
PSN_API INT WSAAPI GetNameInfoW(const SOCKADDR* pSockaddr, socklen_t SockaddrLength,
                                PWCHAR pNodeBuffer, DWORD NodeBufferSize, PWCHAR pServiceBuffer,
                                DWORD ServiceBufferSize, INT Flags);
/* A per-thread buffer, as on Windows. */
PSN_API char* WSAAPI gai_strerrorA(int ecode);
PSN_API WCHAR* WSAAPI gai_strerrorW(int ecode);

#define GetAddrInfoA getaddrinfo
#define FreeAddrInfoA freeaddrinfo
#define GetNameInfoA getnameinfo

/* ---- IPv6 address tests (<ws2ipdef.h>) -------------------------------------- */
static inline BOOLEAN IN6_IS_ADDR_UNSPECIFIED(const IN6_ADDR* a) {
  int i;
  for (i = 0; i < 16; i++)
    if (a->u.Byte[i] != 0) return 0;
  return 1;
}
static inline BOOLEAN IN6_IS_ADDR_LOOPBACK(const IN6_ADDR* a) {
  int i;
  for (i = 0; i < 15; i++)
    if (a->u.Byte[i] != 0) return 0;
  return a->u.Byte[15] == 1;
}
static inline BOOLEAN IN6_IS_ADDR_MULTICAST(const IN6_ADDR* a) {
  return a->u.Byte[0] == 0xff;
}
static inline BOOLEAN IN6_IS_ADDR_LINKLOCAL(const IN6_ADDR* a) {
  return a->u.Byte[0] == 0xfe && (a->u.Byte[1] & 0xc0) == 0x80;
}
static inline BOOLEAN IN6_IS_ADDR_SITELOCAL(const IN6_ADDR* a) {
  return a->u.Byte[0] == 0xfe && (a->u.Byte[1] & 0xc0) == 0xc0;
}
static inline BOOLEAN IN6_IS_ADDR_V4MAPPED(const IN6_ADDR* a) {
  int i;
  for (i = 0; i < 10; i++)
    if (a->u.Byte[i] != 0) return 0;
  return a->u.Byte[10] == 0xff && a->u.Byte[11] == 0xff;
}
static inline BOOLEAN IN6_ADDR_EQUAL(const IN6_ADDR* a, const IN6_ADDR* b) {
  return memcmp(a, b, sizeof(IN6_ADDR)) == 0;
}
#define IN6_ARE_ADDR_EQUAL IN6_ADDR_EQUAL

#ifdef __cplusplus
}
#endif

/* ---- character-set names ------------------------------------------------------ */
#ifdef UNICODE
typedef WSAPROTOCOL_INFOW WSAPROTOCOL_INFO;
typedef LPWSAPROTOCOL_INFOW LPWSAPROTOCOL_INFO;
typedef ADDRINFOW ADDRINFOT;
typedef PADDRINFOW PADDRINFOT;
#define WSASocket WSASocketW
#define InetPton InetPtonW
#define InetNtop InetNtopW
#define GetAddrInfo GetAddrInfoW
#define FreeAddrInfo FreeAddrInfoW
#define GetNameInfo GetNameInfoW
#define gai_strerror gai_strerrorW
#else
typedef WSAPROTOCOL_INFOA WSAPROTOCOL_INFO;
typedef LPWSAPROTOCOL_INFOA LPWSAPROTOCOL_INFO;
typedef ADDRINFOA ADDRINFOT;
typedef PADDRINFOA PADDRINFOT;
#define WSASocket WSASocketA
#define InetPton InetPtonA
#define InetNtop InetNtopA
#define GetAddrInfo GetAddrInfoA
#define FreeAddrInfo FreeAddrInfoA
#define GetNameInfo GetNameInfoA
#define gai_strerror gai_strerrorA
#endif

#endif /* PSN_WIN32_WINSOCK_H */
