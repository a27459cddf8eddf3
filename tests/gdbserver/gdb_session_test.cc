// The real gdb, in batch mode, connected to `backstep gdbserver` (or
// started by `backstep replay --gdb`): every assertion is on what gdb
// prints, compared with what backstep's own debugger reports.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "gdbserver_fixture.h"

namespace {

using gdbtest::Recording;
using nlohmann::json;

constexpr std::chrono::seconds kGdbTimeout{300};

// gdb -batch -nx -ex 'set sysroot /' -ex 'target remote | backstep gdbserver
// TRACE' -ex COMMAND...; stdout and stderr together, as a user sees them.
std::string gdb(const Recording& r, const std::vector<std::string>& commands) {
  std::vector<std::string> argv = {
      GDB_BIN,
      "-batch",
      "-nx",
      "-ex",
      "set sysroot /",
      "-ex",
      std::string("target remote | ") + BACKSTEP_BIN + " gdbserver " + r.trace.string()};
  for (const auto& c : commands) {
    argv.push_back("-ex");
    argv.push_back(c);
  }
  e2e::RunOptions options;
  options.env["XDG_DATA_HOME"] = r.dir.string();
  options.timeout = kGdbTimeout;
  auto res = e2e::run(argv, options);
  EXPECT_FALSE(res.timed_out) << res.describe();
  return res.out + res.err;
}

// `backstep replay --gdb TRACE -ex ...`: gdb started by backstep, with its
// hooks (after `monitor`, gdb re-reads registers and follows the thread).
std::string replay_gdb(const Recording& r, const std::vector<std::string>& commands) {
  std::vector<std::string> args = {"replay", "--gdb", r.trace.string()};
  for (const auto& c : commands) {
    args.push_back("-ex");
    args.push_back(c);
  }
  e2e::RunOptions options;
  options.timeout = kGdbTimeout;
  auto res = e2e::backstep(args, r.dir, options);
  EXPECT_FALSE(res.timed_out) << res.describe();
  return res.out + res.err;
}

// backstep's own batch debugger, JSON: what gdb's output must agree with.
std::vector<json> backstep_debugger(const Recording& r, const std::vector<std::string>& commands) {
  std::vector<std::string> args = {"replay", r.trace.string(), "--json"};
  for (const auto& c : commands) {
    args.push_back("-ex");
    args.push_back(c);
  }
  auto res = e2e::backstep(args, r.dir);
  EXPECT_EQ(res.shell_status(), 0) << res.describe();
  std::vector<json> out;
  for (const auto& line : e2e::lines(res.out)) {
    if (!line.empty() && line[0] == '{') out.push_back(json::parse(line));
  }
  return out;
}

std::string hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// Every "rip 0x... " value gdb printed for `info registers rip`, in order.
std::vector<std::string> rips(const std::string& out) {
  std::vector<std::string> v;
  std::regex re(R"(rip\s+(0x[0-9a-f]+))");
  for (std::sregex_iterator it(out.begin(), out.end(), re), end; it != end; ++it) {
    v.push_back((*it)[1]);
  }
  return v;
}

// gdb says "Program received signal X" with one thread and "Thread N
// received signal X" with several.
size_t find_signal(const std::string& out, const std::string& signal, size_t from = 0) {
  std::smatch m;
  std::string rest = out.substr(std::min(from, out.size()));
  if (!std::regex_search(rest, m, std::regex("(Program|Thread \\d+) received signal " + signal))) {
    return std::string::npos;
  }
  return from + static_cast<size_t>(m.position(0));
}

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// Where backstep's `goto panic` stands: pc and instruction.
json panic_of(const Recording& r) {
  auto out = backstep_debugger(r, {"goto panic"});
  EXPECT_EQ(out.size(), 1u);
  return out.empty() ? json{} : out[0];
}

class GrowthPanicInGdb : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(gdbtest::growth_panic().trace.empty()); }
  const Recording& rec() { return gdbtest::growth_panic(); }
};

TEST_F(GrowthPanicInGdb, ConnectsWithSymbolsAndThreads) {
  std::string out = gdb(rec(), {"info threads", "monitor when"});
  // qXfer:exec-file: gdb loaded the trace's copy of the program by itself.
  EXPECT_TRUE(e2e::contains(out, "Reading symbols from " + rec().trace.string() + "/files/"))
      << out;
  EXPECT_TRUE(e2e::contains(out, "in _start () from /lib64/ld-linux-x86-64.so.2")) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\* 1 +Thread \d+\.\d+)"))) << out;
  EXPECT_TRUE(e2e::contains(out, "position ")) << out;  // the monitor's answer
  EXPECT_FALSE(e2e::contains(out, "Remote connection closed")) << out;
}

TEST_F(GrowthPanicInGdb, ContinueStopsAtTheFatalSigabrt) {
  std::string out = gdb(rec(), {"continue", "continue"});
  ASSERT_NE(find_signal(out, "SIGABRT, Aborted."), std::string::npos) << out;
  // Continuing past the recorded death runs off the end of the recording:
  // gdb keeps the session (replaylog:end) instead of losing the process.
  EXPECT_TRUE(e2e::contains(out, "No more reverse-execution history.")) << out;
  EXPECT_GT(out.find("No more reverse-execution history."), find_signal(out, "SIGABRT")) << out;
}

TEST_F(GrowthPanicInGdb, MonitorGotoPanicStandsOnTheFlagTest) {
  json panic = panic_of(rec());
  ASSERT_TRUE(panic.contains("pc")) << panic.dump();
  std::string out = gdb(rec(), {"continue", "monitor goto panic",
                                "maintenance flush register-cache", "x/i $pc", "bt"});
  EXPECT_TRUE(e2e::contains(out, "panic: concurrent map iteration and map write")) << out;
  // The same instruction backstep's debugger names: the byte read of the
  // map's flags (offset 8 of the header), in AT&T syntax here.
  EXPECT_TRUE(std::regex_search(
      out, std::regex("=> " + hex(panic["pc"]) + R"( <[^>]*iter_next[^>]*>:\s+movzbl 0x8\(%r)")))
      << out;
  // The example's frames, with source lines.
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(#0 .*iter_next.* at \S*go_map\.h:\d+)"))) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(ranger .* at \S*growth_panic\.cc:\d+)"))) << out;
}

TEST_F(GrowthPanicInGdb, ReplayGdbFollowsMonitorGoto) {
  // No `continue`, no flush: the hooks `replay --gdb` installs select the
  // panicking thread and drop gdb's stale registers.
  json panic = panic_of(rec());
  ASSERT_TRUE(panic.contains("pc")) << panic.dump();
  std::string out = replay_gdb(rec(), {"monitor goto panic", "x/i $pc", "bt"});
  EXPECT_TRUE(e2e::contains(out, "=> " + hex(panic["pc"]) + " <")) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(ranger .* at \S*growth_panic\.cc:\d+)"))) << out;
}

TEST_F(GrowthPanicInGdb, ReverseStepiAndStepiMoveOneInstruction) {
  // backstep's own debugger says where one instruction back is.
  auto mine = backstep_debugger(rec(), {"goto panic", "reverse-stepi"});
  ASSERT_EQ(mine.size(), 2u);
  std::string out = replay_gdb(rec(), {"monitor goto panic", "info registers", "reverse-stepi",
                                       "info registers rip", "stepi", "info registers"});
  auto r = rips(out);
  ASSERT_EQ(r.size(), 3u) << out;
  EXPECT_EQ(r[0], hex(mine[0]["pc"]));
  EXPECT_EQ(r[1], hex(mine[1]["pc"])) << out;
  EXPECT_EQ(r[2], r[0]) << out;
  // Back and forth again: every register as it was.
  size_t first = out.find("rax ");
  size_t last = out.rfind("rax ");
  ASSERT_NE(first, last) << out;
  auto block = [&](size_t at) {
    size_t gs = out.find("\ngs ", at);
    return out.substr(at, out.find('\n', gs + 1) - at);
  };
  EXPECT_EQ(block(first), block(last)) << out;
}

TEST_F(GrowthPanicInGdb, InfoThreadsListsTheRecordedThreads) {
  auto mine = backstep_debugger(rec(), {"goto panic", "info threads"});
  ASSERT_EQ(mine.size(), 2u);
  std::string out = gdb(rec(), {"monitor goto panic", "info threads"});
  std::set<std::string> expected, listed;
  for (const auto& t : mine[1]["threads"]) {
    expected.insert(std::to_string(t["thread"].get<int>()));
  }
  std::regex re(R"(Thread \d+\.(\d+))");
  for (std::sregex_iterator it(out.begin(), out.end(), re), end; it != end; ++it) {
    listed.insert((*it)[1]);
  }
  EXPECT_EQ(listed, expected) << out;
  EXPECT_GE(expected.size(), 3u);  // main, writer, ranger
}

TEST_F(GrowthPanicInGdb, BreakInPutAllThenReverseContinueFindsTheLastHit) {
  // The writer: the thread backstep's `goto panic` names as the setter.
  json panic = panic_of(rec());
  ASSERT_TRUE(panic.contains("setter")) << panic.dump();
  int writer = panic["setter"]["thread"];
  std::string out =
      gdb(rec(), {"continue", "break PutAll", "reverse-continue", "info threads", "continue"});
  size_t sigabrt = find_signal(out, "SIGABRT");
  ASSERT_NE(sigabrt, std::string::npos) << out;
  size_t hit = out.find("Breakpoint 1, ", sigabrt);
  ASSERT_NE(hit, std::string::npos) << out;
  EXPECT_TRUE(std::regex_search(out.substr(hit), std::regex(R"(PutAll)"))) << out;
  // It stopped the writer, which `info threads` shows selected, in PutAll.
  EXPECT_TRUE(std::regex_search(
      out, std::regex(R"(\* \d+ +Thread \d+\.)" + std::to_string(writer) + R"( .*PutAll)")))
      << out;
  // The last hit: going forward from it, the next stop is the panic again,
  // not another PutAll.
  size_t again = find_signal(out, "SIGABRT", hit);
  EXPECT_NE(again, std::string::npos) << out;
  EXPECT_EQ(count(out, "Breakpoint 1, "), 1u) << out;
}

TEST_F(GrowthPanicInGdb, ReverseContinueAtTheStartHasNoHistory) {
  std::string out = gdb(rec(), {"reverse-continue", "reverse-stepi", "info registers rip"});
  EXPECT_EQ(count(out, "No more reverse-execution history."), 2u) << out;
  EXPECT_TRUE(e2e::contains(out, "<_start>")) << out;
}

TEST(HeaderCorruptionInGdb, WatchOnBucketsFindsTheCorruptingWrite) {
  const Recording& rec = gdbtest::header_corruption();
  ASSERT_FALSE(rec.trace.empty());
  // The map: the one the recording's last map events concern.
  auto mine = backstep_debugger(rec, {"goto panic", "map"});
  ASSERT_EQ(mine.size(), 2u);
  ASSERT_TRUE(mine[1].contains("map")) << mine[1].dump();
  uint64_t buckets = mine[1]["map"].get<uint64_t>() + 16;  // MapHeader::buckets
  // The line of the bad store in the example's source.
  std::ifstream src(HEADER_CORRUPTION_SOURCE);
  std::string line;
  int bug_line = 0;
  for (int n = 1; std::getline(src, line); ++n) {
    if (line.find("h->buckets = 0;") != std::string::npos) bug_line = n;
  }
  ASSERT_GT(bug_line, 0);
  std::string out = gdb(rec, {"continue", "watch *(unsigned long *)" + hex(buckets),
                              "reverse-continue", "reverse-continue", "info registers rip"});
  ASSERT_NE(find_signal(out, "SIGSEGV"), std::string::npos) << out;
  EXPECT_TRUE(e2e::contains(out, "watchpoint 1: *(unsigned long *)" + hex(buckets))) << out;
  // Going back, the store that nulled the pointer: in the helper, on the
  // source line of the bug (the helper may have put the pointer back once
  // before, which the first reverse-continue finds).
  size_t first_hit = out.find("hit Hardware watchpoint 1");
  ASSERT_NE(first_hit, std::string::npos) << out;
  EXPECT_TRUE(
      std::regex_search(out.substr(first_hit),
                        std::regex(R"(^Old value = \d+\nNew value = \d+\n.*scrub_buckets_unsafely)",
                                   std::regex::multiline)))
      << out;
  EXPECT_TRUE(
      std::regex_search(out, std::regex(std::to_string(bug_line) + R"(\s+h->buckets = 0;)")))
      << out;
}

// gdb on another machine: the recording packed, the program and the trace
// deleted, the bundle unpacked into an empty directory, and gdb with its
// default sysroot (no `set sysroot /`): the program, its dynamic loader
// and its libraries come from the trace through the server (vFile, the
// library list), and gdb has their symbols.
TEST(GdbFromABundle, ReadsSymbolsWithoutTheRecordedFiles) {
  e2e::TempDir here;
  e2e::fs::path program = here / "growth_panic";
  e2e::fs::copy_file(GROWTH_PANIC_BIN, program);
  e2e::fs::path trace = here / "trace";
  auto rec =
      e2e::backstep({"record", "-o", trace.string(), "--", program.string(), "20"}, here.path());
  ASSERT_FALSE(rec.timed_out) << rec.describe();
  ASSERT_TRUE(e2e::fs::exists(trace / "events")) << rec.describe();
  e2e::fs::path bundle = here / "growth_panic.bundle";
  auto pack = e2e::backstep({"pack", trace.string(), "-o", bundle.string()}, here.path());
  ASSERT_EQ(pack.shell_status(), 0) << pack.describe();
  e2e::fs::remove_all(trace);
  e2e::fs::remove(program);

  e2e::TempDir elsewhere;
  auto unpack = e2e::backstep({"unpack", bundle.string(), "-o", (elsewhere / "t").string()},
                              elsewhere.path());
  ASSERT_EQ(unpack.shell_status(), 0) << unpack.describe();
  std::vector<std::string> argv = {
      GDB_BIN,
      "-batch",
      "-nx",
      "-ex",
      std::string("target remote | ") + BACKSTEP_BIN + " gdbserver " + (elsewhere / "t").string(),
      "-ex",
      "break main",
      "-ex",
      "continue",
      "-ex",
      "info sharedlibrary"};
  e2e::RunOptions options;
  options.env["XDG_DATA_HOME"] = elsewhere.path().string();
  options.cwd = elsewhere.path();
  options.timeout = kGdbTimeout;
  auto res = e2e::run(argv, options);
  ASSERT_FALSE(res.timed_out) << res.describe();
  std::string out = res.out + res.err;
  // The program's symbols and source lines, from the trace's copy.
  EXPECT_TRUE(std::regex_search(
      out, std::regex(R"(Breakpoint 1 at 0x[0-9a-f]+: file .*growth_panic\.cc, line \d+\.)")))
      << out;
  EXPECT_TRUE(std::regex_search(
      out,
      std::regex(R"(Breakpoint 1, main \(argc=2, argv=0x[0-9a-f]+\) at .*growth_panic\.cc:\d+)")))
      << out;
  // The libraries, read through the server, with their symbols (regular
  // expressions).
  for (const char* library :
       {R"(ld-linux-x86-64\.so\.2)", R"(libstdc\+\+\.so\.6)", R"(libc\.so\.6)"}) {
    EXPECT_TRUE(std::regex_search(
        out, std::regex(std::string(R"(Reading \S*)") + library + " from remote target\\.\\.\\.")))
        << library << "\n"
        << out;
    EXPECT_TRUE(std::regex_search(
        out, std::regex(std::string(R"(0x[0-9a-f]+\s+0x[0-9a-f]+\s+Yes( \(\*\))?\s+\S*)") +
                        library + "\n")))
        << library << "\n"
        << out;
  }
  EXPECT_FALSE(e2e::contains(out, "No such file")) << out;
  EXPECT_FALSE(e2e::contains(out, "Could not load shared library symbols")) << out;
}

}  // namespace
