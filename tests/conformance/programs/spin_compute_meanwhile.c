/* conformance-class: 7
 * The main thread computes for a while (no syscalls) and expects a thread
 * it started just before to have run meanwhile: it then waits for the
 * thread's result only by spinning on an atomic. On a native kernel the
 * new thread runs on another CPU or preempts the computation. */
#define _GNU_SOURCE /* before any system header */
#include <pthread.h>
#include <stdatomic.h>

#include "conf.h"

static atomic_int done;
static long result;

static void* helper(void* arg) {
  (void)arg;
  long s = 0;
  for (int i = 1; i <= 1000; i++) s += i;
  result = s;
  atomic_store(&done, 1);
  return NULL;
}

int main(void) {
  pthread_t t;
  pthread_create(&t, NULL, helper, NULL);
  /* ~0.1 s of arithmetic, no syscalls. */
  unsigned long x = 1;
  for (long i = 0; i < 50000000L; i++) x = x * 6364136223846793005UL + 1442695040888963407UL;
  /* Wait for it by spinning only. */
  while (!atomic_load(&done)) {
  }
  CHECK(result == 500500, "helper's result arrived (%ld)", result);
  printf("computation: %lu\n", x);
  pthread_join(t, NULL);
  return conf_done();
}
