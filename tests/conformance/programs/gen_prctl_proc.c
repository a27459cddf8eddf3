/* conformance-class: 0
 * prctl and /proc/self: PR_SET_NAME / PR_GET_NAME and /proc/self/comm
 * (also per thread), PR_GET_DUMPABLE, PR_SET_PDEATHSIG read back,
 * /proc/self/status's Name and Threads lines, /proc/self/maps containing
 * the program, readlink /proc/self/exe, the descriptors in /proc/self/fd,
 * and getpid() == gettid() in the main thread. */
#define _GNU_SOURCE /* before any system header */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>

#include "conf.h"

static char* slurp(const char* path) {
  static char buf[65536];
  int fd = open(path, O_RDONLY);
  if (fd < 0) return strcpy(buf, "");
  size_t n = 0;
  ssize_t k;
  while (n < sizeof buf - 1 && (k = read(fd, buf + n, sizeof buf - 1 - n)) > 0) n += k;
  buf[n] = 0;
  close(fd);
  return buf;
}

static pthread_barrier_t bar;
static void* named(void* arg) {
  (void)arg;
  prctl(PR_SET_NAME, "conf-worker");
  pthread_barrier_wait(&bar);
  pthread_barrier_wait(&bar);
  return NULL;
}

int main(int argc, char** argv) {
  (void)argc;
  prctl(PR_SET_NAME, "conf-main");
  char name[17] = {0};
  prctl(PR_GET_NAME, name);
  CHECK(strcmp(name, "conf-main") == 0, "PR_GET_NAME: %s", name);
  CHECK(strcmp(slurp("/proc/self/comm"), "conf-main\n") == 0, "/proc/self/comm");
  CHECK(prctl(PR_GET_DUMPABLE) == 1, "dumpable");
  prctl(PR_SET_PDEATHSIG, SIGUSR2);
  int sig = 0;
  prctl(PR_GET_PDEATHSIG, &sig);
  CHECK(sig == SIGUSR2, "PDEATHSIG read back");

  pthread_barrier_init(&bar, NULL, 2);
  pthread_t t;
  pthread_create(&t, NULL, named, NULL);
  pthread_barrier_wait(&bar);
  char* st = slurp("/proc/self/status");
  CHECK(strstr(st, "Name:\tconf-main\n") != NULL, "status Name");
  CHECK(strstr(st, "Threads:\t2\n") != NULL, "status Threads: 2");
  DIR* d = opendir("/proc/self/task");
  struct dirent* e;
  int worker_named = 0, tasks = 0;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    tasks++;
    char p[300];
    snprintf(p, sizeof p, "/proc/self/task/%s/comm", e->d_name);
    if (strcmp(slurp(p), "conf-worker\n") == 0) worker_named = 1;
  }
  closedir(d);
  CHECK(tasks == 2 && worker_named, "the thread's own name in its task's comm");
  pthread_barrier_wait(&bar);
  pthread_join(t, NULL);

  char exe[4096] = {0};
  readlink("/proc/self/exe", exe, sizeof exe - 1);
  const char* base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
  CHECK(strstr(exe, base) != NULL, "/proc/self/exe names the program");
  CHECK(strstr(slurp("/proc/self/maps"), exe) != NULL, "/proc/self/maps maps it");
  int extra = open("/dev/null", O_RDONLY);
  char want[32];
  snprintf(want, sizeof want, "%d", extra);
  d = opendir("/proc/self/fd");
  int found = 0;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, want) == 0) found = 1;
  closedir(d);
  CHECK(found, "the new descriptor is listed in /proc/self/fd");
  CHECK(getpid() == conf_gettid(), "main thread: pid == tid");
  return conf_done();
}
