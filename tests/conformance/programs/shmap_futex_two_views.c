/* conformance-class: 4
 * Two threads share a process-shared mutex and condition variable that
 * each reaches through its own MAP_SHARED mapping of one memfd: the futex
 * words of the two mappings are the same words (the kernel keys shared
 * futexes by file and offset). A ping-pong of 200 rounds. */
#define _GNU_SOURCE /* before any system header */
#include <pthread.h>
#include <sys/mman.h>

#include "conf.h"

struct shared {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int turn;
  long sum;
};

static struct shared* view_b;

static void* other(void* arg) {
  (void)arg;
  for (int i = 0; i < 200; i++) {
    pthread_mutex_lock(&view_b->lock);
    while (view_b->turn != 1) pthread_cond_wait(&view_b->cond, &view_b->lock);
    view_b->sum += i;
    view_b->turn = 0;
    pthread_cond_signal(&view_b->cond);
    pthread_mutex_unlock(&view_b->lock);
  }
  return NULL;
}

int main(void) {
  int fd = memfd_create("conf_futex", MFD_CLOEXEC);
  ftruncate(fd, 4096);
  struct shared* a = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  view_b = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(a != MAP_FAILED && view_b != MAP_FAILED && (void*)a != (void*)view_b, "two mappings");
  pthread_mutexattr_t ma;
  pthread_mutexattr_init(&ma);
  pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
  pthread_mutex_init(&a->lock, &ma);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
  pthread_cond_init(&a->cond, &ca);
  pthread_t t;
  pthread_create(&t, NULL, other, NULL);
  for (int i = 0; i < 200; i++) {
    pthread_mutex_lock(&a->lock);
    while (a->turn != 0) pthread_cond_wait(&a->cond, &a->lock);
    a->turn = 1;
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->lock);
  }
  pthread_join(t, NULL);
  CHECK(a->turn == 0 && a->sum == 199 * 200 / 2, "200 rounds, sum %ld", a->sum);
  return conf_done();
}
