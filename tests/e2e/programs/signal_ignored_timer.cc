// A program that ignores SIGALRM: its timer fires while it sleeps in poll,
// which natively never notices (the kernel discards an ignored signal) and
// traced is interrupted and restarted. The thread must go on being
// recorded: a handled SIGUSR1 afterwards, then raise(SIGABRT), status 134.
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <unistd.h>
static volatile sig_atomic_t usr1;
static void on_usr1(int s) {
  (void)s;
  usr1 = usr1 + 1;
}
int main(void) {
  signal(SIGALRM, SIG_IGN);
  struct itimerval t = {{0, 0}, {0, 2000}};
  setitimer(ITIMER_REAL, &t, NULL);
  int r = poll(NULL, 0, 50);  // the ignored alarm lands inside: poll restarts
  printf("poll %d\n", r);
  signal(SIGUSR1, on_usr1);
  kill(getpid(), SIGUSR1);
  printf("usr1 %d\n", static_cast<int>(usr1));
  fflush(stdout);
  raise(SIGABRT);
  return 3;
}
