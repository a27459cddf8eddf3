// Process trees and exec (issue 13): programs that exec and fork are
// recorded whole (every process in the same trace) and replayed three
// times with the output and exit status of their native run and no
// divergence.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "e2e_support.h"

namespace e2e {
namespace {

class Processes : public ::testing::Test {
 protected:
  RunResult record(const std::vector<std::string>& prog, const std::string& trace_name,
                   std::vector<std::string> flags = {}) {
    std::vector<std::string> args{"record", "-o", (tmp_ / trace_name).string()};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back("--");
    args.insert(args.end(), prog.begin(), prog.end());
    return backstep(args, xdg());
  }
  RunResult replay(const std::string& trace_name, std::vector<std::string> flags = {}) {
    std::vector<std::string> args{"replay"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back((tmp_ / trace_name).string());
    return backstep(args, xdg());
  }
  fs::path xdg() const { return tmp_ / "xdg"; }

  // Native, recorded and replayed three times: the same output and status,
  // no divergence. Returns the native run.
  RunResult expect_same_everywhere(const std::vector<std::string>& prog,
                                   std::vector<std::string> flags = {},
                                   const std::string& trace_name = "t") {
    RunResult native = run(prog);
    EXPECT_FALSE(native.timed_out);
    RunResult rec = record(prog, trace_name, flags);
    EXPECT_EQ(rec.shell_status(), native.shell_status()) << rec.describe();
    EXPECT_EQ(rec.out, native.out) << rec.describe();
    EXPECT_FALSE(contains(rec.err, "warning")) << rec.describe();
    for (int i = 0; i < 3; ++i) {
      RunResult rep = replay(trace_name);
      EXPECT_EQ(rep.out, native.out) << "replay " << i << ": " << rep.describe();
      EXPECT_FALSE(contains(rep.err, "diverged")) << rep.describe();
      EXPECT_TRUE(contains(rep.err, "replay complete")) << rep.describe();
      std::string ending = native.exited
                               ? "the program exited with status " + std::to_string(native.code)
                               : "killed by signal";
      EXPECT_TRUE(contains(rep.err, ending)) << rep.describe();
    }
    return native;
  }

  // The dump's records of one type.
  std::vector<nlohmann::json> records(const std::string& trace_name, const std::string& type) {
    std::vector<nlohmann::json> out;
    for (auto& e : dump_json(tmp_ / trace_name, xdg())) {
      if (e.value("type", "") == type) out.push_back(e);
    }
    return out;
  }

  TempDir tmp_;
};

// --- exec -------------------------------------------------------------------

class Exec : public Processes, public ::testing::WithParamInterface<std::string> {};

TEST_P(Exec, NewImageIsRecordedAndReplayed) {
  const std::string mode = GetParam();
  RunResult native = expect_same_everywhere({E2E_EXEC_IMAGE, mode});
  EXPECT_EQ(native.shell_status(), 7) << native.describe();
  EXPECT_EQ(native.out,
            "old image: exec of a missing file returned -1 (No such file or directory)\n"
            "new image: after-" +
                mode +
                ", argc 3, same pid yes, random ok, time ok\n"
                "new image: a thread ran\n");
  std::vector<nlohmann::json> execs = records("t", "exec");
  ASSERT_EQ(execs.size(), 2u);
  EXPECT_EQ(execs[1].value("path", ""), mode == "execveat" ? std::string(E2E_EXEC_IMAGE).substr(1)
                                                           : std::string(E2E_EXEC_IMAGE));
  EXPECT_EQ(execs[1].value("tid", 0), execs[0].value("tid", 0));
  // From another thread, the caller takes the leader's tid.
  EXPECT_EQ(execs[1].contains("former_tid"), mode == "thread") << execs[1].dump();
}

INSTANTIATE_TEST_SUITE_P(Callers, Exec, ::testing::Values("main", "thread", "execveat"));

TEST_F(Processes, ExecOfAShellScript) {
  fs::path script = tmp_ / "script.sh";
  write_file(script, "#!/bin/sh\necho \"script: $1\"\nexit 4\n");
  fs::permissions(script, fs::perms::owner_all);
  RunResult native = expect_same_everywhere({E2E_EXEC_IMAGE, "script", script.string()});
  EXPECT_EQ(native.shell_status(), 4) << native.describe();
  EXPECT_TRUE(contains(native.out, "script: from the script\n")) << native.describe();
}

TEST_F(Processes, ExecOfAFileGoneSinceTheRecordingRunsTheTracesCopy) {
  // The script is recorded, then removed: replay runs the trace's copy.
  fs::path script = tmp_ / "a-script-with-a-long-enough-name-for-a-stand-in.sh";
  write_file(script, "#!/bin/sh\necho \"script: $1\"\nexit 4\n");
  fs::permissions(script, fs::perms::owner_all);
  RunResult rec = record({E2E_EXEC_IMAGE, "script", script.string()}, "t");
  ASSERT_EQ(rec.shell_status(), 4) << rec.describe();
  fs::remove(script);
  RunResult rep = replay("t");
  EXPECT_EQ(rep.out, rec.out) << rep.describe();
  EXPECT_FALSE(contains(rep.err, "diverged")) << rep.describe();
  EXPECT_TRUE(contains(rep.err, "the program exited with status 4")) << rep.describe();
}

// --- process trees ------------------------------------------------------------

struct SchedulerCase {
  const char* name;
  std::vector<std::string> flags;
};

class Tree : public Processes, public ::testing::WithParamInterface<SchedulerCase> {};

TEST_P(Tree, EveryProcessIsRecordedAndReplayed) {
  RunResult native = expect_same_everywhere({E2E_PROCESS_TREE, "5"}, GetParam().flags);
  EXPECT_EQ(native.shell_status(), 0) << native.describe();
  for (const char* line :
       {"grandchild: its parent is the child: yes\n", "child: grandchild exited with 4\n",
        "parent: read 19 bytes, child exited with 5\n", "child: about to crash\n",
        "parent: child killed by signal 11", "shared memory: counter 55 after 5 rounds\n",
        "passed fd: read 27 bytes, child exited with 0\n", "vfork: child exited with 6\n",
        "from system\n", "system: status 3\n", "popen: status 0\n", "SIGCHLD seen: 1\n"}) {
    EXPECT_TRUE(contains(native.out, line)) << line << "\n" << native.describe();
  }
  // Every process is in the trace (a Process record each, after the first):
  // child, grandchild, the crashing child, the shared-memory child, the fd
  // child, the vfork child, and the shells of system() and popen()
  // (posix_spawn: a vfork).
  EXPECT_EQ(records("t", "process").size(), 8u);
}

INSTANTIATE_TEST_SUITE_P(
    Schedulers, Tree,
    ::testing::Values(SchedulerCase{"fair", {}},
                      SchedulerCase{"chaos_seed_1", {"--chaos", "--seed", "1"}},
                      SchedulerCase{"chaos_seed_2", {"--chaos", "--seed", "2"}}),
    [](const auto& p) { return std::string(p.param.name); });

TEST_F(Processes, RecordingWaitsForAChildThatOutlivesItsParent) {
  RunResult native = expect_same_everywhere({E2E_ORPHAN});
  EXPECT_EQ(native.shell_status(), 12) << native.describe();
  EXPECT_EQ(native.out, "parent: exiting first\norphan: parent gone (read 0)\n");
}

TEST_F(Processes, InstrumentedProcessesReplayAndASeedRepeatsItsSchedule) {
  expect_same_everywhere({E2E_FORK_TICKS, "100000"}, {"--chaos", "--seed", "3"});
  RunResult again = record({E2E_FORK_TICKS, "100000"}, "again", {"--chaos", "--seed", "3"});
  ASSERT_EQ(again.shell_status(), 0) << again.describe();
  auto switches = [&](const std::string& name) {
    std::vector<std::string> out;
    for (const auto& s : records(name, "switch")) out.push_back(s.dump());
    return out;
  };
  std::vector<std::string> first = switches("t");
  EXPECT_GT(first.size(), 4u);
  EXPECT_EQ(first, switches("again"));
  // Both processes were preempted at tick limits.
  std::map<int, int> timeslices;
  for (const auto& s : records("t", "switch")) {
    if (s.value("reason", "") == "timeslice") timeslices[s.value("from", 0)]++;
  }
  EXPECT_GE(timeslices.size(), 2u);
}

TEST_F(Processes, InfoAndDumpNameTheProcesses) {
  RunResult rec = record({E2E_ORPHAN}, "t");
  ASSERT_EQ(rec.shell_status(), 12) << rec.describe();
  RunResult dump = backstep({"dump", (tmp_ / "t").string()}, xdg());
  ASSERT_EQ(dump.shell_status(), 0) << dump.describe();
  EXPECT_TRUE(contains(dump.out, "process 3 made by thread 2 of process 2 (fork)")) << dump.out;
  RunResult info = backstep({"info", (tmp_ / "t").string()}, xdg());
  ASSERT_EQ(info.shell_status(), 0) << info.describe();
  EXPECT_TRUE(contains(info.out, "processes:  2")) << info.out;
  RunResult dbg = backstep({"replay", (tmp_ / "t").string(), "-ex", "goto end", "-ex",
                            "info processes", "-ex", "info threads"},
                           xdg());
  EXPECT_TRUE(contains(dbg.out, "process 2")) << dbg.describe();
  EXPECT_TRUE(contains(dbg.out, "process 3 (parent 2)")) << dbg.describe();
}

// rr's -f and -p: the session starts on the process's thread, at its first
// stop after its creation (-f) or after its exec (-p PID, -p NAME).
TEST_F(Processes, ReplayStartsWhereAProcessIsForkedOrExecs) {
  auto first_stop_after = [&](const std::string& trace, int tid, int64_t from) {
    for (const auto& e : dump_json(tmp_ / trace, xdg())) {
      if (e.value("type", "") == "stop" && e.value("tid", 0) == tid &&
          e.value("event", 0) >= from) {
        return e.value("event", int64_t{0});
      }
    }
    return int64_t{-1};
  };
  auto where = [&](const RunResult& r) {
    nlohmann::json j = nlohmann::json::parse(r.out.substr(0, r.out.find('\n')));
    return std::pair(j.value("record", int64_t{-1}), j.value("thread", 0));
  };
  ASSERT_EQ(record({E2E_ORPHAN}, "fork").shell_status(), 12);
  RunResult f = replay("fork", {"-f", "3", "--json"});
  ASSERT_EQ(f.shell_status(), 0) << f.describe();
  EXPECT_EQ(where(f), std::pair(first_stop_after("fork", 3, 0), 3)) << f.out;
  RunResult p = replay("fork", {"-f", "3", "-ex", "process 2", "-ex", "info processes"});
  EXPECT_TRUE(contains(p.out, "thread 2, tick")) << p.describe();
  EXPECT_TRUE(contains(p.out, "* process 2")) << p.describe();
  RunResult none = replay("fork", {"-f", "9"});
  EXPECT_EQ(none.shell_status(), 1);
  EXPECT_EQ(none.err,
            "backstep: replay -f 9: the recording has no process 9 (its processes: 2, 3)\n");
  RunResult bad = replay("fork", {"-f", "3", "-ex", "process 7"});
  EXPECT_TRUE(contains(bad.out + bad.err, "process 7 has no live thread here")) << bad.describe();

  ASSERT_EQ(record({E2E_EXEC_IMAGE, "main"}, "exec").shell_status(), 7);
  int64_t exec_record = -1;
  for (const auto& e : dump_json(tmp_ / "exec", xdg())) {
    if (e.value("type", "") == "exec" && e.value("event", 0) > 1) exec_record = e.value("event", 0);
  }
  ASSERT_GT(exec_record, 1);
  RunResult by_pid = replay("exec", {"-p", "2", "--json"});
  EXPECT_EQ(where(by_pid), std::pair(first_stop_after("exec", 2, exec_record), 2)) << by_pid.out;
  RunResult by_name = replay("exec", {"-p", "no_such_program"});
  EXPECT_EQ(by_name.shell_status(), 1);
  EXPECT_EQ(by_name.err,
            "backstep: replay -p no_such_program: no process of the recording runs "
            "no_such_program\n");
}

}  // namespace
}  // namespace e2e
