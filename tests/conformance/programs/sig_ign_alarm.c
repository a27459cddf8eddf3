/* conformance-class: 1
 * An ignored SIGALRM from alarm() must not interrupt anything nor end the
 * program; a later raise(SIGABRT) with the default action still kills it
 * (exit status 134). */
#define _GNU_SOURCE /* before any system header */
#include <signal.h>

#include "conf.h"

int main(void) {
  signal(SIGALRM, SIG_IGN);
  alarm(1);
  /* 1.2 s: the alarm fires in the middle and is discarded. */
  struct timespec req = {1, 200000000L}, rem = {0, 0};
  int r = nanosleep(&req, &rem);
  CHECK(r == 0, "nanosleep not interrupted by the ignored SIGALRM (r=%d errno=%d)", r,
        r ? errno : 0);
  CHECK(alarm(0) == 0, "the alarm has expired");
  sigset_t pending;
  sigpending(&pending);
  CHECK(!sigismember(&pending, SIGALRM), "an ignored SIGALRM is not left pending");
  printf("raising SIGABRT\n");
  fflush(stdout);
  raise(SIGABRT);
  printf("FAIL still alive after SIGABRT\n");
  return 1;
}
