/* conformance-class: 0
 * Signal masks: SIG_BLOCK/SIG_UNBLOCK/SIG_SETMASK round trips, SIGKILL
 * and SIGSTOP cannot be blocked, masks are per thread (a new thread
 * inherits its creator's; changing it does not affect the creator), and
 * the mask is restored after a handler. */
#define _GNU_SOURCE /* before any system header */
#include <pthread.h>
#include <signal.h>

#include "conf.h"

static sigset_t seen_in_thread;
static volatile int mask_in_handler_has_usr2;

static void* thread_fn(void* arg) {
  (void)arg;
  pthread_sigmask(SIG_BLOCK, NULL, &seen_in_thread);
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &s, NULL);
  return NULL;
}

static void on_usr2(int sig) {
  (void)sig;
  sigset_t cur;
  sigprocmask(SIG_BLOCK, NULL, &cur);
  mask_in_handler_has_usr2 = sigismember(&cur, SIGUSR2);
}

int main(void) {
  sigset_t s, cur;
  sigemptyset(&s);
  sigaddset(&s, SIGUSR1);
  sigaddset(&s, SIGKILL);
  sigaddset(&s, SIGSTOP);
  sigaddset(&s, SIGRTMIN + 3);
  sigprocmask(SIG_BLOCK, &s, NULL);
  sigprocmask(SIG_BLOCK, NULL, &cur);
  CHECK(sigismember(&cur, SIGUSR1) && sigismember(&cur, SIGRTMIN + 3), "blocked USR1, RTMIN+3");
  CHECK(!sigismember(&cur, SIGKILL) && !sigismember(&cur, SIGSTOP),
        "SIGKILL/SIGSTOP silently not blocked");
  sigemptyset(&s);
  sigaddset(&s, SIGUSR1);
  sigprocmask(SIG_UNBLOCK, &s, NULL);
  sigprocmask(SIG_BLOCK, NULL, &cur);
  CHECK(!sigismember(&cur, SIGUSR1) && sigismember(&cur, SIGRTMIN + 3), "unblocked USR1 only");

  pthread_t t;
  pthread_create(&t, NULL, thread_fn, NULL);
  pthread_join(t, NULL);
  CHECK(sigismember(&seen_in_thread, SIGRTMIN + 3), "new thread inherited the mask");
  sigprocmask(SIG_BLOCK, NULL, &cur);
  CHECK(!sigismember(&cur, SIGHUP), "thread's change did not reach main");

  sigemptyset(&s);
  sigprocmask(SIG_SETMASK, &s, NULL);
  sigprocmask(SIG_BLOCK, NULL, &cur);
  CHECK(sigisemptyset(&cur), "SIG_SETMASK to empty");
  signal(SIGUSR2, on_usr2);
  raise(SIGUSR2);
  sigprocmask(SIG_BLOCK, NULL, &cur);
  CHECK(mask_in_handler_has_usr2 && !sigismember(&cur, SIGUSR2),
        "USR2 blocked in its handler, unblocked after");
  /* The raw syscall with a short sigsetsize fails. */
  long r = syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &cur, 4);
  CHECK(r == -1 && errno == EINVAL, "rt_sigprocmask with sigsetsize 4: EINVAL");
  return conf_done();
}
