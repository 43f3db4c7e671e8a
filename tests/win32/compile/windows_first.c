/*
 * R8.1 compile matrix: <windows.h> first, then <winsock2.h> and <mswsock.h>
 * (the order Windows programs that define WIN32_LEAN_AND_MEAN use), C library
 * headers after. Exercises the R8.6 basics a server uses: threads, events,
 * waits, locks, Interlocked, clocks. Also valid C++.
 */
/* The order of inclusion is what is tested. */
/* clang-format off */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <winsock2.h>
#include <mswsock.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
/* clang-format on */

#pragma comment(lib, "Ws2_32.lib")
#pragma comment(lib, "Mswsock.lib")

typedef struct SHARED_STATE {
  CRITICAL_SECTION section;
  CONDITION_VARIABLE changed;
  _Guarded_by_(section) DWORD workersDone;
  volatile LONG counter;
  volatile LONG64 total;
  HANDLE startEvent;
} SHARED_STATE;

#define WORKER_COUNT 4

static DWORD WINAPI WorkerRoutine(_In_ LPVOID parameter) {
  SHARED_STATE* state = (SHARED_STATE*)parameter;
  if (WaitForSingleObject(state->startEvent, INFINITE) != WAIT_OBJECT_0) {
    return 1;
  }
  InterlockedIncrement(&state->counter);
  InterlockedAdd64(&state->total, 10);
  EnterCriticalSection(&state->section);
  state->workersDone += 1;
  LeaveCriticalSection(&state->section);
  WakeAllConditionVariable(&state->changed);
  return 0;
}

static FORCEINLINE ULONGLONG ElapsedMs(_In_ ULONGLONG since) {
  return GetTickCount64() - since;
}

int main(void) {
  SHARED_STATE state;
  HANDLE threads[WORKER_COUNT];
  DWORD exitCode = 0;
  DWORD i;
  SYSTEM_INFO info;
  LARGE_INTEGER frequency, now;
  ULONGLONG started = GetTickCount64();

  ZeroMemory(&state, sizeof(state));
  InitializeCriticalSection(&state.section);
  InitializeConditionVariable(&state.changed);
  state.startEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
  if (state.startEvent == NULL) {
    return 1;
  }
  for (i = 0; i < WORKER_COUNT; i += 1) {
    threads[i] = CreateThread(NULL, 0, WorkerRoutine, &state, 0, NULL);
    if (threads[i] == NULL) {
      return 2;
    }
  }
  SetEvent(state.startEvent);
  EnterCriticalSection(&state.section);
  while (state.workersDone < WORKER_COUNT) {
    SleepConditionVariableCS(&state.changed, &state.section, INFINITE);
  }
  LeaveCriticalSection(&state.section);
  if (WaitForMultipleObjects(WORKER_COUNT, threads, TRUE, INFINITE) >=
      WAIT_OBJECT_0 + WORKER_COUNT) {
    return 3;
  }
  for (i = 0; i < WORKER_COUNT; i += 1) {
    if (!GetExitCodeThread(threads[i], &exitCode) || exitCode != 0) {
      return 4;
    }
    CloseHandle(threads[i]);
  }
  if (state.counter != WORKER_COUNT || state.total != 10 * WORKER_COUNT) {
    return 5;
  }
  GetSystemInfo(&info);
  if (info.dwNumberOfProcessors == 0) {
    return 6;
  }
  if (!QueryPerformanceFrequency(&frequency) || !QueryPerformanceCounter(&now) ||
      frequency.QuadPart <= 0) {
    return 7;
  }
  CloseHandle(state.startEvent);
  DeleteCriticalSection(&state.section);
  Sleep(0);
  SwitchToThread();
  printf("windows_first: ok (%lu processors, %llu ms)\n", (unsigned long)info.dwNumberOfProcessors,
         (unsigned long long)ElapsedMs(started));
  return 0;
}
