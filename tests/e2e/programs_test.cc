// Record and replay of small programs: threads with a mutex and a condition
// variable, spin-waiting (tick preemption), nondeterministic inputs, file
// system side effects and the ways a program can end.
#include <gtest/gtest.h>

#include <regex>

#include "e2e_support.h"

namespace e2e {
namespace {

class Programs : public ::testing::Test {
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
  // Replays `trace_name` three times: each exits 0, prints `expected`,
  // reports no divergence and, when given, says `ending`.
  void expect_replays(const std::string& trace_name, const std::string& expected,
                      const std::string& ending = "") {
    for (int i = 0; i < 3; ++i) {
      RunResult rep = replay(trace_name);
      ASSERT_EQ(rep.shell_status(), 0) << rep.describe();
      EXPECT_EQ(rep.out, expected) << "replay " << i;
      EXPECT_FALSE(contains(rep.err, "diverged")) << rep.describe();
      if (!ending.empty()) {
        EXPECT_TRUE(contains(rep.err, ending)) << rep.describe();
      }
    }
  }

  TempDir tmp_;
};

// --- 2: std::thread, std::mutex, std::condition_variable, join -------------

struct SchedulerCase {
  const char* name;
  std::vector<std::string> flags;
};

void PrintTo(const SchedulerCase& c, std::ostream* os) { *os << c.name; }

class ThreadsCv : public Programs, public ::testing::WithParamInterface<SchedulerCase> {};

TEST_P(ThreadsCv, ReplayWritesTheRecordedOutput) {
  RunResult rec = record({E2E_THREADS_CV, "40"}, "t", GetParam().flags);
  ASSERT_EQ(rec.shell_status(), 0) << rec.describe();
  ASSERT_TRUE(contains(rec.out, "threads_cv: 40 items")) << rec.describe();
  ASSERT_TRUE(contains(rec.out, "total 820")) << rec.describe();
  EXPECT_EQ(lines(rec.out).size(), 42u) << rec.describe();  // banner, 40 items, summary

  for (int i = 0; i < 3; ++i) {
    RunResult rep = replay("t");
    ASSERT_EQ(rep.shell_status(), 0) << rep.describe();
    EXPECT_EQ(rep.out, rec.out) << "replay " << i << " printed something else";
    EXPECT_TRUE(contains(rep.err, "replay complete")) << rep.describe();
    EXPECT_TRUE(contains(rep.err, "the program exited with status 0")) << rep.describe();
  }
  RunResult quiet = replay("t", {"-q"});
  ASSERT_EQ(quiet.shell_status(), 0) << quiet.describe();
  EXPECT_EQ(quiet.out, "");
}

INSTANTIATE_TEST_SUITE_P(
    Schedulers, ThreadsCv,
    ::testing::Values(SchedulerCase{"fair", {}},
                      SchedulerCase{"fair_timeslice_50", {"--timeslice", "50"}},
                      SchedulerCase{"chaos_seed_1", {"--chaos", "--seed", "1"}},
                      SchedulerCase{"chaos_seed_2", {"--chaos", "--seed", "2"}},
                      SchedulerCase{"chaos_seed_3", {"--chaos", "--seed", "3"}},
                      SchedulerCase{"fair_bind_cpu_0", {"--bind-cpu", "0"}}),
    [](const auto& p) { return std::string(p.param.name); });

// --- 3: spin-waiting, instrumented -----------------------------------------

class SpinWait : public Programs, public ::testing::WithParamInterface<SchedulerCase> {};

TEST_P(SpinWait, CompletesUnderRecordAndReplay) {
  RunResult rec = record({E2E_SPIN_WAIT, "20"}, "t", GetParam().flags);
  ASSERT_EQ(rec.shell_status(), 0) << rec.describe();
  EXPECT_TRUE(contains(rec.out, "spin_wait: done, work 499500, turn 40")) << rec.describe();
  RunResult rep = replay("t");
  ASSERT_EQ(rep.shell_status(), 0) << rep.describe();
  EXPECT_EQ(rep.out, rec.out);
  EXPECT_TRUE(contains(rep.err, "the program exited with status 0")) << rep.describe();
  // The spinner was preempted by its tick budget, not by a syscall.
  std::vector<nlohmann::json> ev = dump_json(tmp_ / "t", xdg());
  int timeslice_switches = 0;
  for (const auto& e : ev) {
    if (e.value("type", "") == "switch" && e.value("reason", "") == "timeslice") {
      ++timeslice_switches;
    }
  }
  EXPECT_GT(timeslice_switches, 0) << "no timeslice switch recorded";
}

INSTANTIATE_TEST_SUITE_P(
    Schedulers, SpinWait,
    ::testing::Values(SchedulerCase{"fair", {}},
                      SchedulerCase{"chaos_seed_1", {"--chaos", "--seed", "1"}},
                      SchedulerCase{"chaos_seed_2", {"--chaos", "--seed", "2"}},
                      SchedulerCase{"fair_bind_cpu_0", {"--bind-cpu", "0"}}),
    [](const auto& p) { return std::string(p.param.name); });

// --- the tick counter's slow path keeps every register ---------------------

// The gcc plugin's tick calls clobber nothing, so the compiler keeps
// floating-point and vector values in registers across them. With a
// timeslice of one tick every tick takes the counter's slow path (a trap to
// the recorder), and the program must compute exactly what it computes
// natively, in the recording and in its replay.
TEST_F(Programs, EveryTickTrappingChangesNoResult) {
  RunResult native = run({E2E_VECTOR_STATE, "500"});
  ASSERT_EQ(native.shell_status(), 0) << native.describe();
  ASSERT_TRUE(contains(native.out, "vector_state: harmonic ")) << native.describe();
  RunResult rec = record({E2E_VECTOR_STATE, "500"}, "t", {"--timeslice", "1"});
  ASSERT_EQ(rec.shell_status(), 0) << rec.describe();
  EXPECT_EQ(rec.out, native.out);
  RunResult rep = replay("t");
  ASSERT_EQ(rep.shell_status(), 0) << rep.describe();
  EXPECT_EQ(rep.out, native.out);
  // Every tick of the two threads trapped: thousands of tick-limit stops.
  std::vector<nlohmann::json> ev = dump_json(tmp_ / "t", xdg());
  int tick_traps = 0;
  for (const auto& e : ev) {
    if (e.value("type", "") == "stop" && e.value("kind", "") == "trap") ++tick_traps;
  }
  EXPECT_GT(tick_traps, 1500);
}

// --- record --bind-cpu: the program's view of its affinity stays its own ----

TEST_F(Programs, BindCpuLeavesTheProgramsAffinityAlone) {
  RunResult native = run({E2E_AFFINITY});
  ASSERT_EQ(native.shell_status(), 0) << native.describe();
  ASSERT_TRUE(contains(native.out, "affinity: main ")) << native.describe();
  RunResult rec = record({E2E_AFFINITY}, "t", {"--bind-cpu", "0"});
  ASSERT_EQ(rec.shell_status(), 0) << rec.describe();
  EXPECT_EQ(rec.out, native.out);
  RunResult rep = replay("t");
  ASSERT_EQ(rep.shell_status(), 0) << rep.describe();
  EXPECT_EQ(rep.out, native.out);

  RunResult bad = record({E2E_AFFINITY}, "u", {"--bind-cpu", "100000"});
  EXPECT_NE(bad.shell_status(), 0);
  EXPECT_TRUE(contains(bad.err, "not a CPU this process may run on")) << bad.describe();
}

// Like rr, record binds the program to one CPU unless told not to; only
// /proc/PID/status shows it.
TEST_F(Programs, RecordBindsToOneCpuUnlessUnbound) {
  RunResult native = run({E2E_AFFINITY, "status"});
  ASSERT_EQ(native.shell_status(), 0) << native.describe();
  ASSERT_TRUE(contains(native.out, "Cpus_allowed_list:")) << native.describe();
  const std::string all = native.out.substr(native.out.find(':') + 1);
  if (all.find_first_of(",-") == std::string::npos) GTEST_SKIP() << "one CPU only: " << all;

  RunResult bound = record({E2E_AFFINITY, "status"}, "b");
  ASSERT_EQ(bound.shell_status(), 0) << bound.describe();
  const std::string one = bound.out.substr(bound.out.find(':') + 1);
  EXPECT_EQ(one.find_first_of(",-"), std::string::npos) << bound.describe();
  EXPECT_NE(one, all);
  RunResult unbound = record({E2E_AFFINITY, "status"}, "u", {"--cpu-unbound"});
  ASSERT_EQ(unbound.shell_status(), 0) << unbound.describe();
  EXPECT_EQ(unbound.out, native.out);
  // Replay binds too (it answers the program's view from the trace), or not.
  RunResult rep = replay("b");
  EXPECT_EQ(rep.out, bound.out) << rep.describe();
  RunResult rep_unbound = replay("b", {"--cpu-unbound"});
  EXPECT_EQ(rep_unbound.out, bound.out) << rep_unbound.describe();

  RunResult both = record({E2E_AFFINITY}, "x", {"--cpu-unbound", "--bind-cpu", "0"});
  EXPECT_EQ(both.shell_status(), 2) << both.describe();
  EXPECT_TRUE(contains(both.err, "excludes")) << both.describe();
}

// --- 4: clocks, rdtsc and random bytes in a plain-gcc program --------------

TEST_F(Programs, NondeterministicInputsReplayAsRecorded) {
  RunResult rec = record({E2E_TIME_RANDOM}, "t");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(rec.out, m, std::regex("hash ([0-9a-f]{16}) exit ([0-9]+)")))
      << rec.describe();
  const int status = std::stoi(m[2].str());
  ASSERT_EQ(rec.shell_status(), status) << rec.describe();
  for (const char* what : {"clock_gettime realtime", "gettimeofday", "time ", "rdtsc ",
                           "getrandom ", "urandom "}) {
    EXPECT_TRUE(contains(rec.out, what)) << what << "\n" << rec.describe();
  }

  // Sanity: the values do change from run to run (else this test would
  // prove nothing).
  RunResult rec2 = record({E2E_TIME_RANDOM}, "t2");
  ASSERT_FALSE(rec2.timed_out);
  EXPECT_NE(rec.out, rec2.out) << "two recordings read the same values";

  const std::string ending = "the program exited with status " + std::to_string(status);
  for (int i = 0; i < 3; ++i) {
    RunResult rep = replay("t");
    ASSERT_EQ(rep.shell_status(), 0) << rep.describe();
    EXPECT_EQ(rep.out, rec.out) << "replay " << i << " printed other values";
    EXPECT_TRUE(contains(rep.err, ending)) << rep.describe();
  }

  // The rdtsc and rdtscp of the program were trapped and recorded.
  std::vector<nlohmann::json> ev = dump_json(tmp_ / "t", xdg());
  int rdtsc_stops = 0;
  size_t exit_group_entry = 0;
  for (size_t i = 0; i < ev.size(); ++i) {
    if (ev[i].value("type", "") != "stop") continue;
    if (ev[i].value("kind", "") == "rdtsc") ++rdtsc_stops;
    if (ev[i].value("kind", "") == "syscall-entry" && ev[i].value("syscall", "") == "exit_group") {
      exit_group_entry = i;
    }
  }
  EXPECT_GE(rdtsc_stops, 2);
  ASSERT_GT(exit_group_entry, 0u) << "no exit_group in the trace";

  // Stopping just before the program's exit_group: the value it exits with
  // is in rdi, as recorded.
  RunResult until = replay("t", {"-q", "--until-event", std::to_string(exit_group_entry)});
  ASSERT_EQ(until.shell_status(), 0) << until.describe();
  EXPECT_TRUE(contains(until.out, "stopped at event " + std::to_string(exit_group_entry)))
      << until.describe();
}

// --- 5: the file system is not touched by replay ---------------------------

TEST_F(Programs, ReplayDoesNotRecreateOrRemoveFiles) {
  fs::path created = tmp_ / "created.txt";
  fs::path victim = tmp_ / "victim.txt";
  write_file(victim, "remove me\n");
  RunResult rec = record({E2E_WRITE_FILE, created.string(), victim.string()}, "t");
  ASSERT_EQ(rec.shell_status(), 0) << rec.describe();
  ASSERT_TRUE(fs::exists(created));
  EXPECT_EQ(read_file(created), "written by write_file\n");
  ASSERT_FALSE(fs::exists(victim));

  fs::remove(created);
  write_file(victim, "keep me\n");
  RunResult rep = replay("t");
  ASSERT_EQ(rep.shell_status(), 0) << rep.describe();
  EXPECT_EQ(rep.out, rec.out);
  EXPECT_FALSE(fs::exists(created)) << "replay re-created the file the recording wrote";
  ASSERT_TRUE(fs::exists(victim)) << "replay removed the file the recording removed";
  EXPECT_EQ(read_file(victim), "keep me\n");
}

// --- 8: record's exit status mirrors the program's -------------------------

struct EndingCase {
  const char* mode;
  int shell_status;
  const char* ending;  // as replay and info word it
};

void PrintTo(const EndingCase& c, std::ostream* os) { *os << c.mode; }

class Endings : public Programs, public ::testing::WithParamInterface<EndingCase> {};

TEST_P(Endings, RecordMirrorsTheProgram) {
  const EndingCase& c = GetParam();
  RunResult rec = record({E2E_EXIT_STATUS, c.mode}, "t");
  EXPECT_TRUE(rec.exited) << "backstep record itself died: " << rec.describe();
  EXPECT_EQ(rec.shell_status(), c.shell_status) << rec.describe();
  EXPECT_EQ(rec.out, std::string("exit_status: ") + c.mode + "\n");
  EXPECT_TRUE(contains(rec.err, std::string("(") + c.ending)) << rec.describe();

  RunResult rep = replay("t", {"-q"});
  EXPECT_EQ(rep.shell_status(), 0) << rep.describe();
  EXPECT_TRUE(contains(rep.err, std::string("the program ") + c.ending)) << rep.describe();

  RunResult info = backstep({"info", (tmp_ / "t").string()}, xdg());
  EXPECT_EQ(info.shell_status(), 0) << info.describe();
  EXPECT_TRUE(contains(info.out, std::string("ended:      ") + c.ending)) << info.describe();
}

INSTANTIATE_TEST_SUITE_P(
    Programs, Endings,
    ::testing::Values(EndingCase{"ok", 0, "exited with status 0"},
                      EndingCase{"exit3", 3, "exited with status 3"},
                      EndingCase{"abort", 134, "killed by SIGABRT (6)"},
                      EndingCase{"segv", 139, "killed by SIGSEGV (11)"}),
    [](const auto& p) { return std::string(p.param.mode); });

// --- 9: signals that end blocking syscalls ---------------------------------

// A timer's SIGALRM ends sigsuspend and ppoll, in the main thread and in a
// second one; a POSIX timer's SIGUSR2 must reach its handler with its
// siginfo (SI_TIMER, si_value) in record and replay alike. The signals come
// from the kernel while the thread sleeps in the kernel: recording used to
// hold them for a later syscall exit and let the kernel restart the wait,
// which then slept for good; replay has to deliver them under the wait's
// temporary mask.
TEST_F(Programs, SignalEndingABlockingWaitIsDeliveredAndReplayed) {
  const std::string expected =
      "sigsuspend 0: 1 alarms\n"
      "sigsuspend 1: 2 alarms\n"
      "sigsuspend 2: 3 alarms\n"
      "ppoll: -1 EINTR, 4 alarms\n"
      "worker sigsuspend: 5 alarms\n"
      "alarms: 5\n"
      "timer: SI_TIMER, value 77\n";
  RunResult rec = record({E2E_SIGNAL_WAIT}, "t");
  ASSERT_FALSE(rec.timed_out) << rec.describe();
  ASSERT_EQ(rec.shell_status(), 0) << rec.describe();
  ASSERT_EQ(rec.out, expected) << rec.describe();
  ASSERT_NO_FATAL_FAILURE(expect_replays("t", expected, "the program exited with status 0"));
  // Time travel over the same waits (checkpoints are taken around them).
  RunResult travel = replay("t", {"-q", "--checkpoint-interval", "1", "-ex", "goto end", "-ex",
                                  "goto event 100", "-ex", "goto end", "-ex", "info threads"});
  ASSERT_EQ(travel.shell_status(), 0) << travel.describe();
  EXPECT_TRUE(contains(travel.out, "* thread 2")) << travel.describe();
}

// A process-wide signal wakes the main thread's futex wait (-ERESTARTSYS)
// but the worker takes it: the kernel restarted the main thread's wait with
// no signal delivered, and replay, with no signal pending, has to restart
// it too instead of handing -ERESTARTSYS to pthread_join.
TEST_F(Programs, WaitWokenByASignalAnotherThreadTookIsRestarted) {
  const std::string expected = "join 0, signal taken by the worker\n";
  RunResult rec = record({E2E_STOLEN_SIGNAL}, "t");
  ASSERT_EQ(rec.shell_status(), 0) << rec.describe();
  ASSERT_EQ(rec.out, expected) << rec.describe();
  // The case at hand: the main thread's futex wait came back -ERESTARTSYS.
  bool restarted = false;
  for (const auto& e : dump_json(tmp_ / "t", xdg())) {
    restarted |= e.value("tid", 0) == 2 && e.value("kind", "") == "syscall-exit" &&
                 e.value("result", 0) == -512;
  }
  EXPECT_TRUE(restarted) << "the recording did not interrupt the main thread's wait";
  ASSERT_NO_FATAL_FAILURE(expect_replays("t", expected));
}

// The other side of the restart above: a signal the program sends to a
// sleeping thread is pending for real in replay (the kill runs again), so
// the kernel, not the replay, decides: the sleep fails with EINTR.
TEST_F(Programs, SleepInterruptedByTheProgramsOwnSignal) {
  const std::string expected = "nanosleep -1 EINTR, handled 1\ndone\n";
  RunResult rec = record({E2E_SIGNAL_OTHER_THREAD}, "t");
  ASSERT_EQ(rec.shell_status(), 0) << rec.describe();
  ASSERT_EQ(rec.out, expected) << rec.describe();
  ASSERT_NO_FATAL_FAILURE(expect_replays("t", expected));
}

// --- 10: child processes ---------------------------------------------------

// fork + pipe + waitpid, system() and popen(): the children run unrecorded
// (with a warning), and replay reproduces the parent from the trace without
// making them again: a child made for real would find no pipe (emulated),
// fail, and signal the replay at times of its own.
// The children are recorded with their parent (processes_test.cc has more).
TEST_F(Programs, ChildProcessesAreRecordedAndReplayed) {
  const std::string expected =
      "fork: read 20 'hello from the child', waited for it, status 5\n"
      "system: status 3\n"
      "popen: 'from popen', status 0\n";
  RunResult rec = record({E2E_CHILD_PROCESS}, "t");
  ASSERT_EQ(rec.shell_status(), 0) << rec.describe();
  ASSERT_EQ(rec.out, expected) << rec.describe();
  EXPECT_FALSE(contains(rec.err, "warning")) << rec.describe();
  ASSERT_NO_FATAL_FAILURE(expect_replays("t", expected, "the program exited with status 0"));
}

}  // namespace
}  // namespace e2e
