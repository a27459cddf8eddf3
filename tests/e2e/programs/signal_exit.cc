// How a process ends by a signal, with a second thread asleep in pause:
// argv[1] = "term" (kill to the process), "thread" (pthread_kill to the
// other thread), "pending" (blocked where it is sent, taken by the other
// thread), "blocked" (blocked and pending at exit: exit status 5).
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void* other(void* arg) {
  (void)arg;
  for (;;) pause();
  return NULL;
}

int main(int argc, char** argv) {
  const char* how = argc > 1 ? argv[1] : "term";
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  if (!strcmp(how, "blocked")) pthread_sigmask(SIG_BLOCK, &term, NULL);
  pthread_t t;
  pthread_create(&t, NULL, other, NULL);
  printf("start\n");
  fflush(stdout);
  if (!strcmp(how, "term")) kill(getpid(), SIGTERM);
  if (!strcmp(how, "thread")) pthread_kill(t, SIGTERM);
  if (!strcmp(how, "pending")) {
    pthread_sigmask(SIG_BLOCK, &term, NULL);
    kill(getpid(), SIGTERM);
  }
  if (!strcmp(how, "blocked")) {
    raise(SIGTERM);
    kill(getpid(), SIGTERM);
    printf("still here\n");
    exit(5);
  }
  pause();
  return 1;
}
