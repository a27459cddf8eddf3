// spin_counter: the ambiguous case. The spinner counts its iterations in
// memory, `while (!flag) ++counter;`, with the increment made in place
// (incq on memory): every iteration has the same registers, only the
// counter differs. A replay that stopped the spinner at the first
// iteration with the recorded registers would print another count. Built
// without backstep_instrument. The count depends on timing, so only the
// replay of one recording reproduces it (the last line); the rest is the
// same on every run.
//
// Usage: spin_counter [rounds]
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace {

std::atomic<int> flag{0};
long counter = 0;

void spin_until(int want) {
  while (flag.load(std::memory_order_relaxed) != want) {
    asm volatile("incq %0" : "+m"(counter));  // registers repeat, memory does not
  }
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 3;
  std::printf("spin_counter: %d rounds\n", rounds);
  std::fflush(stdout);
  long seen[64] = {};
  std::thread setter([&] {
    for (int i = 0; i < rounds; ++i) {
      spin_until(2 * i + 1);
      seen[i] = counter;  // what the spinner had counted when it let us run
      flag.store(2 * i + 2, std::memory_order_release);
    }
  });
  for (int i = 0; i < rounds; ++i) {
    flag.store(2 * i + 1, std::memory_order_release);
    spin_until(2 * i + 2);
  }
  setter.join();
  bool counted = counter > 0;
  std::printf("spin_counter: done, counted %s\n", counted ? "yes" : "no");
  std::printf("spin_counter: counts");
  for (int i = 0; i < rounds; ++i) std::printf(" %ld", seen[i]);
  std::printf(" %ld\n", counter);
  return counted ? 0 : 1;
}
