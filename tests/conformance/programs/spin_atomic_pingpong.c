/* conformance-class: 7
 * Two threads hand a token back and forth 100 times through a C11
 * atomic, each spinning (no syscalls) until it is its turn. */
#define _GNU_SOURCE /* before any system header */
#include <pthread.h>
#include <stdatomic.h>

#include "conf.h"

#define ROUNDS 100
static atomic_int turn;
static long work[2];

static void* player(void* arg) {
  int me = (int)(long)arg;
  for (int i = 0; i < ROUNDS; i++) {
    while (atomic_load_explicit(&turn, memory_order_acquire) != me) {
    }
    work[me] += i;
    atomic_store_explicit(&turn, 1 - me, memory_order_release);
  }
  return NULL;
}

int main(void) {
  pthread_t t;
  pthread_create(&t, NULL, player, (void*)1L);
  player((void*)0L);
  pthread_join(t, NULL);
  CHECK(work[0] == work[1] && work[0] == (long)ROUNDS * (ROUNDS - 1) / 2,
        "%d turns each (%ld, %ld)", ROUNDS, work[0], work[1]);
  return conf_done();
}
