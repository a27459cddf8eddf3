/* conformance-class: 5
 * fork(): the child prints its own lines (stdout flushed before fork, the
 * parent waits before printing more, so the order is fixed) and exits
 * with 7; waitpid reports it. Then three children in turn. */
#define _GNU_SOURCE /* before any system header */
#include <sys/wait.h>

#include "conf.h"

int main(void) {
  printf("parent before fork\n");
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    printf("child: hello, getppid is the parent: %s\n", getppid() > 0 ? "yes" : "no");
    fflush(stdout);
    _exit(7);
  }
  int st = 0;
  CHECK(waitpid(c, &st, 0) == c, "waitpid returned the child");
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7, "child exited with 7");
  for (int i = 0; i < 3; i++) {
    fflush(stdout);
    c = fork();
    if (c == 0) {
      printf("child %d says hi\n", i);
      exit(10 + i); /* exit() flushes stdio */
    }
    waitpid(c, &st, 0);
    CHECK(WEXITSTATUS(st) == 10 + i, "child %d exited with %d", i, 10 + i);
  }
  return conf_done();
}
