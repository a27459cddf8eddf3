// Signals from outside the program (a child process) while it runs:
// handled, ignored, ignored by default, real-time ones queued with values;
// then one that kills it while it sleeps in pause (status 143).
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
static volatile sig_atomic_t usr1, rt_sum, rt_n;
static void on_usr1(int s) {
  (void)s;
  usr1 = usr1 + 1;
}
static void on_rt(int s, siginfo_t* si, void* c) {
  (void)s;
  (void)c;
  rt_sum = rt_sum * 10 + si->si_value.sival_int;
  rt_n = rt_n + 1;
}
int main(void) {
  signal(SIGUSR1, on_usr1);
  signal(SIGUSR2, SIG_IGN);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_rt;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigaction(SIGRTMIN + 2, &sa, NULL);
  pid_t parent = getpid();
  pid_t c = fork();
  if (c == 0) {
    kill(parent, SIGUSR2);
    kill(parent, SIGWINCH);
    kill(parent, SIGURG);
    kill(parent, SIGUSR1);
    for (int i = 1; i <= 3; i++) {
      union sigval v = {.sival_int = i};
      sigqueue(parent, SIGRTMIN + 2, v);
    }
    _exit(0);
  }
  while (usr1 == 0 || rt_n < 3) getppid();  // signals arrive while it runs
  int st;
  waitpid(c, &st, 0);
  printf("usr1 %d rt %d\n", static_cast<int>(usr1), static_cast<int>(rt_sum));
  fflush(stdout);
  c = fork();
  if (c == 0) {
    usleep(2000);
    kill(parent, SIGTERM);
    _exit(0);
  }
  for (;;) pause();
}
