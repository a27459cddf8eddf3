/* conformance-class: 3
 * sigwaitinfo() in one thread receives real-time signals queued by
 * another with sigqueue (process-directed, blocked everywhere): every
 * value arrives, in order, with si_code SI_QUEUE; then sigtimedwait with
 * a zero timeout finds nothing (EAGAIN). */
#define _GNU_SOURCE /* before any system header */
#include <pthread.h>
#include <signal.h>

#include "conf.h"

#define N 20
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int waiting;

static void* queuer(void* arg) {
  (void)arg;
  pthread_mutex_lock(&mu);
  while (!waiting) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  for (int i = 0; i < N; i++) {
    union sigval v;
    v.sival_int = i * 7;
    sigqueue(getpid(), SIGRTMIN + 2, v);
  }
  return NULL;
}

int main(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGRTMIN + 2);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  pthread_t t;
  pthread_create(&t, NULL, queuer, NULL);
  pthread_mutex_lock(&mu);
  waiting = 1;
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&mu);
  int ok = 1;
  for (int i = 0; i < N; i++) {
    siginfo_t si;
    int s = sigwaitinfo(&set, &si);
    if (s != SIGRTMIN + 2 || si.si_code != SI_QUEUE || si.si_value.sival_int != i * 7) {
      ok = 0;
      printf("got signal %d code %d value %d at %d\n", s - SIGRTMIN, si.si_code,
             si.si_value.sival_int, i);
    }
  }
  pthread_join(t, NULL);
  CHECK(ok, "%d queued values received in order", N);
  struct timespec zero = {0, 0};
  int r = sigtimedwait(&set, NULL, &zero);
  CHECK(r == -1 && errno == EAGAIN, "queue empty afterwards");
  return conf_done();
}
