/* conformance-class: 4
 * memfd_create: write() then read through a MAP_SHARED mapping; stores
 * through the mapping read back with read(); a second mapping through
 * /proc/self/fd/N (a new open of the same file) aliases the first; seals
 * stop growth. */
#define _GNU_SOURCE /* before any system header */
#include <sys/mman.h>

#include "conf.h"

int main(void) {
  int fd = memfd_create("conf", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  CHECK(fd >= 0, "memfd_create");
  const char msg[] = "written with write()";
  write(fd, msg, sizeof msg);
  ftruncate(fd, 8192);
  char* m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(strcmp(m, msg) == 0, "mapping shows the write");
  strcpy(m + 4096, "stored in the mapping");
  char buf[64] = {0};
  pread(fd, buf, 21, 4096);
  CHECK(strcmp(buf, "stored in the mapping") == 0, "pread shows the store");
  /* write() after mapping: the page is already mapped and must change. */
  pwrite(fd, "CHANGED", 7, 0);
  CHECK(memcmp(m, "CHANGED", 7) == 0, "mapping shows a later pwrite: '%.7s'", m);
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  int fd2 = open(path, O_RDWR);
  char* m2 = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
  m2[8000] = 'Z';
  CHECK(m[8000] == 'Z', "mapping of a reopened memfd aliases the first");
  CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW) == 0, "sealed against growth");
  CHECK(ftruncate(fd, 16384) == -1 && errno == EPERM, "growing fails with EPERM");
  return conf_done();
}
