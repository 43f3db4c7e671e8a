/*
 * psn_win32/system.h - the Win32 basics a socket server uses (R8.6): threads,
 * events and the wait functions over the shared handle table, SRW locks,
 * critical sections, condition variables, the Interlocked family, sleeping,
 * clocks and GetSystemInfo, with Windows' names, signatures, layouts and
 * semantics.
 *
 * Not included directly: include <windows.h>, <winsock2.h>, <ws2tcpip.h> or
 * <mswsock.h> from the psn-win32 include directory. This header includes no
 * POSIX header (no <pthread.h>), so nothing of it can clash with a program's
 * own names. Where psn differs from Windows, docs/windows-differences.md says
 * so.
 */
#ifndef PSN_WIN32_SYSTEM_H
#define PSN_WIN32_SYSTEM_H

#include "psn_win32/base.h"

/* ---- types ------------------------------------------------------------- */

typedef struct _SECURITY_ATTRIBUTES {
  DWORD nLength;
  LPVOID lpSecurityDescriptor;
  BOOL bInheritHandle;
} SECURITY_ATTRIBUTES, *PSECURITY_ATTRIBUTES, *LPSECURITY_ATTRIBUTES;

typedef DWORD(WINAPI* PTHREAD_START_ROUTINE)(LPVOID lpThreadParameter);
typedef PTHREAD_START_ROUTINE LPTHREAD_START_ROUTINE;

/* Only ever passed by pointer here (RaiseFailFastException): incomplete. */
typedef struct _EXCEPTION_RECORD EXCEPTION_RECORD, *PEXCEPTION_RECORD;
typedef struct _CONTEXT CONTEXT, *PCONTEXT;

/* A reader-writer lock and a condition variable, one pointer each, as on
 * Windows, so structures embedding them keep their layout. Zero (the _INIT
 * value) is the initial state; nothing needs freeing. */
typedef struct _RTL_SRWLOCK {
  PVOID Ptr;
} RTL_SRWLOCK, *PRTL_SRWLOCK, SRWLOCK, *PSRWLOCK;
#define RTL_SRWLOCK_INIT \
  { 0 }
#define SRWLOCK_INIT RTL_SRWLOCK_INIT

typedef struct _RTL_CONDITION_VARIABLE {
  PVOID Ptr;
} RTL_CONDITION_VARIABLE, *PRTL_CONDITION_VARIABLE, CONDITION_VARIABLE, *PCONDITION_VARIABLE;
#define RTL_CONDITION_VARIABLE_INIT \
  { 0 }
#define CONDITION_VARIABLE_INIT RTL_CONDITION_VARIABLE_INIT
#define CONDITION_VARIABLE_LOCKMODE_SHARED 0x1

/* Windows' x64 layout, 40 bytes. OwningThread holds the owner's thread id
 * and RecursionCount its depth, as on Windows; LockCount is psn's lock word
 * and DebugInfo is never a real debug block. */
typedef struct _RTL_CRITICAL_SECTION_DEBUG RTL_CRITICAL_SECTION_DEBUG, *PRTL_CRITICAL_SECTION_DEBUG;
typedef struct _RTL_CRITICAL_SECTION {
  PRTL_CRITICAL_SECTION_DEBUG DebugInfo;
  LONG LockCount;
  LONG RecursionCount;
  HANDLE OwningThread;
  HANDLE LockSemaphore;
  ULONG_PTR SpinCount;
} RTL_CRITICAL_SECTION, *PRTL_CRITICAL_SECTION, CRITICAL_SECTION, *PCRITICAL_SECTION,
    *LPCRITICAL_SECTION;
#define CRITICAL_SECTION_NO_DEBUG_INFO 0x01000000
#define RTL_CRITICAL_SECTION_FLAG_NO_DEBUG_INFO CRITICAL_SECTION_NO_DEBUG_INFO

typedef struct _SYSTEM_INFO {
  union {
    DWORD dwOemId;
    struct {
      WORD wProcessorArchitecture;
      WORD wReserved;
    };
  };
  DWORD dwPageSize;
  LPVOID lpMinimumApplicationAddress;
  LPVOID lpMaximumApplicationAddress;
  DWORD_PTR dwActiveProcessorMask;
  DWORD dwNumberOfProcessors;
  DWORD dwProcessorType;
  DWORD dwAllocationGranularity;
  WORD wProcessorLevel;
  WORD wProcessorRevision;
} SYSTEM_INFO, *LPSYSTEM_INFO;

#define PROCESSOR_ARCHITECTURE_INTEL 0
#define PROCESSOR_ARCHITECTURE_ARM 5
#define PROCESSOR_ARCHITECTURE_IA64 6
#define PROCESSOR_ARCHITECTURE_AMD64 9
#define PROCESSOR_ARCHITECTURE_ARM64 12
#define PROCESSOR_ARCHITECTURE_UNKNOWN 0xFFFF
#define PROCESSOR_INTEL_386 386
#define PROCESSOR_INTEL_486 486
#define PROCESSOR_INTEL_PENTIUM 586
#define PROCESSOR_AMD_X8664 8664
#define PROCESSOR_ARM_7TDMI 70001

/* ---- constants ---------------------------------------------------------- */
/* INFINITE and WAIT_TIMEOUT come from <psn/psn.h>. */
#define STATUS_WAIT_0 ((DWORD)0x00000000L)
#define STATUS_ABANDONED_WAIT_0 ((DWORD)0x00000080L)
#define STATUS_USER_APC ((DWORD)0x000000C0L)
#define STATUS_PENDING ((DWORD)0x00000103L)
#define WAIT_OBJECT_0 ((STATUS_WAIT_0) + 0)
#define WAIT_ABANDONED ((STATUS_ABANDONED_WAIT_0) + 0)
#define WAIT_ABANDONED_0 ((STATUS_ABANDONED_WAIT_0) + 0)
#define WAIT_IO_COMPLETION STATUS_USER_APC
#define WAIT_FAILED ((DWORD)0xFFFFFFFF)
#define MAXIMUM_WAIT_OBJECTS 64
#define STILL_ACTIVE STATUS_PENDING

#define CREATE_SUSPENDED 0x00000004
#define STACK_SIZE_PARAM_IS_A_RESERVATION 0x00010000

#define CREATE_EVENT_MANUAL_RESET 0x00000001
#define CREATE_EVENT_INITIAL_SET 0x00000002
#define SYNCHRONIZE 0x00100000L
#define STANDARD_RIGHTS_REQUIRED 0x000F0000L
#define EVENT_MODIFY_STATE 0x0002
#define EVENT_ALL_ACCESS (STANDARD_RIGHTS_REQUIRED | SYNCHRONIZE | 0x3)

#define FAIL_FAST_GENERATE_EXCEPTION_ADDRESS 0x1
#define FAIL_FAST_NO_HARD_ERROR_DLG 0x2

/* ---- Interlocked: sequentially consistent, inline ---------------------- */
/* Return values as on Windows: Increment, Decrement and Add give the new
 * value; Exchange, CompareExchange, ExchangeAdd, And, Or and Xor the old. */

static inline LONG InterlockedIncrement(LONG volatile* Addend) {
  return __atomic_add_fetch(Addend, 1, __ATOMIC_SEQ_CST);
}
static inline LONG InterlockedDecrement(LONG volatile* Addend) {
  return __atomic_sub_fetch(Addend, 1, __ATOMIC_SEQ_CST);
}
static inline LONG InterlockedExchange(LONG volatile* Target, LONG Value) {
  return __atomic_exchange_n(Target, Value, __ATOMIC_SEQ_CST);
}
static inline LONG InterlockedCompareExchange(LONG volatile* Destination, LONG Exchange,
                                              LONG Comperand) {
  __atomic_compare_exchange_n(Destination, &Comperand, Exchange, 0, __ATOMIC_SEQ_CST,
                              __ATOMIC_SEQ_CST);
  return Comperand; /* the value found, whether or not it was replaced */
}
static inline LONG InterlockedExchangeAdd(LONG volatile* Addend, LONG Value) {
  return __atomic_fetch_add(Addend, Value, __ATOMIC_SEQ_CST);
}
static inline LONG InterlockedAdd(LONG volatile* Addend, LONG Value) {
  return __atomic_add_fetch(Addend, Value, __ATOMIC_SEQ_CST);
}
static inline LONG InterlockedAnd(LONG volatile* Destination, LONG Value) {
  return __atomic_fetch_and(Destination, Value, __ATOMIC_SEQ_CST);
}
static inline LONG InterlockedOr(LONG volatile* Destination, LONG Value) {
  return __atomic_fetch_or(Destination, Value, __ATOMIC_SEQ_CST);
}
static inline LONG InterlockedXor(LONG volatile* Destination, LONG Value) {
  return __atomic_fetch_xor(Destination, Value, __ATOMIC_SEQ_CST);
}

static inline LONG64 InterlockedIncrement64(LONG64 volatile* Addend) {
  return __atomic_add_fetch(Addend, 1, __ATOMIC_SEQ_CST);
}
static inline LONG64 InterlockedDecrement64(LONG64 volatile* Addend) {
  return __atomic_sub_fetch(Addend, 1, __ATOMIC_SEQ_CST);
}
static inline LONG64 InterlockedExchange64(LONG64 volatile* Target, LONG64 Value) {
  return __atomic_exchange_n(Target, Value, __ATOMIC_SEQ_CST);
}
static inline LONG64 InterlockedCompareExchange64(LONG64 volatile* Destination, LONG64 Exchange,
                                                  LONG64 Comperand) {
  __atomic_compare_exchange_n(Destination, &Comperand, Exchange, 0, __ATOMIC_SEQ_CST,
                              __ATOMIC_SEQ_CST);
  return Comperand;
}
static inline LONG64 InterlockedExchangeAdd64(LONG64 volatile* Addend, LONG64 Value) {
  return __atomic_fetch_add(Addend, Value, __ATOMIC_SEQ_CST);
}
static inline LONG64 InterlockedAdd64(LONG64 volatile* Addend, LONG64 Value) {
  return __atomic_add_fetch(Addend, Value, __ATOMIC_SEQ_CST);
}
static inline LONG64 InterlockedAnd64(LONG64 volatile* Destination, LONG64 Value) {
  return __atomic_fetch_and(Destination, Value, __ATOMIC_SEQ_CST);
}
static inline LONG64 InterlockedOr64(LONG64 volatile* Destination, LONG64 Value) {
  return __atomic_fetch_or(Destination, Value, __ATOMIC_SEQ_CST);
}
static inline LONG64 InterlockedXor64(LONG64 volatile* Destination, LONG64 Value) {
  return __atomic_fetch_xor(Destination, Value, __ATOMIC_SEQ_CST);
}

static inline PVOID InterlockedExchangePointer(PVOID volatile* Target, PVOID Value) {
  return __atomic_exchange_n(Target, Value, __ATOMIC_SEQ_CST);
}
static inline PVOID InterlockedCompareExchangePointer(PVOID volatile* Destination, PVOID Exchange,
                                                      PVOID Comperand) {
  __atomic_compare_exchange_n(Destination, &Comperand, Exchange, 0, __ATOMIC_SEQ_CST,
                              __ATOMIC_SEQ_CST);
  return Comperand;
}

#ifdef __cplusplus
/* The unsigned overloads Windows' headers give C++ (ULONG and ULONGLONG),
 * so `volatile DWORD n; InterlockedIncrement(&n);` compiles as it does
 * there. */
extern "C++" {
static inline ULONG InterlockedIncrement(ULONG volatile* Addend) {
  return __atomic_add_fetch(Addend, 1u, __ATOMIC_SEQ_CST);
}
static inline ULONG InterlockedDecrement(ULONG volatile* Addend) {
  return __atomic_sub_fetch(Addend, 1u, __ATOMIC_SEQ_CST);
}
static inline ULONG InterlockedExchange(ULONG volatile* Target, ULONG Value) {
  return __atomic_exchange_n(Target, Value, __ATOMIC_SEQ_CST);
}
static inline ULONG InterlockedExchangeAdd(ULONG volatile* Addend, ULONG Value) {
  return __atomic_fetch_add(Addend, Value, __ATOMIC_SEQ_CST);
}
static inline ULONG InterlockedCompareExchange(ULONG volatile* Destination, ULONG Exchange,
                                               ULONG Comperand) {
  __atomic_compare_exchange_n(Destination, &Comperand, Exchange, false, __ATOMIC_SEQ_CST,
                              __ATOMIC_SEQ_CST);
  return Comperand;
}
static inline ULONGLONG InterlockedIncrement(ULONGLONG volatile* Addend) {
  return __atomic_add_fetch(Addend, 1u, __ATOMIC_SEQ_CST);
}
static inline ULONGLONG InterlockedDecrement(ULONGLONG volatile* Addend) {
  return __atomic_sub_fetch(Addend, 1u, __ATOMIC_SEQ_CST);
}
static inline ULONGLONG InterlockedExchange(ULONGLONG volatile* Target, ULONGLONG Value) {
  return __atomic_exchange_n(Target, Value, __ATOMIC_SEQ_CST);
}
static inline ULONGLONG InterlockedExchangeAdd(ULONGLONG volatile* Addend, ULONGLONG Value) {
  return __atomic_fetch_add(Addend, Value, __ATOMIC_SEQ_CST);
}
static inline ULONGLONG InterlockedCompareExchange(ULONGLONG volatile* Destination,
                                                   ULONGLONG Exchange, ULONGLONG Comperand) {
  __atomic_compare_exchange_n(Destination, &Comperand, Exchange, false, __ATOMIC_SEQ_CST,
                              __ATOMIC_SEQ_CST);
  return Comperand;
}
}
#endif

/* A full fence, and the spin-wait hint. ThreadSanitizer does not model
 * fences (gcc refuses them under -fsanitize=thread), so there the fence is a
 * sequentially consistent read-modify-write, a full barrier on the hardware
 * too, as Windows' own x64 MemoryBarrier is. */
#if defined(__SANITIZE_THREAD__)
#define PSN_WIN32_TSAN_ 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PSN_WIN32_TSAN_ 1
#endif
#endif
#ifdef PSN_WIN32_TSAN_
static inline void psn_win32_memory_barrier_(void) {
  static volatile LONG word;
  __atomic_fetch_add(&word, 0, __ATOMIC_SEQ_CST);
}
#else
static inline void psn_win32_memory_barrier_(void) {
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
}
#endif
static inline void psn_win32_yield_processor_(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  __asm__ __volatile__("yield" ::: "memory");
#else
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
#endif
}
#define MemoryBarrier() psn_win32_memory_barrier_()
#define YieldProcessor() psn_win32_yield_processor_()

#ifdef __cplusplus
extern "C" {
#endif

/* ---- threads ------------------------------------------------------------ */
/* Security attributes are ignored. dwStackSize 0 means the default stack
 * (Linux's, 8 MiB usually). With STACK_SIZE_PARAM_IS_A_RESERVATION it is the
 * whole stack's size (at least PTHREAD_STACK_MIN); without, it is the size
 * Windows commits first, and the stack is that or the default, whichever is
 * larger. The handle is signalled, for the wait functions, once the thread
 * has finished; closing it does not stop the thread. */
PSN_API HANDLE WINAPI CreateThread(LPSECURITY_ATTRIBUTES lpThreadAttributes, SIZE_T dwStackSize,
                                   LPTHREAD_START_ROUTINE lpStartAddress, LPVOID lpParameter,
                                   DWORD dwCreationFlags, LPDWORD lpThreadId);
/* Starts a thread created with CREATE_SUSPENDED; returns the previous
 * suspend count, (DWORD)-1 on failure. */
PSN_API DWORD WINAPI ResumeThread(HANDLE hThread);
PSN_API BOOL WINAPI GetExitCodeThread(HANDLE hThread, LPDWORD lpExitCode);
PSN_API DWORD WINAPI GetThreadId(HANDLE Thread);
PSN_API DWORD WINAPI GetCurrentThreadId(void);
PSN_API DWORD WINAPI GetCurrentProcessId(void);
/* Ends the calling thread with an exit code. The thread's stack is unwound,
 * as pthread_exit does: C++ destructors run, and no noexcept function may be
 * on it. */
PSN_API DECLSPEC_NORETURN VOID WINAPI ExitThread(DWORD dwExitCode);

/* ---- events ------------------------------------------------------------- */
/* lpName must be NULL (or empty): named, cross-process events fail with
 * ERROR_NOT_SUPPORTED. */
PSN_API HANDLE WINAPI CreateEventA(LPSECURITY_ATTRIBUTES lpEventAttributes, BOOL bManualReset,
                                   BOOL bInitialState, LPCSTR lpName);
PSN_API HANDLE WINAPI CreateEventW(LPSECURITY_ATTRIBUTES lpEventAttributes, BOOL bManualReset,
                                   BOOL bInitialState, LPCWSTR lpName);
PSN_API HANDLE WINAPI CreateEventExA(LPSECURITY_ATTRIBUTES lpEventAttributes, LPCSTR lpName,
                                     DWORD dwFlags, DWORD dwDesiredAccess);
PSN_API HANDLE WINAPI CreateEventExW(LPSECURITY_ATTRIBUTES lpEventAttributes, LPCWSTR lpName,
                                     DWORD dwFlags, DWORD dwDesiredAccess);
PSN_API BOOL WINAPI SetEvent(HANDLE hEvent);
PSN_API BOOL WINAPI ResetEvent(HANDLE hEvent);
PSN_API BOOL WINAPI PulseEvent(HANDLE hEvent);

/* ---- waits -------------------------------------------------------------- */
/* On threads and events, in any mix. A port handle is ERROR_INVALID_HANDLE
 * (psn). bAlertable is accepted and behaves as FALSE (Linux has no APCs). */
PSN_API DWORD WINAPI WaitForSingleObject(HANDLE hHandle, DWORD dwMilliseconds);
PSN_API DWORD WINAPI WaitForSingleObjectEx(HANDLE hHandle, DWORD dwMilliseconds, BOOL bAlertable);
PSN_API DWORD WINAPI WaitForMultipleObjects(DWORD nCount, const HANDLE* lpHandles, BOOL bWaitAll,
                                            DWORD dwMilliseconds);
PSN_API DWORD WINAPI WaitForMultipleObjectsEx(DWORD nCount, const HANDLE* lpHandles, BOOL bWaitAll,
                                              DWORD dwMilliseconds, BOOL bAlertable);
/* Sets an event and starts waiting on another object in one step. */
PSN_API DWORD WINAPI SignalObjectAndWait(HANDLE hObjectToSignal, HANDLE hObjectToWaitOn,
                                         DWORD dwMilliseconds, BOOL bAlertable);

/* ---- SRW locks ---------------------------------------------------------- */
PSN_API VOID WINAPI InitializeSRWLock(PSRWLOCK SRWLock);
PSN_API VOID WINAPI AcquireSRWLockExclusive(PSRWLOCK SRWLock);
PSN_API VOID WINAPI AcquireSRWLockShared(PSRWLOCK SRWLock);
PSN_API VOID WINAPI ReleaseSRWLockExclusive(PSRWLOCK SRWLock);
PSN_API VOID WINAPI ReleaseSRWLockShared(PSRWLOCK SRWLock);
PSN_API BOOLEAN WINAPI TryAcquireSRWLockExclusive(PSRWLOCK SRWLock);
PSN_API BOOLEAN WINAPI TryAcquireSRWLockShared(PSRWLOCK SRWLock);

/* ---- critical sections -------------------------------------------------- */
PSN_API VOID WINAPI InitializeCriticalSection(LPCRITICAL_SECTION lpCriticalSection);
PSN_API BOOL WINAPI InitializeCriticalSectionAndSpinCount(LPCRITICAL_SECTION lpCriticalSection,
                                                          DWORD dwSpinCount);
PSN_API BOOL WINAPI InitializeCriticalSectionEx(LPCRITICAL_SECTION lpCriticalSection,
                                                DWORD dwSpinCount, DWORD Flags);
PSN_API DWORD WINAPI SetCriticalSectionSpinCount(LPCRITICAL_SECTION lpCriticalSection,
                                                 DWORD dwSpinCount);
PSN_API VOID WINAPI EnterCriticalSection(LPCRITICAL_SECTION lpCriticalSection);
PSN_API BOOL WINAPI TryEnterCriticalSection(LPCRITICAL_SECTION lpCriticalSection);
PSN_API VOID WINAPI LeaveCriticalSection(LPCRITICAL_SECTION lpCriticalSection);
PSN_API VOID WINAPI DeleteCriticalSection(LPCRITICAL_SECTION lpCriticalSection);

/* ---- condition variables ------------------------------------------------ */
/* FALSE with ERROR_TIMEOUT when the time runs out. Wake-ups may be spurious,
 * as on Windows. */
PSN_API VOID WINAPI InitializeConditionVariable(PCONDITION_VARIABLE ConditionVariable);
PSN_API BOOL WINAPI SleepConditionVariableSRW(PCONDITION_VARIABLE ConditionVariable,
                                              PSRWLOCK SRWLock, DWORD dwMilliseconds, ULONG Flags);
PSN_API BOOL WINAPI SleepConditionVariableCS(PCONDITION_VARIABLE ConditionVariable,
                                             PCRITICAL_SECTION CriticalSection,
                                             DWORD dwMilliseconds);
PSN_API VOID WINAPI WakeConditionVariable(PCONDITION_VARIABLE ConditionVariable);
PSN_API VOID WINAPI WakeAllConditionVariable(PCONDITION_VARIABLE ConditionVariable);

/* ---- time and the system ------------------------------------------------ */
/* Sleeps at least dwMilliseconds (signals never shorten it); 0 yields. */
PSN_API VOID WINAPI Sleep(DWORD dwMilliseconds);
/* As Sleep; returns 0 (no APCs, so never WAIT_IO_COMPLETION). */
PSN_API DWORD WINAPI SleepEx(DWORD dwMilliseconds, BOOL bAlertable);
PSN_API BOOL WINAPI SwitchToThread(void);
/* Milliseconds on CLOCK_MONOTONIC (since boot, without time suspended). */
PSN_API DWORD WINAPI GetTickCount(void);
PSN_API ULONGLONG WINAPI GetTickCount64(void);
/* CLOCK_MONOTONIC in units of 100 ns: the frequency is 10 MHz, as on most
 * Windows 10 and later systems. */
PSN_API BOOL WINAPI QueryPerformanceCounter(LARGE_INTEGER* lpPerformanceCount);
PSN_API BOOL WINAPI QueryPerformanceFrequency(LARGE_INTEGER* lpFrequency);
PSN_API VOID WINAPI GetSystemInfo(LPSYSTEM_INFO lpSystemInfo);
PSN_API VOID WINAPI GetNativeSystemInfo(LPSYSTEM_INFO lpSystemInfo);
/* Ends the process at once with SIGABRT: no handler, atexit function or
 * destructor runs. */
PSN_API DECLSPEC_NORETURN VOID WINAPI RaiseFailFastException(PEXCEPTION_RECORD pExceptionRecord,
                                                             PCONTEXT pContextRecord,
                                                             DWORD dwFlags);

/* ---- overlapped I/O on sockets (SPEC 9; docs/overlapped.md) ------------- */
/* A HANDLE here is a socket cast to HANDLE; files and pipes are not yet
 * supported. */
#define FILE_SKIP_COMPLETION_PORT_ON_SUCCESS 0x1
#define FILE_SKIP_SET_EVENT_ON_HANDLE 0x2
#define HasOverlappedIoCompleted(lpOverlapped) \
  (((DWORD)(lpOverlapped)->Internal) != STATUS_PENDING)
PSN_API BOOL WINAPI SetFileCompletionNotificationModes(HANDLE FileHandle, UCHAR Flags);
PSN_API BOOL WINAPI GetOverlappedResult(HANDLE hFile, LPOVERLAPPED lpOverlapped,
                                        LPDWORD lpNumberOfBytesTransferred, BOOL bWait);
PSN_API BOOL WINAPI CancelIo(HANDLE hFile);
PSN_API BOOL WINAPI CancelIoEx(HANDLE hFile, LPOVERLAPPED lpOverlapped);

#ifdef __cplusplus
}
#endif

#ifdef UNICODE
#define CreateEvent CreateEventW
#define CreateEventEx CreateEventExW
#else
#define CreateEvent CreateEventA
#define CreateEventEx CreateEventExA
#endif

#endif /* PSN_WIN32_SYSTEM_H */
