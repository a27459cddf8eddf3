/* conformance-class: 1
 * Blocked signals stay pending and are delivered on unblock, standard
 * signals merge, real-time signals queue (the handlers' order is printed),
 * and a signal still pending and blocked at exit does not change the exit
 * status (exit 3 on purpose). */
#define _GNU_SOURCE /* before any system header */
#include <signal.h>

#include "conf.h"

static int order[16];
static volatile sig_atomic_t norder;
static volatile sig_atomic_t usr1_count;

static void on_sig(int sig) {
  if (sig == SIGUSR1) usr1_count++;
  if (norder < 16) order[norder++] = sig;
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sig;
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGRTMIN, &sa, NULL);
  sigaction(SIGRTMIN + 1, &sa, NULL);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGRTMIN);
  sigaddset(&set, SIGRTMIN + 1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  raise(SIGUSR1);
  raise(SIGUSR1);
  kill(getpid(), SIGRTMIN + 1);
  kill(getpid(), SIGRTMIN);
  kill(getpid(), SIGRTMIN);
  sigset_t pending;
  sigpending(&pending);
  CHECK(sigismember(&pending, SIGUSR1) && sigismember(&pending, SIGRTMIN) &&
            sigismember(&pending, SIGRTMIN + 1),
        "all three pending while blocked");
  CHECK(usr1_count == 0, "no handler ran while blocked");
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  CHECK(usr1_count == 1, "two SIGUSR1 merged into one delivery (%d)", (int)usr1_count);
  CHECK(norder == 4, "four deliveries in all (%d)", (int)norder);
  printf("delivery order:");
  for (int i = 0; i < norder; i++)
    printf(" %s", order[i] == SIGUSR1 ? "USR1" : order[i] == SIGRTMIN ? "RTMIN" : "RTMIN+1");
  printf("\n");
  /* The kernel sets up one handler frame per pending signal before
   * returning to user space, lowest number first, so the handlers run in
   * the reverse order: the order printed above is the kernel's. */
  int rtmin = 0, rtmin1 = 0;
  for (int i = 0; i < norder; i++) {
    rtmin += order[i] == SIGRTMIN;
    rtmin1 += order[i] == SIGRTMIN + 1;
  }
  CHECK(rtmin == 2 && rtmin1 == 1, "RT signals queued: RTMIN twice, RTMIN+1 once");

  /* Pending at exit: SIGTERM blocked and sent; exit(3) wins. */
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigprocmask(SIG_BLOCK, &set, NULL);
  raise(SIGTERM);
  sigpending(&pending);
  CHECK(sigismember(&pending, SIGTERM), "SIGTERM pending at exit");
  conf_done();
  exit(3);
}
