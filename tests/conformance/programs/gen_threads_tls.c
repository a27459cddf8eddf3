/* conformance-class: 0
 * Thread-local storage and thread lifetimes: __thread variables are
 * private per thread, pthread_key destructors run at thread exit with the
 * thread's value, 40 short threads are created and joined (some
 * detached, counted through an atomic), and pthread_exit's value arrives
 * through join. */
#define _GNU_SOURCE /* before any system header */
#include <pthread.h>

#include "conf.h"

static __thread int tls_value = 5;
static pthread_key_t key;
static int destructor_sum;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int detached_done;

static void destructor(void* v) {
  pthread_mutex_lock(&mu);
  destructor_sum += (int)(long)v;
  pthread_mutex_unlock(&mu);
}

static void* worker(void* arg) {
  int i = (int)(long)arg;
  int ok = tls_value == 5;
  tls_value = i * 100;
  for (volatile int k = 0; k < 1000; k++) {
  }
  ok &= tls_value == i * 100;
  pthread_setspecific(key, (void*)(long)(i + 1));
  pthread_exit((void*)(long)(ok ? i : -1));
}

static void* detached(void* arg) {
  (void)arg;
  pthread_mutex_lock(&mu);
  detached_done++;
  pthread_mutex_unlock(&mu);
  return NULL;
}

int main(void) {
  pthread_key_create(&key, destructor);
  pthread_t t[32];
  for (long i = 0; i < 32; i++) pthread_create(&t[i], NULL, worker, (void*)i);
  int ok = 1;
  for (long i = 0; i < 32; i++) {
    void* r;
    pthread_join(t[i], &r);
    ok &= r == (void*)i;
  }
  CHECK(ok, "each thread saw its own __thread value; exit values arrived");
  CHECK(tls_value == 5, "main's TLS untouched");
  CHECK(destructor_sum == 32 * 33 / 2, "key destructors ran with each value (%d)", destructor_sum);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  for (int i = 0; i < 8; i++) {
    pthread_t d;
    pthread_create(&d, &attr, detached, NULL);
  }
  for (int i = 0; i < 5000; i++) {
    pthread_mutex_lock(&mu);
    int n = detached_done;
    pthread_mutex_unlock(&mu);
    if (n == 8) break;
    conf_sleep_ms(1);
  }
  CHECK(detached_done == 8, "eight detached threads ran");
  return conf_done();
}
