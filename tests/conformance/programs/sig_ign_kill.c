/* conformance-class: 1
 * SIGUSR1 ignored then sent with kill() and raise(): nothing happens and
 * nothing stays pending (blocked, it is pending until unblocked, then
 * dropped); then SIGUSR2 with its default action (terminate) still ends
 * the program (140). */
#define _GNU_SOURCE /* before any system header */
#include <signal.h>

#include "conf.h"

int main(void) {
  signal(SIGUSR1, SIG_IGN);
  CHECK(kill(getpid(), SIGUSR1) == 0, "kill(self, SIGUSR1) while ignored");
  CHECK(raise(SIGUSR1) == 0, "raise(SIGUSR1) while ignored");
  sigset_t pending;
  sigpending(&pending);
  CHECK(!sigismember(&pending, SIGUSR1), "nothing pending");
  /* Blocked and ignored: the kernel keeps it pending (the disposition may
   * change before it is unblocked), and discards it on unblock. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  kill(getpid(), SIGUSR1);
  sigpending(&pending);
  CHECK(sigismember(&pending, SIGUSR1), "blocked and ignored: pending");
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  sigpending(&pending);
  CHECK(!sigismember(&pending, SIGUSR1), "unblocked: discarded");
  struct sigaction old;
  sigaction(SIGUSR1, NULL, &old);
  CHECK(old.sa_handler == SIG_IGN, "disposition still SIG_IGN");
  printf("sending SIGUSR2 with the default action\n");
  fflush(stdout);
  kill(getpid(), SIGUSR2);
  printf("FAIL still alive after SIGUSR2\n");
  return 1;
}
