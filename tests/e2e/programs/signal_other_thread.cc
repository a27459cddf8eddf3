// pthread_kill from the main thread interrupts a second thread's long
// nanosleep: the sleep fails with EINTR after the handler ran. The kill is
// made again in replay, so the signal is pending for real there.
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <atomic>
#include <cerrno>
#include <cstdio>

namespace {

volatile sig_atomic_t handled = 0;
std::atomic<int> sleeping{0};

void on_usr1(int) { handled = 1; }

void* sleeper(void*) {
  sleeping = 1;
  timespec ts{30, 0};
  int r = nanosleep(&ts, &ts);
  std::printf("nanosleep %d %s, handled %d\n", r, r < 0 && errno == EINTR ? "EINTR" : "-",
              static_cast<int>(handled));
  return nullptr;
}

}  // namespace

int main() {
  struct sigaction sa {};
  sa.sa_handler = on_usr1;  // no SA_RESTART
  sigaction(SIGUSR1, &sa, nullptr);
  pthread_t t;
  pthread_create(&t, nullptr, sleeper, nullptr);
  // Recorded, the sleeper only gives the main thread its turn back when it
  // blocks in nanosleep, so the signal always finds it asleep.
  while (!sleeping) sched_yield();
  pthread_kill(t, SIGUSR1);
  pthread_join(t, nullptr);
  std::printf("done\n");
  return 0;
}
