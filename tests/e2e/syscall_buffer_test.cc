// The syscall buffer (src/preload): programs recorded with it (the default)
// and without it (--no-syscall-buffer) print what they print natively, and
// replay reproduces them; with it, the common syscalls leave no stops.
#include <gtest/gtest.h>

#include <cstring>
#include <sstream>

#include "e2e_support.h"

namespace e2e {
namespace {

struct BufferCase {
  const char* name;
  std::vector<std::string> flags;
};

void PrintTo(const BufferCase& c, std::ostream* os) { *os << c.name; }

class SyscallBuffer : public ::testing::TestWithParam<BufferCase> {
 protected:
  RunResult record(const std::vector<std::string>& prog, std::vector<std::string> flags) {
    std::vector<std::string> args{"record", "-o", (tmp_ / "t").string()};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back("--");
    args.insert(args.end(), prog.begin(), prog.end());
    return backstep(args, tmp_ / "xdg");
  }
  RunResult replay() { return backstep({"replay", (tmp_ / "t").string()}, tmp_ / "xdg"); }
  // How many records of each type `dump --json` lists.
  std::map<std::string, int> counts() {
    std::map<std::string, int> n;
    for (const auto& e : dump_json(tmp_ / "t", tmp_ / "xdg")) n[e.value("type", "")]++;
    return n;
  }
  TempDir tmp_;
};

TEST_P(SyscallBuffer, OutputAsNativeAndReplayedThreeTimes) {
  RunResult native = run({E2E_SYSCALL_MIX, "150"});
  ASSERT_EQ(native.shell_status(), 0) << native.describe();
  RunResult rec = record({E2E_SYSCALL_MIX, "150"}, GetParam().flags);
  ASSERT_EQ(rec.shell_status(), 0) << rec.describe();
  EXPECT_EQ(rec.out, native.out);
  EXPECT_FALSE(contains(rec.err, "warning")) << rec.err;
  for (int i = 0; i < 3; ++i) {
    RunResult rep = replay();
    ASSERT_EQ(rep.shell_status(), 0) << rep.describe();
    EXPECT_EQ(rep.out, native.out) << "replay " << i;
    EXPECT_FALSE(contains(rep.err, "diverged")) << rep.describe();
    EXPECT_TRUE(contains(rep.err, "replay complete")) << rep.describe();
  }
  bool buffered = std::find(GetParam().flags.begin(), GetParam().flags.end(),
                            "--no-syscall-buffer") == GetParam().flags.end();
  std::map<std::string, int> n = counts();
  if (buffered) {
    // 300 getppid and most reads, writes, futex wakes without a stop.
    EXPECT_GT(n["buffered_syscall"], 300);
    EXPECT_GT(n["code_write"], 0);  // glibc's sites were patched
  } else {
    EXPECT_EQ(n["buffered_syscall"], 0);
    EXPECT_EQ(n["code_write"], 0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Modes, SyscallBuffer,
    ::testing::Values(
        BufferCase{"buffered", {}}, BufferCase{"buffered_chaos_1", {"--chaos", "--seed", "1"}},
        BufferCase{"buffered_chaos_2", {"--chaos", "--seed", "2"}},
        BufferCase{"buffered_unbound", {"-u"}}, BufferCase{"no_buffer", {"--no-syscall-buffer"}},
        BufferCase{"no_buffer_chaos_1", {"--no-syscall-buffer", "--chaos", "--seed", "1"}}),
    [](const auto& p) { return std::string(p.param.name); });

// Far fewer stops with the buffer than without it, for the same program.
TEST(SyscallBufferStops, BufferedRecordingStopsLess) {
  TempDir tmp;
  auto stops = [&](const std::string& name, std::vector<std::string> flags) {
    std::vector<std::string> args{"record", "-o", (tmp / name).string()};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"--", E2E_SYSCALL_MIX, "150"});
    RunResult r = backstep(args, tmp / "xdg");
    EXPECT_EQ(r.shell_status(), 0) << r.describe();
    int n = 0;
    for (const auto& e : dump_json(tmp / name, tmp / "xdg")) n += e.value("type", "") == "stop";
    return n;
  };
  int with = stops("with", {});
  int without = stops("without", {"--no-syscall-buffer"});
  EXPECT_LT(with * 2, without) << "with the buffer " << with << " stops, without " << without;
}

}  // namespace
}  // namespace e2e

namespace e2e {
namespace {

// A buffered call that differs from the recording stops the replay with a
// divergence that names the call and the argument.
TEST(SyscallBufferDivergence, ChangedArgumentIsReported) {
  TempDir tmp;
  fs::path trace = tmp / "t";
  RunResult rec =
      backstep({"record", "-o", trace.string(), "--", E2E_SYSCALL_MIX, "20"}, tmp / "xdg");
  ASSERT_EQ(rec.shell_status(), 0) << rec.describe();
  fs::rename(trace / "events", tmp / "events.orig");
  // clock_gettime's second argument (where the time goes) no longer matches.
  RunResult t = run(
      {E2E_TAMPER_BUFFER, (tmp / "events.orig").string(), (trace / "events").string(), "228", "1"});
  ASSERT_EQ(t.shell_status(), 0) << t.describe();
  RunResult rep = backstep({"replay", trace.string()}, tmp / "xdg");
  EXPECT_NE(rep.shell_status(), 0) << rep.describe();
  EXPECT_TRUE(contains(rep.err, "replay diverged at event")) << rep.describe();
  EXPECT_TRUE(contains(rep.err, "buffered syscall clock_gettime (228) has argument 1"))
      << rep.describe();
}

}  // namespace
}  // namespace e2e

namespace e2e {
namespace {

// buffer_cases MODE: record (with the buffer, and without it) prints what
// the native run prints, exits as it does, and three replays print what
// the recording printed, with no divergence.
struct Case {
  const char* name;
  std::vector<std::string> argv;
  std::vector<std::string> flags;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class BufferCases : public ::testing::TestWithParam<Case> {};

TEST_P(BufferCases, RecordAsNativeReplayAsRecorded) {
  TempDir tmp;
  const Case& c = GetParam();
  RunResult native = run(c.argv);
  ASSERT_EQ(native.shell_status(), 0) << native.describe();
  std::vector<std::string> args{"record", "-o", (tmp / "t").string()};
  args.insert(args.end(), c.flags.begin(), c.flags.end());
  args.push_back("--");
  args.insert(args.end(), c.argv.begin(), c.argv.end());
  RunResult rec = backstep(args, tmp / "xdg");
  ASSERT_EQ(rec.shell_status(), 0) << rec.describe();
  EXPECT_EQ(rec.out, native.out);
  EXPECT_FALSE(contains(rec.err, "warning")) << rec.err;
  for (int i = 0; i < 3; ++i) {
    RunResult rep = backstep({"replay", (tmp / "t").string()}, tmp / "xdg");
    ASSERT_EQ(rep.shell_status(), 0) << rep.describe();
    EXPECT_EQ(rep.out, rec.out) << "replay " << i;
    EXPECT_TRUE(contains(rep.err, "replay complete")) << rep.describe();
    // What the program printed on stderr (signals: the handler's count).
    auto program_err = [](const std::string& err) {
      std::string out;
      std::istringstream in(err);
      for (std::string line; std::getline(in, line);) {
        if (!line.starts_with("backstep")) out += line + "\n";
      }
      return out;
    };
    EXPECT_EQ(program_err(rep.err), program_err(rec.err)) << "replay " << i;
  }
}

std::vector<Case> cases() {
  std::vector<Case> out;
  auto both = [&](const std::string& name, std::vector<std::string> argv) {
    out.push_back({strdup(name.c_str()), argv, {}});
    out.push_back({strdup((name + "_chaos").c_str()), argv, {"--chaos", "--seed", "3"}});
    out.push_back({strdup((name + "_no_buffer").c_str()), argv, {"--no-syscall-buffer"}});
  };
  both("fork", {E2E_BUFFER_CASES, "fork"});
  both("fork_while_both_buffer", {E2E_BUFFER_CASES, "fork-busy"});
  both("exec_static", {E2E_BUFFER_CASES, "exec-static", E2E_STATIC_CALLS});
  both("exec_without_preload", {E2E_BUFFER_CASES, "exec-noenv"});
  both("mapped_file_writes", {E2E_BUFFER_CASES, "mapped"});
  both("fifo_opened_by_two_threads", {E2E_BUFFER_CASES, "fifo"});
  both("read_of_empty_pipe", {E2E_BUFFER_CASES, "pipe-wait"});
  both("ping_pong_over_pipes_and_sockets", {E2E_BUFFER_CASES, "ping-pong"});
  both("timer_signals", {E2E_BUFFER_CASES, "signals"});
  // (Not with -n: every call of the loop stops there, tens of thousands of
  // stops, whose replay takes minutes on a loaded machine.)
  out.push_back(
      {"loop_of_buffered_calls_waits_for_a_thread", {E2E_BUFFER_CASES, "spin-calls"}, {}});
  return out;
}

INSTANTIATE_TEST_SUITE_P(Programs, BufferCases, ::testing::ValuesIn(cases()),
                         [](const auto& p) { return std::string(p.param.name); });

// A write to a file some mapping maps is never buffered: the recorder sees
// it (a FileChange), so the replayed mapping shows it. Writes to a file
// nothing maps are buffered.
TEST(SyscallBufferMappedFiles, WritesToMappedFilesAreTraced) {
  TempDir tmp;
  RunResult rec = backstep({"record", "-o", (tmp / "t").string(), "--", E2E_BUFFER_CASES, "mapped"},
                           tmp / "xdg");
  ASSERT_EQ(rec.shell_status(), 0) << rec.describe();
  int file_changes = 0, buffered_writes = 0;
  for (const auto& e : dump_json(tmp / "t", tmp / "xdg")) {
    file_changes += e.value("type", "") == "file_change";
    buffered_writes += e.value("type", "") == "buffered_syscall" &&
                       (e.value("syscall", "") == "write" || e.value("syscall", "") == "pwrite64" ||
                        e.value("syscall", "") == "writev");
  }
  EXPECT_EQ(file_changes, 4);      // write, pwrite, writev, pwrite to the mapped file
  EXPECT_GE(buffered_writes, 50);  // the other file's (and stdout's)
}

}  // namespace
}  // namespace e2e
