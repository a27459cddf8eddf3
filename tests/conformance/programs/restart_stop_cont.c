/* conformance-class: 2
 * SIGSTOP then SIGCONT (sent by a child process) while the program sleeps
 * in nanosleep() and later in read(): no handler runs, so the kernel
 * restarts both transparently (nanosleep through restart_syscall) and they
 * complete as if nothing happened. */
#define _GNU_SOURCE /* before any system header */
#include <signal.h>
#include <sys/wait.h>

#include "conf.h"

/* Child: stop the parent once it sleeps, continue it once it is stopped. */
static pid_t stopper(int then_write_fd) {
  pid_t parent = getpid();
  conf_proc_t parent_proc = conf_this_process();
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    conf_wait_sleeping(&parent_proc);
    kill(parent, SIGSTOP);
    for (int i = 0; i < 2000 && conf_state(&parent_proc) != 'T'; i++) conf_sleep_ms(1);
    kill(parent, SIGCONT);
    if (then_write_fd >= 0) {
      conf_sleep_ms(5);
      conf_wait_sleeping(&parent_proc);
      write(then_write_fd, "data", 4);
    }
    _exit(0);
  }
  return c;
}

int main(void) {
  pid_t c = stopper(-1);
  struct timespec req = {0, 300000000L}, rem = {0, 0};
  int r = nanosleep(&req, &rem);
  CHECK(r == 0, "nanosleep completed across SIGSTOP/SIGCONT (r=%d errno=%d)", r, r ? errno : 0);
  int st;
  waitpid(c, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "stopper exited 0");

  int fds[2];
  pipe(fds);
  c = stopper(fds[1]);
  char buf[8] = {0};
  ssize_t n = read(fds[0], buf, sizeof buf - 1);
  CHECK(n == 4 && strcmp(buf, "data") == 0, "read restarted across SIGSTOP/SIGCONT, got '%s'", buf);
  waitpid(c, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "second stopper exited 0");
  return conf_done();
}
