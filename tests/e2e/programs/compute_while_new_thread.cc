// compute_while_new_thread: the main thread starts a thread and computes
// for a while without a syscall, expecting the new thread to have run
// meanwhile (natively it starts at once on another CPU). One thread at a
// time, the new thread only runs if the recorder interrupts main. Built
// without backstep_instrument.
//
// Usage: compute_while_new_thread
#include <atomic>
#include <cstdio>
#include <thread>

namespace {

std::atomic<int> started{0};

}  // namespace

int main() {
  std::printf("compute: starting a thread\n");
  std::fflush(stdout);
  std::thread t([] { started.store(1, std::memory_order_relaxed); });
  // About 50-100 ms of arithmetic, no syscall; the new thread set `started`
  // long before the end, natively.
  unsigned long x = 1;
  for (long i = 0; i < 200'000'000; ++i) {
    x = x * 2862933555777941757ul + 3037000493ul;
    if (i % 1'000'000 == 0 && started.load(std::memory_order_relaxed)) break;
  }
  int ran = started.load();
  t.join();
  std::printf("compute: the new thread %s while main computed\n", ran ? "ran" : "did NOT run");
  return ran ? 0 : 1;
}
