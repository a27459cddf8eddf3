/* conformance-class: 4
 * The kernel writes into pages the program has mapped: write() and
 * pwrite() into a file that is MAP_SHARED, a read() from a pipe into a
 * MAP_SHARED buffer, and truncation (reading past EOF in a mapping gives
 * SIGBUS). The mapping's contents are checked after each. */
#define _GNU_SOURCE /* before any system header */
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>

#include "conf.h"

static sigjmp_buf env;
static void on_bus(int sig) { siglongjmp(env, sig); }

int main(void) {
  char path[] = "/tmp/conf_wtl_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return 2;
  unlink(path);
  ftruncate(fd, 2 * 4096);
  char* m = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  unsigned sum = 0;
  for (int i = 0; i < 100; i++) {
    char line[32];
    int n = snprintf(line, sizeof line, "line %d\n", i);
    write(fd, line, n); /* appends through the file offset */
  }
  for (int i = 0; i < 2 * 4096; i++) sum = sum * 31 + (unsigned char)m[i];
  printf("checksum of the mapping after write(): %u\n", sum);
  CHECK(memcmp(m, "line 0\nline 1\n", 14) == 0, "mapping shows write()");

  int p[2];
  pipe(p);
  write(p[1], "from a pipe", 11);
  read(p[0], m + 4096, 11); /* the kernel stores into the shared page */
  char buf[16] = {0};
  pread(fd, buf, 11, 4096);
  CHECK(strcmp(buf, "from a pipe") == 0, "read() into the mapping reached the file");

  signal(SIGBUS, on_bus);
  ftruncate(fd, 4096);
  int sig = sigsetjmp(env, 1);
  volatile char c = 0;
  if (sig == 0) c = m[4096 + 1];
  (void)c;
  CHECK(sig == SIGBUS, "past EOF after truncation: SIGBUS (%d)", sig);
  return conf_done();
}
