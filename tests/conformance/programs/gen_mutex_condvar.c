/* conformance-class: 0
 * A bounded queue with a mutex and two condition variables: 3 producers,
 * 2 consumers, 3000 items; the consumers' sums and counts add up, and
 * pthread_cond_timedwait on an empty queue times out. */
#define _GNU_SOURCE /* before any system header */
#include <pthread.h>

#include "conf.h"

#define CAP 8
#define PER_PRODUCER 1000
static int queue[CAP], head, tail, size, producers_left = 3;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER, not_empty = PTHREAD_COND_INITIALIZER;
static long total;
static int consumed;

static void* producer(void* arg) {
  int base = (int)(long)arg * PER_PRODUCER;
  for (int i = 1; i <= PER_PRODUCER; i++) {
    pthread_mutex_lock(&mu);
    while (size == CAP) pthread_cond_wait(&not_full, &mu);
    queue[tail] = base + i;
    tail = (tail + 1) % CAP;
    size++;
    pthread_cond_signal(&not_empty);
    pthread_mutex_unlock(&mu);
  }
  pthread_mutex_lock(&mu);
  producers_left--;
  pthread_cond_broadcast(&not_empty);
  pthread_mutex_unlock(&mu);
  return NULL;
}

static void* consumer(void* arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&mu);
    while (size == 0 && producers_left > 0) pthread_cond_wait(&not_empty, &mu);
    if (size == 0) {
      pthread_mutex_unlock(&mu);
      return NULL;
    }
    int v = queue[head];
    head = (head + 1) % CAP;
    size--;
    total += v;
    consumed++;
    pthread_cond_signal(&not_full);
    pthread_mutex_unlock(&mu);
  }
}

int main(void) {
  pthread_t p[3], c[2];
  for (long i = 0; i < 2; i++) pthread_create(&c[i], NULL, consumer, NULL);
  for (long i = 0; i < 3; i++) pthread_create(&p[i], NULL, producer, (void*)i);
  for (int i = 0; i < 3; i++) pthread_join(p[i], NULL);
  for (int i = 0; i < 2; i++) pthread_join(c[i], NULL);
  long n = 3 * PER_PRODUCER;
  CHECK(consumed == n, "consumed %d items", consumed);
  CHECK(total == n * (n + 1) / 2, "sum %ld", total);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_nsec += 20000000;
  if (ts.tv_nsec >= 1000000000) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000;
  }
  pthread_mutex_lock(&mu);
  int r = pthread_cond_timedwait(&not_empty, &mu, &ts);
  pthread_mutex_unlock(&mu);
  CHECK(r == ETIMEDOUT, "timed wait on an empty queue times out");
  return conf_done();
}
