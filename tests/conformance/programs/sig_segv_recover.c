/* conformance-class: 1
 * Synchronous signals with handlers: a SIGSEGV handler that reads si_addr
 * and siglongjmps out, a SIGFPE from an integer division by zero, and a
 * SIGILL from ud2, each recovered; then a SIGSEGV handler that fixes the
 * page (mprotect) and returns so the faulting store is retried. */
#define _GNU_SOURCE /* before any system header */
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>

#include "conf.h"

static sigjmp_buf env;
static volatile void* fault_addr;
static volatile int fixes;
static char* volatile page; /* volatile: the handler reads it */

static void on_fault(int sig, siginfo_t* si, void* uc) {
  (void)uc;
  fault_addr = si->si_addr;
  siglongjmp(env, sig);
}

static void on_fix(int sig, siginfo_t* si, void* uc) {
  (void)sig;
  (void)uc;
  if ((char*)si->si_addr >= page && (char*)si->si_addr < page + 4096) {
    mprotect(page, 4096, PROT_READ | PROT_WRITE);
    fixes++;
  } else {
    _exit(99);
  }
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGFPE, &sa, NULL);
  sigaction(SIGILL, &sa, NULL);

  volatile int* volatile bad = (volatile int*)0x10;
  int sig = sigsetjmp(env, 1);
  if (sig == 0) {
    *bad = 1;
    printf("FAIL no fault\n");
  }
  CHECK(sig == SIGSEGV, "store to 0x10 gave SIGSEGV");
  CHECK(fault_addr == (void*)0x10, "si_addr is the faulting address");

  volatile int zero = 0;
  sig = sigsetjmp(env, 1);
  if (sig == 0) {
    volatile int x = 10 / zero;
    (void)x;
  }
  CHECK(sig == SIGFPE, "division by zero gave SIGFPE (%d)", sig);

  sig = sigsetjmp(env, 1);
  if (sig == 0) __asm__ volatile("ud2");
  CHECK(sig == SIGILL, "ud2 gave SIGILL (%d)", sig);

  /* The signal mask was restored by siglongjmp: SIGSEGV works again. */
  page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  sa.sa_sigaction = on_fix;
  sigaction(SIGSEGV, &sa, NULL);
  ((volatile char*)page)[100] = 42;
  CHECK(fixes == 1 && ((volatile char*)page)[100] == 42,
        "handler made the page writable, store retried");
  return conf_done();
}
