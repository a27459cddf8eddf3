/* conformance-class: 0
 * sigaltstack: a handler installed with SA_ONSTACK runs on the alternate
 * stack (a local's address lies inside it, sigaltstack reports
 * SS_ONSTACK); a stack overflow is caught there; SS_DISABLE turns it off. */
#define _GNU_SOURCE /* before any system header */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>

#include "conf.h"

static char* alt;
static size_t alt_size = 64 * 1024;
static volatile int on_alt, flagged;
static sigjmp_buf env;

static void on_usr1(int sig) {
  (void)sig;
  char local;
  on_alt = &local >= alt && &local < alt + alt_size;
  stack_t cur;
  sigaltstack(NULL, &cur);
  flagged = (cur.ss_flags & SS_ONSTACK) != 0;
}

static void on_segv(int sig) {
  char local;
  on_alt = &local >= alt && &local < alt + alt_size;
  siglongjmp(env, sig);
}

/* Overflows the stack on purpose. */
#pragma GCC diagnostic ignored "-Winfinite-recursion"
static int recurse(int n) {
  volatile char pad[1024];
  pad[0] = (char)n;
  return recurse(n + 1) + pad[0];
}

int main(void) {
  alt = malloc(alt_size);
  stack_t ss = {.ss_sp = alt, .ss_size = alt_size, .ss_flags = 0};
  CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack installed");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_ONSTACK;
  sigaction(SIGUSR1, &sa, NULL);
  raise(SIGUSR1);
  CHECK(on_alt, "handler ran on the alternate stack");
  CHECK(flagged, "sigaltstack said SS_ONSTACK inside the handler");
  stack_t cur;
  sigaltstack(NULL, &cur);
  CHECK(!(cur.ss_flags & SS_ONSTACK), "not on it after the handler");

  sa.sa_handler = on_segv;
  sigaction(SIGSEGV, &sa, NULL);
  on_alt = 0;
  int sig = sigsetjmp(env, 1);
  if (sig == 0) recurse(0);
  CHECK(sig == SIGSEGV && on_alt, "stack overflow caught on the alternate stack");

  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, NULL);
  sigaltstack(NULL, &cur);
  CHECK(cur.ss_flags & SS_DISABLE, "disabled");
  on_alt = 1;
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, NULL);
  raise(SIGUSR1);
  CHECK(!on_alt, "handler runs on the normal stack once disabled");
  return conf_done();
}
