/* conformance-class: 0
 * Raw futex calls: FUTEX_WAIT with a stale value returns EAGAIN, with a
 * timeout returns ETIMEDOUT, a waiter woken by FUTEX_WAKE (counting the
 * woken), and FUTEX_WAKE_BITSET with a disjoint bitset wakes nobody while
 * an intersecting one wakes the waiter. */
#define _GNU_SOURCE /* before any system header */
#include <linux/futex.h>
#include <pthread.h>

#include "conf.h"

static int word, word2;
static volatile int woken;

static long futex(int* uaddr, int op, int val, const struct timespec* ts, int* uaddr2, int val3) {
  return syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}

/* Waits until `word` is set; the main thread wakes until all got past. */
static void* waiter(void* arg) {
  (void)arg;
  while (__atomic_load_n(&word, __ATOMIC_SEQ_CST) == 0) futex(&word, FUTEX_WAIT, 0, NULL, NULL, 0);
  __atomic_add_fetch(&woken, 1, __ATOMIC_SEQ_CST);
  return NULL;
}

static void* bitset_waiter(void* arg) {
  (void)arg;
  futex(&word2, FUTEX_WAIT_BITSET, 0, NULL, NULL, 0x1);
  __atomic_add_fetch(&woken, 1, __ATOMIC_SEQ_CST);
  return NULL;
}

int main(void) {
  int r = futex(&word, FUTEX_WAIT, 1, NULL, NULL, 0);
  CHECK(r == -1 && errno == EAGAIN, "stale value: EAGAIN");
  struct timespec ts = {0, 10000000};
  r = futex(&word, FUTEX_WAIT, 0, &ts, NULL, 0);
  CHECK(r == -1 && errno == ETIMEDOUT, "timeout: ETIMEDOUT");

  pthread_t t[3];
  for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, waiter, NULL);
  /* Wake them once all three sleep (woken counts those who got past). */
  __atomic_store_n(&word, 1, __ATOMIC_SEQ_CST);
  for (int tries = 0; tries < 1000 && __atomic_load_n(&woken, __ATOMIC_SEQ_CST) < 3; tries++) {
    futex(&word, FUTEX_WAKE, 3, NULL, NULL, 0);
    conf_sleep_ms(1);
  }
  for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
  CHECK(woken == 3, "three waiters got past the futex");

  woken = 0;
  pthread_t b;
  pthread_create(&b, NULL, bitset_waiter, NULL);
  /* Give it time to sleep; a wake with a disjoint bitset must not wake it
   * (if it had not slept yet, it never will wake from that either). */
  conf_sleep_ms(20);
  r = futex(&word2, FUTEX_WAKE_BITSET, 1, NULL, NULL, 0x2);
  CHECK(r == 0, "disjoint bitset wakes nobody");
  CHECK(woken == 0, "bitset waiter still waiting");
  r = 0;
  while (r == 0) {
    r = futex(&word2, FUTEX_WAKE_BITSET, 1, NULL, NULL, 0x1);
    if (r == 0) conf_sleep_ms(1);
  }
  pthread_join(b, NULL);
  CHECK(r == 1 && woken == 1, "intersecting bitset woke it");
  return conf_done();
}
