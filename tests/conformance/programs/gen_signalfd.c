/* conformance-class: 0
 * signalfd: blocked signals are read as signalfd_siginfo records (lowest
 * number first; ssi_code SI_USER for kill, SI_QUEUE with the value for
 * sigqueue); poll on the signalfd shows POLLIN only while one is pending;
 * a non-blocking read of nothing fails with EAGAIN. */
#define _GNU_SOURCE /* before any system header */
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>

#include "conf.h"

int main(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGUSR2);
  sigaddset(&set, SIGRTMIN);
  sigprocmask(SIG_BLOCK, &set, NULL);
  int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  CHECK(fd >= 0, "signalfd");
  struct pollfd p = {fd, POLLIN, 0};
  CHECK(poll(&p, 1, 0) == 0, "nothing pending: poll says 0");
  kill(getpid(), SIGUSR2);
  kill(getpid(), SIGUSR1);
  union sigval v = {.sival_int = 31337};
  sigqueue(getpid(), SIGRTMIN, v);
  CHECK(poll(&p, 1, 0) == 1 && (p.revents & POLLIN), "pending: POLLIN");
  struct signalfd_siginfo si[4];
  ssize_t n = read(fd, si, sizeof si);
  CHECK(n == 3 * (ssize_t)sizeof si[0], "three records in one read (%zd)",
        n / (ssize_t)sizeof si[0]);
  CHECK(si[0].ssi_signo == SIGUSR1 && si[1].ssi_signo == SIGUSR2 &&
            si[2].ssi_signo == (unsigned)SIGRTMIN,
        "in signal-number order");
  CHECK(si[0].ssi_code == SI_USER && si[0].ssi_pid == (unsigned)getpid(), "SI_USER from us");
  CHECK(si[2].ssi_code == SI_QUEUE && si[2].ssi_int == 31337, "SI_QUEUE with its value");
  n = read(fd, si, sizeof si);
  CHECK(n == -1 && errno == EAGAIN, "drained: EAGAIN");
  return conf_done();
}
