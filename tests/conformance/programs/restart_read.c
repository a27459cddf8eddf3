/* conformance-class: 2
 * A read() blocked on an empty pipe, interrupted by a signal with a
 * handler: with SA_RESTART the kernel restarts it and it returns the data
 * written later; without SA_RESTART it fails with EINTR. A helper thread
 * signals only once the reader sleeps, and writes only once it sleeps
 * again, so the outcome never depends on timing. */
#define _GNU_SOURCE /* before any system header */
#include <pthread.h>
#include <signal.h>

#include "conf.h"

static volatile sig_atomic_t hits;
static pthread_t reader;
static conf_proc_t reader_proc;
static int fds[2];
static int restart;

static void on_usr1(int sig) {
  (void)sig;
  hits++;
}

static void* helper(void* arg) {
  (void)arg;
  conf_wait_sleeping(&reader_proc);
  pthread_kill(reader, SIGUSR1);
  if (restart) {
    conf_sleep_ms(5);
    conf_wait_sleeping(&reader_proc); /* asleep in the restarted read */
    write(fds[1], "hello", 5);
  }
  return NULL;
}

static void one_round(int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sa.sa_flags = flags;
  sigaction(SIGUSR1, &sa, NULL);
  restart = flags & SA_RESTART;
  pipe(fds);
  hits = 0;
  pthread_t t;
  pthread_create(&t, NULL, helper, NULL);
  char buf[16] = {0};
  ssize_t n = read(fds[0], buf, sizeof buf - 1);
  int e = errno;
  pthread_join(t, NULL);
  if (restart) {
    CHECK(n == 5 && strcmp(buf, "hello") == 0, "SA_RESTART: read restarted, got '%s' (%zd)", buf,
          n);
  } else {
    CHECK(n == -1 && e == EINTR, "no SA_RESTART: read failed with EINTR (n=%zd errno=%d)", n, e);
  }
  CHECK(hits == 1, "handler ran once (%d)", (int)hits);
  close(fds[0]);
  close(fds[1]);
}

int main(void) {
  reader = pthread_self();
  reader_proc = conf_this_thread();
  one_round(SA_RESTART);
  one_round(0);
  return conf_done();
}
