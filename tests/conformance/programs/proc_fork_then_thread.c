/* conformance-class: 5
 * Threads created after child processes: fork a child and reap it, start
 * a thread, posix_spawn-like vfork+_exit, start two more; each thread
 * reports through join, and gettid() of every thread differs from the
 * process's and from the others'. */
#define _GNU_SOURCE /* before any system header */
#include <pthread.h>
#include <sys/wait.h>

#include "conf.h"

static void* worker(void* arg) {
  long tid = conf_gettid();
  return (void*)(tid * 1000 + (long)arg);
}

static long start_and_join(long i) {
  pthread_t t;
  pthread_create(&t, NULL, worker, (void*)i);
  void* r;
  pthread_join(t, &r);
  return (long)r;
}

int main(void) {
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) _exit(3);
  int st;
  CHECK(waitpid(c, &st, 0) == c && WEXITSTATUS(st) == 3, "forked child exited 3");
  long a = start_and_join(1);
  c = vfork();
  if (c == 0) _exit(4);
  CHECK(waitpid(c, &st, 0) == c && WEXITSTATUS(st) == 4, "vforked child exited 4");
  long b = start_and_join(2), d = start_and_join(3);
  CHECK(a % 1000 == 1 && b % 1000 == 2 && d % 1000 == 3, "three threads ran and were joined");
  long me = getpid();
  CHECK(a / 1000 != me && b / 1000 != me && d / 1000 != me, "thread ids differ from the pid");
  return conf_done();
}
