/* conformance-class: 6
 * Failed execs leave the program running: ENOENT for a missing file and
 * for a command not on PATH, EACCES for a file without execute
 * permission, ENOEXEC for a text file without #!; then the program goes
 * on and exits 0. */
#define _GNU_SOURCE /* before any system header */
#include <sys/stat.h>

#include "conf.h"

int main(void) {
  char* args[] = {"nope", NULL};
  char* env[] = {NULL};
  int r = execve("/nonexistent/conformance/program", args, env);
  CHECK(r == -1 && errno == ENOENT, "missing file: ENOENT (errno %d)", errno);
  char path[] = "/tmp/conf_noexec_XXXXXX";
  int fd = mkstemp(path);
  write(fd, "just text\n", 10);
  close(fd);
  chmod(path, 0600);
  r = execve(path, args, env);
  CHECK(r == -1 && errno == EACCES, "no execute permission: EACCES (errno %d)", errno);
  chmod(path, 0700);
  r = execve(path, args, env);
  CHECK(r == -1 && errno == ENOEXEC, "not an executable format: ENOEXEC (errno %d)", errno);
  unlink(path);
  r = execvp("conformance-no-such-command", args);
  CHECK(r == -1 && errno == ENOENT, "execvp through PATH: ENOENT (errno %d)", errno);
  return conf_done();
}
