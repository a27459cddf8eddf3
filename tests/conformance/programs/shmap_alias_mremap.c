/* conformance-class: 4
 * Two MAP_SHARED mappings of one regular file alias each other; after
 * mremap moves and grows one of them, they still alias; msync(MS_SYNC)
 * makes the stores reach the file, which a separate open() then reads. */
#define _GNU_SOURCE /* before any system header */
#include <sys/mman.h>

#include "conf.h"

int main(void) {
  char path[] = "/tmp/conf_alias_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return 2;
  ftruncate(fd, 3 * 4096);
  char* a = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  char* b = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  for (int i = 0; i < 2 * 4096; i++) a[i] = (char)(i * 7);
  int same = 1;
  for (int i = 0; i < 2 * 4096; i++) same &= b[i] == (char)(i * 7);
  CHECK(same, "stores through a read through b");
  /* Move and grow b; a must keep seeing b's stores. */
  char* keep = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char* b2 = mremap(b, 2 * 4096, 3 * 4096, MREMAP_MAYMOVE);
  munmap(keep, 4096);
  CHECK(b2 != MAP_FAILED, "mremap grew the mapping");
  b2[100] = 'Q';
  b2[2 * 4096 + 5] = 'R'; /* the new third page */
  CHECK(a[100] == 'Q', "after mremap, still aliased");
  CHECK(msync(b2, 3 * 4096, MS_SYNC) == 0, "msync");
  int fd2 = open(path, O_RDONLY);
  unlink(path);
  char c1 = 0, c2 = 0;
  pread(fd2, &c1, 1, 100);
  pread(fd2, &c2, 1, 2 * 4096 + 5);
  CHECK(c1 == 'Q' && c2 == 'R', "a fresh open reads the stores ('%c', '%c')", c1, c2);
  /* mremap of a onto a fixed place over an anonymous page. */
  char* spot = mmap(NULL, 2 * 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char* a2 = mremap(a, 2 * 4096, 2 * 4096, MREMAP_MAYMOVE | MREMAP_FIXED, spot);
  CHECK(a2 == spot, "MREMAP_FIXED moved it where asked");
  b2[200] = 'S';
  CHECK(a2[200] == 'S', "the fixed move still aliases");
  return conf_done();
}
