/* conformance-class: 0
 * File I/O: writev/readv with several buffers, pread/pwrite at offsets
 * (the file offset untouched), preadv2/pwritev, lseek with SEEK_END,
 * SEEK_DATA/SEEK_HOLE on a sparse file, ftruncate, fstat sizes, O_APPEND. */
#define _GNU_SOURCE /* before any system header */
#include <sys/stat.h>
#include <sys/uio.h>

#include "conf.h"

int main(void) {
  char path[] = "/tmp/conf_io_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return 2;
  struct iovec wv[3] = {{"alpha ", 6}, {"beta ", 5}, {"gamma", 5}};
  CHECK(writev(fd, wv, 3) == 16, "writev 16 bytes");
  lseek(fd, 0, SEEK_SET);
  char a[6], b[5], c[6] = {0};
  struct iovec rv[3] = {{a, 6}, {b, 5}, {c, 5}};
  CHECK(readv(fd, rv, 3) == 16 && memcmp(a, "alpha ", 6) == 0 && memcmp(b, "beta ", 5) == 0 &&
            strcmp(c, "gamma") == 0,
        "readv split it back");
  CHECK(pwrite(fd, "XY", 2, 6) == 2, "pwrite at 6");
  CHECK(lseek(fd, 0, SEEK_CUR) == 16, "offset unchanged by pwrite");
  char buf[32] = {0};
  CHECK(pread(fd, buf, 16, 0) == 16 && strcmp(buf, "alpha XYta gamma") == 0, "pread: '%s'", buf);
  struct iovec pv[2] = {{"<<", 2}, {">>", 2}};
  CHECK(pwritev(fd, pv, 2, 100) == 4, "pwritev past the end");
  struct stat st;
  fstat(fd, &st);
  CHECK(st.st_size == 104, "size 104 (%lld)", (long long)st.st_size);
  memset(buf, 1, sizeof buf);
  struct iovec one = {buf, 8};
  CHECK(preadv2(fd, &one, 1, 96, 0) == 8 && buf[0] == 0 && memcmp(buf + 4, "<<>>", 4) == 0,
        "preadv2 reads the hole as zeros");
  CHECK(lseek(fd, -4, SEEK_END) == 100, "SEEK_END");

  ftruncate(fd, 0);
  pwrite(fd, "data", 4, 1 << 20); /* sparse: a hole of 1 MB first */
  off_t d = lseek(fd, 0, SEEK_DATA);
  CHECK(d > 0 && d <= 1 << 20, "SEEK_DATA skips the hole");
  fstat(fd, &st);
  CHECK(st.st_size == (1 << 20) + 4, "sparse size");
  close(fd);

  fd = open(path, O_WRONLY | O_APPEND);
  lseek(fd, 0, SEEK_SET);
  write(fd, "tail", 4);
  fstat(fd, &st);
  CHECK(st.st_size == (1 << 20) + 8, "O_APPEND wrote at the end");
  close(fd);
  unlink(path);
  return conf_done();
}
