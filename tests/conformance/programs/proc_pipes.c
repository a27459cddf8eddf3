/* conformance-class: 5
 * A child as a filter: the parent writes 200 KB through one pipe, the
 * child upper-cases it and writes it back through another, the parent
 * checks every byte (both directions larger than a pipe buffer, so the
 * two processes really alternate). */
#define _GNU_SOURCE /* before any system header */
#include <ctype.h>
#include <sys/wait.h>

#include "conf.h"

#define SIZE (200 * 1024)

int main(void) {
  int to_child[2], from_child[2];
  pipe(to_child);
  pipe(from_child);
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    close(to_child[1]);
    close(from_child[0]);
    char buf[4096];
    ssize_t n;
    while ((n = read(to_child[0], buf, sizeof buf)) > 0) {
      for (ssize_t i = 0; i < n; i++) buf[i] = (char)toupper((unsigned char)buf[i]);
      for (ssize_t off = 0; off < n;) off += write(from_child[1], buf + off, n - off);
    }
    _exit(0);
  }
  close(to_child[0]);
  close(from_child[1]);
  /* Write and read in turns of 16 KB so that neither pipe fills up. */
  static char out[SIZE], in[SIZE];
  for (int i = 0; i < SIZE; i++) out[i] = "abcdefghijklmnopqrstuvwxyz"[i % 26];
  size_t got = 0;
  for (size_t sent = 0; sent < SIZE;) {
    size_t chunk = SIZE - sent < 16384 ? SIZE - sent : 16384;
    write(to_child[1], out + sent, chunk);
    sent += chunk;
    while (got < sent) {
      ssize_t n = read(from_child[0], in + got, sent - got);
      if (n <= 0) break;
      got += n;
    }
  }
  close(to_child[1]);
  int ok = got == SIZE;
  for (int i = 0; ok && i < SIZE; i++) ok = in[i] == toupper((unsigned char)out[i]);
  CHECK(ok, "200 KB round trip through the child, upper-cased");
  int st;
  waitpid(c, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "filter exited 0");
  return conf_done();
}
