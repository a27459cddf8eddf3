/* conformance-class: 0
 * Process and thread ids against /proc: getpid() is what /proc/self points
 * to, /proc/<getpid()>/comm and /proc/self/task/<gettid()>/comm are our
 * own, and pthread_setname_np/pthread_getname_np on another thread (glibc
 * goes through /proc/self/task/<tid>/comm) work. */
#define _GNU_SOURCE /* before any system header */
#include <pthread.h>
#include <sys/prctl.h>

#include "conf.h"

static pthread_barrier_t bar;
static void* idle(void* arg) {
  pthread_barrier_wait(&bar);
  pthread_barrier_wait(&bar);
  return arg;
}

static int read_text(const char* path, char* buf, size_t size) {
  memset(buf, 0, size);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, size - 1);
  close(fd);
  return n < 0 ? -1 : 0;
}

int main(void) {
  prctl(PR_SET_NAME, "conf-ids");
  char link[64] = {0};
  readlink("/proc/self", link, sizeof link - 1);
  CHECK(atoi(link) == getpid(), "/proc/self is getpid()");
  char path[128], buf[64];
  snprintf(path, sizeof path, "/proc/%d/comm", (int)getpid());
  CHECK(read_text(path, buf, sizeof buf) == 0 && strcmp(buf, "conf-ids\n") == 0,
        "/proc/<getpid()>/comm is ours");
  snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)conf_gettid());
  CHECK(read_text(path, buf, sizeof buf) == 0 && strcmp(buf, "conf-ids\n") == 0,
        "/proc/self/task/<gettid()>/comm is ours");

  pthread_barrier_init(&bar, NULL, 2);
  pthread_t t;
  pthread_create(&t, NULL, idle, NULL);
  pthread_barrier_wait(&bar);
  int r = pthread_setname_np(t, "conf-other");
  CHECK(r == 0, "pthread_setname_np on another thread (%d)", r);
  char name[16] = {0};
  r = pthread_getname_np(t, name, sizeof name);
  CHECK(r == 0 && strcmp(name, "conf-other") == 0, "pthread_getname_np reads it back (%d)", r);
  pthread_barrier_wait(&bar);
  pthread_join(t, NULL);
  return conf_done();
}
