// Syscalls interrupted by signals the program does not handle (SIGCHLD by
// default, an ignored SIGALRM): the kernel restarts them, through
// restart_syscall for nanosleep, clock_nanosleep and poll; and with a
// handler: EINTR with the remaining time.
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static void child_exits_after(int ms) {
  if (fork() == 0) {
    usleep(ms * 1000);
    _exit(0);
  }
}
static void on_alarm(int s) { (void)s; }
int main(void) {
  int fds[2];
  if (pipe(fds)) return 1;
  child_exits_after(5);
  struct timespec ts = {0, 60 * 1000 * 1000}, rem = {7, 7};
  int r = nanosleep(&ts, &rem);
  printf("nanosleep (SIGCHLD) %d rem %ld\n", r, static_cast<long>(rem.tv_sec));
  wait(NULL);
  child_exits_after(5);
  r = clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
  printf("clock_nanosleep (SIGCHLD) %d\n", r);
  wait(NULL);
  // poll restarted after SIGCHLD, then the pipe becomes readable.
  child_exits_after(5);
  if (fork() == 0) {
    usleep(40 * 1000);
    if (write(fds[1], "y", 1) != 1) _exit(1);
    _exit(0);
  }
  struct pollfd p = {fds[0], POLLIN, 0};
  r = poll(&p, 1, 5000);
  printf("poll (SIGCHLD) %d revents %#x\n", r, p.revents);
  char c;
  if (read(fds[0], &c, 1) != 1) return 2;
  wait(NULL);
  wait(NULL);
  // poll without timeout, restarted the same way.
  child_exits_after(5);
  if (fork() == 0) {
    usleep(40 * 1000);
    if (write(fds[1], "z", 1) != 1) _exit(1);
    _exit(0);
  }
  p.revents = 0;
  r = poll(&p, 1, -1);
  printf("poll -1 (SIGCHLD) %d revents %#x\n", r, p.revents);
  if (read(fds[0], &c, 1) != 1) return 2;
  wait(NULL);
  wait(NULL);
  // An ignored SIGALRM.
  signal(SIGALRM, SIG_IGN);
  struct itimerval t = {{0, 0}, {0, 3000}};
  setitimer(ITIMER_REAL, &t, NULL);
  r = nanosleep(&ts, NULL);
  printf("nanosleep (ignored SIGALRM) %d\n", r);
  // A handler: EINTR, and the remaining time is written.
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  setitimer(ITIMER_REAL, &t, NULL);
  ts.tv_sec = 5;
  rem.tv_sec = 0;
  r = nanosleep(&ts, &rem);
  printf("nanosleep (handled) %d %s rem %s\n", r, r ? strerror(errno) : "",
         rem.tv_sec >= 4 ? "4+" : "?");
  setitimer(ITIMER_REAL, &t, NULL);
  r = poll(&p, 1, 5000);
  printf("poll (handled) %d %s\n", r, r < 0 ? strerror(errno) : "");
  return 0;
}
