// Handlers with and without SA_RESTART (a pipe read interrupted by a timer
// restarts, or fails with EINTR), SA_SIGINFO with a sigqueue value,
// SA_NODEFER (the handler raises its own signal, nested), SA_RESETHAND (the
// second SIGHUP kills: status 129).
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
static int fds[2];
static volatile sig_atomic_t depth, max_depth, hits;
static void on_alarm(int s) {
  (void)s;
  hits = hits + 1;
  if (write(fds[1], "x", 1) != 1) _exit(9);
}
static void on_info(int s, siginfo_t* si, void* c) {
  (void)c;
  printf("info sig %d code %d value %d\n", s, si->si_code, si->si_value.sival_int);
}
static void on_nodefer(int s) {
  depth = depth + 1;
  if (depth > max_depth) max_depth = depth;
  if (depth < 3) raise(s);
  depth = depth - 1;
}
static void arm(void) {
  struct itimerval t = {{0, 0}, {0, 3000}};
  setitimer(ITIMER_REAL, &t, NULL);
}
static void try_read(int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sa.sa_flags = flags;
  sigaction(SIGALRM, &sa, NULL);
  arm();
  char c;
  ssize_t r = read(fds[0], &c, 1);
  printf("read %s: %zd %s\n", flags ? "SA_RESTART" : "no restart", r,
         r < 0 ? strerror(errno) : "ok");
  if (r < 0) {
    r = read(fds[0], &c, 1);
    printf("read again %zd\n", r);
  }
}
int main(void) {
  if (pipe(fds)) return 1;
  try_read(SA_RESTART);
  try_read(0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_info;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR1, &sa, NULL);
  union sigval v = {.sival_int = 42};
  sigqueue(getpid(), SIGUSR1, v);
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_nodefer;
  sa.sa_flags = SA_NODEFER;
  sigaction(SIGUSR2, &sa, NULL);
  raise(SIGUSR2);
  printf("nodefer depth %d\n", static_cast<int>(max_depth));
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGHUP, &sa, NULL);
  raise(SIGHUP);
  printf("resethand hits %d\n", static_cast<int>(hits));
  fflush(stdout);
  raise(SIGHUP);  // default now: killed by SIGHUP (129)
  return 0;
}
