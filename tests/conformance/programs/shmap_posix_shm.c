/* conformance-class: 4
 * A POSIX shared memory object (shm_open, so a file in /dev/shm) mapped
 * twice MAP_SHARED: a store through one mapping is read through the other
 * and by read() on a second descriptor; a thread writes through one while
 * the main thread waits and reads through the other. The object is
 * unlinked at the end (shmap_unlinked covers unlinking early). */
#define _GNU_SOURCE /* before any system header */
#include <pthread.h>
#include <sys/mman.h>

#include "conf.h"

static volatile int* a;
static void* writer(void* arg) {
  (void)arg;
  for (int i = 0; i < 1000; i++) a[i] = i * 3;
  return NULL;
}

int main(void) {
  /* A name no concurrent run uses: from getrandom, never printed. */
  unsigned r = 0;
  syscall(SYS_getrandom, &r, sizeof r, 0);
  char name[64];
  snprintf(name, sizeof name, "/conf_shm_%u_%d", r, (int)getpid());
  int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
  CHECK(fd >= 0, "shm_open");
  if (fd < 0) return conf_done();
  int fd2 = shm_open(name, O_RDONLY, 0);
  ftruncate(fd, 4 * 4096);
  a = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  volatile int* b = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(a != MAP_FAILED && b != MAP_FAILED && a != b, "two mappings at different addresses");
  a[10] = 12345;
  CHECK(b[10] == 12345, "store through one, load through the other (%d)", b[10]);
  b[2000] = 777;
  CHECK(a[2000] == 777, "and the other way round");
  pthread_t t;
  pthread_create(&t, NULL, writer, NULL);
  pthread_join(t, NULL);
  long sum = 0;
  for (int i = 0; i < 1000; i++) sum += b[i];
  CHECK(sum == 3L * 999 * 1000 / 2, "thread's stores seen through the alias (sum %ld)", sum);
  int v = 0;
  pread(fd2, &v, sizeof v, 2000 * sizeof(int));
  CHECK(v == 777, "read() on a second descriptor sees the store (%d)", v);
  CHECK(shm_unlink(name) == 0, "shm_unlink");
  return conf_done();
}
