/* conformance-class: 3
 * Two threads take turns through signals alone: each waits in sigsuspend
 * and wakes the other with pthread_kill, 200 times. A lost or misdirected
 * signal hangs or miscounts. */
#define _GNU_SOURCE /* before any system header */
#include <pthread.h>
#include <signal.h>

#include "conf.h"

#define ROUNDS 200
static volatile sig_atomic_t got[2];
static pthread_t th[2];
static volatile pid_t tids[2];

static void on_usr1(int sig) {
  (void)sig;
  pid_t me = conf_gettid();
  got[me == tids[1]]++;
}

static void* player(void* arg) {
  int me = (int)(long)arg;
  tids[me] = conf_gettid();
  sigset_t empty;
  sigemptyset(&empty);
  for (int i = 0; i < ROUNDS; i++) {
    if (me == 0) pthread_kill(th[1], SIGUSR1);
    while (got[me] <= i) sigsuspend(&empty);
    if (me == 1) pthread_kill(th[0], SIGUSR1);
  }
  return NULL;
}

int main(void) {
  signal(SIGUSR1, on_usr1);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  th[0] = pthread_self();
  tids[0] = conf_gettid();
  pthread_create(&th[1], NULL, player, (void*)1L);
  /* Thread 1 must have its tid published before the first signal lands. */
  while (!tids[1]) sched_yield();
  player((void*)0L);
  pthread_join(th[1], NULL);
  CHECK(got[0] == ROUNDS && got[1] == ROUNDS, "%d signals each way (%d, %d)", ROUNDS, (int)got[0],
        (int)got[1]);
  return conf_done();
}
