/* Linked statically: no dynamic loader, so no preloaded library. Under the
 * syscall buffer's inherited seccomp filter every one of its syscalls stops
 * the recorder (buffer_cases exec-static). */
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(void) {
  long ok = 0;
  for (int i = 0; i < 100; ++i) {
    struct timespec ts;
    ok += syscall(SYS_getppid) == getppid();
    ok += clock_gettime(CLOCK_MONOTONIC, &ts) == 0;
  }
  printf("static program: %ld calls ok\n", ok);
  return 0;
}
