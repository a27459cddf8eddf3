/* conformance-class: 1
 * Thread-directed signals: pthread_kill() and tgkill() reach exactly the
 * thread they name, even when another thread has the signal unblocked,
 * and a thread that blocks it keeps it pending for itself alone. */
#define _GNU_SOURCE /* before any system header */
#include <pthread.h>
#include <signal.h>

#include "conf.h"

#define NT 3
static pthread_t threads[NT];
static volatile pid_t tids[NT];
static volatile int got[NT]; /* how often thread i took SIGUSR1 */
static pthread_barrier_t ready, done;

static void on_usr1(int sig) {
  (void)sig;
  pid_t me = conf_gettid();
  for (int i = 0; i < NT; i++)
    if (tids[i] == me) got[i]++;
}

static void* worker(void* arg) {
  int i = (int)(long)arg;
  tids[i] = conf_gettid();
  if (i == 2) { /* thread 2 blocks SIGUSR1 */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
  }
  pthread_barrier_wait(&ready);
  pthread_barrier_wait(&done); /* main sends the signals meanwhile */
  if (i == 2) {
    sigset_t pending;
    sigpending(&pending);
    CHECK(sigismember(&pending, SIGUSR1), "blocked thread: SIGUSR1 pending for it");
    CHECK(got[2] == 0, "blocked thread: not delivered yet");
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    CHECK(got[2] == 1, "blocked thread: delivered on unblock");
  }
  return NULL;
}

int main(void) {
  signal(SIGUSR1, on_usr1);
  pthread_barrier_init(&ready, NULL, NT + 1);
  pthread_barrier_init(&done, NULL, NT + 1);
  for (long i = 0; i < NT; i++) pthread_create(&threads[i], NULL, worker, (void*)i);
  pthread_barrier_wait(&ready);
  pthread_kill(threads[0], SIGUSR1);
  syscall(SYS_tgkill, getpid(), tids[1], SIGUSR1);
  syscall(SYS_tgkill, getpid(), tids[1], SIGUSR1);
  pthread_kill(threads[2], SIGUSR1);
  /* Delivery to a running or sleeping thread happens when it next returns
   * to user space; the barrier makes every thread pass through there. */
  pthread_barrier_wait(&done);
  for (int i = 0; i < NT; i++) pthread_join(threads[i], NULL);
  CHECK(got[0] == 1, "pthread_kill reached thread 0 once (%d)", got[0]);
  CHECK(got[1] >= 1 && got[1] <= 2, "tgkill reached thread 1");
  CHECK(got[2] == 1, "thread 2 took its own once (%d)", got[2]);
  sigset_t pending;
  sigpending(&pending);
  CHECK(!sigismember(&pending, SIGUSR1), "main thread has nothing pending");
  return conf_done();
}
