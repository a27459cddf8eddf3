/* conformance-class: 3
 * A thread waits in sigsuspend() for SIGUSR1, which every thread blocks
 * outside sigsuspend; the main thread sends it with pthread_kill, once
 * right away and once after the waiter is asleep. Either way it can only
 * be delivered inside sigsuspend, so the outcome is fixed: the handler
 * runs in the waiter, sigsuspend returns -1/EINTR, the old mask is back. */
#define _GNU_SOURCE /* before any system header */
#include <pthread.h>
#include <signal.h>

#include "conf.h"

static volatile pid_t handled_by;
static conf_proc_t waiter_proc;
static volatile int waiter_known;

static void on_usr1(int sig) {
  (void)sig;
  handled_by = conf_gettid();
}

static void* waiter(void* arg) {
  (void)arg;
  waiter_proc = conf_this_thread();
  __atomic_store_n(&waiter_known, 1, __ATOMIC_SEQ_CST);
  sigset_t empty;
  sigemptyset(&empty);
  int r = sigsuspend(&empty);
  int e = errno;
  CHECK(r == -1 && e == EINTR, "sigsuspend returned -1/EINTR");
  CHECK(handled_by == conf_gettid(), "the handler ran in the waiting thread");
  sigset_t cur;
  pthread_sigmask(SIG_BLOCK, NULL, &cur);
  CHECK(sigismember(&cur, SIGUSR1), "SIGUSR1 blocked again after sigsuspend");
  return NULL;
}

int main(void) {
  signal(SIGUSR1, on_usr1);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by the waiter */
  for (int round = 0; round < 2; round++) {
    handled_by = 0;
    waiter_known = 0;
    pthread_t t;
    pthread_create(&t, NULL, waiter, NULL);
    if (round == 1) {
      for (int i = 0; i < 2000 && !__atomic_load_n(&waiter_known, __ATOMIC_SEQ_CST); i++)
        conf_sleep_ms(1);
      conf_wait_sleeping(&waiter_proc);
    }
    pthread_kill(t, SIGUSR1);
    pthread_join(t, NULL);
  }
  return conf_done();
}
