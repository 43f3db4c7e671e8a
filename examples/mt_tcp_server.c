/*
 * mt_tcp_server.c - a multi-threaded TCP echo server on psn, written the way the
 * Windows documentation of ProcessSocketNotifications recommends, as a plain
 * Windows program: Winsock and Win32 only, built on Linux through psn-win32.
 *
 * What it shows, for a developer who knows the Windows API:
 *
 *   - One I/O completion port (CreateIoCompletionPort) shared by a pool of
 *     server threads (CreateThread; default 4, --threads N).
 *   - Every socket is registered ONE-SHOT and LEVEL-TRIGGERED. When a thread
 *     takes a notification, the registration is disabled, so no other thread
 *     can get a packet for the same socket: the connection's state belongs to
 *     that thread until it re-arms the registration. No locks per connection.
 *   - A thread re-arms the sockets it served IN THE SAME ProcessSocketNotifications
 *     call that waits for its next batch: one call both applies the changes and
 *     dequeues.
 *   - The listening socket is one-shot too and is re-armed after accepting.
 *   - A connection's context is allocated when it is accepted and freed ONLY
 *     when its REMOVE notification arrives; REMOVE is requested when the
 *     connection reads end-of-file (or fails). After the REMOVE packet no other
 *     packet can carry that context's address, so freeing it there is safe.
 *   - Shutdown: PostQueuedCompletionStatus with a special completion key tells
 *     each server thread to stop; the main thread then waits for each thread
 *     handle (WaitForSingleObject) and closes it.
 *
 * The clients live in the same program (default 200, --clients N) on a few
 * threads with ordinary blocking sockets. Each client sends --bytes N
 * (default 64 KiB) in chunks, reads the echo back and verifies every byte,
 * then shuts down its sending side (shutdown SD_SEND) and expects end-of-file.
 * At the end the program prints a summary and exits non-zero unless every
 * byte is accounted for. A watchdog thread, waiting on an event, fails the run
 * after --timeout S seconds (default 60). --small-buffers shrinks the socket
 * buffers so that echoes often cannot be sent at once and the server waits
 * for OUT.
 *
 * Sockets are non-blocking through ioctlsocket(FIONBIO); "would block" is
 * WSAGetLastError() == WSAEWOULDBLOCK. Counters shared between threads use
 * the Interlocked functions; time comes from QueryPerformanceCounter.
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

/* ------------------------------------------------------------------------- */
/* Settings                                                                   */

#define MAX_BATCH 16          /* notifications taken per ProcessSocketNotifications call */
#define ACCEPTS_PER_WAKEUP 32 /* connections accepted per listener notification */
#define CONN_BUFFER 16384     /* bytes a connection reads before echoing them back */
#define CLIENT_CHUNK 8192     /* bytes a client sends before reading the echo */
#define MAX_CLIENT_THREADS 8

static unsigned g_server_threads = 4;
static unsigned g_clients = 200;
static size_t g_bytes_per_client = 64 * 1024;
static unsigned g_timeout_s = 60;
static int g_small_buffers = 0; /* tiny socket buffers, so echoes block and need OUT */

/* ------------------------------------------------------------------------- */
/* Completion keys                                                            */

/* A connection's completion key is the address of its context. The listening
 * socket and the stop request use the addresses of these two objects, which
 * can never be a connection's. */
static char g_listener_key_tag;
static char g_stop_key_tag;
#define LISTENER_KEY ((PVOID)&g_listener_key_tag)
#define STOP_KEY ((ULONG_PTR)&g_stop_key_tag)

/* Per-connection state. Only the thread that holds the connection's packet
 * touches it (one-shot registrations make that exclusive). */
typedef struct connection {
  SOCKET socket;
  int pending; /* bytes in buf still to be echoed */
  int sent;    /* of those, already sent */
  char buf[CONN_BUFFER];
} connection;

/* What one server thread counted; summed at the end. */
typedef struct server_stats {
  unsigned long long accepted;
  unsigned long long bytes_received;
  unsigned long long bytes_echoed;
  unsigned long long contexts_freed;
  unsigned long long packets_in, packets_out, packets_hangup, packets_err, packets_remove;
  unsigned long long packets_posted; /* stop requests taken, including handed-back ones */
  unsigned long long stops_handed_back;
  unsigned long long failures; /* registration results or socket calls that failed */
} server_stats;

static HANDLE g_port;
static SOCKET g_listener = INVALID_SOCKET;
static SOCKADDR_IN g_listen_addr;

static volatile LONG64 g_accepted; /* connections accepted so far */
static volatile LONG64 g_live;     /* contexts allocated and not yet freed */
static HANDLE g_finished;          /* manual-reset event: the run is over (for the watchdog) */

/* ------------------------------------------------------------------------- */
/* Small helpers                                                              */

static LONG64 read_counter(volatile LONG64* counter) {
  return InterlockedCompareExchange64(counter, 0, 0);
}

static double now_seconds(void) {
  LARGE_INTEGER frequency, now;
  QueryPerformanceFrequency(&frequency);
  QueryPerformanceCounter(&now);
  return (double)now.QuadPart / (double)frequency.QuadPart;
}

static int set_nonblocking(SOCKET s) {
  u_long nonblocking = 1;
  return ioctlsocket(s, FIONBIO, &nonblocking) == 0;
}

/* The byte a client sends at `offset` of its stream: easy to verify, and
 * different for every client. */
static unsigned char pattern_byte(unsigned client, size_t offset) {
  return (unsigned char)((offset * 31u) ^ (offset >> 8) ^ (client * 97u));
}

static SOCK_NOTIFY_REGISTRATION registration(SOCKET s, PVOID key, UINT16 filter, UINT8 op) {
  SOCK_NOTIFY_REGISTRATION r;
  ZeroMemory(&r, sizeof r);
  r.socket = s;
  r.completionKey = key;
  r.eventFilter = filter;
  r.operation = op;
  r.triggerFlags = SOCK_NOTIFY_TRIGGER_ONESHOT | SOCK_NOTIFY_TRIGGER_LEVEL;
  return r;
}

/* ------------------------------------------------------------------------- */
/* Server                                                                     */

/* The registration changes a server thread collects while it handles one
 * batch; they are applied by its next ProcessSocketNotifications call. */
typedef struct change_list {
  SOCK_NOTIFY_REGISTRATION items[MAX_BATCH + ACCEPTS_PER_WAKEUP + 1];
  UINT32 count;
} change_list;

static void add_change(change_list* c, SOCK_NOTIFY_REGISTRATION r) {
  c->items[c->count++] = r;
}

/* Re-arms a connection for what it waits for next: room to write while it has
 * echo data pending, otherwise data (or end-of-file) to read. */
static void rearm_connection(change_list* changes, connection* c) {
  UINT16 filter = c->pending > c->sent
                      ? SOCK_NOTIFY_REGISTER_EVENT_OUT
                      : SOCK_NOTIFY_REGISTER_EVENT_IN | SOCK_NOTIFY_REGISTER_EVENT_HANGUP;
  add_change(changes, registration(c->socket, c, filter, SOCK_NOTIFY_OP_ENABLE));
}

/* Asks for the connection's registration to end. Its context is freed when
 * the REMOVE notification arrives, not here. */
static void remove_connection(change_list* changes, connection* c) {
  add_change(changes, registration(c->socket, c, 0, SOCK_NOTIFY_OP_REMOVE));
}

/* Sends as much of the pending echo as the socket takes. Returns 0 on error. */
static int flush_echo(connection* c, server_stats* st) {
  while (c->sent < c->pending) {
    int n = send(c->socket, c->buf + c->sent, c->pending - c->sent, 0);
    if (n > 0) {
      c->sent += n;
      st->bytes_echoed += (unsigned long long)n;
    } else if (n == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK) {
      return 1; /* the rest goes when OUT says there is room */
    } else {
      return 0;
    }
  }
  c->pending = c->sent = 0;
  return 1;
}

/* One notification for a connection. */
static void serve_connection(connection* c, UINT32 events, change_list* changes, server_stats* st) {
  if (events & SOCK_NOTIFY_EVENT_ERR) {
    ++st->failures;
    remove_connection(changes, c);
    return;
  }
  if (c->pending > c->sent) {
    /* Waiting to finish an echo. */
    if (!flush_echo(c, st)) {
      ++st->failures;
      remove_connection(changes, c);
      return;
    }
  } else if (events & (SOCK_NOTIFY_EVENT_IN | SOCK_NOTIFY_EVENT_HANGUP)) {
    int n = recv(c->socket, c->buf, (int)sizeof c->buf, 0);
    if (n == 0) {
      /* The client finished sending: end the registration. */
      remove_connection(changes, c);
      return;
    }
    if (n == SOCKET_ERROR && WSAGetLastError() != WSAEWOULDBLOCK) {
      ++st->failures;
      remove_connection(changes, c);
      return;
    }
    if (n > 0) {
      st->bytes_received += (unsigned long long)n;
      c->pending = n;
      c->sent = 0;
      if (!flush_echo(c, st)) {
        ++st->failures;
        remove_connection(changes, c);
        return;
      }
    }
  }
  /* Level-triggered: if more data is already waiting, the re-armed
   * registration notifies again at once. */
  rearm_connection(changes, c);
}

/* The listener's notification: accept what is waiting, register each new
 * connection, then re-arm the listener. */
static void serve_listener(UINT32 events, change_list* changes, server_stats* st) {
  int i;
  if (events & SOCK_NOTIFY_EVENT_ERR) ++st->failures;
  for (i = 0; i < ACCEPTS_PER_WAKEUP; ++i) {
    BOOL nodelay = TRUE;
    connection* c;
    SOCKET s = accept(g_listener, NULL, NULL);
    if (s == INVALID_SOCKET) {
      int error = WSAGetLastError();
      if (error != WSAEWOULDBLOCK && error != WSAECONNABORTED && error != WSAECONNRESET)
        ++st->failures;
      break;
    }
    if (!set_nonblocking(s)) {
      ++st->failures;
      closesocket(s);
      continue;
    }
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char*)&nodelay, (int)sizeof nodelay);
    if (g_small_buffers) {
      int size = 4096;
      setsockopt(s, SOL_SOCKET, SO_SNDBUF, (const char*)&size, (int)sizeof size);
    }
    c = (connection*)malloc(sizeof *c);
    if (c == NULL) {
      ++st->failures;
      closesocket(s);
      continue;
    }
    c->socket = s;
    c->pending = c->sent = 0;
    ++st->accepted;
    /* live before accepted: main waits for accepted == clients && live == 0 */
    InterlockedIncrement64(&g_live);
    InterlockedIncrement64(&g_accepted);
    add_change(changes,
               registration(s, c, SOCK_NOTIFY_REGISTER_EVENT_IN | SOCK_NOTIFY_REGISTER_EVENT_HANGUP,
                            SOCK_NOTIFY_OP_ENABLE));
  }
  add_change(changes, registration(g_listener, LISTENER_KEY, SOCK_NOTIFY_REGISTER_EVENT_IN,
                                   SOCK_NOTIFY_OP_ENABLE));
}

/* The last packet of a connection: close the socket, free the context. */
static void retire_connection(connection* c, server_stats* st) {
  if (closesocket(c->socket) != 0) ++st->failures;
  free(c);
  ++st->contexts_freed;
  InterlockedDecrement64(&g_live);
}

static void count_events(UINT32 ev, server_stats* st) {
  if (ev & SOCK_NOTIFY_EVENT_IN) ++st->packets_in;
  if (ev & SOCK_NOTIFY_EVENT_OUT) ++st->packets_out;
  if (ev & SOCK_NOTIFY_EVENT_HANGUP) ++st->packets_hangup;
  if (ev & SOCK_NOTIFY_EVENT_ERR) ++st->packets_err;
  if (ev & SOCK_NOTIFY_EVENT_REMOVE) ++st->packets_remove;
}

static DWORD WINAPI server_thread(LPVOID arg) {
  server_stats* st = (server_stats*)arg;
  change_list changes;
  OVERLAPPED_ENTRY entries[MAX_BATCH];
  int stop = 0;
  changes.count = 0;

  while (!stop) {
    UINT32 received = 0, i;
    /* Apply what the last batch asked for, then wait for the next batch:
     * one call. */
    DWORD rc =
        ProcessSocketNotifications(g_port, changes.count, changes.count ? changes.items : NULL,
                                   INFINITE, MAX_BATCH, entries, &received);
    if (rc != ERROR_SUCCESS) {
      fprintf(stderr, "server: ProcessSocketNotifications returned %lu\n", (unsigned long)rc);
      ++st->failures;
      break;
    }
    for (i = 0; i < changes.count; ++i) {
      if (changes.items[i].registrationResult != ERROR_SUCCESS) {
        fprintf(stderr, "server: registration of socket %llu failed with %lu\n",
                (unsigned long long)changes.items[i].socket,
                (unsigned long)changes.items[i].registrationResult);
        ++st->failures;
      }
    }
    changes.count = 0;

    for (i = 0; i < received; ++i) {
      OVERLAPPED_ENTRY* e = &entries[i];
      if (e->lpCompletionKey == STOP_KEY) {
        /* A batch can hold more than one stop request; each thread keeps one
         * and hands the others back for its siblings. */
        ++st->packets_posted;
        if (stop) {
          ++st->stops_handed_back;
          if (!PostQueuedCompletionStatus(g_port, 0, STOP_KEY, NULL)) ++st->failures;
        }
        stop = 1;
        continue;
      }
      {
        UINT32 ev = SocketNotificationRetrieveEvents(e);
        count_events(ev, st);
        if ((PVOID)e->lpCompletionKey == LISTENER_KEY) {
          if (ev & SOCK_NOTIFY_EVENT_REMOVE) continue;
          serve_listener(ev, &changes, st);
        } else {
          connection* c = (connection*)e->lpCompletionKey;
          if (ev & SOCK_NOTIFY_EVENT_REMOVE)
            retire_connection(c, st); /* nothing else comes for c: free it */
          else
            serve_connection(c, ev, &changes, st);
        }
      }
    }
  }

  /* Apply what this thread still holds before it leaves. */
  if (changes.count) {
    DWORD rc = ProcessSocketNotifications(g_port, changes.count, changes.items, 0, 0, NULL, NULL);
    if (rc != ERROR_SUCCESS) ++st->failures;
  }
  return 0;
}

/* ------------------------------------------------------------------------- */
/* Clients: blocking sockets, several connections per thread                  */

typedef struct client_thread {
  HANDLE thread;
  unsigned first, step; /* clients first, first+step, ... */
  unsigned long long bytes_sent, bytes_verified, mismatches, failures;
} client_thread;

static int send_all(SOCKET s, const unsigned char* p, int n) {
  while (n > 0) {
    int r = send(s, (const char*)p, n, 0);
    if (r <= 0) return 0;
    p += r;
    n -= r;
  }
  return 1;
}

static int recv_all(SOCKET s, unsigned char* p, int n) {
  while (n > 0) {
    int r = recv(s, (char*)p, n, 0);
    if (r <= 0) return 0;
    p += r;
    n -= r;
  }
  return 1;
}

static DWORD WINAPI client_thread_main(LPVOID arg) {
  client_thread* t = (client_thread*)arg;
  unsigned count = 0, i, id;
  SOCKET* socks;
  unsigned char out[CLIENT_CHUNK], in[CLIENT_CHUNK];
  size_t offset;

  for (id = t->first; id < g_clients; id += t->step) ++count;
  socks = (SOCKET*)calloc(count ? count : 1, sizeof *socks);
  if (socks == NULL) {
    ++t->failures;
    return 1;
  }

  /* Open every connection first, so they are all live on the server at once. */
  for (i = 0; i < count; ++i) {
    socks[i] = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (socks[i] != INVALID_SOCKET && g_small_buffers) {
      int size = 4096;
      setsockopt(socks[i], SOL_SOCKET, SO_RCVBUF, (const char*)&size, (int)sizeof size);
    }
    if (socks[i] == INVALID_SOCKET ||
        connect(socks[i], (const SOCKADDR*)&g_listen_addr, (int)sizeof g_listen_addr) != 0) {
      fprintf(stderr, "client: connect failed: %d\n", WSAGetLastError());
      ++t->failures;
      if (socks[i] != INVALID_SOCKET) closesocket(socks[i]);
      socks[i] = INVALID_SOCKET;
    }
  }

  /* Round by round: one chunk to every connection, then read every echo. */
  for (offset = 0; offset < g_bytes_per_client; offset += CLIENT_CHUNK) {
    size_t n =
        g_bytes_per_client - offset < CLIENT_CHUNK ? g_bytes_per_client - offset : CLIENT_CHUNK;
    for (i = 0, id = t->first; i < count; ++i, id += t->step) {
      size_t k;
      if (socks[i] == INVALID_SOCKET) continue;
      for (k = 0; k < n; ++k) out[k] = pattern_byte(id, offset + k);
      if (!send_all(socks[i], out, (int)n)) {
        fprintf(stderr, "client %u: send failed: %d\n", id, WSAGetLastError());
        ++t->failures;
        closesocket(socks[i]);
        socks[i] = INVALID_SOCKET;
        continue;
      }
      t->bytes_sent += n;
    }
    for (i = 0, id = t->first; i < count; ++i, id += t->step) {
      size_t k;
      if (socks[i] == INVALID_SOCKET) continue;
      if (!recv_all(socks[i], in, (int)n)) {
        fprintf(stderr, "client %u: echo cut short\n", id);
        ++t->failures;
        closesocket(socks[i]);
        socks[i] = INVALID_SOCKET;
        continue;
      }
      for (k = 0; k < n; ++k) {
        if (in[k] != pattern_byte(id, offset + k)) ++t->mismatches;
      }
      t->bytes_verified += n;
    }
  }

  /* Done sending: the server sees end-of-file, removes the registration and
   * closes its side when the REMOVE packet arrives; we see end-of-file. */
  for (i = 0; i < count; ++i)
    if (socks[i] != INVALID_SOCKET && shutdown(socks[i], SD_SEND) != 0) ++t->failures;
  for (i = 0, id = t->first; i < count; ++i, id += t->step) {
    char extra;
    int r;
    if (socks[i] == INVALID_SOCKET) continue;
    r = recv(socks[i], &extra, 1, 0);
    if (r != 0) {
      fprintf(stderr, "client %u: expected end-of-file, got %d (error %d)\n", id, r,
              r < 0 ? WSAGetLastError() : 0);
      ++t->failures;
    }
    closesocket(socks[i]);
  }
  free(socks);
  return 0;
}

/* ------------------------------------------------------------------------- */
/* Watchdog                                                                   */

/* Waits for g_finished; if the run takes longer than --timeout, fails it. */
static DWORD WINAPI watchdog_main(LPVOID arg) {
  UNREFERENCED_PARAMETER(arg);
  if (WaitForSingleObject(g_finished, (DWORD)g_timeout_s * 1000u) == WAIT_OBJECT_0) return 0;
  fprintf(stderr,
          "watchdog: the demo did not finish within %u s "
          "(accepted %lld, live contexts %lld)\n",
          g_timeout_s, (long long)read_counter(&g_accepted), (long long)read_counter(&g_live));
  fflush(stderr);
  _Exit(3);
}

/* ------------------------------------------------------------------------- */
/* Main                                                                       */

/* A decimal number in [min, max], by hand: digits only, no sign, no overflow. */
static int parse_unsigned(const char* s, unsigned long long min, unsigned long long max,
                          unsigned long long* out) {
  unsigned long long v = 0;
  if (*s == '\0') return 0;
  for (; *s != '\0'; ++s) {
    if (*s < '0' || *s > '9') return 0;
    v = v * 10 + (unsigned long long)(*s - '0');
    if (v > max) return 0;
  }
  if (v < min) return 0;
  *out = v;
  return 1;
}

static void usage(const char* argv0) {
  fprintf(stderr,
          "usage: %s [--threads N] [--clients N] [--bytes N] [--timeout S] [--small-buffers]\n"
          "  --threads N   server threads (default 4)\n"
          "  --clients N   client connections (default 200)\n"
          "  --bytes N     bytes each client sends and expects back (default 65536)\n"
          "  --timeout S   fail if the run takes longer (default 60)\n"
          "  --small-buffers  tiny socket buffers: echoes block and wait for OUT\n",
          argv0);
}

static int parse_args(int argc, char** argv) {
  int i;
  for (i = 1; i < argc; ++i) {
    unsigned long long v;
    const char* opt = argv[i];
    if (strcmp(opt, "--small-buffers") == 0) {
      g_small_buffers = 1;
      continue;
    }
    if (i + 1 >= argc) {
      usage(argv[0]);
      return 0;
    }
    if (strcmp(opt, "--threads") == 0 && parse_unsigned(argv[++i], 1, 256, &v)) {
      g_server_threads = (unsigned)v;
    } else if (strcmp(opt, "--clients") == 0 && parse_unsigned(argv[++i], 1, 10000, &v)) {
      g_clients = (unsigned)v;
    } else if (strcmp(opt, "--bytes") == 0 && parse_unsigned(argv[++i], 0, 1ull << 30, &v)) {
      g_bytes_per_client = (size_t)v;
    } else if (strcmp(opt, "--timeout") == 0 && parse_unsigned(argv[++i], 1, 86400, &v)) {
      g_timeout_s = (unsigned)v;
    } else {
      usage(argv[0]);
      return 0;
    }
  }
  return 1;
}

static int open_listener(void) {
  int len = (int)sizeof g_listen_addr;
  g_listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  if (g_listener == INVALID_SOCKET) return 0;
  ZeroMemory(&g_listen_addr, sizeof g_listen_addr);
  g_listen_addr.sin_family = AF_INET;
  g_listen_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  g_listen_addr.sin_port = 0; /* an ephemeral port */
  return bind(g_listener, (const SOCKADDR*)&g_listen_addr, (int)sizeof g_listen_addr) == 0 &&
         listen(g_listener, SOMAXCONN) == 0 &&
         getsockname(g_listener, (SOCKADDR*)&g_listen_addr, &len) == 0 &&
         set_nonblocking(g_listener);
}

static int expect(int ok, const char* what) {
  printf("  %-52s %s\n", what, ok ? "ok" : "FAILED");
  return ok;
}

int main(int argc, char** argv) {
  WSADATA wsa;
  HANDLE watchdog;
  HANDLE* servers;
  server_stats* sstats;
  client_thread clients[MAX_CLIENT_THREADS];
  unsigned nclient_threads, i;
  server_stats total;
  unsigned long long sent = 0, verified = 0, mismatches = 0, client_failures = 0;
  unsigned long long expected_bytes;
  double t0, elapsed;
  int ok = 1;
  SOCK_NOTIFY_REGISTRATION listen_reg;
  DWORD rc;

  if (!parse_args(argc, argv)) return 2;
  expected_bytes = (unsigned long long)g_clients * g_bytes_per_client;
  nclient_threads = g_clients < MAX_CLIENT_THREADS ? g_clients : MAX_CLIENT_THREADS;

  if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
    fprintf(stderr, "WSAStartup failed\n");
    return 1;
  }

  g_finished = CreateEvent(NULL, TRUE, FALSE, NULL);
  if (g_finished == NULL) return 1;
  watchdog = CreateThread(NULL, 0, watchdog_main, NULL, 0, NULL);
  if (watchdog == NULL) return 1;
  t0 = now_seconds();

  /* One completion port; 0 = as many running threads as processors. */
  g_port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
  if (g_port == NULL) {
    fprintf(stderr, "CreateIoCompletionPort failed: %lu\n", (unsigned long)GetLastError());
    return 1;
  }
  if (!open_listener()) {
    fprintf(stderr, "listener: error %d\n", WSAGetLastError());
    return 1;
  }
  printf("psn echo demo: %u server threads, %u clients x %zu bytes, listening on 127.0.0.1:%u\n",
         g_server_threads, g_clients, g_bytes_per_client, (unsigned)ntohs(g_listen_addr.sin_port));

  /* Register the listener: one-shot, level-triggered, IN (a connection waits). */
  listen_reg =
      registration(g_listener, LISTENER_KEY, SOCK_NOTIFY_REGISTER_EVENT_IN, SOCK_NOTIFY_OP_ENABLE);
  rc = ProcessSocketNotifications(g_port, 1, &listen_reg, 0, 0, NULL, NULL);
  if (rc != ERROR_SUCCESS || listen_reg.registrationResult != ERROR_SUCCESS) {
    fprintf(stderr, "registering the listener failed: %lu / %lu\n", (unsigned long)rc,
            (unsigned long)listen_reg.registrationResult);
    return 1;
  }

  servers = (HANDLE*)calloc(g_server_threads, sizeof *servers);
  sstats = (server_stats*)calloc(g_server_threads, sizeof *sstats);
  if (servers == NULL || sstats == NULL) return 1;
  for (i = 0; i < g_server_threads; ++i) {
    servers[i] = CreateThread(NULL, 0, server_thread, &sstats[i], 0, NULL);
    if (servers[i] == NULL) {
      fprintf(stderr, "cannot start server thread %u: %lu\n", i, (unsigned long)GetLastError());
      return 1;
    }
  }

  ZeroMemory(clients, sizeof clients);
  for (i = 0; i < nclient_threads; ++i) {
    clients[i].first = i;
    clients[i].step = nclient_threads;
    clients[i].thread = CreateThread(NULL, 0, client_thread_main, &clients[i], 0, NULL);
    if (clients[i].thread == NULL) {
      fprintf(stderr, "cannot start client thread %u: %lu\n", i, (unsigned long)GetLastError());
      return 1;
    }
  }
  for (i = 0; i < nclient_threads; ++i) {
    WaitForSingleObject(clients[i].thread, INFINITE);
    CloseHandle(clients[i].thread);
    sent += clients[i].bytes_sent;
    verified += clients[i].bytes_verified;
    mismatches += clients[i].mismatches;
    client_failures += clients[i].failures;
  }

  /* Every client saw end-of-file, so every REMOVE has been issued; wait for
   * the server threads to free the last contexts. */
  while (read_counter(&g_live) != 0 || read_counter(&g_accepted) < (LONG64)g_clients) {
    if (client_failures != 0 && read_counter(&g_live) == 0) break;
    Sleep(5);
  }

  /* Tell each server thread to stop, then wait for them. */
  for (i = 0; i < g_server_threads; ++i) {
    if (!PostQueuedCompletionStatus(g_port, 0, STOP_KEY, NULL)) {
      fprintf(stderr, "PostQueuedCompletionStatus failed: %lu\n", (unsigned long)GetLastError());
      return 1;
    }
  }
  ZeroMemory(&total, sizeof total);
  for (i = 0; i < g_server_threads; ++i) {
    server_stats* s = &sstats[i];
    WaitForSingleObject(servers[i], INFINITE);
    CloseHandle(servers[i]);
    total.accepted += s->accepted;
    total.bytes_received += s->bytes_received;
    total.bytes_echoed += s->bytes_echoed;
    total.contexts_freed += s->contexts_freed;
    total.packets_in += s->packets_in;
    total.packets_out += s->packets_out;
    total.packets_hangup += s->packets_hangup;
    total.packets_err += s->packets_err;
    total.packets_remove += s->packets_remove;
    total.packets_posted += s->packets_posted;
    total.stops_handed_back += s->stops_handed_back;
    total.failures += s->failures;
  }
  elapsed = now_seconds() - t0;

  /* Closing the port drops the listener's registration. */
  if (!CloseHandle(g_port)) {
    fprintf(stderr, "CloseHandle failed: %lu\n", (unsigned long)GetLastError());
    ok = 0;
  }
  closesocket(g_listener);
  SetEvent(g_finished);
  WaitForSingleObject(watchdog, INFINITE);
  CloseHandle(watchdog);
  CloseHandle(g_finished);

  printf("summary\n");
  printf("  connections accepted      %llu\n", total.accepted);
  printf("  bytes received (server)   %llu\n", total.bytes_received);
  printf("  bytes echoed (server)     %llu\n", total.bytes_echoed);
  printf("  bytes sent (clients)      %llu\n", sent);
  printf("  bytes verified (clients)  %llu\n", verified);
  printf("  packets IN                %llu\n", total.packets_in);
  printf("  packets OUT               %llu\n", total.packets_out);
  printf("  packets HANGUP            %llu\n", total.packets_hangup);
  printf("  packets ERR               %llu\n", total.packets_err);
  printf("  packets REMOVE            %llu\n", total.packets_remove);
  printf("  packets posted (stop)     %llu (%llu handed back to another thread)\n",
         total.packets_posted, total.stops_handed_back);
  printf("  contexts freed            %llu\n", total.contexts_freed);
  printf("  elapsed                   %.3f s\n", elapsed);
  printf("checks\n");
  ok &= expect(total.accepted == g_clients, "every client was accepted");
  ok &= expect(sent == expected_bytes, "clients sent every byte");
  ok &= expect(total.bytes_received == expected_bytes, "server received every byte");
  ok &= expect(total.bytes_echoed == expected_bytes, "server echoed every byte");
  ok &= expect(verified == expected_bytes && mismatches == 0, "clients got every byte back intact");
  ok &= expect(total.packets_remove == total.accepted, "one REMOVE packet per connection");
  ok &= expect(total.contexts_freed == total.accepted && read_counter(&g_live) == 0,
               "every context freed on its REMOVE");
  ok &= expect(total.packets_posted - total.stops_handed_back == g_server_threads,
               "one stop packet per server thread");
  ok &= expect(total.packets_err == 0 && total.failures == 0 && client_failures == 0, "no errors");
  printf("%s\n", ok ? "PASS" : "FAIL");

  free(servers);
  free(sstats);
  WSACleanup();
  return ok ? 0 : 1;
}
