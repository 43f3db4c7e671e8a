/*
 * Scenario: a multi-threaded TCP server, in the style of the "Winsock socket
 * state notifications" documentation. WORKER_COUNT worker threads
 * (CreateThread) share one completion port and one listening port. Every
 * registration is one-shot and level-triggered: a worker that takes a
 * packet owns that socket until it re-arms it, which it does in its next
 * ProcessSocketNotifications call, together with the dequeue. Shared state
 * is guarded by an SRWLOCK; the last connection to finish sets an event;
 * the main thread then posts one exit packet per worker
 * (PostQueuedCompletionStatus) and waits for them all with
 * WaitForMultipleObjects.
 *
 * Checked: every client's stream arrives complete and intact; no socket is
 * ever handled by two workers at once (one-shot, R5.9); every registration
 * result is ERROR_SUCCESS; every worker exits 0. Returns 0 only if all held.
 */
#include "scenario.h"

#define WORKER_COUNT 4
#define CLIENT_COUNT 24
#define MESSAGE_COUNT 40
#define MESSAGE_SIZE 200
#define STREAM_SIZE (MESSAGE_COUNT * MESSAGE_SIZE)
#define DEQUEUE_COUNT 4
#define ACCEPTS_PER_PACKET 4
/* Each dequeued packet re-arms at most one socket, except the listener's,
 * which also registers what it accepted. */
#define REGISTRATION_CAPACITY (DEQUEUE_COUNT * (ACCEPTS_PER_PACKET + 1))
#define EXIT_KEY ((ULONG_PTR)-1)
#define WAIT_MS 30000

typedef enum SOCKET_KIND { KIND_LISTENER, KIND_CONNECTION } SOCKET_KIND;

typedef struct SOCKET_CONTEXT {
  SOCKET_KIND kind;
  SOCKET socket;
  volatile LONG busy; /* 1 while a worker handles this socket */
  DWORD received;
  BOOL contentOk;
} SOCKET_CONTEXT;

typedef struct SERVER {
  HANDLE port;
  SOCKET_CONTEXT listener;
  HANDLE allDone; /* manual-reset: every connection has finished */
  SRWLOCK lock;
  _Guarded_by_(lock) int accepted;
  _Guarded_by_(lock) int finished;
  _Guarded_by_(lock) int intact;
  _Guarded_by_(lock) ULONGLONG totalBytes;
  _Guarded_by_(lock) int handledBy[WORKER_COUNT];
  volatile LONG overlaps; /* a socket handled by two workers at once */
  volatile LONG errors;   /* registration or socket errors */
  volatile LONG nextWorker;
  SOCKADDR_IN address;
} SERVER;

static DWORD WINAPI ClientRoutine(_In_ LPVOID parameter) {
  const SERVER* server = (const SERVER*)parameter;
  char message[MESSAGE_SIZE];
  char drain[16];
  DWORD offset = 0;
  int i, j;
  SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  if (s == INVALID_SOCKET) {
    return 1;
  }
  if (connect(s, (const SOCKADDR*)&server->address, sizeof(server->address)) != 0) {
    closesocket(s);
    return 2;
  }
  for (i = 0; i < MESSAGE_COUNT; i += 1) {
    for (j = 0; j < MESSAGE_SIZE; j += 1) {
      message[j] = PatternByte(offset++);
    }
    if (send(s, message, MESSAGE_SIZE, 0) != MESSAGE_SIZE) {
      closesocket(s);
      return 3;
    }
  }
  /* Half-close, then wait for the server to close its side: the server
   * sends nothing, so recv returns 0 once it has. */
  if (shutdown(s, SD_SEND) != 0 || recv(s, drain, (int)sizeof(drain), 0) != 0) {
    closesocket(s);
    return 4;
  }
  closesocket(s);
  return 0;
}

static void AddRegistration(_Inout_updates_(REGISTRATION_CAPACITY) SOCK_NOTIFY_REGISTRATION* regs,
                            _Inout_ UINT32* count, _In_ SOCKET_CONTEXT* ctx, _In_ UINT8 operation) {
  SOCK_NOTIFY_REGISTRATION* r = &regs[*count];
  ZeroMemory(r, sizeof(*r));
  r->socket = ctx->socket;
  r->completionKey = ctx;
  r->operation = operation;
  if (operation == SOCK_NOTIFY_OP_ENABLE) {
    r->eventFilter = ctx->kind == KIND_LISTENER
                         ? SOCK_NOTIFY_REGISTER_EVENT_IN
                         : (SOCK_NOTIFY_REGISTER_EVENT_IN | SOCK_NOTIFY_REGISTER_EVENT_HANGUP);
    r->triggerFlags = SOCK_NOTIFY_TRIGGER_ONESHOT | SOCK_NOTIFY_TRIGGER_LEVEL;
  }
  *count += 1;
}

static void FinishConnection(_Inout_ SERVER* server, _Inout_ _Post_invalid_ SOCKET_CONTEXT* ctx) {
  BOOL last;
  closesocket(ctx->socket);
  AcquireSRWLockExclusive(&server->lock);
  server->finished += 1;
  server->totalBytes += ctx->received;
  if (ctx->received == STREAM_SIZE && ctx->contentOk) {
    server->intact += 1;
  }
  last = server->finished == CLIENT_COUNT;
  ReleaseSRWLockExclusive(&server->lock);
  free(ctx);
  if (last) {
    SetEvent(server->allDone);
  }
}

/* One notification for a socket this worker now owns (one-shot). Adds the
 * registrations that hand it back. */
static void HandlePacket(_Inout_ SERVER* server, _In_ int worker, _In_ SOCKET_CONTEXT* ctx,
                         _In_ UINT32 events,
                         _Inout_updates_(REGISTRATION_CAPACITY) SOCK_NOTIFY_REGISTRATION* regs,
                         _Inout_ UINT32* count) {
  char buffer[512];
  int i;

  if (InterlockedCompareExchange(&ctx->busy, 1, 0) != 0) {
    InterlockedIncrement(&server->overlaps);
  }
  AcquireSRWLockExclusive(&server->lock);
  server->handledBy[worker] += 1;
  ReleaseSRWLockExclusive(&server->lock);

  if (ctx->kind == KIND_LISTENER) {
    for (i = 0; i < ACCEPTS_PER_PACKET; i += 1) {
      u_long nonBlocking = 1;
      SOCKET_CONTEXT* conn;
      SOCKET s = accept(ctx->socket, NULL, NULL);
      if (s == INVALID_SOCKET) {
        if (WSAGetLastError() != WSAEWOULDBLOCK) {
          InterlockedIncrement(&server->errors);
        }
        break;
      }
      conn = (SOCKET_CONTEXT*)calloc(1, sizeof(*conn));
      if (conn == NULL || ioctlsocket(s, FIONBIO, &nonBlocking) != 0) {
        InterlockedIncrement(&server->errors);
        free(conn);
        closesocket(s);
        continue;
      }
      conn->kind = KIND_CONNECTION;
      conn->socket = s;
      conn->contentOk = TRUE;
      AcquireSRWLockExclusive(&server->lock);
      server->accepted += 1;
      ReleaseSRWLockExclusive(&server->lock);
      AddRegistration(regs, count, conn, SOCK_NOTIFY_OP_ENABLE);
    }
    InterlockedExchange(&ctx->busy, 0);
    AddRegistration(regs, count, ctx, SOCK_NOTIFY_OP_ENABLE); /* re-arm */
    return;
  }

  if (events & SOCK_NOTIFY_EVENT_REMOVE) {
    InterlockedExchange(&ctx->busy, 0);
    FinishConnection(server, ctx);
    return;
  }
  if (events & SOCK_NOTIFY_EVENT_ERR) {
    InterlockedIncrement(&server->errors);
  }
  /* Level-triggered: read one chunk and hand the socket back; if more is
   * there it is notified again at once. */
  {
    int got = recv(ctx->socket, buffer, (int)sizeof(buffer), 0);
    if (got > 0) {
      for (i = 0; i < got; i += 1) {
        if (buffer[i] != PatternByte(ctx->received + (DWORD)i)) {
          ctx->contentOk = FALSE;
        }
      }
      ctx->received += (DWORD)got;
    }
    /* Done with the socket until the registration below hands it back. */
    InterlockedExchange(&ctx->busy, 0);
    if (got > 0) {
      AddRegistration(regs, count, ctx, SOCK_NOTIFY_OP_ENABLE);
    } else if (got == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK) {
      AddRegistration(regs, count, ctx, SOCK_NOTIFY_OP_ENABLE);
    } else {
      /* End of stream (or an error): remove; the REMOVE packet, wherever it
       * lands, frees the context. */
      if (got != 0) {
        InterlockedIncrement(&server->errors);
      }
      AddRegistration(regs, count, ctx, SOCK_NOTIFY_OP_REMOVE);
    }
  }
}

static DWORD WINAPI WorkerRoutine(_In_ LPVOID parameter) {
  SERVER* server = (SERVER*)parameter;
  const int worker = (int)InterlockedIncrement(&server->nextWorker) - 1;
  SOCK_NOTIFY_REGISTRATION regs[REGISTRATION_CAPACITY];
  OVERLAPPED_ENTRY entries[DEQUEUE_COUNT];
  UINT32 count = 0, received, i;
  BOOL exiting = FALSE;

  while (!exiting) {
    DWORD result = ProcessSocketNotifications(server->port, count, count == 0 ? NULL : regs,
                                              INFINITE, RTL_NUMBER_OF(entries), entries, &received);
    if (result != ERROR_SUCCESS) {
      fprintf(stderr, "worker %d: ProcessSocketNotifications: %lu\n", worker,
              (unsigned long)result);
      return 1;
    }
    for (i = 0; i < count; i += 1) {
      if (regs[i].registrationResult != ERROR_SUCCESS) {
        fprintf(stderr, "worker %d: registration failed: %lu\n", worker,
                (unsigned long)regs[i].registrationResult);
        InterlockedIncrement(&server->errors);
      }
    }
    count = 0;
    for (i = 0; i < received; i += 1) {
      if (entries[i].lpCompletionKey == EXIT_KEY) {
        if (exiting) {
          /* A second exit packet in one batch belongs to another worker. */
          PostQueuedCompletionStatus(server->port, 0, EXIT_KEY, NULL);
        }
        exiting = TRUE;
        continue;
      }
      HandlePacket(server, worker, (SOCKET_CONTEXT*)entries[i].lpCompletionKey,
                   SocketNotificationRetrieveEvents(&entries[i]), regs, &count);
    }
    if (exiting && count > 0) {
      /* Hand back what this batch took before leaving. */
      DWORD r = ProcessSocketNotifications(server->port, count, regs, 0, 0, NULL, NULL);
      if (r != ERROR_SUCCESS) {
        InterlockedIncrement(&server->errors);
      }
    }
  }
  return 0;
}

int main(void) {
  WSADATA wsaData;
  SERVER* server;
  HANDLE workers[WORKER_COUNT];
  HANDLE clients[CLIENT_COUNT];
  SOCK_NOTIFY_REGISTRATION r;
  u_long nonBlocking = 1;
  DWORD exitCode, result;
  int i, handlers = 0;

  REQUIRE(WSAStartup(WINSOCK_VERSION, &wsaData) == 0, 1, "WSAStartup");
  server = (SERVER*)calloc(1, sizeof(*server));
  REQUIRE(server != NULL, 1, "calloc");
  InitializeSRWLock(&server->lock);
  server->allDone = CreateEventW(NULL, TRUE, FALSE, NULL);
  REQUIRE(server->allDone != NULL, 1, "CreateEvent");
  server->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, WORKER_COUNT);
  REQUIRE(server->port != NULL, 1, "CreateIoCompletionPort");
  server->listener.kind = KIND_LISTENER;
  server->listener.socket = CreateLoopbackListener(&server->address);
  REQUIRE(server->listener.socket != INVALID_SOCKET, 1, "listener: %d", WSAGetLastError());
  REQUIRE(ioctlsocket(server->listener.socket, FIONBIO, &nonBlocking) == 0, 1, "FIONBIO");

  ZeroMemory(&r, sizeof(r));
  r.socket = server->listener.socket;
  r.completionKey = &server->listener;
  r.eventFilter = SOCK_NOTIFY_REGISTER_EVENT_IN;
  r.operation = SOCK_NOTIFY_OP_ENABLE;
  r.triggerFlags = SOCK_NOTIFY_TRIGGER_ONESHOT | SOCK_NOTIFY_TRIGGER_LEVEL;
  result = ProcessSocketNotifications(server->port, 1, &r, 0, 0, NULL, NULL);
  REQUIRE(result == ERROR_SUCCESS && r.registrationResult == ERROR_SUCCESS, 1, "register listener");

  for (i = 0; i < WORKER_COUNT; i += 1) {
    workers[i] = CreateThread(NULL, 0, WorkerRoutine, server, 0, NULL);
    REQUIRE(workers[i] != NULL, 1, "CreateThread(worker)");
  }
  for (i = 0; i < CLIENT_COUNT; i += 1) {
    clients[i] = CreateThread(NULL, 0, ClientRoutine, server, 0, NULL);
    REQUIRE(clients[i] != NULL, 1, "CreateThread(client)");
  }

  EXPECT(WaitForMultipleObjects(CLIENT_COUNT, clients, TRUE, WAIT_MS) == WAIT_OBJECT_0,
         "clients did not finish");
  EXPECT(WaitForSingleObject(server->allDone, WAIT_MS) == WAIT_OBJECT_0,
         "connections did not all finish");

  /* One exit packet per worker; each takes one and leaves. */
  for (i = 0; i < WORKER_COUNT; i += 1) {
    EXPECT(PostQueuedCompletionStatus(server->port, 0, EXIT_KEY, NULL), "post exit");
  }
  result = WaitForMultipleObjects(WORKER_COUNT, workers, TRUE, WAIT_MS);
  EXPECT(result == WAIT_OBJECT_0, "workers did not exit: %lu", (unsigned long)result);

  for (i = 0; i < WORKER_COUNT; i += 1) {
    exitCode = 0;
    EXPECT(GetExitCodeThread(workers[i], &exitCode) && exitCode == 0, "worker %d exit %lu", i,
           (unsigned long)exitCode);
    CloseHandle(workers[i]);
  }
  for (i = 0; i < CLIENT_COUNT; i += 1) {
    exitCode = 0;
    EXPECT(GetExitCodeThread(clients[i], &exitCode) && exitCode == 0, "client %d exit %lu", i,
           (unsigned long)exitCode);
    CloseHandle(clients[i]);
  }

  AcquireSRWLockShared(&server->lock);
  EXPECT(server->accepted == CLIENT_COUNT, "accepted %d", server->accepted);
  EXPECT(server->finished == CLIENT_COUNT, "finished %d", server->finished);
  EXPECT(server->intact == CLIENT_COUNT, "%d of %d streams intact", server->intact, CLIENT_COUNT);
  EXPECT(server->totalBytes == (ULONGLONG)CLIENT_COUNT * STREAM_SIZE, "total %llu bytes",
         (unsigned long long)server->totalBytes);
  for (i = 0; i < WORKER_COUNT; i += 1) {
    handlers += server->handledBy[i] > 0;
  }
  ReleaseSRWLockShared(&server->lock);
  EXPECT(server->overlaps == 0, "%ld packets for a socket another worker held",
         (long)server->overlaps);
  EXPECT(server->errors == 0, "%ld errors", (long)server->errors);
  printf("multithreaded_server: %d of %d workers handled packets\n", handlers, WORKER_COUNT);

  closesocket(server->listener.socket);
  EXPECT(CloseHandle(server->port), "CloseHandle(port)");
  CloseHandle(server->allDone);
  free(server);
  WSACleanup();
  return ScenarioResult("multithreaded_server");
}
