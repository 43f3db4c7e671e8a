/*
 * iocp_echo_server.c - the classic Windows I/O completion port echo server and
 * a client for it: a plain Windows program (Winsock and Win32 only), built on
 * Linux through psn-win32.
 *
 * Server:  iocp_echo_server [--port P] [--connections N]
 *   Listens on 127.0.0.1:P (0, the default: any free port) and prints
 *   "listening on PORT" first. THREADS workers loop on GetQueuedCompletionStatus.
 *   AcceptEx and GetAcceptExSockaddrs come from
 *   WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER); ACCEPTS AcceptEx calls stay
 *   under way, each into a fresh socket. An accepted socket gets
 *   SO_UPDATE_ACCEPT_CONTEXT, is associated with the port (its key is its
 *   context) and gets a WSARecv; what arrives goes back with WSASend, and the
 *   next WSARecv starts when that send completes; 0 bytes or an error closes
 *   it. The context has one OVERLAPPED per direction, counts its operations
 *   under way and is freed only when the last of them has been dequeued.
 *   After N connections (--connections N), or when a connection sends "quit"
 *   and a newline first, the main thread cancels the AcceptEx calls
 *   (CancelIoEx on the listener) and the open connections, waits until every
 *   context is freed, posts one exit packet per worker, waits for them
 *   (WaitForMultipleObjects), closes the port and prints
 *   "served C connections, echoed B bytes, E errors". Exit status 0.
 *
 * Client:  iocp_echo_server --client HOST PORT CONNS MSGS SIZE
 *   CONNS connections by ConnectEx (each socket bound to 127.0.0.1:0 first, as
 *   ConnectEx requires), each sending MSGS messages of SIZE bytes in turn. A
 *   message's WSASend and the WSARecv of its echo run at the same time, so a
 *   message larger than the socket buffers cannot deadlock. Exit status 0 only
 *   if every byte came back as it was sent.
 */
/* On Windows <winsock2.h> must come before <windows.h>: keep this order. */
/* clang-format off */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma comment(lib, "Ws2_32.lib")

#define THREADS 4                               /* worker threads on the port, in both modes */
#define ACCEPTS 16                              /* AcceptEx calls kept under way */
#define BUFFER_SIZE 16384                       /* what one server WSARecv takes */
#define ADDRESS_SLOT (sizeof(SOCKADDR_IN) + 16) /* AcceptEx wants 16 spare bytes */
#define CLIENT_TIMEOUT_MS 60000

/* ------------------------------------------------------------------------- */
/* Shared by both modes                                                       */

typedef enum op_kind { OP_ACCEPT, OP_CONNECT, OP_RECV, OP_SEND } op_kind;
static const char* const g_op_names[] = {"AcceptEx", "ConnectEx", "WSARecv", "WSASend"};

/* An OVERLAPPED and what it is for. The port hands back the OVERLAPPED*; the
 * surrounding record is found with CONTAINING_RECORD. */
typedef struct io_op {
  OVERLAPPED ov;
  op_kind kind;
} io_op;

/* A completion as a worker dequeued it. */
typedef void (*completion_handler)(ULONG_PTR key, io_op* op, DWORD bytes, DWORD error);

static HANDLE g_port;
static HANDLE g_workers[THREADS];
static completion_handler g_handler;

/* The exit packet's key: the address of an object no context can share. */
static char g_exit_tag;
#define EXIT_KEY ((ULONG_PTR)&g_exit_tag)

static DWORD WINAPI worker_main(LPVOID unused) {
  UNREFERENCED_PARAMETER(unused);
  for (;;) {
    DWORD bytes = 0;
    ULONG_PTR key = 0;
    OVERLAPPED* ov = NULL;
    BOOL ok = GetQueuedCompletionStatus(g_port, &bytes, &key, &ov, INFINITE);
    /* FALSE with an OVERLAPPED: that operation failed; the error is its own. */
    DWORD error = ok ? ERROR_SUCCESS : GetLastError();
    if (ov == NULL) {
      if (ok && key == EXIT_KEY) return 0;
      fprintf(stderr, "GetQueuedCompletionStatus failed: %lu\n", (unsigned long)error);
      return 1;
    }
    g_handler(key, CONTAINING_RECORD(ov, io_op, ov), bytes, error);
  }
}

static BOOL start_workers(completion_handler handler) {
  int i;
  g_handler = handler;
  for (i = 0; i < THREADS; ++i) {
    g_workers[i] = CreateThread(NULL, 0, worker_main, NULL, 0, NULL);
    if (g_workers[i] == NULL) return FALSE;
  }
  return TRUE;
}

/* One exit packet per worker; TRUE if every worker ended cleanly. */
static BOOL stop_workers(void) {
  BOOL clean = TRUE;
  int i;
  for (i = 0; i < THREADS; ++i) PostQueuedCompletionStatus(g_port, 0, EXIT_KEY, NULL);
  WaitForMultipleObjects(THREADS, g_workers, TRUE, INFINITE);
  for (i = 0; i < THREADS; ++i) {
    DWORD code = 1;
    GetExitCodeThread(g_workers[i], &code);
    clean &= code == 0;
    CloseHandle(g_workers[i]);
  }
  return clean;
}

/* Started (completion to come, even if it finished at once) or failed. */
static BOOL started(BOOL ok) {
  return ok || WSAGetLastError() == WSA_IO_PENDING;
}

static BOOL get_extension(SOCKET s, GUID id, void* fn, DWORD size) {
  DWORD got = 0;
  return WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id, fn, size, &got, NULL,
                  NULL) == 0;
}

static SOCKET new_socket(void) {
  return WSASocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
}

static SOCKADDR_IN ipv4_address(const char* host, USHORT port) {
  SOCKADDR_IN a;
  ZeroMemory(&a, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) a.sin_family = AF_UNSPEC;
  return a;
}

/* ------------------------------------------------------------------------- */
/* Server                                                                     */

typedef struct acceptor {
  io_op op;                         /* OP_ACCEPT */
  SOCKET s;                         /* the socket the next connection lands in */
  char addresses[2 * ADDRESS_SLOT]; /* AcceptEx stores both addresses here */
} acceptor;

typedef struct connection {
  io_op recv_op, send_op; /* one OVERLAPPED per direction */
  SOCKET s;
  USHORT peer_port;
  CRITICAL_SECTION lock; /* guards the fields below */
  LONG outstanding;      /* operations started and not yet dequeued */
  BOOL closing;          /* start no new operation */
  BOOL quit;             /* this connection asked the server to stop */
  DWORD length, sent;    /* bytes in buf being echoed; of those, sent */
  LONG64 received;
  struct connection *prev, *next; /* in g_connections, under g_lock */
  char buf[BUFFER_SIZE];
} connection;

static SOCKET g_listener;
static LPFN_ACCEPTEX g_AcceptEx;
static LPFN_GETACCEPTEXSOCKADDRS g_GetAcceptExSockaddrs;
static acceptor g_acceptors[ACCEPTS];

static CRITICAL_SECTION g_lock; /* guards the four below */
static connection* g_connections;
static BOOL g_stopping;
static LONG g_accepts_pending; /* acceptors with an AcceptEx under way */
static LONG g_live;            /* connection contexts not yet freed */

static HANDLE g_stop_requested; /* set when the server should stop */
static HANDLE g_drained;        /* set when, stopping, nothing is under way any more */
static LONG64 g_limit, g_served, g_bytes_echoed, g_errors;

static char g_listener_tag;
#define LISTENER_KEY ((ULONG_PTR)&g_listener_tag)

static void report(const char* what, const connection* c, DWORD error) {
  if (c) fprintf(stderr, "connection from port %u: ", (unsigned)c->peer_port);
  fprintf(stderr, "%s failed: %lu\n", what, (unsigned long)error);
  InterlockedIncrement64(&g_errors);
}

/* With g_lock held. */
static void check_drained(void) {
  if (g_stopping && g_accepts_pending == 0 && g_live == 0) SetEvent(g_drained);
}

/* With g_lock held: a fresh socket and an AcceptEx into it. */
static BOOL post_accept(acceptor* a) {
  DWORD bytes = 0;
  a->s = new_socket();
  if (a->s == INVALID_SOCKET) return FALSE;
  ZeroMemory(&a->op.ov, sizeof a->op.ov);
  /* No receive buffer: complete on the connection, not on its first bytes. */
  if (started(g_AcceptEx(g_listener, a->s, a->addresses, 0, ADDRESS_SLOT, ADDRESS_SLOT, &bytes,
                         &a->op.ov)))
    return TRUE;
  report("AcceptEx", NULL, (DWORD)WSAGetLastError());
  closesocket(a->s);
  a->s = INVALID_SOCKET;
  return FALSE;
}

/* With c->lock held: the next receive, or (the rest of) the echo. Counted
 * before the lock is left, so a worker that dequeues its completion at once
 * finds it counted. */
static void post(connection* c, io_op* op) {
  WSABUF b;
  DWORD flags = 0;
  BOOL ok;
  if (c->closing) return;
  ZeroMemory(&op->ov, sizeof op->ov);
  if (op->kind == OP_RECV) {
    b.buf = c->buf;
    b.len = sizeof c->buf;
    ok = WSARecv(c->s, &b, 1, NULL, &flags, &op->ov, NULL) == 0;
  } else {
    b.buf = c->buf + c->sent;
    b.len = c->length - c->sent;
    ok = WSASend(c->s, &b, 1, NULL, 0, &op->ov, NULL) == 0;
  }
  if (started(ok)) {
    ++c->outstanding;
  } else {
    report(g_op_names[op->kind], c, (DWORD)WSAGetLastError());
    c->closing = TRUE;
  }
}

/* Leaves c->lock; frees the connection if nothing of it is under way. */
static void release(connection* c) {
  BOOL last = c->outstanding == 0;
  LeaveCriticalSection(&c->lock);
  if (!last) return;
  if (!c->quit && InterlockedIncrement64(&g_served) == g_limit) SetEvent(g_stop_requested);
  /* No completion can name c any more: no other thread touches it but the
   * stopping main thread, which does so only under g_lock while c is listed. */
  EnterCriticalSection(&g_lock);
  if (c->prev)
    c->prev->next = c->next;
  else
    g_connections = c->next;
  if (c->next) c->next->prev = c->prev;
  --g_live;
  check_drained();
  LeaveCriticalSection(&g_lock);
  closesocket(c->s);
  DeleteCriticalSection(&c->lock);
  free(c);
}

/* A connection accepted into s: set it up and start receiving. */
static void start_connection(acceptor* a, SOCKET s) {
  SOCKADDR *local = NULL, *remote = NULL;
  INT local_len = 0, remote_len = 0;
  connection* c;
  c = (connection*)calloc(1, sizeof *c);
  /* The accepted socket takes on the listener's properties. */
  if (c == NULL || setsockopt(s, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (char*)&g_listener,
                              sizeof g_listener) != 0) {
    report("setting up an accepted connection", NULL, (DWORD)WSAGetLastError());
    closesocket(s);
    free(c);
    return;
  }
  g_GetAcceptExSockaddrs(a->addresses, 0, ADDRESS_SLOT, ADDRESS_SLOT, &local, &local_len, &remote,
                         &remote_len);
  if (remote != NULL && remote->sa_family == AF_INET)
    c->peer_port = ntohs(((SOCKADDR_IN*)remote)->sin_port);
  c->s = s;
  c->recv_op.kind = OP_RECV;
  c->send_op.kind = OP_SEND;
  InitializeCriticalSection(&c->lock);
  /* Its completions carry the context as their key. */
  if (CreateIoCompletionPort((HANDLE)s, g_port, (ULONG_PTR)c, 0) != g_port) {
    report("CreateIoCompletionPort", c, GetLastError());
    c->closing = TRUE;
  }
  EnterCriticalSection(&g_lock);
  if (g_stopping) c->closing = TRUE; /* the main thread's sweep is over: do not start */
  c->next = g_connections;
  if (g_connections) g_connections->prev = c;
  g_connections = c;
  ++g_live;
  LeaveCriticalSection(&g_lock);
  EnterCriticalSection(&c->lock);
  post(c, &c->recv_op);
  release(c);
}

static void on_accept(acceptor* a, DWORD error) {
  SOCKET s = a->s;
  a->s = INVALID_SOCKET;
  if (error == ERROR_SUCCESS) {
    start_connection(a, s);
  } else {
    if (error != ERROR_OPERATION_ABORTED) report("AcceptEx", NULL, error);
    closesocket(s);
  }
  EnterCriticalSection(&g_lock);
  if (g_stopping || !post_accept(a)) {
    --g_accepts_pending;
    check_drained();
  }
  LeaveCriticalSection(&g_lock);
}

static BOOL is_quit(const char* p, DWORD n) {
  return n >= 5 && memcmp(p, "quit", 4) == 0 && (p[4] == '\n' || p[4] == '\r');
}

static void on_connection_io(connection* c, io_op* op, DWORD bytes, DWORD error) {
  EnterCriticalSection(&c->lock);
  --c->outstanding;
  if (error != ERROR_SUCCESS) {
    if (error != ERROR_OPERATION_ABORTED) report(g_op_names[op->kind], c, error);
    c->closing = TRUE;
  } else if (op->kind == OP_RECV) {
    if (bytes == 0) { /* the client closed its side */
      c->closing = TRUE;
    } else if (c->received == 0 && is_quit(c->buf, bytes)) {
      c->quit = c->closing = TRUE;
      SetEvent(g_stop_requested);
    } else {
      c->received += bytes;
      c->length = bytes;
      c->sent = 0;
      post(c, &c->send_op);
    }
  } else { /* OP_SEND: all of it, unless it failed; continue a short one anyway */
    c->sent += bytes;
    InterlockedExchangeAdd64(&g_bytes_echoed, (LONG64)bytes);
    post(c, c->sent < c->length ? &c->send_op : &c->recv_op);
  }
  release(c);
}

static void server_completion(ULONG_PTR key, io_op* op, DWORD bytes, DWORD error) {
  if (key == LISTENER_KEY)
    on_accept(CONTAINING_RECORD(op, acceptor, op), error);
  else
    on_connection_io((connection*)key, op, bytes, error);
}

static int run_server(USHORT port, LONG64 limit) {
  GUID accept_ex = WSAID_ACCEPTEX, sockaddrs = WSAID_GETACCEPTEXSOCKADDRS;
  SOCKADDR_IN address = ipv4_address("127.0.0.1", port);
  int length = sizeof address, i;
  connection* c;
  BOOL clean;

  g_limit = limit > 0 ? limit : -1;
  InitializeCriticalSection(&g_lock);
  g_stop_requested = CreateEvent(NULL, TRUE, FALSE, NULL);
  g_drained = CreateEvent(NULL, TRUE, FALSE, NULL);
  g_port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
  g_listener = new_socket();
  if (!g_stop_requested || !g_drained || !g_port || g_listener == INVALID_SOCKET ||
      bind(g_listener, (SOCKADDR*)&address, sizeof address) != 0 ||
      listen(g_listener, SOMAXCONN) != 0 ||
      getsockname(g_listener, (SOCKADDR*)&address, &length) != 0 ||
      CreateIoCompletionPort((HANDLE)g_listener, g_port, LISTENER_KEY, 0) != g_port ||
      !get_extension(g_listener, accept_ex, &g_AcceptEx, sizeof g_AcceptEx) ||
      !get_extension(g_listener, sockaddrs, &g_GetAcceptExSockaddrs,
                     sizeof g_GetAcceptExSockaddrs) ||
      !start_workers(server_completion)) {
    fprintf(stderr, "server set-up failed: %lu\n", (unsigned long)GetLastError());
    return 1;
  }
  EnterCriticalSection(&g_lock);
  for (i = 0; i < ACCEPTS; ++i) {
    g_acceptors[i].op.kind = OP_ACCEPT;
    if (post_accept(&g_acceptors[i])) ++g_accepts_pending;
  }
  LeaveCriticalSection(&g_lock);
  if (g_accepts_pending == 0) return 1;
  printf("listening on %u\n", (unsigned)ntohs(address.sin_port));
  fflush(stdout);

  WaitForSingleObject(g_stop_requested, INFINITE);

  /* Stop: nothing new starts once g_stopping is set (under g_lock, as every
   * AcceptEx is posted, and under each connection's lock, as its I/O is). */
  EnterCriticalSection(&g_lock);
  g_stopping = TRUE;
  CancelIoEx((HANDLE)g_listener, NULL);
  for (c = g_connections; c != NULL; c = c->next) {
    EnterCriticalSection(&c->lock);
    c->closing = TRUE;
    CancelIoEx((HANDLE)c->s, NULL); /* ERROR_NOT_FOUND if between operations */
    LeaveCriticalSection(&c->lock);
  }
  check_drained();
  LeaveCriticalSection(&g_lock);
  WaitForSingleObject(g_drained, INFINITE); /* every context freed */

  clean = stop_workers();
  closesocket(g_listener);
  CloseHandle(g_port);
  CloseHandle(g_stop_requested);
  CloseHandle(g_drained);
  DeleteCriticalSection(&g_lock);
  printf("served %lld connections, echoed %lld bytes, %lld errors\n", (long long)g_served,
         (long long)g_bytes_echoed, (long long)g_errors);
  return clean ? 0 : 1;
}

/* ------------------------------------------------------------------------- */
/* Client                                                                     */

typedef struct client_connection {
  io_op connect_op, send_op, recv_op;
  SOCKET s;
  unsigned id;
  CRITICAL_SECTION lock; /* guards the fields below */
  LONG outstanding;
  BOOL failed;
  unsigned message;     /* the one being exchanged */
  DWORD sent, received; /* bytes of it */
  char *out, *in;       /* what was sent, what came back */
} client_connection;

static DWORD g_size;
static unsigned g_connection_count, g_messages;
static LPFN_CONNECTEX g_ConnectEx;
static HANDLE g_all_finished;
static LONG g_finished, g_failed;
static LONG64 g_verified;

/* Message m of connection id: a pseudo-random pattern of its own. */
static void fill(char* p, DWORD n, unsigned id, unsigned m) {
  ULONG x = (ULONG)id * 2654435761u + (ULONG)m * 40503u + 1u;
  DWORD i;
  if (x == 0) x = 1;
  for (i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    p[i] = (char)(x >> 24);
  }
}

/* With k->lock held: start an operation, or give up on the connection. */
static void client_post(client_connection* k, io_op* op) {
  WSABUF b;
  DWORD flags = 0;
  BOOL ok;
  ZeroMemory(&op->ov, sizeof op->ov);
  if (op->kind == OP_SEND) {
    b.buf = k->out + k->sent;
    b.len = g_size - k->sent;
    ok = WSASend(k->s, &b, 1, NULL, 0, &op->ov, NULL) == 0;
  } else {
    b.buf = k->in + k->received;
    b.len = g_size - k->received;
    ok = WSARecv(k->s, &b, 1, NULL, &flags, &op->ov, NULL) == 0;
  }
  if (started(ok)) {
    ++k->outstanding;
  } else {
    fprintf(stderr, "client %u: %s failed: %d\n", k->id, g_op_names[op->kind], WSAGetLastError());
    k->failed = TRUE;
  }
}

/* With k->lock held: the message's send and the receive of its echo. */
static void start_message(client_connection* k) {
  fill(k->out, g_size, k->id, k->message);
  k->sent = k->received = 0;
  client_post(k, &k->send_op);
  if (!k->failed) client_post(k, &k->recv_op);
}

/* Leaves k->lock; the connection is over when nothing of it is under way. */
static void client_release(client_connection* k) {
  BOOL over = k->outstanding == 0;
  if (k->failed && !over) CancelIoEx((HANDLE)k->s, NULL); /* the other half, if under way */
  LeaveCriticalSection(&k->lock);
  if (!over) return;
  if (k->failed) InterlockedIncrement(&g_failed);
  closesocket(k->s);
  if (InterlockedIncrement(&g_finished) == (LONG)g_connection_count) SetEvent(g_all_finished);
}

static void client_completion(ULONG_PTR key, io_op* op, DWORD bytes, DWORD error) {
  client_connection* k = (client_connection*)key;
  EnterCriticalSection(&k->lock);
  --k->outstanding;
  if (error != ERROR_SUCCESS) {
    fprintf(stderr, "client %u: %s failed: %lu\n", k->id, g_op_names[op->kind],
            (unsigned long)error);
    k->failed = TRUE;
  } else if (k->failed) {
    /* a sibling operation failed: let this one go */
  } else if (op->kind == OP_CONNECT) {
    setsockopt(k->s, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, NULL, 0);
    start_message(k);
  } else if (op->kind == OP_SEND) {
    k->sent += bytes;
    if (k->sent < g_size) client_post(k, op);
  } else if (bytes == 0) {
    fprintf(stderr, "client %u: the server closed the connection early\n", k->id);
    k->failed = TRUE;
  } else if (memcmp(k->in + k->received, k->out + k->received, bytes) != 0) {
    fprintf(stderr, "client %u: message %u: wrong bytes echoed at offset %lu\n", k->id, k->message,
            (unsigned long)k->received);
    k->failed = TRUE;
  } else {
    k->received += bytes;
    InterlockedExchangeAdd64(&g_verified, (LONG64)bytes);
    if (k->received < g_size) client_post(k, op);
  }
  /* Both halves done: the next message, or the end of this connection. */
  if (!k->failed && k->outstanding == 0 && k->received == g_size && ++k->message < g_messages)
    start_message(k);
  client_release(k);
}

static int run_client(const char* host, USHORT port) {
  GUID connect_ex = WSAID_CONNECTEX;
  SOCKADDR_IN server = ipv4_address(host, port), local = ipv4_address("127.0.0.1", 0);
  client_connection* all = (client_connection*)calloc(g_connection_count, sizeof *all);
  LONG64 expected = (LONG64)g_connection_count * g_messages * g_size;
  unsigned i;
  BOOL clean;

  g_all_finished = CreateEvent(NULL, TRUE, FALSE, NULL);
  g_port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
  if (server.sin_family != AF_INET || all == NULL || !g_all_finished || !g_port ||
      !start_workers(client_completion)) {
    fprintf(stderr, "client set-up failed: %lu\n", (unsigned long)GetLastError());
    return 1;
  }
  for (i = 0; i < g_connection_count; ++i) {
    client_connection* k = &all[i];
    DWORD sent = 0;
    k->id = i;
    k->connect_op.kind = OP_CONNECT;
    k->send_op.kind = OP_SEND;
    k->recv_op.kind = OP_RECV;
    k->out = (char*)malloc(g_size);
    k->in = (char*)malloc(g_size);
    InitializeCriticalSection(&k->lock);
    k->s = new_socket();
    if (k->out == NULL || k->in == NULL || k->s == INVALID_SOCKET ||
        bind(k->s, (SOCKADDR*)&local, sizeof local) != 0 ||
        CreateIoCompletionPort((HANDLE)k->s, g_port, (ULONG_PTR)k, 0) != g_port ||
        (g_ConnectEx == NULL &&
         !get_extension(k->s, connect_ex, &g_ConnectEx, sizeof g_ConnectEx))) {
      fprintf(stderr, "client %u: set-up failed: %d\n", i, WSAGetLastError());
      return 1;
    }
    EnterCriticalSection(&k->lock);
    if (started(g_ConnectEx(k->s, (SOCKADDR*)&server, sizeof server, NULL, 0, &sent,
                            &k->connect_op.ov))) {
      ++k->outstanding;
    } else {
      fprintf(stderr, "client %u: ConnectEx failed: %d\n", i, WSAGetLastError());
      k->failed = TRUE;
    }
    client_release(k);
  }

  if (WaitForSingleObject(g_all_finished, CLIENT_TIMEOUT_MS) != WAIT_OBJECT_0) {
    fprintf(stderr, "client: timed out, %ld of %u connections finished, %lld of %lld bytes\n",
            (long)g_finished, g_connection_count, (long long)g_verified, (long long)expected);
    return 1;
  }
  clean = stop_workers();
  CloseHandle(g_port);
  CloseHandle(g_all_finished);
  for (i = 0; i < g_connection_count; ++i) {
    DeleteCriticalSection(&all[i].lock);
    free(all[i].out);
    free(all[i].in);
  }
  free(all);
  printf(
      "client: %u connections x %u messages x %lu bytes, %lld bytes echoed intact, %ld "
      "connections failed\n",
      g_connection_count, g_messages, (unsigned long)g_size, (long long)g_verified, (long)g_failed);
  return clean && g_failed == 0 && g_verified == expected ? 0 : 1;
}

/* ------------------------------------------------------------------------- */

static BOOL number(const char* s, unsigned long max, unsigned long* out) {
  char* end = NULL;
  unsigned long v = strtoul(s, &end, 10);
  if (s[0] < '0' || s[0] > '9' || *end != '\0' || v > max) return FALSE;
  *out = v;
  return TRUE;
}

static int usage(void) {
  fprintf(stderr,
          "usage: iocp_echo_server [--port P] [--connections N]\n"
          "       iocp_echo_server --client HOST PORT CONNS MSGS SIZE\n");
  return 2;
}

int main(int argc, char** argv) {
  WSADATA wsa;
  unsigned long port = 0, limit = 0, conns = 0, msgs = 0, size = 0;
  int i, rc;
  BOOL client = argc > 1 && strcmp(argv[1], "--client") == 0;

  if (client) {
    if (argc != 7 || !number(argv[3], 65535, &port) || port == 0 ||
        !number(argv[4], 100000, &conns) || conns == 0 || !number(argv[5], 1000000, &msgs) ||
        msgs == 0 || !number(argv[6], 64ul << 20, &size) || size == 0)
      return usage();
  } else {
    for (i = 1; i < argc; i += 2) {
      if (i + 1 >= argc) return usage();
      if (strcmp(argv[i], "--port") == 0 && number(argv[i + 1], 65535, &port)) continue;
      if (strcmp(argv[i], "--connections") == 0 && number(argv[i + 1], 1ul << 30, &limit)) continue;
      return usage();
    }
  }
  if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
    fprintf(stderr, "WSAStartup failed\n");
    return 1;
  }
  if (client) {
    g_connection_count = (unsigned)conns;
    g_messages = (unsigned)msgs;
    g_size = (DWORD)size;
    rc = run_client(argv[2], (USHORT)port);
  } else {
    rc = run_server((USHORT)port, (LONG64)limit);
  }
  WSACleanup();
  return rc;
}
