/* conformance-class: 0
 * POSIX timers and interval timers: timer_create(SIGEV_SIGNAL) periodic
 * every 5 ms, five expirations taken with sigwaitinfo (si_code SI_TIMER,
 * si_value as given); timer_gettime while armed; setitimer(ITIMER_REAL)
 * periodic with a handler, counted with sigsuspend; timer_create with
 * SIGEV_THREAD (glibc runs the function in a thread of its own). */
#define _GNU_SOURCE /* before any system header */
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include "conf.h"

static volatile sig_atomic_t alrm;
static void on_alrm(int sig) {
  (void)sig;
  alrm++;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int thread_calls, thread_value;
static void on_thread_timer(union sigval v) {
  pthread_mutex_lock(&mu);
  thread_calls++;
  thread_value = v.sival_int;
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&mu);
}

int main(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGRTMIN);
  sigprocmask(SIG_BLOCK, &set, NULL);
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = SIGRTMIN;
  sev.sigev_value.sival_int = 77;
  timer_t tm;
  CHECK(timer_create(CLOCK_MONOTONIC, &sev, &tm) == 0, "timer_create");
  struct itimerspec its = {{0, 5000000}, {0, 5000000}};
  timer_settime(tm, 0, &its, NULL);
  struct itimerspec cur;
  timer_gettime(tm, &cur);
  CHECK(cur.it_interval.tv_nsec == 5000000, "timer_gettime shows the interval");
  int ok = 1;
  for (int i = 0; i < 5; i++) {
    siginfo_t si;
    if (sigwaitinfo(&set, &si) != SIGRTMIN || si.si_code != SI_TIMER || si.si_value.sival_int != 77)
      ok = 0;
  }
  CHECK(ok, "five expirations with SI_TIMER and the value");
  timer_delete(tm);

  signal(SIGALRM, on_alrm);
  sigset_t alrm_set, old;
  sigemptyset(&alrm_set);
  sigaddset(&alrm_set, SIGALRM);
  sigprocmask(SIG_BLOCK, &alrm_set, &old);
  struct itimerval it = {{0, 3000}, {0, 3000}};
  setitimer(ITIMER_REAL, &it, NULL);
  while (alrm < 4) sigsuspend(&old);
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  sigprocmask(SIG_SETMASK, &old, NULL);
  CHECK(alrm >= 4, "setitimer fired at least four times");

  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_THREAD;
  sev.sigev_notify_function = on_thread_timer;
  sev.sigev_value.sival_int = 99;
  timer_t tt;
  CHECK(timer_create(CLOCK_MONOTONIC, &sev, &tt) == 0, "SIGEV_THREAD timer_create");
  struct itimerspec once = {{0, 0}, {0, 2000000}};
  timer_settime(tt, 0, &once, NULL);
  pthread_mutex_lock(&mu);
  while (thread_calls == 0) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  CHECK(thread_calls == 1 && thread_value == 99, "SIGEV_THREAD function ran with the value");
  timer_delete(tt);
  return conf_done();
}
