/* conformance-class: 5
 * clone() without CLONE_VM (a fork by hand, with its own stack): the
 * child's writes to its copy of memory do not reach the parent; it reports
 * through a pipe and its exit status; SIGCHLD is its exit signal. */
#define _GNU_SOURCE /* before any system header */
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>

#include "conf.h"

static int value = 1;
static int pfd[2];

static int child_fn(void* arg) {
  value = (int)(long)arg; /* its own copy */
  char msg[32];
  int n = snprintf(msg, sizeof msg, "child value %d\n", value);
  write(pfd[1], msg, n);
  write(1, msg, n);
  return 9;
}

int main(void) {
  pipe(pfd);
  static char stack[64 * 1024] __attribute__((aligned(16)));
  fflush(stdout);
  pid_t c = clone(child_fn, stack + sizeof stack, SIGCHLD, (void*)42L);
  CHECK(c > 0, "clone");
  int st;
  CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 9, "child exited 9");
  char buf[32] = {0};
  read(pfd[0], buf, sizeof buf - 1);
  CHECK(strcmp(buf, "child value 42\n") == 0, "pipe: %.14s", buf);
  CHECK(value == 1, "parent's copy unchanged (%d)", value);
  return conf_done();
}
