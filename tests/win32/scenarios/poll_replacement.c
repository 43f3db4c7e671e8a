/*
 * Scenario: a single-threaded poll()/select() replacement, in the style of
 * the "Winsock socket state notifications" documentation. The listener and
 * every accepted connection are registered persistent, level-triggered, with
 * the connection's context as completion key; one thread dequeues with
 * GetQueuedCompletionStatusEx, reads one chunk per notification (level
 * triggering brings it back while data remains), and on end of stream
 * removes the registration and waits for the REMOVE packet before freeing
 * the context. CLIENT_COUNT client threads each send MESSAGE_COUNT messages
 * over loopback and close. Returns 0 only if every byte arrived intact and
 * every registration was removed (R3.6, R5.5, R5.7, R5.10, R8.2, R8.6).
 */
#include "scenario.h"

#define CLIENT_COUNT 4
#define MESSAGE_COUNT 50
#define MESSAGE_SIZE 120
#define STREAM_SIZE (MESSAGE_COUNT * MESSAGE_SIZE)
#define WAIT_MS 10000

typedef enum CONTEXT_KIND { KIND_LISTENER, KIND_CONNECTION } CONTEXT_KIND;

typedef struct CONNECTION {
  CONTEXT_KIND kind;
  SOCKET socket;
  DWORD received;
  BOOL contentOk;
  BOOL removing;
} CONNECTION;

typedef struct CLIENT_ARGS {
  SOCKADDR_IN server;
} CLIENT_ARGS;

static DWORD WINAPI ClientRoutine(_In_ LPVOID parameter) {
  const CLIENT_ARGS* args = (const CLIENT_ARGS*)parameter;
  char message[MESSAGE_SIZE];
  DWORD offset = 0;
  int i, j;
  SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  if (s == INVALID_SOCKET) {
    return 1;
  }
  if (connect(s, (const SOCKADDR*)&args->server, sizeof(args->server)) == SOCKET_ERROR) {
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
  closesocket(s);
  return 0;
}

static DWORD Register(_In_ HANDLE port, _In_ CONNECTION* c, _In_ UINT8 operation) {
  SOCK_NOTIFY_REGISTRATION r;
  DWORD result;
  ZeroMemory(&r, sizeof(r));
  r.socket = c->socket;
  r.completionKey = c;
  r.operation = operation;
  if (operation == SOCK_NOTIFY_OP_ENABLE) {
    r.eventFilter = c->kind == KIND_LISTENER
                        ? SOCK_NOTIFY_REGISTER_EVENT_IN
                        : (SOCK_NOTIFY_REGISTER_EVENT_IN | SOCK_NOTIFY_REGISTER_EVENT_HANGUP);
    r.triggerFlags = SOCK_NOTIFY_TRIGGER_PERSISTENT | SOCK_NOTIFY_TRIGGER_LEVEL;
  }
  result = ProcessSocketNotifications(port, 1, &r, 0, 0, NULL, NULL);
  if (result != ERROR_SUCCESS) {
    return result;
  }
  return r.registrationResult;
}

int main(void) {
  WSADATA wsaData;
  SOCKADDR_IN serverAddress;
  CONNECTION listener;
  CONNECTION* connections[CLIENT_COUNT];
  CLIENT_ARGS clientArgs;
  HANDLE clients[CLIENT_COUNT];
  HANDLE port;
  OVERLAPPED_ENTRY entries[8];
  ULONG removed, i;
  u_long nonBlocking = 1;
  int accepted = 0, finished = 0, c;
  BOOL listenerRemoved = FALSE;
  char buffer[256];
  DWORD exitCode = 0;

  REQUIRE(WSAStartup(MAKEWORD(2, 2), &wsaData) == 0, 1, "WSAStartup");
  ZeroMemory(connections, sizeof(connections));
  ZeroMemory(&listener, sizeof(listener));
  listener.kind = KIND_LISTENER;
  listener.socket = CreateLoopbackListener(&serverAddress);
  REQUIRE(listener.socket != INVALID_SOCKET, 1, "listener: %d", WSAGetLastError());
  REQUIRE(ioctlsocket(listener.socket, FIONBIO, &nonBlocking) == 0, 1, "FIONBIO");

  port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
  REQUIRE(port != NULL, 1, "CreateIoCompletionPort: %lu", (unsigned long)GetLastError());
  REQUIRE(Register(port, &listener, SOCK_NOTIFY_OP_ENABLE) == ERROR_SUCCESS, 1,
          "register listener");

  clientArgs.server = serverAddress;
  for (c = 0; c < CLIENT_COUNT; c += 1) {
    clients[c] = CreateThread(NULL, 0, ClientRoutine, &clientArgs, 0, NULL);
    REQUIRE(clients[c] != NULL, 1, "CreateThread: %lu", (unsigned long)GetLastError());
  }

  /* The poll loop: runs until every client's connection has been removed
   * and the listener's REMOVE packet came back. */
  while (finished < CLIENT_COUNT || !listenerRemoved) {
    if (!GetQueuedCompletionStatusEx(port, entries, RTL_NUMBER_OF(entries), &removed, WAIT_MS,
                                     FALSE)) {
      EXPECT(FALSE, "GetQueuedCompletionStatusEx: %lu (accepted %d, finished %d)",
             (unsigned long)GetLastError(), accepted, finished);
      break;
    }
    EXPECT(removed >= 1 && removed <= RTL_NUMBER_OF(entries), "removed %lu",
           (unsigned long)removed);
    for (i = 0; i < removed; i += 1) {
      CONNECTION* ctx = (CONNECTION*)entries[i].lpCompletionKey;
      UINT32 events = SocketNotificationRetrieveEvents(&entries[i]);
      EXPECT(entries[i].lpOverlapped == NULL, "a notification carries no OVERLAPPED");
      EXPECT(events != 0, "an empty event mask"); /* R5.10 */

      if (events & SOCK_NOTIFY_EVENT_REMOVE) {
        if (ctx->kind == KIND_LISTENER) {
          listenerRemoved = TRUE;
        } else {
          EXPECT(ctx->removing, "REMOVE for a registration nobody removed");
          EXPECT(ctx->received == STREAM_SIZE, "connection got %lu bytes, expected %d",
                 (unsigned long)ctx->received, STREAM_SIZE);
          EXPECT(ctx->contentOk, "connection data corrupted");
          closesocket(ctx->socket);
          ctx->socket = INVALID_SOCKET;
          finished += 1;
          if (finished == CLIENT_COUNT) {
            /* Last connection gone: take the listener out too. */
            EXPECT(Register(port, &listener, SOCK_NOTIFY_OP_REMOVE) == ERROR_SUCCESS,
                   "remove listener");
          }
        }
        continue;
      }
      if (ctx->removing) {
        /* Level-triggered and persistent: the state may be reported again
         * until the REMOVE takes effect. */
        continue;
      }
      if (ctx->kind == KIND_LISTENER) {
        EXPECT(events == SOCK_NOTIFY_EVENT_IN, "listener events 0x%x", (unsigned)events);
        for (;;) {
          SOCKET s = accept(listener.socket, NULL, NULL);
          CONNECTION* conn;
          if (s == INVALID_SOCKET) {
            EXPECT(WSAGetLastError() == WSAEWOULDBLOCK, "accept: %d", WSAGetLastError());
            break;
          }
          EXPECT(accepted < CLIENT_COUNT, "more connections than clients");
          if (accepted >= CLIENT_COUNT) {
            closesocket(s);
            break;
          }
          EXPECT(ioctlsocket(s, FIONBIO, &nonBlocking) == 0, "FIONBIO");
          conn = (CONNECTION*)calloc(1, sizeof(*conn));
          REQUIRE(conn != NULL, 1, "calloc");
          conn->kind = KIND_CONNECTION;
          conn->socket = s;
          conn->contentOk = TRUE;
          connections[accepted++] = conn;
          EXPECT(Register(port, conn, SOCK_NOTIFY_OP_ENABLE) == ERROR_SUCCESS, "register");
        }
        continue;
      }

      /* A connection: one chunk per notification. */
      if (events & (SOCK_NOTIFY_EVENT_IN | SOCK_NOTIFY_EVENT_HANGUP | SOCK_NOTIFY_EVENT_ERR)) {
        int got = recv(ctx->socket, buffer, (int)sizeof(buffer), 0);
        if (got > 0) {
          int k;
          for (k = 0; k < got; k += 1) {
            if (buffer[k] != PatternByte(ctx->received + (DWORD)k)) {
              ctx->contentOk = FALSE;
            }
          }
          ctx->received += (DWORD)got;
        } else if (got == 0 || WSAGetLastError() != WSAEWOULDBLOCK) {
          /* End of stream (or an error): done with this connection. */
          EXPECT(got == 0, "recv: %d", WSAGetLastError());
          ctx->removing = TRUE;
          EXPECT(Register(port, ctx, SOCK_NOTIFY_OP_REMOVE) == ERROR_SUCCESS, "remove");
        }
      }
    }
  }

  EXPECT(accepted == CLIENT_COUNT, "accepted %d", accepted);
  EXPECT(finished == CLIENT_COUNT, "finished %d", finished);
  EXPECT(listenerRemoved, "listener REMOVE packet");
  EXPECT(WaitForMultipleObjects(CLIENT_COUNT, clients, TRUE, WAIT_MS) == WAIT_OBJECT_0,
         "clients did not finish");
  for (c = 0; c < CLIENT_COUNT; c += 1) {
    EXPECT(GetExitCodeThread(clients[c], &exitCode) && exitCode == 0, "client %d exit %lu", c,
           (unsigned long)exitCode);
    CloseHandle(clients[c]);
  }
  /* Nothing may be left on the port once everything was removed. */
  EXPECT(!GetQueuedCompletionStatusEx(port, entries, 1, &removed, 0, FALSE) &&
             GetLastError() == WAIT_TIMEOUT,
         "a packet after the last REMOVE");
  for (c = 0; c < CLIENT_COUNT; c += 1) {
    free(connections[c]);
  }
  closesocket(listener.socket);
  EXPECT(CloseHandle(port), "CloseHandle(port)");
  WSACleanup();
  return ScenarioResult("poll_replacement");
}
