/*
 * iocp_http_server.c - an HTTP/1.1 server written the classic Windows way, on
 * an I/O completion port with overlapped Winsock calls: a plain Windows
 * program (Winsock and Win32 only), built on Linux through psn-win32.
 *
 * Usage:  iocp_http_server [--port P] [--threads N]
 *   Listens on 127.0.0.1:P (0, the default: any free port) and prints
 *   "listening on PORT" first. N workers (default 4) loop on
 *   GetQueuedCompletionStatus. AcceptEx and GetAcceptExSockaddrs come from
 *   WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER); ACCEPTS AcceptEx calls stay
 *   under way, each into a fresh socket.
 *
 * A connection has one operation under way at a time: a WSARecv into its
 * input buffer, or a WSASend of its output buffer. When a receive completes,
 * every complete request in the input is answered into the output, which one
 * WSASend sends (a short send is continued, though psn never completes one
 * short); when it has gone, the requests still waiting are answered, or the
 * next WSARecv starts. So only one thread at a time works on a connection's
 * buffers; its lock is for the stopping main thread. 0 bytes or an error
 * closes the connection; its context is freed when the completion of its last
 * operation has been dequeued.
 *
 * HTTP: GET or HEAD of "/" answers 200 with "Hello from psn!\n", any other
 * path 404, other methods 405. Connections are kept alive (HTTP/1.1 by
 * default, HTTP/1.0 with "Connection: keep-alive"), "Connection: close" is
 * honoured and pipelined requests are answered in order. A malformed request
 * gets 400, a header section over 8 KiB 431, an HTTP version other than 1.x
 * 505, a Transfer-Encoding 501 and a body over 1 MiB 413; bodies are read and
 * dropped. After an error, or a response that ends the connection, the server
 * shuts its sending side down and reads and drops what the client still
 * sends until it closes ("lingering close"), so the client sees the response
 * and not a reset. (There are no idle time-outs in this example.)
 *
 * Stopping: psn-win32 has no console control handler (SetConsoleCtrlHandler),
 * so SIGINT and SIGTERM are caught with the C library's signal(); the handler
 * only sets a flag, which the main thread looks at every STOP_POLL_MS. Then it
 * cancels the AcceptEx calls (CancelIoEx on the listener) and every open
 * connection's operation, waits until every context is freed, posts one exit
 * packet per worker, waits for them (WaitForMultipleObjects), closes the port
 * and prints "served C connections, R requests, E errors": C connections
 * accepted, R requests answered (200, 404 or 405), E requests refused with an
 * error status plus calls that failed other than by cancellation or by the
 * client resetting the connection (those are also written to stderr). Exit
 * status 0.
 */
/* On Windows <winsock2.h> must come before <windows.h>: keep this order. */
/* clang-format off */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>
/* clang-format on */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#pragma comment(lib, "Ws2_32.lib")

#define DEFAULT_THREADS 4
#define ACCEPTS 16                              /* AcceptEx calls kept under way */
#define ADDRESS_SLOT (sizeof(SOCKADDR_IN) + 16) /* AcceptEx wants 16 spare bytes */
#define IN_SIZE 16384                           /* a connection's input buffer */
#define OUT_SIZE 32768                          /* its output buffer */
#define RESPONSE_MAX 512                        /* room one response needs at most */
#define MAX_HEADER 8192                         /* a larger header section: 431 */
#define MAX_BODY (1024 * 1024)                  /* a larger body: 413 */
#define MAX_DISCARD (64 * 1024)                 /* read and dropped before a close */
#define STOP_POLL_MS 50

static const char g_hello[] = "Hello from psn!\n";

/* ------------------------------------------------------------------------- */
/* The port and its workers                                                   */

typedef enum op_kind { OP_ACCEPT, OP_RECV, OP_SEND } op_kind;
static const char* const g_op_names[] = {"AcceptEx", "WSARecv", "WSASend"};

/* An OVERLAPPED and what it is for. The port hands back the OVERLAPPED*; the
 * surrounding record is found with CONTAINING_RECORD. */
typedef struct io_op {
  OVERLAPPED ov;
  op_kind kind;
} io_op;

static HANDLE g_port;
static HANDLE g_workers[MAXIMUM_WAIT_OBJECTS];
static DWORD g_threads = DEFAULT_THREADS;

/* The keys of the exit packet and of the listener: addresses no connection
 * context can share. */
static char g_exit_tag, g_listener_tag;
#define EXIT_KEY ((ULONG_PTR)&g_exit_tag)
#define LISTENER_KEY ((ULONG_PTR)&g_listener_tag)

static void on_completion(ULONG_PTR key, io_op* op, DWORD bytes, DWORD error);

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
    on_completion(key, CONTAINING_RECORD(ov, io_op, ov), bytes, error);
  }
}

static BOOL start_workers(void) {
  DWORD i;
  for (i = 0; i < g_threads; ++i) {
    g_workers[i] = CreateThread(NULL, 0, worker_main, NULL, 0, NULL);
    if (g_workers[i] == NULL) return FALSE;
  }
  return TRUE;
}

/* One exit packet per worker; TRUE if every worker ended cleanly. */
static BOOL stop_workers(void) {
  BOOL clean = TRUE;
  DWORD i;
  for (i = 0; i < g_threads; ++i) PostQueuedCompletionStatus(g_port, 0, EXIT_KEY, NULL);
  WaitForMultipleObjects(g_threads, g_workers, TRUE, INFINITE);
  for (i = 0; i < g_threads; ++i) {
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

/* Errors that only say the client went away. */
static BOOL peer_gone(DWORD error) {
  return error == ERROR_NETNAME_DELETED || error == ERROR_CONNECTION_ABORTED ||
         error == WSAECONNRESET || error == WSAECONNABORTED || error == WSAESHUTDOWN;
}

/* ------------------------------------------------------------------------- */
/* State                                                                      */

typedef struct acceptor {
  io_op op;                         /* OP_ACCEPT */
  SOCKET s;                         /* the socket the next connection lands in */
  char addresses[2 * ADDRESS_SLOT]; /* AcceptEx stores both addresses here */
} acceptor;

typedef struct connection {
  io_op recv_op, send_op;
  SOCKET s;
  USHORT peer_port;
  CRITICAL_SECTION lock; /* guards the fields below */
  LONG outstanding;      /* operations started and not yet dequeued (0 or 1) */
  BOOL closing;          /* start no new operation: the context goes */
  BOOL lingering;        /* answer nothing more; send what is left, then close */
  BOOL shut_down;        /* lingering, the sending side is shut down */
  BOOL peer_done;        /* a receive completed with 0 bytes */
  DWORD in_len;          /* bytes in `in` not yet parsed */
  DWORD out_len, out_sent;
  unsigned long long skip; /* bytes of a request body still to arrive and drop */
  unsigned long long discarded;
  struct connection *prev, *next; /* in g_connections, under g_lock */
  char in[IN_SIZE];
  char out[OUT_SIZE];
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

static HANDLE g_drained; /* set when, stopping, nothing is under way any more */
static LONG64 g_served, g_requests, g_errors;

static volatile sig_atomic_t g_signalled;

static void on_signal(int sig) {
  g_signalled = sig;
}

static void report(const char* what, const connection* c, DWORD error) {
  if (c) fprintf(stderr, "connection from port %u: ", (unsigned)c->peer_port);
  fprintf(stderr, "%s failed: %lu\n", what, (unsigned long)error);
  InterlockedIncrement64(&g_errors);
}

/* ------------------------------------------------------------------------- */
/* HTTP                                                                       */

typedef struct request {
  const char *method, *target;
  size_t method_len, target_len;
  BOOL http10, keep_alive, has_host, has_length;
  unsigned long long content_length;
} request;

static char lower(char ch) {
  return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

static BOOL is_token(const char* p, size_t n) {
  size_t i;
  if (n == 0) return FALSE;
  for (i = 0; i < n; ++i) {
    char ch = p[i];
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) continue;
    if (ch == '\0' || strchr("!#$%&'*+-.^_`|~", ch) == NULL) return FALSE;
  }
  return TRUE;
}

/* Case-insensitive comparison with a lower-case word. */
static BOOL is_word(const char* p, size_t n, const char* word) {
  size_t i;
  if (strlen(word) != n) return FALSE;
  for (i = 0; i < n; ++i)
    if (lower(p[i]) != word[i]) return FALSE;
  return TRUE;
}

static BOOL equals(const char* p, size_t n, const char* s) {
  return strlen(s) == n && memcmp(p, s, n) == 0;
}

static void trim(const char** p, size_t* n) {
  while (*n > 0 && (**p == ' ' || **p == '\t')) {
    ++*p;
    --*n;
  }
  while (*n > 0 && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t')) --*n;
}

/* Where the header section at p ends (just past its empty line), or 0 if it
 * is not complete in n bytes. Lines end in CRLF; a bare LF is accepted too. */
static size_t header_end(const char* p, size_t n) {
  size_t pos = 0;
  for (;;) {
    const char* nl = (const char*)memchr(p + pos, '\n', n - pos);
    size_t at, len;
    if (nl == NULL) return 0;
    at = (size_t)(nl - p);
    len = at - pos;
    if (len > 0 && p[at - 1] == '\r') --len;
    if (len == 0) return at + 1;
    pos = at + 1;
  }
}

static int parse_request_line(const char* line, size_t len, request* req) {
  const char *sp1 = (const char*)memchr(line, ' ', len), *sp2, *version;
  size_t version_len;
  if (sp1 == NULL) return 400;
  sp2 = (const char*)memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - line));
  if (sp2 == NULL || memchr(sp2 + 1, ' ', len - (size_t)(sp2 + 1 - line)) != NULL) return 400;
  req->method = line;
  req->method_len = (size_t)(sp1 - line);
  req->target = sp1 + 1;
  req->target_len = (size_t)(sp2 - sp1 - 1);
  version = sp2 + 1;
  version_len = len - (size_t)(version - line);
  if (!is_token(req->method, req->method_len) || req->target_len == 0 ||
      memchr(req->target, '\t', req->target_len) != NULL)
    return 400;
  if (version_len != 8 || memcmp(version, "HTTP/", 5) != 0 || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9')
    return 400;
  if (version[5] != '1') return 505;
  req->http10 = version[7] == '0';
  req->keep_alive = !req->http10;
  return 0;
}

static int parse_field(const char* line, size_t len, request* req) {
  const char* colon = (const char*)memchr(line, ':', len);
  const char* value;
  size_t name_len, value_len;
  /* A field name is a token: this also refuses obs-fold (a leading space). */
  if (colon == NULL || !is_token(line, (size_t)(colon - line))) return 400;
  name_len = (size_t)(colon - line);
  value = colon + 1;
  value_len = len - name_len - 1;
  trim(&value, &value_len);
  if (is_word(line, name_len, "host")) {
    if (req->has_host) return 400;
    req->has_host = TRUE;
  } else if (is_word(line, name_len, "content-length")) {
    unsigned long long n = 0;
    size_t i;
    if (value_len == 0) return 400;
    for (i = 0; i < value_len; ++i) {
      if (value[i] < '0' || value[i] > '9') return 400;
      if (n <= MAX_BODY) n = n * 10 + (unsigned)(value[i] - '0'); /* beyond: too large anyway */
    }
    if (req->has_length && n != req->content_length) return 400;
    req->has_length = TRUE;
    req->content_length = n;
  } else if (is_word(line, name_len, "transfer-encoding")) {
    return 501; /* no chunked bodies here: the message cannot be framed */
  } else if (is_word(line, name_len, "connection")) {
    while (value_len > 0) {
      const char* comma = (const char*)memchr(value, ',', value_len);
      const char* option = value;
      size_t option_len = comma ? (size_t)(comma - value) : value_len;
      trim(&option, &option_len);
      if (is_word(option, option_len, "close")) req->keep_alive = FALSE;
      if (is_word(option, option_len, "keep-alive") && req->http10) req->keep_alive = TRUE;
      if (comma == NULL) break;
      value_len -= (size_t)(comma + 1 - value);
      value = comma + 1;
    }
  }
  return 0;
}

/* Parses one complete header section of n bytes. Returns 0 when it is
 * acceptable, else the status to refuse it with. */
static int parse_request(const char* head, size_t n, request* req) {
  const char* end = head + n;
  BOOL first = TRUE;
  ZeroMemory(req, sizeof *req);
  while (head < end) {
    const char* nl = (const char*)memchr(head, '\n', (size_t)(end - head));
    const char* line = head;
    size_t len = nl ? (size_t)(nl - head) : (size_t)(end - head), i;
    int status;
    head = nl ? nl + 1 : end;
    if (len > 0 && line[len - 1] == '\r') --len;
    if (len == 0) break; /* the end of the header section */
    for (i = 0; i < len; ++i) {
      unsigned char ch = (unsigned char)line[i];
      if ((ch < 0x20 && ch != '\t') || ch == 0x7f) return 400;
    }
    status = first ? parse_request_line(line, len, req) : parse_field(line, len, req);
    if (status != 0) return status;
    first = FALSE;
  }
  if (first) return 400;
  if (!req->http10 && !req->has_host) return 400; /* HTTP/1.1 requires Host */
  return 0;
}

static const char* reason_of(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Content Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
  }
}

/* The current time as an HTTP date. gmtime's result is shared, hence the lock. */
static CRITICAL_SECTION g_date_lock;
static time_t g_date_second;
static char g_date[64];

static void http_date(char* out, size_t size) {
  time_t now = time(NULL);
  EnterCriticalSection(&g_date_lock);
  if (now != g_date_second || g_date[0] == '\0') {
    const struct tm* tm = gmtime(&now);
    g_date_second = now;
    if (tm == NULL || strftime(g_date, sizeof g_date, "%a, %d %b %Y %H:%M:%S GMT", tm) == 0)
      g_date[0] = '\0';
  }
  snprintf(out, size, "%s", g_date);
  LeaveCriticalSection(&g_date_lock);
}

/* With c->lock held: a response appended to the output (room for it was
 * checked before the request was taken). */
static void respond(connection* c, int status, const char* body, BOOL with_body, BOOL keep_alive,
                    const char* extra_headers) {
  DWORD room = OUT_SIZE - c->out_len;
  char date[64];
  int n;
  http_date(date, sizeof date);
  n = snprintf(c->out + c->out_len, room,
               "HTTP/1.1 %d %s\r\nServer: psn-iocp-http-example\r\nDate: %s\r\n"
               "Content-Type: text/plain\r\nContent-Length: %u\r\nConnection: %s\r\n%s\r\n%s",
               status, reason_of(status), date, (unsigned)strlen(body),
               keep_alive ? "keep-alive" : "close", extra_headers, with_body ? body : "");
  if (n < 0 || (DWORD)n >= room) {
    report("formatting a response", c, ERROR_INSUFFICIENT_BUFFER);
    c->closing = TRUE;
    return;
  }
  c->out_len += (DWORD)n;
}

/* An error status; the connection ends once it has been sent. */
static void refuse(connection* c, int status) {
  char body[64];
  snprintf(body, sizeof body, "%s\n", reason_of(status));
  respond(c, status, body, TRUE, FALSE, "");
  c->lingering = TRUE;
  InterlockedIncrement64(&g_errors);
}

static void answer(connection* c, const request* req) {
  const char* query = (const char*)memchr(req->target, '?', req->target_len);
  size_t path_len = query ? (size_t)(query - req->target) : req->target_len;
  BOOL head = equals(req->method, req->method_len, "HEAD");
  if (!head && !equals(req->method, req->method_len, "GET"))
    respond(c, 405, "method not allowed\n", TRUE, req->keep_alive, "Allow: GET, HEAD\r\n");
  else if (equals(req->target, path_len, "/"))
    respond(c, 200, g_hello, !head, req->keep_alive, "");
  else
    respond(c, 404, "not found\n", !head, req->keep_alive, "");
  InterlockedIncrement64(&g_requests);
  if (!req->keep_alive) c->lingering = TRUE;
}

/* With c->lock held: answers the complete requests in the input, in order,
 * while the output has room, and keeps what is left for later. */
static void handle_requests(connection* c) {
  DWORD pos = 0;
  while (!c->lingering && !c->closing && OUT_SIZE - c->out_len >= RESPONSE_MAX) {
    const char* data;
    size_t avail, end;
    request req;
    int status;
    /* Empty lines before a request line are ignored (RFC 9112, 2.2). */
    while (pos < c->in_len && (c->in[pos] == '\r' || c->in[pos] == '\n')) ++pos;
    if (pos == c->in_len) break;
    data = c->in + pos;
    avail = c->in_len - pos;
    end = header_end(data, avail);
    if (end == 0 ? avail > MAX_HEADER : end > MAX_HEADER) {
      refuse(c, 431);
      break;
    }
    if (end == 0) break; /* wait for the rest of the header section */
    status = parse_request(data, end, &req);
    if (status == 0 && req.content_length > MAX_BODY) status = 413;
    if (status != 0) {
      refuse(c, status);
      break;
    }
    /* The body is dropped, what has come of it now and the rest as it comes. */
    pos += (DWORD)end;
    if (c->in_len - pos >= req.content_length) {
      pos += (DWORD)req.content_length;
    } else {
      c->skip = req.content_length - (c->in_len - pos);
      pos = c->in_len;
    }
    answer(c, &req);
  }
  memmove(c->in, c->in + pos, c->in_len - pos);
  c->in_len -= pos;
}

/* ------------------------------------------------------------------------- */
/* Connections                                                                */

/* With g_lock held. */
static void check_drained(void) {
  if (g_stopping && g_accepts_pending == 0 && g_live == 0) SetEvent(g_drained);
}

/* With c->lock held: the next receive or (the rest of) the output. Counted
 * before the lock is left, so a worker that dequeues its completion at once
 * finds it counted. */
static void post(connection* c, io_op* op) {
  WSABUF b;
  DWORD flags = 0, error;
  BOOL ok;
  if (c->closing) return;
  ZeroMemory(&op->ov, sizeof op->ov);
  if (op->kind == OP_RECV) {
    b.buf = c->in + c->in_len; /* never full here: at most MAX_HEADER bytes wait */
    b.len = IN_SIZE - c->in_len;
    ok = WSARecv(c->s, &b, 1, NULL, &flags, &op->ov, NULL) == 0;
  } else {
    b.buf = c->out + c->out_sent;
    b.len = c->out_len - c->out_sent;
    ok = WSASend(c->s, &b, 1, NULL, 0, &op->ov, NULL) == 0;
  }
  if (started(ok)) {
    ++c->outstanding;
    return;
  }
  error = (DWORD)WSAGetLastError();
  if (!peer_gone(error)) report(g_op_names[op->kind], c, error);
  c->closing = TRUE;
}

/* With c->lock held and nothing of c under way: what comes next. */
static void advance(connection* c) {
  if (c->closing) return;
  if (c->out_sent == c->out_len) c->out_len = c->out_sent = 0; /* all sent: room again */
  if (!c->lingering) handle_requests(c);
  if (c->out_sent < c->out_len) { /* responses to send, or the rest of them */
    post(c, &c->send_op);
    return;
  }
  if (c->lingering && !c->shut_down) {
    /* The client reads the responses, then the end of the stream. */
    shutdown(c->s, SD_SEND);
    c->shut_down = TRUE;
    c->in_len = 0;
    c->skip = 0;
  }
  if (c->peer_done || c->discarded > MAX_DISCARD) {
    c->closing = TRUE; /* what was complete has been answered */
    return;
  }
  post(c, &c->recv_op);
}

/* With c->lock held: what a receive brought. */
static void received(connection* c, DWORD bytes) {
  char* p = c->in + c->in_len;
  DWORD drop;
  if (bytes == 0) {
    c->peer_done = TRUE;
  } else if (c->shut_down) {
    c->discarded += bytes;
  } else {
    drop = c->skip < bytes ? (DWORD)c->skip : bytes; /* the rest of a body */
    memmove(p, p + drop, bytes - drop);
    c->skip -= drop;
    c->in_len += bytes - drop;
  }
}

/* Leaves c->lock; frees the connection if nothing of it is under way. */
static void release(connection* c) {
  BOOL last = c->outstanding == 0;
  LeaveCriticalSection(&c->lock);
  if (!last) return;
  InterlockedIncrement64(&g_served);
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
  BOOL no_delay = TRUE;
  connection* c = (connection*)calloc(1, sizeof *c);
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
  if (remote != NULL && remote->sa_family == AF_INET) {
    SOCKADDR_IN peer; /* the slot may be unaligned */
    memcpy(&peer, remote, sizeof peer);
    c->peer_port = ntohs(peer.sin_port);
  }
  c->s = s;
  c->recv_op.kind = OP_RECV;
  c->send_op.kind = OP_SEND;
  InitializeCriticalSection(&c->lock);
  /* Responses go out as they are made, not held back for more. */
  if (setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (char*)&no_delay, sizeof no_delay) != 0) {
    report("setsockopt(TCP_NODELAY)", c, (DWORD)WSAGetLastError());
    c->closing = TRUE;
  }
  /* Its completions carry the context as their key. */
  if (!c->closing && CreateIoCompletionPort((HANDLE)s, g_port, (ULONG_PTR)c, 0) != g_port) {
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

static void on_connection_io(connection* c, io_op* op, DWORD bytes, DWORD error) {
  EnterCriticalSection(&c->lock);
  --c->outstanding;
  if (error != ERROR_SUCCESS) {
    if (error != ERROR_OPERATION_ABORTED && !peer_gone(error))
      report(g_op_names[op->kind], c, error);
    c->closing = TRUE;
  } else if (op->kind == OP_RECV) {
    received(c, bytes);
  } else {
    c->out_sent += bytes; /* all of it, unless it failed; a short one is continued */
  }
  advance(c);
  release(c);
}

/* ------------------------------------------------------------------------- */
/* Accepting                                                                  */

/* With g_lock held: a fresh socket and an AcceptEx into it. */
static BOOL post_accept(acceptor* a) {
  DWORD bytes = 0;
  a->s = WSASocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
  if (a->s == INVALID_SOCKET) {
    report("WSASocket", NULL, (DWORD)WSAGetLastError());
    return FALSE;
  }
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

static void on_completion(ULONG_PTR key, io_op* op, DWORD bytes, DWORD error) {
  if (key == LISTENER_KEY)
    on_accept(CONTAINING_RECORD(op, acceptor, op), error);
  else
    on_connection_io((connection*)key, op, bytes, error);
}

static BOOL get_extension(SOCKET s, GUID id, void* fn, DWORD size) {
  DWORD got = 0;
  return WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id, fn, size, &got, NULL,
                  NULL) == 0;
}

/* ------------------------------------------------------------------------- */

static int run_server(USHORT port) {
  GUID accept_ex = WSAID_ACCEPTEX, sockaddrs = WSAID_GETACCEPTEXSOCKADDRS;
  SOCKADDR_IN address;
  int length = sizeof address, i;
  connection* c;
  BOOL clean;

  ZeroMemory(&address, sizeof address);
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  InitializeCriticalSection(&g_lock);
  InitializeCriticalSection(&g_date_lock);
  g_drained = CreateEvent(NULL, TRUE, FALSE, NULL);
  g_port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
  g_listener = WSASocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
  if (!g_drained || !g_port || g_listener == INVALID_SOCKET ||
      bind(g_listener, (SOCKADDR*)&address, sizeof address) != 0 ||
      listen(g_listener, SOMAXCONN) != 0 ||
      getsockname(g_listener, (SOCKADDR*)&address, &length) != 0 ||
      CreateIoCompletionPort((HANDLE)g_listener, g_port, LISTENER_KEY, 0) != g_port ||
      !get_extension(g_listener, accept_ex, &g_AcceptEx, sizeof g_AcceptEx) ||
      !get_extension(g_listener, sockaddrs, &g_GetAcceptExSockaddrs,
                     sizeof g_GetAcceptExSockaddrs) ||
      !start_workers()) {
    fprintf(stderr, "server set-up failed: %lu\n", (unsigned long)GetLastError());
    return 1;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  EnterCriticalSection(&g_lock);
  for (i = 0; i < ACCEPTS; ++i) {
    g_acceptors[i].op.kind = OP_ACCEPT;
    if (post_accept(&g_acceptors[i])) ++g_accepts_pending;
  }
  LeaveCriticalSection(&g_lock);
  if (g_accepts_pending == 0) return 1;
  printf("listening on %u\n", (unsigned)ntohs(address.sin_port));
  fflush(stdout);

  while (!g_signalled) Sleep(STOP_POLL_MS);

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
  CloseHandle(g_drained);
  DeleteCriticalSection(&g_date_lock);
  DeleteCriticalSection(&g_lock);
  printf("served %lld connections, %lld requests, %lld errors\n", (long long)g_served,
         (long long)g_requests, (long long)g_errors);
  return clean ? 0 : 1;
}

static BOOL number(const char* s, unsigned long max, unsigned long* out) {
  char* end = NULL;
  unsigned long v = strtoul(s, &end, 10);
  if (s[0] < '0' || s[0] > '9' || *end != '\0' || v > max) return FALSE;
  *out = v;
  return TRUE;
}

static int usage(void) {
  fprintf(stderr, "usage: iocp_http_server [--port P] [--threads N (1 to %d)]\n",
          MAXIMUM_WAIT_OBJECTS);
  return 2;
}

int main(int argc, char** argv) {
  WSADATA wsa;
  unsigned long port = 0, threads = DEFAULT_THREADS;
  int i, rc;
  for (i = 1; i < argc; i += 2) {
    if (i + 1 >= argc) return usage();
    if (strcmp(argv[i], "--port") == 0 && number(argv[i + 1], 65535, &port)) continue;
    if (strcmp(argv[i], "--threads") == 0 && number(argv[i + 1], MAXIMUM_WAIT_OBJECTS, &threads) &&
        threads > 0)
      continue;
    return usage();
  }
  g_threads = (DWORD)threads;
  if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
    fprintf(stderr, "WSAStartup failed\n");
    return 1;
  }
  rc = run_server((USHORT)port);
  WSACleanup();
  return rc;
}
