/* conformance-class: 4
 * System V shared memory in one process: two attachments of a segment
 * alias, a SHM_RDONLY one sees the stores, shmdt of an address that is not
 * attached fails, a segment attached again after every detach keeps its
 * content, IPC_STAT counts attachments. */
#define _GNU_SOURCE /* before any system header */
#include <sys/ipc.h>
#include <sys/shm.h>

#include "conf.h"

int main(void) {
  int id = shmget(IPC_PRIVATE, 10000, IPC_CREAT | 0600);
  CHECK(id >= 0, "shmget");
  if (id < 0) return conf_done();
  char* a = shmat(id, NULL, 0);
  char* b = shmat(id, NULL, 0);
  char* r = shmat(id, NULL, SHM_RDONLY);
  CHECK(a != (void*)-1 && b != (void*)-1 && r != (void*)-1, "attached three times");
  strcpy(a + 9000, "through a");
  CHECK(strcmp(b + 9000, "through a") == 0, "b sees a's store");
  CHECK(strcmp(r + 9000, "through a") == 0, "the read-only attachment sees it too");
  struct shmid_ds ds;
  shmctl(id, IPC_STAT, &ds);
  CHECK(ds.shm_nattch == 3 && ds.shm_segsz == 10000, "IPC_STAT: %lu attachments, %zu bytes",
        (unsigned long)ds.shm_nattch, (size_t)ds.shm_segsz);
  CHECK(shmdt(a) == 0 && shmdt(b) == 0 && shmdt(r) == 0, "detached");
  CHECK(shmdt(a) == -1 && errno == EINVAL, "detaching again: EINVAL");
  char* c = shmat(id, NULL, 0);
  CHECK(c != (void*)-1 && strcmp(c + 9000, "through a") == 0, "attached again: content kept");
  shmctl(id, IPC_RMID, NULL);
  shmdt(c);
  return conf_done();
}
