// Signals blocked while the program sends them to itself: standard ones
// merge, real-time ones queue with their sigqueue values; unblocking delivers
// them all at once, nested in the kernel's order.
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static volatile int order[64], n;
static void on_sig(int s, siginfo_t* si, void* c) {
  (void)c;
  order[n] = s * 100 + (s >= SIGRTMIN ? si->si_value.sival_int : 0);
  n = n + 1;
}
int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sig;
  sa.sa_flags = SA_SIGINFO;
  int sigs[] = {SIGUSR1, SIGUSR2, SIGRTMIN, SIGRTMIN + 3};
  sigset_t set;
  sigemptyset(&set);
  for (int i = 0; i < 4; i++) {
    sigaction(sigs[i], &sa, NULL);
    sigaddset(&set, sigs[i]);
  }
  sigprocmask(SIG_BLOCK, &set, NULL);
  for (int i = 0; i < 3; i++) {
    kill(getpid(), SIGUSR1);
    union sigval v = {.sival_int = i + 1};
    sigqueue(getpid(), SIGRTMIN + 3, v);
    v.sival_int = 10 + i;
    sigqueue(getpid(), SIGRTMIN, v);
  }
  raise(SIGUSR2);
  sigset_t pend;
  sigpending(&pend);
  printf("pending usr1 %d rtmin %d\n", sigismember(&pend, SIGUSR1), sigismember(&pend, SIGRTMIN));
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  printf("delivered %d:", n);
  for (int i = 0; i < n; i++) printf(" %d", order[i]);
  printf("\n");
  return 0;
}
