// Signals the program ignores (SIG_IGN) or whose default is to ignore
// (SIGCHLD, SIGURG, SIGWINCH, SIGCONT), sent with kill: nothing happens, and
// a handled signal and abort() afterwards behave as natively (status 134).
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static volatile sig_atomic_t got;
static void on_usr2(int s) { got = s; }
int main(void) {
  signal(SIGUSR1, SIG_IGN);
  for (int i = 0; i < 3; i++) kill(getpid(), SIGUSR1);
  kill(getpid(), SIGCHLD);
  kill(getpid(), SIGURG);
  kill(getpid(), SIGWINCH);
  kill(getpid(), SIGCONT);
  signal(SIGUSR2, on_usr2);
  kill(getpid(), SIGUSR2);
  printf("got %d\n", static_cast<int>(got));
  fflush(stdout);
  abort();
}
