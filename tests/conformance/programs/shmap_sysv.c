/* conformance-class: 4
 * System V shared memory: shmget(IPC_PRIVATE), two shmat attachments of
 * the same segment alias each other; a forked child attaches it too and
 * its stores are seen by the parent; IPC_STAT counts attachments. */
#define _GNU_SOURCE /* before any system header */
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>

#include "conf.h"

int main(void) {
  int id = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
  CHECK(id >= 0, "shmget");
  if (id < 0) return conf_done();
  char* a = shmat(id, NULL, 0);
  char* b = shmat(id, NULL, 0);
  CHECK(a != (void*)-1 && b != (void*)-1 && a != b, "attached twice");
  strcpy(a + 10, "seen through b");
  CHECK(strcmp(b + 10, "seen through b") == 0, "the two attachments alias");
  struct shmid_ds ds;
  shmctl(id, IPC_STAT, &ds);
  CHECK(ds.shm_nattch == 2, "IPC_STAT: 2 attachments (%lu)", (unsigned long)ds.shm_nattch);
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    strcpy(b + 5000, "from the child");
    _exit(0);
  }
  int st;
  waitpid(c, &st, 0);
  CHECK(strcmp(a + 5000, "from the child") == 0, "the child's store is visible");
  shmdt(a);
  shmdt(b);
  shmctl(id, IPC_RMID, NULL);
  return conf_done();
}
