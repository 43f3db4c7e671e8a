/*
 * mt_server_scenario.c - the "Multi-threaded server" scenario of the Windows
 * documentation page "Winsock socket state notifications" (many threads on
 * one port), as a plain Windows program: Winsock and Win32 only, built on
 * Linux through psn-win32.
 *
 * What it shows:
 *
 *   - Several worker threads (CreateThread; --threads N, default twice the
 *     processors GetSystemInfo reports, at most MAXIMUM_WAIT_OBJECTS) wait on
 *     ONE I/O completion port, each in its own ProcessSocketNotifications
 *     call. Any worker may serve any socket. The port lets only as many run
 *     at once as there are processors and wakes the latest waiter first, so
 *     the per-worker lines printed at the end often show idle workers: that
 *     is the port keeping the machine from being over-subscribed.
 *   - Every socket, the listener included, is registered ONE-SHOT and
 *     LEVEL-TRIGGERED: the packet a worker takes disables the registration,
 *     so the socket and its connection state belong to that worker alone
 *     until it re-arms them. Per-connection state needs no lock.
 *   - A worker re-arms what it served IN THE SAME ProcessSocketNotifications
 *     call that waits for its next batch.
 *   - State the workers share -- the table of open connections and the
 *     server's statistics -- sits behind one SRWLOCK: exclusive to change it,
 *     shared to read it. The main thread sleeps on a CONDITION_VARIABLE
 *     (SleepConditionVariableSRW, shared mode) until the table has drained.
 *   - A connection leaves the table, and its memory is freed, only when its
 *     REMOVE notification arrives: no packet after that one carries its key.
 *   - Shutdown: one exit packet per worker, posted with
 *     PostQueuedCompletionStatus. A worker that finds two in one batch posts
 *     the extra one back for a sibling. The main thread waits for all the
 *     workers at once with WaitForMultipleObjects and checks each one's exit
 *     code with GetExitCodeThread.
 *
 * The program drives itself: --clients N connections (default 100) opened by
 * a few client threads with ordinary blocking sockets on 127.0.0.1, all open
 * at the same time. Each sends --bytes N (default 32 KiB) in pieces of varying
 * size, checks every echoed byte, shuts down its sending side (SD_SEND) and
 * expects end-of-file. The program prints a summary and exits 0 only when
 * every byte was echoed and verified, every connection was removed and freed,
 * and every worker took exactly one exit packet; 1 if a check failed, 2 for a
 * bad command line, 3 if the run took longer than --timeout S (default 60).
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

#define MAX_CONNECTIONS 1024  /* connection table size */
#define BATCH 16              /* notifications per ProcessSocketNotifications call */
#define ACCEPTS_PER_WAKEUP 16 /* connections accepted per listener notification */
#define IO_BUFFER 8192        /* bytes a connection reads before echoing them */
#define MAX_PIECE 6000        /* largest piece a client sends before reading its echo */
#define CLIENT_THREADS 8

/* ------------------------------------------------------------------------- */
/* State                                                                      */

/* One connection. Only the worker holding its packet touches it. */
typedef struct connection {
  SOCKET socket;
  ULONG slot;                   /* its index in the connection table */
  int pending;                  /* bytes in buf still to be echoed */
  int sent;                     /* of those, already sent */
  unsigned long long bytes_in;  /* received from the client */
  unsigned long long bytes_out; /* echoed back */
  char buf[IO_BUFFER];
} connection;

/* What every worker shares. */
typedef struct server {
  HANDLE port;
  SOCKET listener;
  SOCKADDR_IN address;

  SRWLOCK lock;               /* guards everything below */
  CONDITION_VARIABLE changed; /* woken when a connection leaves the table */
  connection* table[MAX_CONNECTIONS];
  ULONG free_slots[MAX_CONNECTIONS];
  ULONG free_count;
  ULONG live, peak;
  unsigned long long accepted, removed, refused;
  unsigned long long bytes_in, bytes_out; /* totals of removed connections */
} server;

/* One worker's own counters; the main thread reads them after the worker
 * has exited. */
typedef struct worker {
  HANDLE thread;
  DWORD thread_id;
  unsigned long long calls, notifications, exits_taken, exits_handed_back, failures;
} worker;

typedef struct client_thread {
  HANDLE thread;
  unsigned first, step; /* connections first, first+step, ... */
  unsigned long long connected, bytes_sent, bytes_verified, mismatches, failures;
} client_thread;

static server g_server;
static unsigned g_workers;
static unsigned g_clients = 100;
static unsigned long long g_bytes = 32 * 1024;
static unsigned g_timeout_s = 60;

/* Completion keys: a connection's is its address; the listener and the exit
 * packet use the addresses of these objects, which no connection can have. */
static char g_listener_tag, g_exit_tag;
#define LISTENER_KEY ((ULONG_PTR)&g_listener_tag)
#define EXIT_KEY ((ULONG_PTR)&g_exit_tag)

/* ------------------------------------------------------------------------- */
/* Registrations                                                              */

typedef struct change_list {
  SOCK_NOTIFY_REGISTRATION items[BATCH + ACCEPTS_PER_WAKEUP + 1];
  UINT32 count;
} change_list;

static void add_change(change_list* ch, SOCKET s, ULONG_PTR key, UINT16 filter, UINT8 op) {
  SOCK_NOTIFY_REGISTRATION* r = &ch->items[ch->count++];
  ZeroMemory(r, sizeof *r);
  r->socket = s;
  r->completionKey = (PVOID)key;
  r->eventFilter = filter;
  r->operation = op;
  r->triggerFlags = SOCK_NOTIFY_TRIGGER_ONESHOT | SOCK_NOTIFY_TRIGGER_LEVEL;
}

/* Re-arms a connection: OUT while an echo waits for room, else IN. */
static void rearm(change_list* ch, connection* c) {
  UINT16 filter = c->pending > c->sent
                      ? SOCK_NOTIFY_REGISTER_EVENT_OUT
                      : SOCK_NOTIFY_REGISTER_EVENT_IN | SOCK_NOTIFY_REGISTER_EVENT_HANGUP;
  add_change(ch, c->socket, (ULONG_PTR)c, filter, SOCK_NOTIFY_OP_ENABLE);
}

/* Ends a registration; the connection is retired when REMOVE arrives. */
static void request_remove(change_list* ch, connection* c) {
  add_change(ch, c->socket, (ULONG_PTR)c, SOCK_NOTIFY_REGISTER_EVENT_NONE, SOCK_NOTIFY_OP_REMOVE);
}

/* Counts the entries of the last call that failed. */
static unsigned long long failed_registrations(const change_list* ch) {
  unsigned long long failed = 0;
  UINT32 i;
  for (i = 0; i < ch->count; ++i) {
    if (ch->items[i].registrationResult != ERROR_SUCCESS) {
      fprintf(stderr, "worker %lu: registration of socket %llu failed: %lu\n",
              (unsigned long)GetCurrentThreadId(), (unsigned long long)ch->items[i].socket,
              (unsigned long)ch->items[i].registrationResult);
      ++failed;
    }
  }
  return failed;
}

/* ------------------------------------------------------------------------- */
/* Worker                                                                     */

/* Sends what the socket takes of the pending echo; FALSE if it failed. */
static BOOL flush_echo(connection* c) {
  while (c->sent < c->pending) {
    int n = send(c->socket, c->buf + c->sent, c->pending - c->sent, 0);
    if (n == SOCKET_ERROR) return WSAGetLastError() == WSAEWOULDBLOCK;
    c->sent += n;
    c->bytes_out += (unsigned long long)n;
  }
  c->pending = c->sent = 0;
  return TRUE;
}

/* A notification for a connection this worker now owns. */
static void on_connection(worker* w, connection* c, UINT32 events, change_list* ch) {
  if (events & SOCK_NOTIFY_EVENT_ERR) {
    ++w->failures;
    request_remove(ch, c);
    return;
  }
  if (c->pending > c->sent) {
    if (!flush_echo(c)) { /* OUT: finish the echo that was waiting for room */
      ++w->failures;
      request_remove(ch, c);
      return;
    }
  } else if (events & (SOCK_NOTIFY_EVENT_IN | SOCK_NOTIFY_EVENT_HANGUP)) {
    int n = recv(c->socket, c->buf, (int)sizeof c->buf, 0);
    if (n == 0) { /* the client shut down its side: we are done */
      request_remove(ch, c);
      return;
    }
    if (n == SOCKET_ERROR) {
      if (WSAGetLastError() != WSAEWOULDBLOCK) {
        ++w->failures;
        request_remove(ch, c);
        return;
      }
    } else {
      c->bytes_in += (unsigned long long)n;
      c->pending = n;
      c->sent = 0;
      if (!flush_echo(c)) {
        ++w->failures;
        request_remove(ch, c);
        return;
      }
    }
  }
  rearm(ch, c); /* level-triggered: more data already waiting notifies at once */
}

/* The listener's notification: accept, enter each connection in the table,
 * register it, then re-arm the listener. */
static void on_listener(worker* w, UINT32 events, change_list* ch) {
  server* srv = &g_server;
  int i;
  if (events & SOCK_NOTIFY_EVENT_ERR) ++w->failures;
  for (i = 0; i < ACCEPTS_PER_WAKEUP; ++i) {
    u_long nonblocking = 1;
    BOOL nodelay = TRUE;
    BOOL admitted = FALSE;
    connection* c;
    SOCKET s = accept(srv->listener, NULL, NULL);
    if (s == INVALID_SOCKET) {
      int error = WSAGetLastError();
      if (error == WSAECONNABORTED || error == WSAECONNRESET) continue;
      if (error != WSAEWOULDBLOCK) ++w->failures;
      break;
    }
    c = (connection*)calloc(1, sizeof *c);
    if (c == NULL || ioctlsocket(s, FIONBIO, &nonblocking) != 0) {
      ++w->failures;
      free(c);
      closesocket(s);
      continue;
    }
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char*)&nodelay, (int)sizeof nodelay);
    c->socket = s;

    AcquireSRWLockExclusive(&srv->lock);
    if (srv->free_count > 0) {
      c->slot = srv->free_slots[--srv->free_count];
      srv->table[c->slot] = c;
      ++srv->accepted;
      if (++srv->live > srv->peak) srv->peak = srv->live;
      admitted = TRUE;
    } else {
      ++srv->refused;
    }
    ReleaseSRWLockExclusive(&srv->lock);

    if (!admitted) { /* the table is full: turn the connection away */
      closesocket(s);
      free(c);
      continue;
    }
    add_change(ch, s, (ULONG_PTR)c,
               SOCK_NOTIFY_REGISTER_EVENT_IN | SOCK_NOTIFY_REGISTER_EVENT_HANGUP,
               SOCK_NOTIFY_OP_ENABLE);
  }
  add_change(ch, srv->listener, LISTENER_KEY, SOCK_NOTIFY_REGISTER_EVENT_IN, SOCK_NOTIFY_OP_ENABLE);
}

/* REMOVE: the connection's last packet. Close it, take it out of the table,
 * add its counts to the totals, free it. */
static void retire(worker* w, connection* c) {
  server* srv = &g_server;
  if (closesocket(c->socket) != 0) ++w->failures;
  AcquireSRWLockExclusive(&srv->lock);
  srv->table[c->slot] = NULL;
  srv->free_slots[srv->free_count++] = c->slot;
  --srv->live;
  ++srv->removed;
  srv->bytes_in += c->bytes_in;
  srv->bytes_out += c->bytes_out;
  ReleaseSRWLockExclusive(&srv->lock);
  WakeAllConditionVariable(&srv->changed);
  free(c);
}

static DWORD WINAPI worker_main(LPVOID param) {
  worker* w = (worker*)param;
  change_list ch;
  OVERLAPPED_ENTRY entries[BATCH];
  BOOL exiting = FALSE;
  ch.count = 0;
  w->thread_id = GetCurrentThreadId();

  while (!exiting) {
    UINT32 received = 0, i;
    /* Re-arm what the last batch served, and wait for the next: one call. */
    DWORD rc = ProcessSocketNotifications(g_server.port, ch.count, ch.count ? ch.items : NULL,
                                          INFINITE, BATCH, entries, &received);
    ++w->calls;
    if (rc != ERROR_SUCCESS) {
      fprintf(stderr, "worker %lu: ProcessSocketNotifications failed: %lu\n",
              (unsigned long)w->thread_id, (unsigned long)rc);
      ++w->failures;
      break;
    }
    w->failures += failed_registrations(&ch);
    ch.count = 0;

    for (i = 0; i < received; ++i) {
      ULONG_PTR key = entries[i].lpCompletionKey;
      UINT32 events;
      if (key == EXIT_KEY) {
        ++w->exits_taken;
        if (exiting) { /* a second one in this batch is a sibling's */
          ++w->exits_handed_back;
          if (!PostQueuedCompletionStatus(g_server.port, 0, EXIT_KEY, NULL)) ++w->failures;
        }
        exiting = TRUE; /* finish the batch first: its packets disabled their sockets */
        continue;
      }
      ++w->notifications;
      events = SocketNotificationRetrieveEvents(&entries[i]);
      if (key == LISTENER_KEY) {
        if (!(events & SOCK_NOTIFY_EVENT_REMOVE)) on_listener(w, events, &ch);
      } else if (events & SOCK_NOTIFY_EVENT_REMOVE) {
        retire(w, (connection*)key);
      } else {
        on_connection(w, (connection*)key, events, &ch);
      }
    }
  }

  /* Leave nothing disabled behind: apply the last re-arms without waiting. */
  if (ch.count > 0) {
    if (ProcessSocketNotifications(g_server.port, ch.count, ch.items, 0, 0, NULL, NULL) !=
        ERROR_SUCCESS)
      ++w->failures;
    else
      w->failures += failed_registrations(&ch);
  }
  return w->failures == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------------- */
/* Clients                                                                    */

static unsigned char pattern(unsigned id, unsigned long long offset) {
  return (unsigned char)(offset * 13u + (offset >> 7) + id * 59u);
}

/* The size of a client's next piece: varies with the client and the offset. */
static int piece_size(unsigned id, unsigned long long offset, unsigned long long left) {
  unsigned long long n = 1 + (id * 977u + offset * 7u) % MAX_PIECE;
  return (int)(n < left ? n : left);
}

static BOOL send_all(SOCKET s, const unsigned char* p, int n) {
  while (n > 0) {
    int r = send(s, (const char*)p, n, 0);
    if (r <= 0) return FALSE;
    p += r;
    n -= r;
  }
  return TRUE;
}

static BOOL recv_all(SOCKET s, unsigned char* p, int n) {
  while (n > 0) {
    int r = recv(s, (char*)p, n, 0);
    if (r <= 0) return FALSE;
    p += r;
    n -= r;
  }
  return TRUE;
}

static void drop(client_thread* t, SOCKET* s, unsigned id, const char* what) {
  fprintf(stderr, "client %u: %s failed (error %d)\n", id, what, WSAGetLastError());
  ++t->failures;
  closesocket(*s);
  *s = INVALID_SOCKET;
}

static DWORD WINAPI client_main(LPVOID param) {
  client_thread* t = (client_thread*)param;
  unsigned count = 0, i, id;
  SOCKET* socks;
  unsigned long long* offsets;
  unsigned char out[MAX_PIECE], in[MAX_PIECE];
  BOOL more = TRUE;

  for (id = t->first; id < g_clients; id += t->step) ++count;
  socks = (SOCKET*)calloc(count + 1, sizeof *socks);
  offsets = (unsigned long long*)calloc(count + 1, sizeof *offsets);
  if (socks == NULL || offsets == NULL) {
    ++t->failures;
    free(socks);
    free(offsets);
    return 1;
  }

  /* Open all of this thread's connections first: they are all live at once. */
  for (i = 0, id = t->first; i < count; ++i, id += t->step) {
    socks[i] = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (socks[i] == INVALID_SOCKET) {
      fprintf(stderr, "client %u: socket failed (error %d)\n", id, WSAGetLastError());
      ++t->failures;
    } else if (connect(socks[i], (const SOCKADDR*)&g_server.address,
                       (int)sizeof g_server.address) != 0) {
      drop(t, &socks[i], id, "connect");
    } else {
      ++t->connected;
    }
  }

  /* Round by round: on each connection in turn, one piece and its echo. */
  while (more) {
    more = FALSE;
    for (i = 0, id = t->first; i < count; ++i, id += t->step) {
      int n, k;
      if (socks[i] == INVALID_SOCKET || offsets[i] >= g_bytes) continue;
      n = piece_size(id, offsets[i], g_bytes - offsets[i]);
      for (k = 0; k < n; ++k) out[k] = pattern(id, offsets[i] + (unsigned long long)k);
      if (!send_all(socks[i], out, n)) {
        drop(t, &socks[i], id, "send");
        continue;
      }
      t->bytes_sent += (unsigned long long)n;
      if (!recv_all(socks[i], in, n)) {
        drop(t, &socks[i], id, "receiving the echo");
        continue;
      }
      for (k = 0; k < n; ++k)
        if (in[k] != out[k]) ++t->mismatches;
      t->bytes_verified += (unsigned long long)n;
      offsets[i] += (unsigned long long)n;
      if (offsets[i] < g_bytes) more = TRUE;
    }
  }

  /* Done: shut down the sending side; the server reads end-of-file, removes
   * the registration and closes on REMOVE, and we read end-of-file. */
  for (i = 0, id = t->first; i < count; ++i, id += t->step) {
    char extra;
    int r;
    if (socks[i] == INVALID_SOCKET) continue;
    if (shutdown(socks[i], SD_SEND) != 0) {
      drop(t, &socks[i], id, "shutdown");
      continue;
    }
    r = recv(socks[i], &extra, 1, 0);
    if (r != 0) {
      fprintf(stderr, "client %u: expected end-of-file, got %d (error %d)\n", id, r,
              r < 0 ? WSAGetLastError() : 0);
      ++t->failures;
    }
    closesocket(socks[i]);
  }
  free(socks);
  free(offsets);
  return 0;
}

/* ------------------------------------------------------------------------- */
/* Main                                                                       */

static BOOL parse_number(const char* s, unsigned long long min, unsigned long long max,
                         unsigned long long* out) {
  unsigned long long v = 0;
  if (*s == '\0') return FALSE;
  for (; *s != '\0'; ++s) {
    if (*s < '0' || *s > '9') return FALSE;
    v = v * 10 + (unsigned long long)(*s - '0');
    if (v > max) return FALSE;
  }
  if (v < min) return FALSE;
  *out = v;
  return TRUE;
}

static BOOL parse_args(int argc, char** argv) {
  int i;
  for (i = 1; i + 1 < argc; i += 2) {
    unsigned long long v;
    const char* opt = argv[i];
    const char* arg = argv[i + 1];
    if (strcmp(opt, "--threads") == 0 && parse_number(arg, 1, MAXIMUM_WAIT_OBJECTS, &v))
      g_workers = (unsigned)v;
    else if (strcmp(opt, "--clients") == 0 && parse_number(arg, 1, MAX_CONNECTIONS, &v))
      g_clients = (unsigned)v;
    else if (strcmp(opt, "--bytes") == 0 && parse_number(arg, 0, 1ull << 30, &v))
      g_bytes = v;
    else if (strcmp(opt, "--timeout") == 0 && parse_number(arg, 1, 86400, &v))
      g_timeout_s = (unsigned)v;
    else
      break;
  }
  if (i == argc) return TRUE;
  fprintf(stderr,
          "usage: %s [--threads N] [--clients N] [--bytes N] [--timeout S]\n"
          "  --threads N   worker threads on the port (1..%d; default twice the processors)\n"
          "  --clients N   client connections, all open at once (1..%d; default 100)\n"
          "  --bytes N     bytes each connection sends and expects back (default 32768)\n"
          "  --timeout S   fail if the run takes longer (default 60)\n",
          argv[0], MAXIMUM_WAIT_OBJECTS, MAX_CONNECTIONS);
  return FALSE;
}

static DWORD ms_left(unsigned long long deadline) {
  unsigned long long now = GetTickCount64();
  return now >= deadline ? 0 : (DWORD)(deadline - now);
}

/* Nothing can be cleaned up when a thread is stuck: report and leave. */
static void give_up(const char* what) {
  fprintf(stderr, "timed out after %u s waiting for %s\n", g_timeout_s, what);
  fflush(stderr);
  _Exit(3);
}

static BOOL check(BOOL ok, const char* what) {
  printf("  %-50s %s\n", what, ok ? "ok" : "FAILED");
  return ok;
}

static BOOL open_listener(server* srv) {
  u_long nonblocking = 1;
  int len = (int)sizeof srv->address;
  srv->listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  if (srv->listener == INVALID_SOCKET) return FALSE;
  ZeroMemory(&srv->address, sizeof srv->address);
  srv->address.sin_family = AF_INET;
  srv->address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  srv->address.sin_port = 0; /* an ephemeral port */
  return bind(srv->listener, (const SOCKADDR*)&srv->address, (int)sizeof srv->address) == 0 &&
         listen(srv->listener, SOMAXCONN) == 0 &&
         getsockname(srv->listener, (SOCKADDR*)&srv->address, &len) == 0 &&
         ioctlsocket(srv->listener, FIONBIO, &nonblocking) == 0;
}

int main(int argc, char** argv) {
  server* srv = &g_server;
  WSADATA wsa;
  SYSTEM_INFO si;
  worker workers[MAXIMUM_WAIT_OBJECTS];
  HANDLE worker_handles[MAXIMUM_WAIT_OBJECTS];
  client_thread clients[CLIENT_THREADS];
  HANDLE client_handles[CLIENT_THREADS];
  unsigned nclient_threads, i;
  unsigned long long deadline, started, connected = 0, sent = 0, verified = 0, mismatches = 0;
  unsigned long long client_failures = 0, worker_failures = 0, exits_taken = 0, handed_back = 0;
  ULONG live, peak;
  unsigned long long accepted, removed, refused, bytes_in, bytes_out;
  SOCK_NOTIFY_REGISTRATION listen_reg;
  BOOL ok = TRUE, workers_ok = TRUE;
  DWORD rc;

  GetSystemInfo(&si);
  g_workers = 2 * si.dwNumberOfProcessors;
  if (g_workers < 2) g_workers = 2;
  if (g_workers > MAXIMUM_WAIT_OBJECTS) g_workers = MAXIMUM_WAIT_OBJECTS;
  if (!parse_args(argc, argv)) return 2;
  nclient_threads = g_clients < CLIENT_THREADS ? g_clients : CLIENT_THREADS;

  if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
    fprintf(stderr, "WSAStartup failed\n");
    return 1;
  }
  started = GetTickCount64();
  deadline = started + (unsigned long long)g_timeout_s * 1000u;

  InitializeSRWLock(&srv->lock);
  InitializeConditionVariable(&srv->changed);
  for (i = 0; i < MAX_CONNECTIONS; ++i) srv->free_slots[i] = MAX_CONNECTIONS - 1 - i;
  srv->free_count = MAX_CONNECTIONS;

  /* The port: 0 lets as many workers run at once as there are processors. */
  srv->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
  if (srv->port == NULL) {
    fprintf(stderr, "CreateIoCompletionPort failed: %lu\n", (unsigned long)GetLastError());
    return 1;
  }
  if (!open_listener(srv)) {
    fprintf(stderr, "listener: error %d\n", WSAGetLastError());
    return 1;
  }
  ZeroMemory(&listen_reg, sizeof listen_reg);
  listen_reg.socket = srv->listener;
  listen_reg.completionKey = (PVOID)LISTENER_KEY;
  listen_reg.eventFilter = SOCK_NOTIFY_REGISTER_EVENT_IN;
  listen_reg.operation = SOCK_NOTIFY_OP_ENABLE;
  listen_reg.triggerFlags = SOCK_NOTIFY_TRIGGER_ONESHOT | SOCK_NOTIFY_TRIGGER_LEVEL;
  rc = ProcessSocketNotifications(srv->port, 1, &listen_reg, 0, 0, NULL, NULL);
  if (rc != ERROR_SUCCESS || listen_reg.registrationResult != ERROR_SUCCESS) {
    fprintf(stderr, "registering the listener failed: %lu / %lu\n", (unsigned long)rc,
            (unsigned long)listen_reg.registrationResult);
    return 1;
  }
  printf(
      "multi-threaded server scenario: %u workers on one port, %u connections x %llu bytes, "
      "127.0.0.1:%u\n",
      g_workers, g_clients, g_bytes, (unsigned)ntohs(srv->address.sin_port));

  ZeroMemory(workers, sizeof workers);
  for (i = 0; i < g_workers; ++i) {
    worker_handles[i] = workers[i].thread =
        CreateThread(NULL, 0, worker_main, &workers[i], 0, NULL);
    if (worker_handles[i] == NULL) {
      fprintf(stderr, "cannot start worker %u: %lu\n", i, (unsigned long)GetLastError());
      return 1;
    }
  }
  ZeroMemory(clients, sizeof clients);
  for (i = 0; i < nclient_threads; ++i) {
    clients[i].first = i;
    clients[i].step = nclient_threads;
    client_handles[i] = clients[i].thread =
        CreateThread(NULL, 0, client_main, &clients[i], 0, NULL);
    if (client_handles[i] == NULL) {
      fprintf(stderr, "cannot start client thread %u: %lu\n", i, (unsigned long)GetLastError());
      return 1;
    }
  }

  /* 1. The clients finish. */
  rc = WaitForMultipleObjects(nclient_threads, client_handles, TRUE, ms_left(deadline));
  if (rc == WAIT_TIMEOUT) give_up("the clients");
  if (rc == WAIT_FAILED) {
    fprintf(stderr, "WaitForMultipleObjects failed: %lu\n", (unsigned long)GetLastError());
    return 1;
  }
  for (i = 0; i < nclient_threads; ++i) {
    CloseHandle(client_handles[i]);
    connected += clients[i].connected;
    sent += clients[i].bytes_sent;
    verified += clients[i].bytes_verified;
    mismatches += clients[i].mismatches;
    client_failures += clients[i].failures;
  }

  /* 2. Every connection a client opened leaves the table (its REMOVE packet
   * was handled). Reading only, so the lock is held shared. */
  AcquireSRWLockShared(&srv->lock);
  while (srv->removed + srv->refused < connected) {
    if (!SleepConditionVariableSRW(&srv->changed, &srv->lock, ms_left(deadline),
                                   CONDITION_VARIABLE_LOCKMODE_SHARED)) {
      if (GetLastError() == ERROR_TIMEOUT) give_up("the connection table to drain");
    }
  }
  ReleaseSRWLockShared(&srv->lock);

  /* 3. One exit packet per worker, then wait for all of them at once. */
  for (i = 0; i < g_workers; ++i) {
    if (!PostQueuedCompletionStatus(srv->port, 0, EXIT_KEY, NULL)) {
      fprintf(stderr, "PostQueuedCompletionStatus failed: %lu\n", (unsigned long)GetLastError());
      return 1;
    }
  }
  rc = WaitForMultipleObjects(g_workers, worker_handles, TRUE, ms_left(deadline));
  if (rc == WAIT_TIMEOUT) give_up("the workers");
  if (rc == WAIT_FAILED) {
    fprintf(stderr, "WaitForMultipleObjects failed: %lu\n", (unsigned long)GetLastError());
    return 1;
  }
  for (i = 0; i < g_workers; ++i) {
    DWORD code = STILL_ACTIVE;
    worker* w = &workers[i];
    if (!GetExitCodeThread(worker_handles[i], &code) || code != 0) workers_ok = FALSE;
    CloseHandle(worker_handles[i]);
    printf(
        "  worker %2u: %6llu notifications in %6llu calls, %llu exit packet(s) taken, "
        "%llu handed back, exit code %lu\n",
        i, w->notifications, w->calls, w->exits_taken, w->exits_handed_back, (unsigned long)code);
    exits_taken += w->exits_taken;
    handed_back += w->exits_handed_back;
    worker_failures += w->failures;
  }

  /* 4. The workers are gone; a last look at the shared state. */
  AcquireSRWLockShared(&srv->lock);
  live = srv->live;
  peak = srv->peak;
  accepted = srv->accepted;
  removed = srv->removed;
  refused = srv->refused;
  bytes_in = srv->bytes_in;
  bytes_out = srv->bytes_out;
  ReleaseSRWLockShared(&srv->lock);
  /* Anything still in the table would be closed here; a clean run has none. */
  for (i = 0; i < MAX_CONNECTIONS; ++i) {
    if (srv->table[i] != NULL) {
      closesocket(srv->table[i]->socket);
      free(srv->table[i]);
      srv->table[i] = NULL;
    }
  }
  if (!CloseHandle(srv->port)) {
    fprintf(stderr, "CloseHandle(port) failed: %lu\n", (unsigned long)GetLastError());
    ok = FALSE;
  }
  closesocket(srv->listener);
  WSACleanup();

  printf("summary\n");
  printf("  connections opened by clients  %llu\n", connected);
  printf("  connections accepted           %llu (at most %lu open at once)\n", accepted,
         (unsigned long)peak);
  printf("  connections removed and freed  %llu\n", removed);
  printf("  connections refused            %llu\n", refused);
  printf("  bytes sent by clients          %llu\n", sent);
  printf("  bytes received by the server   %llu\n", bytes_in);
  printf("  bytes echoed by the server     %llu\n", bytes_out);
  printf("  bytes verified by clients      %llu\n", verified);
  printf("  exit packets taken             %llu (%llu handed back)\n", exits_taken, handed_back);
  printf("  elapsed                        %.3f s\n", (double)(GetTickCount64() - started) / 1e3);
  printf("checks\n");
  {
    unsigned long long expected = (unsigned long long)g_clients * g_bytes;
    ok &= check(connected == g_clients && accepted == g_clients && refused == 0,
                "every connection opened and accepted");
    ok &= check(sent == expected && bytes_in == expected, "the server received every byte");
    ok &= check(bytes_out == expected, "the server echoed every byte");
    ok &= check(verified == expected && mismatches == 0, "the clients got every byte back intact");
    ok &= check(removed == accepted && live == 0, "every connection removed and freed on REMOVE");
    ok &= check(exits_taken - handed_back == g_workers, "one exit packet per worker");
    ok &= check(workers_ok && worker_failures == 0 && client_failures == 0,
                "no errors; every worker exited with code 0");
  }
  printf("%s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
