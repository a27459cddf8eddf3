/* conformance-class: 0
 * Address-space calls: anonymous mmap, MAP_FIXED over part of it,
 * mprotect to read-only (a store faults, the handler restores write
 * access), mremap growing in place and moving with the contents,
 * munmap of a middle page (a touch faults), MAP_PRIVATE copy-on-write of
 * a file, madvise(MADV_DONTNEED) zeroing anonymous memory, brk/sbrk. */
#define _GNU_SOURCE /* before any system header */
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>

#include "conf.h"

static sigjmp_buf env;
static char* volatile fix_page; /* volatile: the handler reads it */
static void on_segv(int sig, siginfo_t* si, void* uc) {
  (void)uc;
  if (fix_page && (char*)si->si_addr >= fix_page && (char*)si->si_addr < fix_page + 4096) {
    mprotect(fix_page, 4096, PROT_READ | PROT_WRITE);
    fix_page = NULL;
    return;
  }
  siglongjmp(env, sig);
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, NULL);
  long pg = 4096;
  char* m = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  for (int i = 0; i < 4 * pg; i++) m[i] = (char)i;
  char* f =
      mmap(m + pg, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  CHECK(f == m + pg && m[pg] == 0 && m[0] == 0 && m[2 * pg + 1] == 1, "MAP_FIXED replaced a page");

  mprotect(m, pg, PROT_READ);
  fix_page = m;
  ((volatile char*)m)[5] = 55; /* faults once; the handler makes it writable */
  CHECK(m[5] == 55 && fix_page == NULL, "store after mprotect(READ) faulted and was retried");

  char* g = mremap(m, 4 * pg, 64 * pg, MREMAP_MAYMOVE);
  CHECK(g != MAP_FAILED && g[5] == 55 && g[3 * pg + 7] == 7, "mremap kept the contents");
  g[63 * pg] = 9;
  munmap(g + 10 * pg, pg);
  int sig = sigsetjmp(env, 1);
  if (sig == 0) g[10 * pg] = 1;
  CHECK(sig == SIGSEGV, "the unmapped page faults");
  CHECK(g[11 * pg] == 0 && g[63 * pg] == 9, "pages around it intact");
  madvise(g, pg, MADV_DONTNEED);
  CHECK(g[5] == 0, "MADV_DONTNEED zeroed an anonymous page");

  char path[] = "/tmp/conf_cow_XXXXXX";
  int fd = mkstemp(path);
  unlink(path);
  write(fd, "original", 8);
  char* p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  p[0] = 'O';
  char buf[9] = {0};
  pread(fd, buf, 8, 0);
  CHECK(strcmp(buf, "original") == 0 && p[0] == 'O', "MAP_PRIVATE store stays private");

  void* b0 = sbrk(0);
  CHECK(sbrk(3 * pg) == b0, "sbrk grew the heap");
  memset(b0, 7, 3 * pg);
  CHECK(sbrk(-3 * pg) != (void*)-1 && sbrk(0) == b0, "and shrank it");
  return conf_done();
}
