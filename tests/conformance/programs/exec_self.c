/* conformance-class: 6
 * execve of the program itself with an argument, from the main thread:
 * the first image prints, flushes and execs /proc/self/exe with "second";
 * the second image checks its arguments, that a CLOEXEC descriptor was
 * closed and a plain one kept, and exits 4. */
#define _GNU_SOURCE /* before any system header */
#include "conf.h"

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "second") == 0) {
    printf("second image, argc %d\n", argc);
    CHECK(argc == 3 && strcmp(argv[2], "arg two") == 0, "arguments passed through");
    int keep = atoi(getenv("CONF_KEEP_FD"));
    int gone = atoi(getenv("CONF_GONE_FD"));
    CHECK(fcntl(keep, F_GETFD) == 0, "plain descriptor kept across exec");
    CHECK(fcntl(gone, F_GETFD) == -1 && errno == EBADF, "O_CLOEXEC descriptor closed");
    char buf[8] = {0};
    read(keep, buf, 5);
    CHECK(strcmp(buf, "piped") == 0, "the kept pipe still holds its data");
    conf_done();
    return 4;
  }
  int p[2];
  pipe(p);
  write(p[1], "piped", 5);
  int gone = open("/dev/null", O_RDONLY | O_CLOEXEC);
  char k[16], g[16];
  snprintf(k, sizeof k, "%d", p[0]);
  snprintf(g, sizeof g, "%d", gone);
  setenv("CONF_KEEP_FD", k, 1);
  setenv("CONF_GONE_FD", g, 1);
  printf("first image, about to exec\n");
  fflush(stdout);
  char* args[] = {argv[0], "second", "arg two", NULL};
  execv("/proc/self/exe", args);
  printf("FAIL exec failed: %s\n", strerror(errno));
  return 1;
}
