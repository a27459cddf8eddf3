/* conformance-class: 3
 * A process-directed kill() from a worker thread wakes the main thread
 * blocked in sigsuspend: every thread blocks SIGUSR1 except inside the
 * main thread's sigsuspend, so only it can take the signal. Five rounds,
 * the worker waiting for a condition variable between them. */
#define _GNU_SOURCE /* before any system header */
#include <pthread.h>
#include <signal.h>

#include "conf.h"

static volatile sig_atomic_t hits;
static volatile pid_t handled_by;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int round_wanted;

static void on_usr1(int sig) {
  (void)sig;
  hits++;
  handled_by = conf_gettid();
}

static void* sender(void* arg) {
  (void)arg;
  for (int i = 1; i <= 5; i++) {
    pthread_mutex_lock(&mu);
    while (round_wanted < i) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    kill(getpid(), SIGUSR1);
  }
  return NULL;
}

int main(void) {
  signal(SIGUSR1, on_usr1);
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, &old);
  pthread_t t;
  pthread_create(&t, NULL, sender, NULL);
  int ok = 1;
  for (int i = 1; i <= 5; i++) {
    pthread_mutex_lock(&mu);
    round_wanted = i;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    handled_by = 0;
    int r = sigsuspend(&old);
    if (r != -1 || errno != EINTR || hits != i || handled_by != conf_gettid()) ok = 0;
  }
  pthread_join(t, NULL);
  CHECK(ok, "five process-directed signals, each woke the main thread's sigsuspend");
  CHECK(hits == 5, "handler ran five times (%d)", (int)hits);
  return conf_done();
}
