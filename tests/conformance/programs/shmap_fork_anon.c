/* conformance-class: 4
 * MAP_SHARED|MAP_ANONYMOUS memory between parent and child: the child
 * increments a shared counter with atomics and writes a string; the
 * parent, after waitpid, sees both. Then the parent and child take turns
 * through a flag in the shared page (child waits with a futex). */
#define _GNU_SOURCE /* before any system header */
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "conf.h"

struct shared {
  int counter;
  int turn;
  char text[64];
};

static void futex_wait(int* addr, int val) {
  syscall(SYS_futex, addr, FUTEX_WAIT, val, NULL, NULL, 0);
}
static void futex_wake(int* addr) { syscall(SYS_futex, addr, FUTEX_WAKE, 1, NULL, NULL, 0); }

int main(void) {
  struct shared* s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    for (int i = 0; i < 10000; i++) __atomic_add_fetch(&s->counter, 1, __ATOMIC_SEQ_CST);
    strcpy(s->text, "written by the child");
    _exit(0);
  }
  int st;
  waitpid(c, &st, 0);
  CHECK(s->counter == 10000, "child's increments visible (%d)", s->counter);
  CHECK(strcmp(s->text, "written by the child") == 0, "child's string visible");

  /* Ping-pong: parent sets turn to odd numbers, child to even ones. */
  fflush(stdout);
  c = fork();
  if (c == 0) {
    for (int i = 1; i < 20; i += 2) {
      while (__atomic_load_n(&s->turn, __ATOMIC_SEQ_CST) != i) futex_wait(&s->turn, i - 1);
      __atomic_store_n(&s->turn, i + 1, __ATOMIC_SEQ_CST);
      futex_wake(&s->turn);
    }
    _exit(0);
  }
  for (int i = 0; i < 20; i += 2) {
    while (__atomic_load_n(&s->turn, __ATOMIC_SEQ_CST) != i) futex_wait(&s->turn, i - 1);
    __atomic_store_n(&s->turn, i + 1, __ATOMIC_SEQ_CST);
    futex_wake(&s->turn);
  }
  while (__atomic_load_n(&s->turn, __ATOMIC_SEQ_CST) != 20) futex_wait(&s->turn, 19);
  waitpid(c, &st, 0);
  CHECK(s->turn == 20, "twenty turns through the shared page");
  return conf_done();
}
