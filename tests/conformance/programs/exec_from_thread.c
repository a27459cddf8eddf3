/* conformance-class: 6
 * execve from a second thread while the main thread sleeps in
 * pthread_join and a third spins in nanosleep: the kernel kills the other
 * threads, the exec'ing thread becomes the leader, and the new image
 * (ourselves with "after") runs single-threaded and exits 0. */
#define _GNU_SOURCE /* before any system header */
#include <dirent.h>
#include <pthread.h>

#include "conf.h"

static char* self;

static void* sleeper(void* arg) {
  (void)arg;
  for (;;) conf_sleep_ms(10);
  return NULL;
}

static void* execer(void* arg) {
  (void)arg;
  printf("thread execs\n");
  fflush(stdout);
  char* args[] = {self, "after", NULL};
  execv("/proc/self/exe", args);
  printf("FAIL exec failed\n");
  fflush(stdout);
  _exit(1);
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "after") == 0) {
    int threads = 0;
    DIR* d = opendir("/proc/self/task");
    struct dirent* e;
    while ((e = readdir(d)))
      if (e->d_name[0] != '.') threads++;
    closedir(d);
    CHECK(threads == 1, "the new image has one thread (%d)", threads);
    CHECK(getpid() == conf_gettid(), "it is the thread group leader");
    return conf_done();
  }
  self = argv[0];
  pthread_t a, b;
  pthread_create(&a, NULL, sleeper, NULL);
  pthread_create(&b, NULL, execer, NULL);
  pthread_join(b, NULL);
  printf("FAIL main thread survived the exec\n");
  return 1;
}
