/* conformance-class: 5
 * Eight children exit with different statuses at different times; the
 * parent counts SIGCHLDs with a handler, reaps with wait() in any order
 * and prints the sorted statuses; WNOHANG before anyone exits returns 0. */
#define _GNU_SOURCE /* before any system header */
#include <signal.h>
#include <sys/wait.h>

#include "conf.h"

static volatile sig_atomic_t sigchlds;
static void on_chld(int sig) {
  (void)sig;
  sigchlds++;
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_chld;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGCHLD, &sa, NULL);
  int gate[2];
  pipe(gate);
  pid_t kids[8];
  for (int i = 0; i < 8; i++) {
    fflush(stdout);
    kids[i] = fork();
    if (kids[i] == 0) {
      char b;
      read(gate[0], &b, 1); /* wait for the parent's go */
      conf_sleep_ms((8 - i) * 3);
      _exit(20 + i);
    }
  }
  int st;
  CHECK(waitpid(-1, &st, WNOHANG) == 0, "WNOHANG: nobody has exited yet");
  close(gate[0]);
  write(gate[1], "gggggggg", 8);
  int seen[8] = {0};
  for (int i = 0; i < 8; i++) {
    pid_t w = wait(&st);
    for (int k = 0; k < 8; k++)
      if (kids[k] == w && WIFEXITED(st)) seen[k] = WEXITSTATUS(st);
  }
  printf("statuses:");
  for (int i = 0; i < 8; i++) printf(" %d", seen[i]);
  printf("\n");
  int ok = 1;
  for (int i = 0; i < 8; i++) ok &= seen[i] == 20 + i;
  CHECK(ok, "each child's status matched to its pid");
  CHECK(sigchlds >= 1 && sigchlds <= 8, "SIGCHLD handler ran");
  CHECK(wait(&st) == -1 && errno == ECHILD, "ECHILD at the end");
  return conf_done();
}
