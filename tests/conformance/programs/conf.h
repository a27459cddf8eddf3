/* Shared helpers of the conformance programs: CHECK prints one PASS/FAIL
 * line per property, conf_done() prints the verdict and gives the exit
 * status. Every program keeps its output independent of timing, pids and
 * addresses, so that a native run, a recording and its replays print the
 * same bytes. */
#ifndef CONF_H
#define CONF_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* each program defines it before any system header */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int conf_failures;

#define CHECK(cond, ...) \
  do {                   \
    if (cond) {          \
      printf("PASS ");   \
    } else {             \
      printf("FAIL ");   \
      conf_failures++;   \
    }                    \
    printf(__VA_ARGS__); \
    printf("\n");        \
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

/* A thread's or process's directory in /proc ("/proc/PID/task/TID" or
 * "/proc/PID"). Found through /proc/thread-self and /proc/self, never from
 * gettid()/getpid(): those are ids in the caller's pid namespace, which
 * need not be the namespace /proc shows. */
typedef struct {
  char path[64];
} conf_proc_t;

static inline conf_proc_t conf_proc_of(const char* link) {
  conf_proc_t p;
  char target[40] = {0};
  if (readlink(link, target, sizeof target - 1) <= 0) target[0] = 0;
  snprintf(p.path, sizeof p.path, "/proc/%s", target);
  return p;
}
static inline conf_proc_t conf_this_thread(void) { return conf_proc_of("/proc/thread-self"); }
static inline conf_proc_t conf_this_process(void) { return conf_proc_of("/proc/self"); }

/* The state letter in PROC/stat ('S' sleeping, 'Z' zombie, ...); '?' when
 * it cannot be read. */
static inline char conf_state(const conf_proc_t* proc) {
  char path[96], buf[512];
  snprintf(path, sizeof path, "%s/stat", proc->path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return '?';
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return '?';
  buf[n] = 0;
  char* p = strrchr(buf, ')');
  return p && p[1] == ' ' ? p[2] : '?';
}

/* Waits (up to 2 s) until the thread or process sleeps in the kernel: the
 * way these programs make sure a syscall is blocked before they interrupt
 * it, so that the outcome does not depend on timing. Returns 1 when it
 * does. */
static inline int conf_wait_sleeping(const conf_proc_t* proc) {
  for (int i = 0; i < 2000; i++) {
    if (conf_state(proc) == 'S') return 1;
    conf_sleep_ms(1);
  }
  return 0;
}

#endif
