/* conformance-class: 0
 * A program that prefers io_uring and Linux AIO and falls back to pread
 * when the kernel has neither (ENOSYS). The kernel writes their rings and
 * buffers whenever it likes, which no replay could reproduce: under
 * backstep both are refused as by a kernel built without them, so the
 * program takes its fallback, with the same output. */
#define _GNU_SOURCE /* before any system header */
#include <linux/aio_abi.h>
#include <linux/io_uring.h>

#include "conf.h"

/* Reads `path` with io_uring if it can be set up, else AIO, else pread;
 * either way the same bytes. Returns how it read (not printed: it depends
 * on the kernel). */
static int read_file(const char* path, char* buf, size_t len) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  struct io_uring_params params;
  memset(&params, 0, sizeof params);
  long ring = syscall(SYS_io_uring_setup, 4, &params);
  if (ring >= 0) close((int)ring); /* a real program would use it here */
  aio_context_t ctx = 0;
  if (syscall(SYS_io_setup, 4, &ctx) == 0) syscall(SYS_io_destroy, ctx);
  ssize_t n = pread(fd, buf, len - 1, 0);
  close(fd);
  if (n < 0) return -1;
  buf[n] = '\0';
  return (int)n;
}

int main(void) {
  char path[] = "/tmp/conf-aio-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0, "a temporary file");
  const char text[] = "read after the async interfaces were tried";
  CHECK(write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1), "written");
  close(fd);
  char buf[128];
  int n = read_file(path, buf, sizeof buf);
  unlink(path);
  CHECK(n == (int)(sizeof text - 1) && strcmp(buf, text) == 0, "read back: %s", n > 0 ? buf : "");
  return conf_done();
}
