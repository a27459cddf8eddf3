/* conformance-class: 1
 * poll() with an infinite timeout on a pipe nobody writes, woken by a
 * signal another thread sends once poll is asleep: with a handler it
 * fails with EINTR (even with SA_RESTART, poll is never restarted after a
 * handler); the handler ran exactly once in the polling thread. */
#define _GNU_SOURCE /* before any system header */
#include <poll.h>
#include <pthread.h>
#include <signal.h>

#include "conf.h"

static volatile sig_atomic_t hits;
static volatile pid_t hit_tid;
static pthread_t main_thread;
static pid_t main_tid;
static conf_proc_t main_proc;

static void on_usr1(int sig) {
  (void)sig;
  hits++;
  hit_tid = conf_gettid();
}

static void* waker(void* arg) {
  (void)arg;
  if (!conf_wait_sleeping(&main_proc)) printf("main never slept\n");
  pthread_kill(main_thread, SIGUSR1);
  return NULL;
}

static void one_round(int flags, const char* what) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sa.sa_flags = flags;
  sigaction(SIGUSR1, &sa, NULL);
  int fds[2];
  pipe(fds);
  hits = 0;
  pthread_t t;
  pthread_create(&t, NULL, waker, NULL);
  struct pollfd p = {fds[0], POLLIN, 0};
  int r = poll(&p, 1, -1);
  int e = errno;
  pthread_join(t, NULL);
  CHECK(r == -1 && e == EINTR, "%s: poll(-1) fails with EINTR (r=%d errno=%d)", what, r, e);
  CHECK(hits == 1 && hit_tid == main_tid, "%s: handler ran once in the polling thread", what);
  close(fds[0]);
  close(fds[1]);
}

int main(void) {
  main_thread = pthread_self();
  main_tid = conf_gettid();
  main_proc = conf_this_thread();
  one_round(0, "no SA_RESTART");
  one_round(SA_RESTART, "SA_RESTART");
  return conf_done();
}
