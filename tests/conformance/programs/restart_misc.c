/* conformance-class: 2
 * What a handled signal (SA_RESTART) does to other blocking calls:
 * sem_timedwait fails with EINTR (a futex wait with a timeout is not
 * restarted after a handler), pthread_cond_wait and pthread_join carry
 * on, sigtimedwait for another signal fails with EINTR, a read with
 * SO_RCVTIMEO on a socket fails
 * with EINTR rather than restarting, and waitpid is restarted (last: it
 * forks, and nothing here depends on thread ids after that). */
#define _GNU_SOURCE /* before any system header */
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "conf.h"

static volatile sig_atomic_t hits;
static pthread_t target;
static conf_proc_t target_proc;
static void on_usr1(int sig) {
  (void)sig;
  hits++;
}

static void* interrupter(void* arg) {
  (void)arg;
  conf_wait_sleeping(&target_proc);
  pthread_kill(target, SIGUSR1);
  return NULL;
}
static pthread_t start_interrupter(void) {
  pthread_t t;
  pthread_create(&t, NULL, interrupter, NULL);
  return t;
}

static sem_t sem;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int ready;

/* Signals the main thread, then (once it sleeps again) sets ready. */
static void* signal_then_ready(void* arg) {
  (void)arg;
  conf_wait_sleeping(&target_proc);
  pthread_kill(target, SIGUSR1);
  conf_sleep_ms(5);
  conf_wait_sleeping(&target_proc);
  pthread_mutex_lock(&mu);
  ready = 1;
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&mu);
  return NULL;
}

static void* slow_exit(void* arg) {
  (void)arg;
  conf_wait_sleeping(&target_proc);
  pthread_kill(target, SIGUSR1);
  conf_sleep_ms(5);
  conf_wait_sleeping(&target_proc);
  return (void*)42L;
}

int main(void) {
  target = pthread_self();
  target_proc = conf_this_thread();
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);

  sem_init(&sem, 0, 0);
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 3;
  pthread_t t = start_interrupter();
  int r = sem_timedwait(&sem, &deadline);
  int e = errno;
  pthread_join(t, NULL);
  CHECK(r == -1 && e == EINTR, "sem_timedwait: EINTR (r=%d errno=%d)", r, e);

  pthread_create(&t, NULL, signal_then_ready, NULL);
  pthread_mutex_lock(&mu);
  while (!ready) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  pthread_join(t, NULL);
  CHECK(hits == 2, "pthread_cond_wait: handler ran, wait went on");

  pthread_create(&t, NULL, slow_exit, NULL);
  void* ret = NULL;
  r = pthread_join(t, &ret);
  CHECK(r == 0 && ret == (void*)42L, "pthread_join: completed across the signal");
  CHECK(hits == 3, "handler ran during the join");

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  sigprocmask(SIG_BLOCK, &set, NULL);
  struct timespec ts = {3, 0};
  t = start_interrupter();
  r = sigtimedwait(&set, NULL, &ts);
  e = errno;
  pthread_join(t, NULL);
  CHECK(r == -1 && e == EINTR, "sigtimedwait: EINTR (r=%d errno=%d)", r, e);

  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  struct timeval tv = {3, 0};
  setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  t = start_interrupter();
  char b;
  ssize_t n = read(sv[0], &b, 1);
  e = errno;
  pthread_join(t, NULL);
  CHECK(n == -1 && e == EINTR, "read with SO_RCVTIMEO: EINTR (n=%zd errno=%d)", n, e);
  CHECK(hits == 5, "five handler runs so far (%d)", (int)hits);

  /* waitpid, last: the child exits once we have been interrupted and sleep
   * again. */
  pid_t parent = getpid();
  conf_proc_t parent_proc = conf_this_process();
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    conf_wait_sleeping(&parent_proc);
    kill(parent, SIGUSR1);
    conf_sleep_ms(5);
    conf_wait_sleeping(&parent_proc);
    _exit(5);
  }
  int st = 0;
  pid_t w = waitpid(c, &st, 0);
  CHECK(w == c && WIFEXITED(st) && WEXITSTATUS(st) == 5, "waitpid restarted, child status 5");
  CHECK(hits == 6, "handler ran during waitpid");

  return conf_done();
}
