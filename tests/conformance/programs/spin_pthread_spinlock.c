/* conformance-class: 7
 * Three threads increment a counter under a contended pthread_spin_lock
 * (pure user-space spinning), 20000 times each; the total is exact. */
#define _GNU_SOURCE /* before any system header */
#include <pthread.h>

#include "conf.h"

#define N 20000
static pthread_spinlock_t lock;
static long counter;

static void* worker(void* arg) {
  (void)arg;
  for (int i = 0; i < N; i++) {
    pthread_spin_lock(&lock);
    long v = counter;
    /* Hold the lock a little so that the others really spin. */
    for (volatile int k = 0; k < 20; k++) {
    }
    counter = v + 1;
    pthread_spin_unlock(&lock);
  }
  return NULL;
}

int main(void) {
  pthread_spin_init(&lock, PTHREAD_PROCESS_PRIVATE);
  pthread_t t[3];
  for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, worker, NULL);
  for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
  CHECK(counter == 3L * N, "counter %ld", counter);
  return conf_done();
}
