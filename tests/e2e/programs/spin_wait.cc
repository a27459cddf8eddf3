// spin_wait: threads that wait for each other by spinning on atomics, with
// no syscall in the loops. Only the tick instrumentation
// (backstep_instrument) lets a one-thread-at-a-time recorder preempt the
// spinner; without it the recording would never finish.
//
// Usage: spin_wait [handoffs]
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace {

std::atomic<bool> ready{false};
std::atomic<int> turn{0};

}  // namespace

int main(int argc, char** argv) {
  int handoffs = argc > 1 ? std::atoi(argv[1]) : 20;
  std::printf("spin_wait: %d handoffs\n", handoffs);
  std::fflush(stdout);
  long work = 0;
  std::thread worker([&] {
    for (int i = 0; i < 1000; ++i) work += i;  // some work before publishing
    ready.store(true);
    // Ping-pong: the worker owns odd turns, main the even ones.
    for (int i = 0; i < handoffs; ++i) {
      while (turn.load() % 2 == 0) {
      }
      turn.fetch_add(1);
    }
  });
  while (!ready.load()) {
  }
  for (int i = 0; i < handoffs; ++i) {
    turn.fetch_add(1);
    while (turn.load() % 2 == 1) {
    }
  }
  worker.join();
  std::printf("spin_wait: done, work %ld, turn %d\n", work, turn.load());
  return turn.load() == 2 * handoffs ? 0 : 1;
}
