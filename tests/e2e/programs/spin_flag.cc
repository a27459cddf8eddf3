// spin_flag: threads of a program built WITHOUT backstep_instrument that
// wait for each other with `while (!flag) {}`: no syscall, no tick. The
// recorder can only give the other thread a turn by interrupting the
// spinner (a wall-clock timeslice); replay must find each of those instants
// again. Output and exit status are the same on every run.
//
// Usage: spin_flag [handoffs]
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace {

std::atomic<int> turn{0};
long shared_sum = 0;

// Relaxed loads: a plain load per iteration (mov; test; jcc), what
// `while (!flag) {}` on a volatile or relaxed atomic compiles to.
void wait_for_turn(int want) {
  while (turn.load(std::memory_order_relaxed) != want) {
  }
}

}  // namespace

int main(int argc, char** argv) {
  int handoffs = argc > 1 ? std::atoi(argv[1]) : 5;
  std::printf("spin_flag: %d handoffs\n", handoffs);
  std::fflush(stdout);
  std::thread worker([&] {
    for (int i = 0; i < handoffs; ++i) {
      wait_for_turn(2 * i + 1);
      shared_sum += 1000 + i;  // the worker's part of the round
      turn.store(2 * i + 2, std::memory_order_release);
    }
  });
  for (int i = 0; i < handoffs; ++i) {
    shared_sum += i;
    turn.store(2 * i + 1, std::memory_order_release);
    wait_for_turn(2 * i + 2);
  }
  worker.join();
  std::printf("spin_flag: done, sum %ld, turn %d\n", shared_sum, turn.load());
  return turn.load() == 2 * handoffs ? 0 : 1;
}
