/* conformance-class: 7
 * The main thread spins on a volatile flag, without any syscall, until a
 * second thread sets it; the second thread then spins until the main
 * thread answers. A scheduler that never preempts a spinning thread hangs
 * here. */
#define _GNU_SOURCE /* before any system header */
#include <pthread.h>

#include "conf.h"

static volatile int flag, answer;

static void* setter(void* arg) {
  (void)arg;
  flag = 1;
  while (!answer) {
  }
  return NULL;
}

int main(void) {
  pthread_t t;
  pthread_create(&t, NULL, setter, NULL);
  while (!flag) {
  }
  answer = 1;
  pthread_join(t, NULL);
  CHECK(flag == 1 && answer == 1, "both spins ended");
  return conf_done();
}
