/* conformance-class: 4
 * MAP_PRIVATE of a file shows the file's pages until it writes them: a
 * pwrite() after the mapping shows on a page it has not written, not on
 * one it has; its own stores never reach the file; a truncation makes its
 * unwritten pages past the end fault with SIGBUS, its written ones stay. */
#define _GNU_SOURCE /* before any system header */
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>

#include "conf.h"

static sigjmp_buf env;
static void on_bus(int sig) { siglongjmp(env, sig); }

int main(void) {
  char path[] = "/tmp/conf_psf_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return 2;
  char page[4096];
  memset(page, 'a', sizeof page);
  write(fd, page, sizeof page);
  memset(page, 'b', sizeof page);
  write(fd, page, sizeof page);
  memset(page, 'c', sizeof page);
  write(fd, page, sizeof page);
  char* p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  CHECK(p[0] == 'a' && p[4096] == 'b' && p[8192] == 'c', "content at map time");
  p[0] = 'X';                /* page 0 is the mapping's own now */
  pwrite(fd, "YY", 2, 0);    /* not seen on page 0 */
  pwrite(fd, "ZZ", 2, 4096); /* seen on page 1, never written */
  CHECK(p[0] == 'X' && p[1] == 'a', "a written page keeps the mapping's bytes");
  CHECK(p[4096] == 'Z' && p[4097] == 'Z', "an unwritten page shows a later pwrite");
  char buf[2];
  pread(fd, buf, 2, 0);
  CHECK(buf[0] == 'Y', "the mapping's store did not reach the file");
  signal(SIGBUS, on_bus);
  ftruncate(fd, 4096);
  int sig = sigsetjmp(env, 1);
  volatile char c = 0;
  if (sig == 0) c = p[8192];
  (void)c;
  CHECK(sig == SIGBUS, "an unwritten page past the new end: SIGBUS (%d)", sig);
  CHECK(p[0] == 'X', "a written page stays");
  unlink(path);
  return conf_done();
}
