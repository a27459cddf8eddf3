/* conformance-class: 0
 * Large output: 4 MB to stdout through stdio in lines, one 1 MB write(2)
 * (a partial write must be continued), and writev of 64 pieces; a
 * checksum line at the end summarises what was written. */
#define _GNU_SOURCE /* before any system header */
#include <sys/uio.h>

#include "conf.h"

static unsigned sum;
static void account(const char* p, size_t n) {
  for (size_t i = 0; i < n; i++) sum = sum * 33 + (unsigned char)p[i];
}

int main(void) {
  char line[128];
  for (int i = 0; i < 40000; i++) {
    int n = snprintf(line, sizeof line, "%08d the quick brown fox jumps over the lazy dog %d\n", i,
                     i % 997);
    fputs(line, stdout);
    account(line, n);
  }
  fflush(stdout);
  static char big[1 << 20];
  for (int i = 0; i < (1 << 20); i++) big[i] = (i % 64 == 63) ? '\n' : 'a' + i % 26;
  for (size_t off = 0; off < sizeof big;) {
    ssize_t w = write(1, big + off, sizeof big - off);
    if (w <= 0) return 2;
    off += w;
  }
  account(big, sizeof big);
  struct iovec iov[64];
  for (int i = 0; i < 64; i++) {
    iov[i].iov_base = big + i * 1000;
    iov[i].iov_len = 640;
    account(big + i * 1000, 640);
  }
  size_t left = 64 * 640;
  ssize_t w = writev(1, iov, 64);
  CHECK(w > 0, "writev wrote");
  if (w > 0 && (size_t)w < left) { /* continue a partial writev piece by piece */
    size_t done = w;
    for (int i = 0; i < 64; i++) {
      size_t start = i * 640;
      if (done >= start + 640) continue;
      size_t from = done > start ? done - start : 0;
      for (size_t o = from; o < 640;) o += write(1, big + i * 1000 + o, 640 - o);
      done = start + 640;
    }
  }
  printf("\nchecksum %u\n", sum);
  return conf_done();
}
