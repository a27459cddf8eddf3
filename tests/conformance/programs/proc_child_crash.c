/* conformance-class: 5
 * Children that end badly: one dereferences NULL (SIGSEGV), one calls
 * abort() (SIGABRT), one is killed by the parent with SIGKILL while
 * paused, one exits 255. waitpid reports each exactly; the parent goes
 * on and exits 0. */
#define _GNU_SOURCE /* before any system header */
#include <signal.h>
#include <sys/wait.h>

#include "conf.h"

static pid_t spawn(int how) {
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    if (how == 0) *(volatile int*)0 = 1;
    if (how == 1) abort();
    if (how == 2)
      for (;;) pause();
    _exit(255);
  }
  return c;
}

int main(void) {
  int st;
  pid_t c = spawn(0);
  waitpid(c, &st, 0);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "child 1 killed by SIGSEGV");
  c = spawn(1);
  waitpid(c, &st, 0);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "child 2 killed by SIGABRT");
  c = spawn(2);
  kill(c, SIGKILL); /* paused or not yet: SIGKILL ends it either way */
  waitpid(c, &st, 0);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "child 3 killed by SIGKILL");
  c = spawn(3);
  siginfo_t si;
  memset(&si, 0, sizeof si);
  waitid(P_PID, c, &si, WEXITED);
  CHECK(si.si_code == CLD_EXITED && si.si_status == 255, "child 4: waitid says exit 255");
  CHECK(waitpid(-1, &st, WNOHANG) == -1 && errno == ECHILD, "no children left");
  return conf_done();
}
