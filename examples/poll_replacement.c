/*
 * poll_replacement.c - a single-threaded WSAPoll()-style event loop on psn,
 * as a plain Windows program (Winsock and Win32 only, built on Linux through
 * psn-win32).
 *
 * What it shows:
 *
 *   - The smallest step away from WSAPoll()/select(): one thread, one
 *     completion port, and PERSISTENT, LEVEL-TRIGGERED registrations. A
 *     level-triggered registration behaves like an entry of a WSAPOLLFD array
 *     that the system keeps for you: while a condition holds, you keep being
 *     told about it, so a handler may read once and return, exactly as in a
 *     WSAPoll() loop.
 *   - Registrations are made with ProcessSocketNotifications (no dequeue);
 *     the loop takes notifications with GetQueuedCompletionStatusEx.
 *   - Changing what a socket waits for (IN while idle, OUT while an echo is
 *     stuck) is another ENABLE on the same socket: it replaces the filter and
 *     keeps the completion key (R5.3).
 *   - HANGUP (the peer closed or aborted) ends a connection.
 *   - REMOVE before closesocket: a finished connection is not closed on the
 *     spot. Its registration is removed, and only when the REMOVE notification
 *     comes out of the port (the registration's last packet, R5.5) is the
 *     socket closed and its context freed. No later packet can carry a freed
 *     pointer.
 *   - Stopping: a packet posted with PostQueuedCompletionStatus wakes the loop.
 *
 * The program is its own test: a few client threads (CreateThread) with
 * ordinary blocking sockets connect to the echo server on 127.0.0.1, send a
 * byte pattern in chunks, and check every echoed byte. The program prints a
 * summary and exits 0 only when every byte made the round trip and every
 * context was freed.
 */
/* On Windows <winsock2.h> must come before <windows.h>: keep this order. */
/* clang-format off */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma comment(lib, "Ws2_32.lib")

#define CLIENTS 6 /* client threads, one connection each */
#define BYTES_PER_CLIENT (256 * 1024)
#define SMALL_CHUNK 3000         /* bytes an even client sends before reading the echo */
#define BIG_CHUNK 32768          /* ... and an odd client, whose echo cannot fit at once */
#define SMALL_SOCKET_BUFFER 4096 /* so that echoes stall and the server must wait for OUT */
#define CONN_BUFFER 1024         /* small on purpose: one read rarely takes it all */
#define MAX_ENTRIES 32           /* notifications taken per GetQueuedCompletionStatusEx */
#define WAIT_MS 10000            /* a loop iteration that waits this long has failed */

/* Completion keys: a connection's key is its context's address; the listener
 * and the stop request use the addresses of these objects instead. */
static char listener_tag, stop_tag;
#define LISTENER_KEY ((ULONG_PTR)&listener_tag)
#define STOP_KEY ((ULONG_PTR)&stop_tag)

typedef struct connection {
  SOCKET socket;
  UINT16 filter; /* what the registration currently waits for */
  int removing;  /* REMOVE requested; the context lives until its packet */
  int pending;   /* bytes in buf not yet echoed */
  int sent;      /* of those, already sent */
  char buf[CONN_BUFFER];
} connection;

static HANDLE port;

/* Server counters (only the server thread touches them). */
static unsigned long long accepted, freed, bytes_echoed, notifications, hangups, refilters;

/* Client counters. */
static volatile LONG64 client_bytes_ok;
static volatile LONG client_failures;
static SOCKADDR_IN server_addr;

/* ------------------------------------------------------------------------- */
/* Registrations                                                              */

/* Applies one registration change without dequeuing anything. */
static DWORD change_registration(SOCKET s, PVOID key, UINT16 filter, UINT8 op) {
  SOCK_NOTIFY_REGISTRATION r;
  ZeroMemory(&r, sizeof r);
  r.socket = s;
  r.completionKey = key;
  r.eventFilter = filter;
  r.operation = op;
  r.triggerFlags = SOCK_NOTIFY_TRIGGER_PERSISTENT | SOCK_NOTIFY_TRIGGER_LEVEL;
  DWORD rc = ProcessSocketNotifications(port, 1, &r, 0, 0, NULL, NULL);
  if (rc != ERROR_SUCCESS) return rc;
  return r.registrationResult;
}

/* Sets what a connection waits for: room to send while an echo is pending,
 * otherwise data to read. HANGUP is always in the filter. */
static void watch(connection* c) {
  UINT16 want = (UINT16)(SOCK_NOTIFY_REGISTER_EVENT_HANGUP |
                         (c->pending > c->sent ? SOCK_NOTIFY_REGISTER_EVENT_OUT
                                               : SOCK_NOTIFY_REGISTER_EVENT_IN));
  if (want == c->filter) return;
  DWORD rc = change_registration(c->socket, c, want, SOCK_NOTIFY_OP_ENABLE);
  if (rc != ERROR_SUCCESS) {
    fprintf(stderr, "server: ENABLE failed: %lu\n", (unsigned long)rc);
    exit(1);
  }
  c->filter = want;
  ++refilters;
}

/* Ends a connection: REMOVE now, close and free when the REMOVE packet comes. */
static void finish(connection* c) {
  if (c->removing) return;
  c->removing = 1;
  DWORD rc = change_registration(c->socket, c, 0, SOCK_NOTIFY_OP_REMOVE);
  if (rc != ERROR_SUCCESS) {
    fprintf(stderr, "server: REMOVE failed: %lu\n", (unsigned long)rc);
    exit(1);
  }
}

/* ------------------------------------------------------------------------- */
/* Server handlers                                                            */

static int set_nonblocking(SOCKET s) {
  u_long nonblocking = 1;
  return ioctlsocket(s, FIONBIO, &nonblocking) == 0;
}

/* The listener is readable: accept ONE connection. If more are waiting, the
 * level-triggered registration reports the listener again. */
static void on_listener(SOCKET listener) {
  SOCKET s = accept(listener, NULL, NULL);
  if (s == INVALID_SOCKET) return; /* WSAEWOULDBLOCK or an aborted connection */
  connection* c = (connection*)calloc(1, sizeof *c);
  if (c == NULL || !set_nonblocking(s)) {
    free(c);
    closesocket(s);
    return;
  }
  /* Echoes go out in small pieces; do not let Nagle hold them back. A small
   * send buffer makes echoes stall now and then, so the OUT path runs too. */
  BOOL nodelay = TRUE;
  int small = SMALL_SOCKET_BUFFER;
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char*)&nodelay, (int)sizeof nodelay);
  setsockopt(s, SOL_SOCKET, SO_SNDBUF, (const char*)&small, (int)sizeof small);
  c->socket = s;
  ++accepted;
  watch(c); /* first ENABLE creates the registration with key = c */
}

/* Sends what it can of the pending echo. Returns 0 when the socket failed. */
static int flush(connection* c) {
  while (c->sent < c->pending) {
    int n = send(c->socket, c->buf + c->sent, c->pending - c->sent, 0);
    if (n == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK) return 1;
    if (n <= 0) return 0;
    c->sent += n;
    bytes_echoed += (unsigned long long)n;
  }
  c->pending = c->sent = 0;
  return 1;
}

static void on_connection(connection* c, UINT32 events) {
  if (events & SOCK_NOTIFY_EVENT_REMOVE) {
    /* The registration's last packet: nothing refers to c any more. */
    closesocket(c->socket);
    free(c);
    ++freed;
    return;
  }
  if (c->removing) return; /* cannot happen (R5.5/R5.6), but costs nothing */

  if (events & (SOCK_NOTIFY_EVENT_HANGUP | SOCK_NOTIFY_EVENT_ERR)) {
    ++hangups;
    finish(c);
    return;
  }
  if ((events & SOCK_NOTIFY_EVENT_OUT) && !flush(c)) {
    finish(c);
    return;
  }
  if ((events & SOCK_NOTIFY_EVENT_IN) && c->pending == 0) {
    /* One read per notification, as a WSAPoll() loop would do. */
    int n = recv(c->socket, c->buf, (int)sizeof c->buf, 0);
    if (n == 0 || (n == SOCKET_ERROR && WSAGetLastError() != WSAEWOULDBLOCK)) {
      finish(c);
      return;
    }
    if (n > 0) {
      c->pending = n;
      c->sent = 0;
      if (!flush(c)) {
        finish(c);
        return;
      }
    }
  }
  watch(c);
}

/* ------------------------------------------------------------------------- */
/* Clients                                                                    */

static unsigned char pattern(unsigned client, size_t i) {
  return (unsigned char)(i * 7u + (i >> 9) + client * 131u);
}

static int send_all(SOCKET s, const unsigned char* p, int len) {
  while (len > 0) {
    int n = send(s, (const char*)p, len, 0);
    if (n <= 0) return 0;
    p += n;
    len -= n;
  }
  return 1;
}

static int read_exact(SOCKET s, unsigned char* p, int len) {
  while (len > 0) {
    int n = recv(s, (char*)p, len, 0);
    if (n <= 0) return 0;
    p += n;
    len -= n;
  }
  return 1;
}

static DWORD WINAPI client_main(LPVOID arg) {
  unsigned id = (unsigned)(ULONG_PTR)arg;
  int chunk = id % 2 ? BIG_CHUNK : SMALL_CHUNK;
  int small = SMALL_SOCKET_BUFFER;
  unsigned char* out = (unsigned char*)malloc(BIG_CHUNK);
  unsigned char* back = (unsigned char*)malloc(BIG_CHUNK);
  SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  if (s != INVALID_SOCKET && id % 2)
    setsockopt(s, SOL_SOCKET, SO_RCVBUF, (const char*)&small, (int)sizeof small);
  if (out == NULL || back == NULL || s == INVALID_SOCKET ||
      connect(s, (const SOCKADDR*)&server_addr, (int)sizeof server_addr) != 0) {
    fprintf(stderr, "client %u: cannot connect: %d\n", id, WSAGetLastError());
    InterlockedIncrement(&client_failures);
    if (s != INVALID_SOCKET) closesocket(s);
    free(out);
    free(back);
    return 1;
  }
  for (int off = 0; off < BYTES_PER_CLIENT; off += chunk) {
    int len = BYTES_PER_CLIENT - off < chunk ? BYTES_PER_CLIENT - off : chunk;
    for (int i = 0; i < len; ++i) out[i] = pattern(id, (size_t)(off + i));
    if (!send_all(s, out, len) || !read_exact(s, back, len) || memcmp(out, back, len) != 0) {
      fprintf(stderr, "client %u: echo mismatch or failure at offset %d\n", id, off);
      InterlockedIncrement(&client_failures);
      break;
    }
    InterlockedExchangeAdd64(&client_bytes_ok, len);
  }
  closesocket(s); /* the server sees HANGUP */
  free(out);
  free(back);
  return 0;
}

/* Runs the clients, then asks the server loop to stop. */
static DWORD WINAPI clients_main(LPVOID unused) {
  UNREFERENCED_PARAMETER(unused);
  HANDLE t[CLIENTS];
  DWORD started = 0;
  for (unsigned i = 0; i < CLIENTS; ++i) {
    t[started] = CreateThread(NULL, 0, client_main, (LPVOID)(ULONG_PTR)i, 0, NULL);
    if (t[started] != NULL)
      ++started;
    else
      InterlockedIncrement(&client_failures);
  }
  if (started > 0 && WaitForMultipleObjects(started, t, TRUE, INFINITE) == WAIT_FAILED)
    InterlockedIncrement(&client_failures);
  for (DWORD i = 0; i < started; ++i) CloseHandle(t[i]);
  if (!PostQueuedCompletionStatus(port, 0, STOP_KEY, NULL)) {
    fprintf(stderr, "PostQueuedCompletionStatus failed: %lu\n", (unsigned long)GetLastError());
    exit(1);
  }
  return 0;
}

/* ------------------------------------------------------------------------- */

int main(void) {
  WSADATA wsa;
  if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
    fprintf(stderr, "WSAStartup failed\n");
    return 1;
  }
  port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
  if (port == NULL) {
    fprintf(stderr, "CreateIoCompletionPort failed: %lu\n", (unsigned long)GetLastError());
    return 1;
  }

  SOCKET listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  server_addr.sin_family = AF_INET;
  server_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  server_addr.sin_port = 0;
  int alen = (int)sizeof server_addr;
  if (listener == INVALID_SOCKET ||
      bind(listener, (const SOCKADDR*)&server_addr, (int)sizeof server_addr) != 0 ||
      listen(listener, 64) != 0 || !set_nonblocking(listener) ||
      getsockname(listener, (SOCKADDR*)&server_addr, &alen) != 0) {
    fprintf(stderr, "listener: error %d\n", WSAGetLastError());
    return 1;
  }
  if (change_registration(listener, (PVOID)LISTENER_KEY, SOCK_NOTIFY_REGISTER_EVENT_IN,
                          SOCK_NOTIFY_OP_ENABLE) != ERROR_SUCCESS) {
    fprintf(stderr, "cannot register the listener\n");
    return 1;
  }
  printf("echo server on 127.0.0.1:%u, %d clients x %d bytes\n", ntohs(server_addr.sin_port),
         CLIENTS, BYTES_PER_CLIENT);

  HANDLE clients = CreateThread(NULL, 0, clients_main, NULL, 0, NULL);
  if (clients == NULL) {
    fprintf(stderr, "cannot start the clients: %lu\n", (unsigned long)GetLastError());
    return 1;
  }

  /* The event loop. It ends once the clients are done, every connection's
   * REMOVE packet has been seen, and then the listener's own REMOVE packet. */
  int stopping = 0, listener_removed = 0, ok = 1;
  while (!listener_removed) {
    OVERLAPPED_ENTRY entries[MAX_ENTRIES];
    ULONG n = 0;
    if (!GetQueuedCompletionStatusEx(port, entries, MAX_ENTRIES, &n, WAIT_MS, FALSE)) {
      fprintf(stderr, "GetQueuedCompletionStatusEx failed: %lu\n", (unsigned long)GetLastError());
      ok = 0;
      break;
    }
    for (ULONG i = 0; i < n; ++i) {
      OVERLAPPED_ENTRY* e = &entries[i];
      UINT32 events = SocketNotificationRetrieveEvents(e);
      ++notifications;
      if (e->lpCompletionKey == STOP_KEY) {
        stopping = 1;
      } else if (e->lpCompletionKey == LISTENER_KEY) {
        if (events & SOCK_NOTIFY_EVENT_REMOVE)
          listener_removed = 1;
        else if (events & SOCK_NOTIFY_EVENT_IN)
          on_listener(listener);
      } else {
        on_connection((connection*)e->lpCompletionKey, events);
      }
    }
    /* Once the clients have finished and every connection is gone, retire
     * the listener the same way: REMOVE, then close on its packet. */
    if (stopping == 1 && freed == accepted) {
      stopping = 2;
      if (change_registration(listener, (PVOID)LISTENER_KEY, 0, SOCK_NOTIFY_OP_REMOVE) !=
          ERROR_SUCCESS) {
        ok = 0;
        break;
      }
    }
  }
  WaitForSingleObject(clients, INFINITE);
  CloseHandle(clients);
  closesocket(listener);
  CloseHandle(port);
  WSACleanup();

  unsigned long long expected = (unsigned long long)CLIENTS * BYTES_PER_CLIENT;
  unsigned long long verified =
      (unsigned long long)InterlockedCompareExchange64(&client_bytes_ok, 0, 0);
  printf("connections: %llu accepted, %llu freed on REMOVE, %llu ended by HANGUP\n", accepted,
         freed, hangups);
  printf("notifications: %llu, filter changes (IN <-> OUT): %llu\n", notifications, refilters);
  printf("bytes: %llu expected, %llu echoed, %llu verified by clients\n", expected, bytes_echoed,
         verified);
  ok = ok && InterlockedCompareExchange(&client_failures, 0, 0) == 0 && verified == expected &&
       bytes_echoed == expected && accepted == CLIENTS && freed == accepted;
  printf("%s\n", ok ? "OK: every byte round-tripped" : "FAILED");
  return ok ? 0 : 1;
}
