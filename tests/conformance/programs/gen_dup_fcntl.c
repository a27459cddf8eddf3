/* conformance-class: 0
 * Descriptor plumbing: dup2 of stdout onto a file and back (what was
 * printed in between lands in the file, not on stdout), dup3 with
 * O_CLOEXEC, F_DUPFD_CLOEXEC, F_GETFL/F_SETFL O_NONBLOCK on a pipe,
 * F_SETPIPE_SZ, and close_range. */
#define _GNU_SOURCE /* before any system header */
#include "conf.h"

int main(void) {
  char path[] = "/tmp/conf_dup_XXXXXX";
  int f = mkstemp(path);
  unlink(path);
  printf("before redirect\n");
  fflush(stdout);
  int saved = dup(1);
  dup2(f, 1);
  printf("this line goes to the file\n");
  fflush(stdout);
  dup2(saved, 1);
  close(saved);
  printf("after redirect\n");
  char buf[64] = {0};
  pread(f, buf, sizeof buf - 1, 0);
  CHECK(strcmp(buf, "this line goes to the file\n") == 0, "the file got the line");

  int d = dup3(f, 20, O_CLOEXEC);
  CHECK(d == 20 && fcntl(20, F_GETFD) == FD_CLOEXEC, "dup3 with O_CLOEXEC onto 20");
  int e = fcntl(f, F_DUPFD_CLOEXEC, 30);
  CHECK(e >= 30 && (fcntl(e, F_GETFD) & FD_CLOEXEC), "F_DUPFD_CLOEXEC at >= 30");
  int p[2];
  pipe(p);
  int fl = fcntl(p[0], F_GETFL);
  fcntl(p[0], F_SETFL, fl | O_NONBLOCK);
  CHECK(read(p[0], buf, 1) == -1 && errno == EAGAIN, "O_NONBLOCK read: EAGAIN");
  CHECK(fcntl(p[1], F_SETPIPE_SZ, 1 << 16) >= 1 << 16 && fcntl(p[1], F_GETPIPE_SZ) >= 1 << 16,
        "pipe size set");
  CHECK(syscall(SYS_close_range, 20, 40, 0) == 0, "close_range 20-40");
  CHECK(fcntl(20, F_GETFD) == -1 && fcntl(e, F_GETFD) == -1, "both closed");
  return conf_done();
}
