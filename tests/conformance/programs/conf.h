/* Shared helpers of the conformance programs: CHECK prints one PASS/FAIL
 * line per property, conf_done() prints the verdict and gives the exit
 * status. Every program keeps its output independent of timing, pids and
 * addresses, so that a native run, a recording and its replays print the
 * same bytes. */
#ifndef CONF_H
#define CONF_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int conf_failures;

#define CHECK(cond, ...)                 \
  do {                                   \
    if (cond) {                          \
      printf("PASS ");                   \
    } else {                             \
      printf("FAIL ");                   \
      conf_failures++;                   \
    }                                    \
    printf(__VA_ARGS__);                 \
    printf("\n");                        \
  } while (0)

/* Prints the verdict, flushes, and returns the exit status for main. */
static inline int conf_done(void) {
  printf("%s\n", conf_failures ? "FAIL" : "PASS");
  fflush(stdout);
  return conf_failures ? 1 : 0;
}

static inline pid_t conf_gettid(void) { return (pid_t)syscall(SYS_gettid); }

static inline void conf_sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* State letter of thread `tid` of process `pid` (0: this process), from
 * /proc; '?' when it cannot be read. */
static inline char conf_thread_state(pid_t pid, pid_t tid) {
  char path[96], buf[512];
  if (pid == 0)
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
  else
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return '?';
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return '?';
  buf[n] = 0;
  char* p = strrchr(buf, ')');
  return p && p[1] == ' ' ? p[2] : '?';
}

/* Waits (up to 2 s) until the thread sleeps in the kernel: the way these
 * programs make sure a syscall is blocked before they interrupt it, so
 * that the outcome does not depend on timing. Returns 1 when it does. */
static inline int conf_wait_sleeping(pid_t pid, pid_t tid) {
  for (int i = 0; i < 2000; i++) {
    if (conf_thread_state(pid, tid) == 'S') return 1;
    conf_sleep_ms(1);
  }
  return 0;
}

#endif
