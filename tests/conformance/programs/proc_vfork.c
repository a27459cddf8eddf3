/* conformance-class: 5
 * vfork(): the parent is suspended until the child _exits; the child
 * writes to stdout with write(2) and stores into the parent's memory (shared
 * until exec/exit, which vfork's contract allows for a plain variable). */
#define _GNU_SOURCE /* before any system header */
#include <sys/wait.h>

#include "conf.h"

static volatile int seen_by_child;

int main(void) {
  fflush(stdout);
  pid_t c = vfork();
  if (c == 0) {
    static const char msg[] = "vfork child writes\n";
    write(1, msg, sizeof msg - 1);
    seen_by_child = 1234;
    _exit(3);
  }
  CHECK(seen_by_child == 1234, "the child's store is in the parent's memory");
  int st;
  CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 3, "child exited 3");
  return conf_done();
}
