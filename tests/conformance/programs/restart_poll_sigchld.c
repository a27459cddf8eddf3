/* conformance-class: 2
 * A SIGCHLD landing inside poll(): with SIGCHLD's default action (ignore)
 * poll goes on and later returns 1 with revents POLLIN for the data a
 * second child writes; with a SIGCHLD handler (SA_RESTART or not) poll
 * fails with EINTR. The children act only once the parent sleeps in poll. */
#define _GNU_SOURCE /* before any system header */
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "conf.h"

static volatile sig_atomic_t chld;
static void on_chld(int sig) {
  (void)sig;
  chld++;
}

/* A child that exits once the parent sleeps; a second that then writes,
 * once the first is gone (it holds a pipe open until it exits). */
static void children(int wfd, pid_t* a, pid_t* b) {
  conf_proc_t parent = conf_this_process();
  int life[2];
  pipe(life);
  fflush(stdout);
  *a = fork();
  if (*a == 0) {
    close(life[0]);
    conf_wait_sleeping(&parent);
    _exit(7);
  }
  close(life[1]);
  *b = -1;
  if (wfd >= 0) {
    *b = fork();
    if (*b == 0) {
      char c;
      while (read(life[0], &c, 1) > 0) {
      }
      conf_sleep_ms(5);
      conf_wait_sleeping(&parent);
      write(wfd, "x", 1);
      _exit(0);
    }
  }
  close(life[0]);
}

int main(void) {
  int fds[2];
  pipe(fds);
  pid_t a, b;
  children(fds[1], &a, &b);
  struct pollfd p = {fds[0], POLLIN, 0};
  int r = poll(&p, 1, 5000);
  CHECK(r == 1, "default SIGCHLD: poll returned 1 (r=%d errno=%d)", r, r < 0 ? errno : 0);
  CHECK(p.revents == POLLIN, "default SIGCHLD: revents is POLLIN (%#x)", p.revents);
  char x;
  read(fds[0], &x, 1);
  int st;
  CHECK(waitpid(a, &st, 0) == a && WIFEXITED(st) && WEXITSTATUS(st) == 7, "first child: 7");
  CHECK(waitpid(b, &st, 0) == b && WIFEXITED(st) && WEXITSTATUS(st) == 0, "second child: 0");

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_chld;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGCHLD, &sa, NULL);
  children(-1, &a, &b);
  p.revents = 0;
  r = poll(&p, 1, 5000);
  int e = errno;
  CHECK(r == -1 && e == EINTR, "SIGCHLD handler: poll fails with EINTR (r=%d errno=%d)", r, e);
  CHECK(chld == 1, "SIGCHLD handler ran once (%d)", (int)chld);
  CHECK(waitpid(a, &st, 0) == a && WEXITSTATUS(st) == 7, "third child: 7");
  return conf_done();
}
