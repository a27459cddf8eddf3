// The command line: bad invocations, the default trace location and info.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>
#include <regex>
#include <utility>

#include "e2e_support.h"

namespace e2e {
namespace {

class Cli : public ::testing::Test {
 protected:
  fs::path xdg() const { return tmp_ / "xdg"; }

  // A one-line error: "backstep: ...", parse errors included.
  void expect_error(const std::vector<std::string>& args, const std::string& message) {
    RunResult r = backstep(args, xdg());
    std::string cmd;
    for (const auto& a : args) cmd += " " + a;
    EXPECT_TRUE(r.exited) << "backstep" << cmd << ": " << r.describe();
    EXPECT_NE(r.code, 0) << "backstep" << cmd << ": " << r.describe();
    EXPECT_EQ(r.out, "") << "backstep" << cmd;
    std::vector<std::string> err = lines(r.err);
    ASSERT_FALSE(err.empty()) << "backstep" << cmd << ": nothing on stderr";
    EXPECT_EQ(err[0].rfind("backstep: ", 0), 0u) << "backstep" << cmd << ": " << r.describe();
    EXPECT_EQ(err.size(), 1u) << "backstep" << cmd << ": " << r.describe();
    EXPECT_TRUE(contains(err[0], message))
        << "backstep" << cmd << ": want '" << message << "' in: " << err[0];
  }

  TempDir tmp_;
};

TEST_F(Cli, RecordWithoutProgram) {
  expect_error({"record"}, "command is required");
  expect_error({"record", "--"}, "command is required");
  expect_error({"record", "--chaos", "--seed", "3"}, "command is required");
}

TEST_F(Cli, RecordMissingProgram) {
  fs::path missing = tmp_ / "no-such-program";
  expect_error({"record", "--", missing.string()}, missing.string() + ": no such program");
  expect_error({"record", "--", "backstep-e2e-no-such-command"},
               "backstep-e2e-no-such-command: command not found");
  // Nothing was left behind in the default trace location.
  EXPECT_FALSE(fs::exists(xdg() / "backstep" / "latest-trace"));
}

TEST_F(Cli, RecordNonExecutableFile) {
  fs::path file = tmp_ / "not-executable";
  write_file(file, "#!/bin/sh\nexit 0\n");
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
  expect_error({"record", "--", file.string()}, file.string() + ": not executable");
  expect_error({"record", "--", tmp_.path().string()}, tmp_.path().string());  // a directory
}

TEST_F(Cli, RecordIntoNonEmptyDirectory) {
  fs::path dir = tmp_ / "full";
  fs::create_directories(dir);
  write_file(dir / "something", "x");
  expect_error({"record", "-o", dir.string(), "--", E2E_EXIT_STATUS}, dir.string());
  EXPECT_EQ(read_file(dir / "something"), "x");
}

TEST_F(Cli, BadOptionValues) {
  expect_error({"record", "--timeslice", "0", "--", E2E_EXIT_STATUS}, "timeslice");
  expect_error({"record", "--seed", "banana", "--", E2E_EXIT_STATUS}, "seed");
  expect_error({"replay", "--until-event", "x", (tmp_ / "t").string()}, "until-event");
}

TEST_F(Cli, ReplayOfNonExistentTrace) {
  fs::path missing = tmp_ / "no-trace";
  expect_error({"replay", missing.string()}, "no trace directory at " + missing.string());
  expect_error({"replay", "-q", missing.string()}, "no trace directory at " + missing.string());
  expect_error({"info", missing.string()}, "no trace directory at " + missing.string());
  expect_error({"dump", missing.string()}, "no trace directory at " + missing.string());
  // No latest-trace yet.
  expect_error({"replay"}, "no latest trace");
  expect_error({"info"}, "no latest trace");
}

TEST_F(Cli, UnknownSubcommand) {
  expect_error({"frobnicate"}, "frobnicate");
  expect_error({"replay", "--no-such-flag"}, "--no-such-flag");
}

// Without -o, traces go to $XDG_DATA_HOME/backstep/<program>-<n>, and
// latest-trace names the newest.
TEST_F(Cli, DefaultTraceLocation) {
  RunResult r0 = backstep({"record", "--", E2E_EXIT_STATUS, "exit3"}, xdg());
  ASSERT_EQ(r0.shell_status(), 3) << r0.describe();
  RunResult r1 = backstep({"record", "--", E2E_EXIT_STATUS, "ok"}, xdg());
  ASSERT_EQ(r1.shell_status(), 0) << r1.describe();
  fs::path root = xdg() / "backstep";
  EXPECT_TRUE(fs::is_directory(root / "e2e_exit_status-0"));
  EXPECT_TRUE(fs::is_directory(root / "e2e_exit_status-1"));
  ASSERT_TRUE(fs::is_symlink(root / "latest-trace"));
  EXPECT_EQ(fs::read_symlink(root / "latest-trace"), "e2e_exit_status-1");
  struct stat st {};
  ASSERT_EQ(::stat((root / "e2e_exit_status-0").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  RunResult latest = backstep({"replay"}, xdg());
  EXPECT_EQ(latest.shell_status(), 0) << latest.describe();
  EXPECT_EQ(latest.out, "exit_status: ok\n");
  EXPECT_TRUE(contains(latest.err, "exited with status 0")) << latest.describe();

  RunResult by_name = backstep({"replay", "-q", "e2e_exit_status-0"}, xdg());
  EXPECT_EQ(by_name.shell_status(), 0) << by_name.describe();
  EXPECT_TRUE(contains(by_name.err, "exited with status 3")) << by_name.describe();

  RunResult info = backstep({"info"}, xdg());
  EXPECT_EQ(info.shell_status(), 0) << info.describe();
  EXPECT_TRUE(contains(info.out, "ended:      exited with status 0")) << info.describe();
}

// As in gdb, the trace may come after the -ex commands: each -ex takes one
// command, and what follows them is the trace, not one more command.
TEST_F(Cli, TraceAfterDebuggerCommands) {
  fs::path trace = tmp_ / "t";
  RunResult rec = backstep({"record", "-o", trace.string(), "--", E2E_EXIT_STATUS, "segv"}, xdg());
  ASSERT_EQ(rec.shell_status(), 139) << rec.describe();
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"replay", "-ex", "goto end", "-ex", "info threads", trace.string()},
           {"replay", trace.string(), "-ex", "goto end", "-ex", "info threads"},
           {"replay", "--ex", "goto end", "--ex", "info threads", trace.string()}}) {
    RunResult r = backstep(args, xdg());
    ASSERT_EQ(r.shell_status(), 0) << r.describe();
    EXPECT_TRUE(contains(r.out, "* thread 2")) << r.describe();
    EXPECT_EQ(lines(r.out).size(), 3u) << r.describe();  // position, instruction, one thread
  }
}

// 9: info on a trace that ended with a map fatal error.
TEST_F(Cli, InfoOnMapFatal) {
  // iterate_write fails with the first chaos seeds; look a little further
  // if it does not.
  fs::path trace;
  for (int seed = 1; seed <= 20 && trace.empty(); ++seed) {
    fs::path dir = tmp_ / ("t" + std::to_string(seed));
    RunResult rec = backstep({"record", "-o", dir.string(), "--chaos", "--seed",
                              std::to_string(seed), "--", EXAMPLE_ITERATE_WRITE, "20"},
                             xdg());
    ASSERT_FALSE(rec.timed_out);
    if (rec.shell_status() == 134) trace = dir;
  }
  ASSERT_FALSE(trace.empty()) << "iterate_write did not fail with seeds 1..20";
  RunResult info = backstep({"info", trace.string()}, xdg());
  ASSERT_EQ(info.shell_status(), 0) << info.describe();
  EXPECT_EQ(info.err, "");
  const std::string& o = info.out;
  EXPECT_TRUE(contains(o, "trace:      " + trace.string())) << o;
  EXPECT_TRUE(contains(o, std::string("program:    ") + EXAMPLE_ITERATE_WRITE + "\n")) << o;
  EXPECT_TRUE(contains(o, std::string("argv:       ") + EXAMPLE_ITERATE_WRITE + " 20\n")) << o;
  EXPECT_TRUE(std::regex_search(o, std::regex("scheduler:  chaos \\(seed [0-9]+\\)\n"))) << o;
  EXPECT_TRUE(contains(o, "threads:    3\n")) << o;  // main, writer, ranger
  EXPECT_TRUE(contains(o, "ended:      killed by SIGABRT (6)\n")) << o;
  EXPECT_TRUE(std::regex_search(
      o, std::regex("fatal:      concurrent map iteration and map write \\(thread [0-9]+\\)\n")))
      << o;
}

// replay --exit-status: the recorded program's status, as `record` exits
// with (128 + signal when a signal killed it); plain replay exits 0.
TEST_F(Cli, ReplayExitStatusIsTheProgramsStatus) {
  for (const auto& [mode, status] : std::vector<std::pair<std::string, int>>{
           {"ok", 0}, {"exit3", 3}, {"abort", 134}, {"segv", 139}}) {
    SCOPED_TRACE(mode);
    fs::path trace = tmp_ / mode;
    RunResult rec = backstep({"record", "-o", trace.string(), "--", E2E_EXIT_STATUS, mode}, xdg());
    ASSERT_EQ(rec.shell_status(), status) << rec.describe();
    RunResult rep = backstep({"replay", "--exit-status", trace.string()}, xdg());
    EXPECT_TRUE(rep.exited) << rep.describe();
    EXPECT_EQ(rep.shell_status(), status) << rep.describe();
    EXPECT_EQ(rep.out, "exit_status: " + mode + "\n");
    RunResult plain = backstep({"replay", trace.string()}, xdg());
    EXPECT_EQ(plain.shell_status(), 0) << plain.describe();
  }
  expect_error({"replay", "--exit-status", "--until-fatal", (tmp_ / "ok").string()}, "excludes");
  expect_error({"replay", "--exit-status", "-ex", "bt", (tmp_ / "ok").string()}, "excludes");
}

// The progress line: on a terminal only, drawn in place and erased before
// the summary; and not while the program's own output goes to the terminal.
TEST_F(Cli, ReplayProgressOnlyOnATerminal) {
  fs::path trace = tmp_ / "t";
  RunResult rec = backstep({"record", "-o", trace.string(), "--", E2E_EXIT_STATUS, "ok"}, xdg());
  ASSERT_EQ(rec.shell_status(), 0) << rec.describe();
  const std::string summary = "backstep: replay complete: ";

  RunOptions terminal;
  terminal.stderr_terminal = true;
  RunResult tty = backstep({"replay", "-q", trace.string()}, xdg(), terminal);
  ASSERT_EQ(tty.shell_status(), 0) << tty.describe();
  // Drawn at once (then at most every 200 ms): "\r", the line, erase to its end.
  EXPECT_TRUE(std::regex_search(tty.err, std::regex("^\rbackstep: replay: record [0-9]+ of [0-9]+ "
                                                    "\\([0-9]+%\\), [0-9]+ records/s, "
                                                    "[0-9]+\\.[0-9] s\x1b\\[K")))
      << tty.err;
  EXPECT_TRUE(contains(tty.err, "\r\x1b[K" + summary)) << tty.err;

  RunResult piped = backstep({"replay", "-q", trace.string()}, xdg());
  ASSERT_EQ(piped.shell_status(), 0) << piped.describe();
  EXPECT_EQ(piped.err.rfind(summary, 0), 0u) << piped.err;
  EXPECT_FALSE(contains(piped.err, "\r")) << piped.err;

  RunOptions both;
  both.stdout_terminal = true;
  both.stderr_terminal = true;
  RunResult echoed = backstep({"replay", trace.string()}, xdg(), both);
  ASSERT_EQ(echoed.shell_status(), 0) << echoed.describe();
  EXPECT_EQ(echoed.out.rfind("exit_status: ok\n" + summary, 0), 0u) << echoed.out;
}

// Colours only on a terminal, and not with NO_COLOR set and not empty
// (https://no-color.org) or TERM=dumb.
TEST_F(Cli, ReportColoursHonourNoColor) {
  fs::path trace = tmp_ / "t";
  RunResult rec = backstep({"record", "-o", trace.string(), "--", E2E_EXIT_STATUS, "abort"}, xdg());
  ASSERT_EQ(rec.shell_status(), 134) << rec.describe();
  auto report = [&](std::map<std::string, std::string> env) {
    RunOptions options;
    options.stdout_terminal = true;
    options.env = std::move(env);
    options.env.emplace("TERM", "xterm");
    RunResult r = backstep({"report", trace.string()}, xdg(), options);
    EXPECT_EQ(r.shell_status(), 0) << r.describe();
    EXPECT_TRUE(contains(r.out, "SIGABRT")) << r.out;
    return r.out;
  };
  EXPECT_TRUE(contains(report({}), "\x1b[")) << "coloured on a terminal";
  EXPECT_TRUE(contains(report({{"NO_COLOR", ""}}), "\x1b[")) << "an empty NO_COLOR is unset";
  EXPECT_FALSE(contains(report({{"NO_COLOR", "1"}}), "\x1b["));
  EXPECT_FALSE(contains(report({{"TERM", "dumb"}}), "\x1b["));
}

}  // namespace
}  // namespace e2e
