// The fixture the other gdbserver tests need: fresh recordings of the two
// examples (see gdbserver_fixture.h). Run first by ctest.
#include <gtest/gtest.h>

#include "gdbserver_fixture.h"

namespace {

TEST(Recordings, Make) {
  EXPECT_FALSE(gdbtest::record_failing("growth_panic", GROWTH_PANIC_BIN, "200").trace.empty());
  EXPECT_FALSE(
      gdbtest::record_failing("header_corruption", HEADER_CORRUPTION_BIN, "200").trace.empty());
}

}  // namespace
