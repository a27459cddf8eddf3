// Preemption without a counter: threads that spin without a syscall in code
// that counts no ticks (a program built without backstep_instrument, or
// glibc's pthread_spin_lock inside an instrumented one) are interrupted by
// the recorder after a wall-clock timeslice, and replay finds each of those
// instants again (recorder/preemption.cc, replayer/replay_preemption.cc).
// Each program: recorded with the output and exit status of a native run,
// replayed three times with exactly the recorded output and no divergence.
#include <gtest/gtest.h>

#include "e2e_support.h"

namespace e2e {
namespace {

class Preemption : public ::testing::Test {
 protected:
  RunResult record(const std::vector<std::string>& prog, std::vector<std::string> flags = {}) {
    std::vector<std::string> args{"record", "-o", trace().string()};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back("--");
    args.insert(args.end(), prog.begin(), prog.end());
    return backstep(args, xdg());
  }
  void expect_replays(const RunResult& recorded) {
    for (int i = 0; i < 3; ++i) {
      RunResult rep = backstep({"replay", trace().string()}, xdg());
      ASSERT_EQ(rep.shell_status(), recorded.shell_status()) << rep.describe();
      EXPECT_EQ(rep.out, recorded.out) << "replay " << i;
      EXPECT_FALSE(contains(rep.err, "diverged")) << rep.describe();
      EXPECT_TRUE(contains(rep.err, "replay complete")) << rep.describe();
    }
  }
  // How many threads the recorder interrupted, and how many of those
  // interrupts made it switch.
  std::pair<int, int> interrupts() {
    int stops = 0, switches = 0;
    for (const auto& e : dump_json(trace(), xdg())) {
      if (e["type"] == "stop" && e["kind"] == "interrupt") ++stops;
      if (e["type"] == "switch" && e["reason"] == "interrupt") ++switches;
    }
    return {stops, switches};
  }
  fs::path trace() const { return tmp_ / "t"; }
  fs::path xdg() const { return tmp_ / "xdg"; }
  TempDir tmp_;
};

TEST_F(Preemption, UninstrumentedSpinnersWaitingForEachOther) {
  RunResult native = run({E2E_SPIN_FLAG, "6"});
  ASSERT_EQ(native.shell_status(), 0) << native.describe();
  RunResult rec = record({E2E_SPIN_FLAG, "6"});
  ASSERT_EQ(rec.shell_status(), 0) << rec.describe();
  EXPECT_EQ(rec.out, native.out);
  auto [stops, switches] = interrupts();
  EXPECT_GE(stops, 6);  // each handoff needs the spinner interrupted
  EXPECT_GE(switches, 6);
  ASSERT_NO_FATAL_FAILURE(expect_replays(rec));
}

// Registers repeat from one iteration to the next, memory does not: the
// count each round saw (printed) comes back only if replay stops the
// spinner at the very iteration the recorder interrupted.
TEST_F(Preemption, CounterInMemoryIsReplayedToTheIteration) {
  RunResult native = run({E2E_SPIN_COUNTER, "4"});
  ASSERT_EQ(native.shell_status(), 0) << native.describe();
  RunResult rec = record({E2E_SPIN_COUNTER, "4"});
  ASSERT_EQ(rec.shell_status(), 0) << rec.describe();
  auto native_lines = lines(native.out);
  auto rec_lines = lines(rec.out);
  ASSERT_EQ(rec_lines.size(), native_lines.size()) << rec.describe();
  for (size_t i = 0; i + 1 < rec_lines.size(); ++i) EXPECT_EQ(rec_lines[i], native_lines[i]);
  EXPECT_GE(interrupts().first, 4);
  ASSERT_NO_FATAL_FAILURE(expect_replays(rec));
}

// The holder of a pthread spinlock is preempted at a tick (short
// timeslices, many chances); the waiter spins inside glibc, where no tick
// is counted, until the wall clock interrupts it.
TEST_F(Preemption, PthreadSpinLockInAnInstrumentedProgram) {
  RunResult native = run({E2E_SPIN_LOCK, "3", "30"});
  ASSERT_EQ(native.shell_status(), 0) << native.describe();
  RunResult rec = record({E2E_SPIN_LOCK, "3", "30"}, {"--timeslice", "3000"});
  ASSERT_EQ(rec.shell_status(), 0) << rec.describe();
  EXPECT_EQ(rec.out, native.out);
  EXPECT_GE(interrupts().first, 1);
  ASSERT_NO_FATAL_FAILURE(expect_replays(rec));
}

TEST_F(Preemption, NewThreadRunsWhileMainComputes) {
  RunResult native = run({E2E_COMPUTE_WHILE_NEW_THREAD});
  ASSERT_EQ(native.shell_status(), 0) << native.describe();
  RunResult rec = record({E2E_COMPUTE_WHILE_NEW_THREAD});
  ASSERT_EQ(rec.shell_status(), 0) << rec.describe();
  EXPECT_EQ(rec.out, native.out);
  ASSERT_NO_FATAL_FAILURE(expect_replays(rec));
}

// --wall-timeslice 0 turns interrupts off: main computes to the end alone,
// as every recording did before, and says so.
TEST_F(Preemption, NoInterruptsWithAZeroWallTimeslice) {
  RunResult rec = record({E2E_COMPUTE_WHILE_NEW_THREAD}, {"--wall-timeslice", "0"});
  EXPECT_EQ(rec.shell_status(), 1) << rec.describe();
  EXPECT_TRUE(contains(rec.out, "did NOT run")) << rec.describe();
  EXPECT_EQ(interrupts().first, 0);
}

}  // namespace
}  // namespace e2e
