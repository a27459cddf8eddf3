/* conformance-class: 1
 * Default dispositions: SIGCHLD, SIGURG and SIGWINCH are ignored by
 * default (no effect, even with kill), SIGCONT continues (no effect on a
 * running process), and finally SIGTERM terminates: exit status 143. */
#define _GNU_SOURCE /* before any system header */
#include <signal.h>

#include "conf.h"

int main(void) {
  CHECK(kill(getpid(), SIGCHLD) == 0, "SIGCHLD sent (default: ignore)");
  CHECK(raise(SIGURG) == 0, "SIGURG raised (default: ignore)");
  CHECK(raise(SIGWINCH) == 0, "SIGWINCH raised (default: ignore)");
  CHECK(kill(getpid(), SIGCONT) == 0, "SIGCONT sent (default: continue)");
  sigset_t pending;
  sigpending(&pending);
  CHECK(sigisemptyset(&pending), "nothing pending");
  printf("survived the default-ignored signals; now SIGTERM\n");
  fflush(stdout);
  kill(getpid(), SIGTERM);
  for (;;) pause(); /* the signal is delivered on the way out of kill */
}
