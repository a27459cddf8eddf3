// Signals to the program's own process group, as `timeout` and shells send
// them: kill(0, sig) and kill(-pgid, sig) reach the sender itself and the
// child in its group. Then the group gets SIGTERM, which ends both: the
// parent's status is 143.
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
static volatile sig_atomic_t usr1, usr2;
static void on_signal(int s) {
  if (s == SIGUSR1) usr1 = usr1 + 1;
  if (s == SIGUSR2) usr2 = usr2 + 1;
}
static void report(const char* who) {
  printf("%s usr1 %d usr2 %d\n", who, static_cast<int>(usr1), static_cast<int>(usr2));
  fflush(stdout);
}
int main(void) {
  setpgid(0, 0);  // a group of its own, which it leads: -pgid is -getpid()
  signal(SIGUSR1, on_signal);
  signal(SIGUSR2, on_signal);
  int up[2], down[2];
  if (pipe(up) != 0 || pipe(down) != 0) return 1;
  char c;
  pid_t child = fork();
  if (child < 0) return 1;
  if (child == 0) {
    if (write(up[1], "r", 1) != 1) _exit(1);
    // Both signals were sent before this byte: they come first.
    if (read(down[0], &c, 1) != 1) _exit(1);
    report("child");
    if (write(up[1], "p", 1) != 1) _exit(1);
    for (;;) pause();  // until the group's SIGTERM
  }
  if (read(up[0], &c, 1) != 1) return 1;
  kill(0, SIGUSR1);
  kill(-getpid(), SIGUSR2);
  report("parent");
  if (write(down[1], "d", 1) != 1) return 1;
  if (read(up[0], &c, 1) != 1) return 1;  // the child has reported
  kill(0, SIGTERM);
  for (;;) pause();
}
