/* conformance-class: 1
 * A process-directed signal (kill to our own pid) is taken by the one
 * thread that does not block it, never by the sender, which blocks it;
 * sent while every thread blocks it, it stays pending for the process
 * until a thread unblocks it; sent while that thread sleeps in a condition
 * variable, it wakes it and the wait goes on. */
#define _GNU_SOURCE /* before any system header */
#include <pthread.h>
#include <signal.h>

#include "conf.h"

static volatile pid_t taker_tid, handled_by;
static volatile sig_atomic_t count;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int stage;

static void on_usr1(int sig) {
  (void)sig;
  handled_by = conf_gettid();
  count++;
}

static void set_stage(int s) {
  pthread_mutex_lock(&mu);
  stage = s;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
}

static void wait_stage(int s) {
  pthread_mutex_lock(&mu);
  while (stage < s) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
}

static void* taker(void* arg) {
  (void)arg;
  taker_tid = conf_gettid();
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  set_stage(1);
  wait_stage(2); /* main has sent the first signal */
  /* Stage 3: unblock; the process-wide pending SIGUSR1 is ours now. */
  wait_stage(3);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
  set_stage(4);
  /* Sleeping in a futex with SIGUSR1 unblocked: main's second kill must
   * wake this thread, run the handler, and resume the wait. */
  wait_stage(5);
  return NULL;
}

int main(void) {
  signal(SIGUSR1, on_usr1);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by the taker */
  pthread_t t;
  pthread_create(&t, NULL, taker, NULL);
  wait_stage(1);
  kill(getpid(), SIGUSR1); /* everybody blocks it: pending for the process */
  sigset_t pending;
  sigpending(&pending);
  CHECK(sigismember(&pending, SIGUSR1), "pending for the process while all block it");
  CHECK(count == 0, "not delivered while all block it");
  set_stage(2);
  set_stage(3);
  wait_stage(4);
  CHECK(count == 1, "delivered once (%d)", (int)count);
  CHECK(handled_by == taker_tid, "taken by the thread that unblocked it");
  handled_by = 0;
  kill(getpid(), SIGUSR1); /* only the taker can take it */
  set_stage(5);
  pthread_join(t, NULL);
  CHECK(count == 2, "second one delivered (%d)", (int)count);
  CHECK(handled_by == taker_tid, "taken by the only thread that does not block it");
  sigpending(&pending);
  CHECK(!sigismember(&pending, SIGUSR1), "nothing left pending");
  return conf_done();
}
