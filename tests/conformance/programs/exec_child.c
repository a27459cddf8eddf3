/* conformance-class: 6
 * fork + execve in the child (the common shell pattern) with stdout
 * redirected into a pipe by dup2: the parent reads what /bin/echo
 * printed, and the exit status of `false`. The exec'd programs print
 * nothing to our stdout themselves. */
#define _GNU_SOURCE /* before any system header */
#include <sys/wait.h>

#include "conf.h"

static pid_t run(char* const argv[], int out_fd) {
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    if (out_fd >= 0) dup2(out_fd, 1);
    execv(argv[0], argv);
    _exit(127);
  }
  return c;
}

int main(void) {
  int p[2];
  pipe(p);
  char* echo[] = {"/bin/echo", "echo", "through", "a", "pipe", NULL};
  pid_t c = run(echo, p[1]);
  close(p[1]);
  char buf[128] = {0};
  size_t got = 0;
  ssize_t n;
  while ((n = read(p[0], buf + got, sizeof buf - 1 - got)) > 0) got += n;
  int st;
  waitpid(c, &st, 0);
  CHECK(strcmp(buf, "echo through a pipe\n") == 0, "read echo's output: %.19s", buf);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "echo exited 0");
  char* f[] = {"/bin/false", NULL};
  c = run(f, -1);
  waitpid(c, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1, "false exited 1");
  char* missing[] = {"/nonexistent/x", NULL};
  c = run(missing, -1);
  waitpid(c, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 127, "failed exec in the child: 127");
  return conf_done();
}
