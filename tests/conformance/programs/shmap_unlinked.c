/* conformance-class: 4
 * MAP_SHARED of a regular file unlinked right after open: stores through
 * the mapping are visible to pread() on the fd, pwrite() on the fd is
 * visible through the mapping, and a second fd (dup) sees the same. */
#define _GNU_SOURCE /* before any system header */
#include <sys/mman.h>

#include "conf.h"

int main(void) {
  char path[] = "/tmp/conf_unlinked_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return 2;
  unlink(path);
  ftruncate(fd, 8192);
  char* m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(m != MAP_FAILED, "mapped the unlinked file");
  strcpy(m + 100, "through the mapping");
  char buf[64] = {0};
  pread(fd, buf, 19, 100);
  CHECK(strcmp(buf, "through the mapping") == 0, "pread sees the store: '%s'", buf);
  pwrite(fd, "through the fd", 14, 5000);
  CHECK(memcmp(m + 5000, "through the fd", 14) == 0, "mapping sees pwrite: '%.14s'", m + 5000);
  int fd2 = dup(fd);
  lseek(fd2, 100, SEEK_SET);
  memset(buf, 0, sizeof buf);
  read(fd2, buf, 7);
  CHECK(strcmp(buf, "through") == 0, "dup'd fd reads it too");
  /* Grow the file and a fresh mapping of the new page. */
  ftruncate(fd, 12288);
  pwrite(fd, "third page", 10, 8192);
  char* m2 = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 8192);
  CHECK(memcmp(m2, "third page", 10) == 0, "a mapping of the grown part sees pwrite");
  munmap(m, 8192);
  munmap(m2, 4096);
  close(fd);
  close(fd2);
  return conf_done();
}
