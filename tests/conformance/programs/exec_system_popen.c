/* conformance-class: 6
 * system() and popen() (posix_spawn of /bin/sh in a child): a command's
 * status, a command's output read by the parent, output written straight
 * to our stdout by the child shell, and a command writing to popen("w"). */
#define _GNU_SOURCE /* before any system header */
#include <sys/wait.h>

#include "conf.h"

int main(void) {
  fflush(stdout);
  int r = system("exit 6");
  CHECK(WIFEXITED(r) && WEXITSTATUS(r) == 6, "system: status 6");
  fflush(stdout);
  r = system("echo the shell prints this line");
  CHECK(r == 0, "system: echo exits 0");
  FILE* f = popen("printf 'one\\ntwo\\nthree\\n'", "r");
  char line[64];
  int n = 0;
  while (fgets(line, sizeof line, f)) n++;
  CHECK(pclose(f) == 0 && n == 3, "popen(r): three lines read (%d)", n);
  fflush(stdout);
  f = popen("tr a-z A-Z", "w");
  fputs("upper-cased by tr\n", f);
  CHECK(pclose(f) == 0, "popen(w): tr exited 0");
  return conf_done();
}
