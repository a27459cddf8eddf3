// Signals in every disposition, and the syscalls they interrupt: each
// program runs natively, then under `backstep record`, then is replayed
// three times. Record must not change what the program does (same output,
// same exit status, which for most of them is a signal's), and every replay
// must print the same and end the same way with no divergence.
#include <gtest/gtest.h>

#include "e2e_support.h"

namespace e2e {
namespace {

struct SignalCase {
  const char* name;
  std::vector<std::string> args;  // program (under E2E_PROGRAMS_DIR) and arguments
  int status;                     // native shell status: 128 + signal when killed
  const char* must_print;         // a line the native run prints, to know it ran
};

void PrintTo(const SignalCase& c, std::ostream* os) { *os << c.name; }

class SignalPrograms : public ::testing::TestWithParam<SignalCase> {
 protected:
  std::vector<std::string> program() const {
    std::vector<std::string> argv = GetParam().args;
    argv[0] = std::string(E2E_PROGRAMS_DIR) + "/e2e_" + argv[0];
    return argv;
  }
  TempDir tmp_;
};

TEST_P(SignalPrograms, RecordAndReplaysEndAsTheNativeRun) {
  const SignalCase& c = GetParam();
  const fs::path xdg = tmp_ / "xdg";
  RunResult native = run(program());
  ASSERT_FALSE(native.timed_out);
  ASSERT_EQ(native.shell_status(), c.status) << native.describe();
  ASSERT_TRUE(contains(native.out, c.must_print)) << native.describe();

  std::vector<std::string> rec_args{"record", "-o", (tmp_ / "t").string(), "--"};
  for (const std::string& a : program()) rec_args.push_back(a);
  RunResult rec = backstep(rec_args, xdg);
  ASSERT_FALSE(rec.timed_out) << rec.describe();
  EXPECT_EQ(rec.shell_status(), c.status) << rec.describe();
  EXPECT_EQ(rec.out, native.out) << rec.describe();

  const std::string ending = c.status > 128
                                 ? "killed by SIG"
                                 : "the program exited with status " + std::to_string(c.status);
  for (int i = 0; i < 3; ++i) {
    RunResult rep = backstep({"replay", (tmp_ / "t").string()}, xdg);
    ASSERT_EQ(rep.shell_status(), 0) << "replay " << i << ": " << rep.describe();
    EXPECT_EQ(rep.out, native.out) << "replay " << i;
    EXPECT_FALSE(contains(rep.err, "diverged")) << rep.describe();
    EXPECT_TRUE(contains(rep.err, ending)) << rep.describe();
    if (c.status > 128) {
      EXPECT_TRUE(contains(rep.err, "(" + std::to_string(c.status - 128) + ")")) << rep.describe();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Dispositions, SignalPrograms,
    ::testing::Values(
        SignalCase{"ignored_timer", {"signal_ignored_timer"}, 134, "usr1 1"},
        SignalCase{"ignored_kill", {"signal_ignored_kill"}, 134, "got 12"},
        SignalCase{"exit_term", {"signal_exit", "term"}, 143, "start"},
        SignalCase{"exit_thread", {"signal_exit", "thread"}, 143, "start"},
        SignalCase{"exit_taken_by_other_thread", {"signal_exit", "pending"}, 143, "start"},
        SignalCase{"exit_blocked_pending", {"signal_exit", "blocked"}, 5, "still here"},
        SignalCase{"handler_flags", {"signal_handlers"}, 129, "resethand hits 3"},
        SignalCase{"queued_realtime", {"signal_queued"}, 0, "delivered 8:"},
        SignalCase{"restarted_syscalls", {"signal_restarts"}, 0, "poll -1 (SIGCHLD) 1"},
        SignalCase{"waits_across_threads", {"signal_waits"}, 0, "main done usr2 7"},
        SignalCase{"from_outside", {"signal_outside"}, 143, "usr1 1 rt 123"},
        SignalCase{"stop_and_continue", {"signal_stop_cont"}, 0, "conts 1"},
        SignalCase{"to_own_process_group", {"signal_group"}, 143, "parent usr1 1 usr2 1"},
        SignalCase{"instrumented_spin", {"signal_spin"}, 134, "alarmed after spinning: yes"}),
    [](const auto& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace e2e
