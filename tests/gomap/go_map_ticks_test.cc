// Built with backstep_instrument(): the map's code counts ticks.
#include <gtest/gtest.h>

#include "gomap/go_map.h"
#include "runtime/runtime.h"

namespace backstep {
namespace {

TEST(GoMapTicks, MapCodeCountsTicks) {
  const uint64_t before = rt::this_thread_block().ticks;
  GoMap<int, int> m;
  for (int i = 0; i < 1000; ++i) m.put(i, i);
  long sum = 0;
  for (auto [k, v] : m) sum += v;
  const uint64_t after = rt::this_thread_block().ticks;
  EXPECT_EQ(sum, 999 * 1000 / 2);
  EXPECT_GT(after - before, 10000u) << "one tick per basic block of instrumented code";
  EXPECT_EQ(rt::this_thread_block().magic, abi::kThreadBlockMagic);
}

}  // namespace
}  // namespace backstep
