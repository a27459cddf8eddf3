/* conformance-class: 2
 * nanosleep() and clock_nanosleep() interrupted by a handled signal fail
 * with EINTR even with SA_RESTART, and report a remaining time that is
 * positive and below the request; a relative clock_nanosleep returns the
 * error number instead of setting errno. */
#define _GNU_SOURCE /* before any system header */
#include <pthread.h>
#include <signal.h>

#include "conf.h"

static volatile sig_atomic_t hits;
static pthread_t sleeper;
static conf_proc_t sleeper_proc;

static void on_alrm(int sig) {
  (void)sig;
  hits++;
}

static void* helper(void* arg) {
  (void)arg;
  conf_wait_sleeping(&sleeper_proc);
  pthread_kill(sleeper, SIGALRM);
  return NULL;
}

int main(void) {
  sleeper = pthread_self();
  sleeper_proc = conf_this_thread();
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alrm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);

  pthread_t t;
  pthread_create(&t, NULL, helper, NULL);
  struct timespec req = {1, 500000000L}, rem = {0, 0};
  int r = nanosleep(&req, &rem);
  int e = errno;
  pthread_join(t, NULL);
  CHECK(r == -1 && e == EINTR, "nanosleep: EINTR despite SA_RESTART (r=%d errno=%d)", r, e);
  CHECK(rem.tv_sec * 1000000000L + rem.tv_nsec > 0 &&
            rem.tv_sec * 1000000000L + rem.tv_nsec < 1500000000L,
        "nanosleep: remaining time in (0, request)");
  CHECK(hits == 1, "handler ran once");

  pthread_create(&t, NULL, helper, NULL);
  rem.tv_sec = rem.tv_nsec = 0;
  r = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem);
  pthread_join(t, NULL);
  CHECK(r == EINTR, "clock_nanosleep: returns EINTR (%d)", r);
  CHECK(rem.tv_sec * 1000000000L + rem.tv_nsec > 0, "clock_nanosleep: remaining time positive");
  CHECK(hits == 2, "handler ran twice");
  return conf_done();
}
