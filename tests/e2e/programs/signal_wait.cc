// A timer's SIGALRM (sent by the kernel, not by the program) interrupting
// threads blocked in the kernel: sigsuspend in the main thread, ppoll on a
// pipe nobody writes, and sigsuspend in a second thread while the main
// thread waits in pthread_join; then a POSIX timer's SIGUSR2, whose
// siginfo (SI_TIMER, si_value) the handler must see as queued. Each wait
// unblocks its signal atomically, so the outcome never depends on when the
// timer fires.
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace {

volatile sig_atomic_t alarms = 0;

void on_alarm(int) { alarms = alarms + 1; }

volatile int timer_code = 0;
volatile int timer_value = 0;

void on_timer(int, siginfo_t* si, void*) {
  timer_code = si->si_code;
  timer_value = si->si_value.sival_int;
}

void arm_timer() {
  itimerval t{};
  t.it_value.tv_usec = 2000;  // one shot
  setitimer(ITIMER_REAL, &t, nullptr);
}

// Every thread blocks SIGALRM except while it waits for it.
sigset_t unblocked_mask() {
  sigset_t m;
  pthread_sigmask(SIG_BLOCK, nullptr, &m);
  sigdelset(&m, SIGALRM);
  return m;
}

void* worker(void*) {
  sigset_t m = unblocked_mask();
  arm_timer();
  sigsuspend(&m);
  std::printf("worker sigsuspend: %d alarms\n", static_cast<int>(alarms));
  return nullptr;
}

}  // namespace

int main() {
  struct sigaction sa {};
  sa.sa_handler = on_alarm;  // no SA_RESTART: interrupted calls fail with EINTR
  sigaction(SIGALRM, &sa, nullptr);
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGALRM);
  pthread_sigmask(SIG_BLOCK, &block, nullptr);
  sigset_t m = unblocked_mask();

  for (int i = 0; i < 3; ++i) {
    arm_timer();
    sigsuspend(&m);
    std::printf("sigsuspend %d: %d alarms\n", i, static_cast<int>(alarms));
  }

  int fds[2];
  if (pipe(fds) != 0) return 1;
  pollfd p{fds[0], POLLIN, 0};
  arm_timer();
  int r = ppoll(&p, 1, nullptr, &m);
  std::printf("ppoll: %d %s, %d alarms\n", r, r < 0 && errno == EINTR ? "EINTR" : "?",
              static_cast<int>(alarms));

  pthread_t t;
  pthread_create(&t, nullptr, worker, nullptr);
  pthread_join(t, nullptr);
  std::printf("alarms: %d\n", static_cast<int>(alarms));

  struct sigaction st {};
  st.sa_sigaction = on_timer;
  st.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR2, &st, nullptr);
  sigset_t usr2;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &usr2, nullptr);
  sigevent ev{};
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGUSR2;
  ev.sigev_value.sival_int = 77;
  timer_t timer;
  if (timer_create(CLOCK_MONOTONIC, &ev, &timer) != 0) return 1;
  itimerspec its{};
  its.it_value.tv_nsec = 2000000;
  timer_settime(timer, 0, &its, nullptr);
  sigset_t wait_mask;
  pthread_sigmask(SIG_BLOCK, nullptr, &wait_mask);
  sigdelset(&wait_mask, SIGUSR2);
  sigsuspend(&wait_mask);
  std::printf("timer: %s, value %d\n", timer_code == SI_TIMER ? "SI_TIMER" : "another code",
              static_cast<int>(timer_value));
  return 0;
}
