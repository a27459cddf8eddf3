// A value torn by a second writer, then asserted: one thread writes both
// halves of a pair, a second writer updates only one half, and a checker
// thread asserts that the halves agree. The report's dataflow must name,
// for each value the assert compared, the last write to it: the second
// writer's store (line TEARS) for `low`, the first writer's (line SETS_HIGH)
// for `high`. The threads run one after the other (joined), so every run
// fails the same way.
#undef NDEBUG  // the assert is the point, whatever the build type
#include <atomic>
#include <cassert>
#include <cstdio>
#include <thread>

namespace {

struct Pair {
  long low;
  long high;
};

Pair g_pair{0, 0};

[[gnu::noinline]] void set_both(long v) {
  g_pair.low = v;
  // A compiler-only barrier: two stores, not one 16-byte store of both.
  std::atomic_signal_fence(std::memory_order_seq_cst);
  g_pair.high = v;  // SETS_HIGH
}

[[gnu::noinline]] void set_low(long v) {
  g_pair.low = v;  // TEARS the pair
}

[[gnu::noinline]] void check() {
  assert(g_pair.low == g_pair.high);  // CHECKS
}

}  // namespace

int main() {
  std::thread first(set_both, 41L);
  first.join();
  std::thread second(set_low, 42L);
  second.join();
  std::thread checker(check);
  checker.join();
  std::printf("pair %ld %ld\n", g_pair.low, g_pair.high);
  return 0;
}
