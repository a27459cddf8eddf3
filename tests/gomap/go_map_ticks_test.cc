// Built with backstep_instrument(): the map's code counts ticks.
#include <gtest/gtest.h>

#include "gomap/go_map.h"
#include "runtime/runtime.h"

namespace backstep {
namespace {

uint64_t ticks_now() { return rt::this_thread_block().ticks; }

// One tick per loop iteration (the loop header's)...
[[gnu::noinline]] uint64_t sum_below(uint64_t n) {
  uint64_t sum = 0;
  for (uint64_t i = 0; i < n; ++i) {
    sum += i;
    asm volatile("" : "+r"(sum));  // one iteration stays one iteration
  }
  return sum;
}

// ... and one per function entry, so that recursion without loops counts.
[[gnu::noinline]] uint64_t depth(uint64_t n) {
  uint64_t d = n == 0 ? 0 : depth(n - 1) + 1;
  asm volatile("" : "+r"(d));  // not a tail call
  return d;
}

// The attributes that keep coverage instrumentation out keep ticks out.
[[gnu::noinline, gnu::no_instrument_function]] uint64_t sum_below_untracked(uint64_t n) {
  uint64_t sum = 0;
  for (uint64_t i = 0; i < n; ++i) {
    sum += i;
    asm volatile("" : "+r"(sum));
  }
  return sum;
}

// Where the plugin puts ticks; trace-pc (other compilers) puts one at
// every basic block and ignores no_instrument_function.
#ifdef BACKSTEP_TICKS_FROM_PLUGIN
constexpr bool kTicksFromPlugin = true;
#else
constexpr bool kTicksFromPlugin = false;
#endif

TEST(Ticks, NoneInFunctionsMarkedNoInstrument) {
  if (!kTicksFromPlugin) GTEST_SKIP() << "ticks from -fsanitize-coverage=trace-pc";
  const uint64_t before = ticks_now();
  const uint64_t sum = sum_below_untracked(1000);
  const uint64_t after = ticks_now();
  EXPECT_EQ(sum, 999u * 1000 / 2);
  EXPECT_EQ(after, before);
}

TEST(Ticks, OnePerLoopIterationAndPerCall) {
  if (!kTicksFromPlugin) GTEST_SKIP() << "ticks from -fsanitize-coverage=trace-pc";
  auto ticks_of = [](auto&& run) {
    const uint64_t before = ticks_now();
    run();
    return ticks_now() - before;
  };
  const uint64_t loop0 = ticks_of([] { EXPECT_EQ(sum_below(0), 0u); });
  const uint64_t loop1000 = ticks_of([] { EXPECT_EQ(sum_below(1000), 999u * 1000 / 2); });
  EXPECT_EQ(loop1000 - loop0, 1000u);
  const uint64_t calls0 = ticks_of([] { EXPECT_EQ(depth(0), 0u); });
  const uint64_t calls100 = ticks_of([] { EXPECT_EQ(depth(100), 100u); });
  EXPECT_EQ(calls100 - calls0, 100u);
}

TEST(GoMapTicks, MapCodeCountsTicks) {
  const uint64_t before = rt::this_thread_block().ticks;
  GoMap<int, int> m;
  for (int i = 0; i < 1000; ++i) m.put(i, i);
  long sum = 0;
  for (auto [k, v] : m) sum += v;
  const uint64_t after = rt::this_thread_block().ticks;
  EXPECT_EQ(sum, 999 * 1000 / 2);
  EXPECT_GT(after - before, 1000u) << "a tick per loop iteration of instrumented code";
  EXPECT_EQ(rt::this_thread_block().magic, abi::kThreadBlockMagic);
}

}  // namespace
}  // namespace backstep
