// Signals that land while instrumented code spins without a syscall: the
// recorder holds them and lets them through at a tick trap. A POSIX timer's
// SIGUSR2, which the program ignores, comes first and must change nothing
// (the thread goes on being recorded); then setitimer's SIGALRM, whose
// handler sets the flag the loop waits for; then the program aborts itself
// (status 134), which must still end the recording and every replay so.
#include <signal.h>
#include <sys/time.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>

namespace {

volatile sig_atomic_t alarmed = 0;

void on_alarm(int) { alarmed = 1; }

}  // namespace

int main() {
  signal(SIGUSR2, SIG_IGN);
  signal(SIGALRM, on_alarm);
  sigevent ev{};
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGUSR2;
  timer_t timer;
  if (timer_create(CLOCK_MONOTONIC, &ev, &timer) != 0) return 1;
  itimerspec its{};
  its.it_value.tv_nsec = 1000000;  // 1 ms
  timer_settime(timer, 0, &its, nullptr);
  itimerval alarm_at{};
  alarm_at.it_value.tv_usec = 5000;  // 5 ms
  setitimer(ITIMER_REAL, &alarm_at, nullptr);
  unsigned long spins = 0;
  while (!alarmed) ++spins;
  std::printf("signal_spin: alarmed after spinning: %s\n", spins > 0 ? "yes" : "no");
  std::fflush(stdout);
  abort();
}
