// Faults: the recorder killed with SIGKILL at many points (chosen by record
// count: BACKSTEP_TEST_KILL_AFTER_RECORDS, trace/trace_writer.h), the disk
// filling up while recording, the program killed from outside, and replay
// and the gdb server killed mid-way. After each, what was written is a
// readable prefix and no traced or stopped process is left behind.
//
// "Left behind" is decided without sleeping: the test program is a private
// copy in the test's directory, every process running it is found through
// /proc/*/exe, and each must exit (its pidfd becomes readable) by a
// generous deadline.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>

#include "e2e_support.h"

namespace e2e {
namespace {

using namespace std::chrono_literals;

// Processes whose executable is `exe`.
std::vector<pid_t> processes_running(const fs::path& exe) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& d : fs::directory_iterator("/proc", ec)) {
    const std::string name = d.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    fs::path target = fs::read_symlink(d.path() / "exe", ec);
    if (!ec && target == exe) out.push_back(std::stoi(name));
  }
  return out;
}

// Every process running `exe` exits within the deadline (a process killed
// with its tracer is dying already; a stopped one would stay).
void expect_none_left(const fs::path& exe, const std::string& what) {
  for (pid_t pid : processes_running(exe)) {
    int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) continue;  // gone meanwhile
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, 30'000);
    ::close(fd);
    if (n == 1) continue;
    std::string state;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::getline(stat, state);
    ADD_FAILURE() << what << ": process " << pid << " still runs " << exe << ": " << state;
    ::kill(pid, SIGKILL);
  }
}

// A gdb remote-protocol packet.
std::string packet(const std::string& payload) {
  unsigned sum = 0;
  for (unsigned char c : payload) sum += c;
  char cs[3];
  std::snprintf(cs, sizeof cs, "%02x", sum & 0xff);
  return "$" + payload + "#" + cs;
}

// A child with its stdin and stdout on pipes, for commands that must be
// killed at a point they report (not after some time).
class Session {
 public:
  explicit Session(const std::vector<std::string>& argv, const fs::path& xdg) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe");
    std::vector<std::string> args = argv;
    std::string env = "XDG_DATA_HOME=" + xdg.string();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::putenv(env.data());
      std::vector<char*> a;
      for (auto& s : args) a.push_back(s.data());
      a.push_back(nullptr);
      ::execv(a[0], a.data());
      _exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    in_ = in[1];
    out_ = out[0];
  }
  ~Session() {
    if (pid_ > 0) kill(SIGKILL);
    ::close(in_);
    ::close(out_);
  }
  void send(const std::string& s) {
    ASSERT_EQ(::write(in_, s.data(), s.size()), ssize_t(s.size()));
  }
  // Reads stdout until it holds `text` (true) or ends or a minute passes.
  bool read_until(const std::string& text) {
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (output_.find(text) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{out_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) != 1) return false;
      char buf[4096];
      ssize_t n = ::read(out_, buf, sizeof buf);
      if (n <= 0) return false;
      output_.append(buf, static_cast<size_t>(n));
    }
    return true;
  }
  // Waits for the child to end by itself (its stdout closes); its wait
  // status, or -1 (and the child killed) if a minute passes.
  int wait() {
    auto deadline = std::chrono::steady_clock::now() + 60s;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{out_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) != 1) {
        kill(SIGKILL);
        return -1;
      }
      char buf[4096];
      ssize_t n = ::read(out_, buf, sizeof buf);
      if (n <= 0) break;
      output_.append(buf, static_cast<size_t>(n));
    }
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }
  // Signals the child and reaps it; its wait status.
  int kill(int sig) {
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }
  const std::string& output() const { return output_; }

 private:
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
  std::string output_;
};

class Faults : public ::testing::Test {
 protected:
  void SetUp() override {
    // Private copies: every process running them is this test's.
    for (const char* p : {E2E_THREADS_CV, E2E_WAIT_FOR_KILL}) {
      fs::copy_file(p, tmp_ / fs::path(p).filename());
    }
  }
  fs::path threads_cv() const { return tmp_ / fs::path(E2E_THREADS_CV).filename(); }
  fs::path wait_for_kill() const { return tmp_ / fs::path(E2E_WAIT_FOR_KILL).filename(); }
  fs::path xdg() const { return tmp_ / "xdg"; }

  // `replay -q` of a trace cut short: it replays up to the cut and says so
  // (true), or, cut before the program started (before the first chunk was
  // sealed), says that in one line (false).
  bool expect_prefix_replays(const fs::path& trace, const std::string& what) {
    RunResult r = backstep({"replay", "-q", trace.string()}, xdg());
    EXPECT_TRUE(r.exited) << what << ": " << r.describe();
    std::vector<std::string> err = lines(r.err);
    EXPECT_FALSE(err.empty()) << what << ": " << r.describe();
    if (err.empty()) return false;
    RunResult info = backstep({"info", trace.string()}, xdg());
    EXPECT_TRUE(info.exited) << what << ": " << info.describe();
    if (r.code == 3) {
      EXPECT_TRUE(err.back().starts_with("backstep: the trace was cut short; replayed "))
          << what << ": " << r.describe();
      return true;
    } else {
      EXPECT_EQ(r.code, 1) << what << ": " << r.describe();
      EXPECT_EQ(err.size(), 1u) << what << ": " << r.describe();
      EXPECT_TRUE(contains(err[0], "cut short before the program started"))
          << what << ": " << r.describe();
    }
    return false;
  }

  TempDir tmp_;
};

// SIGKILL at eight points spread over the recording, by record count.
TEST_F(Faults, RecorderKilledAtManyPoints) {
  RunResult full = backstep(
      {"record", "-o", (tmp_ / "full").string(), "--", threads_cv().string(), "1200"}, xdg());
  ASSERT_EQ(full.shell_status(), 0) << full.describe();
  // What the writer counts: `dump` shows a syscall-buffer record as one
  // line per buffered syscall (with "sub"), all under the record's event.
  size_t records = 0;
  std::set<uint64_t> buffer_records;
  for (const auto& line : dump_json(tmp_ / "full", xdg())) {
    if (!line.contains("sub"))
      ++records;
    else if (buffer_records.insert(line["event"].get<uint64_t>()).second)
      ++records;
  }
  ASSERT_GT(records, 200u);
  int prefixes = 0;  // cuts after the first sealed chunk
  for (size_t cut : {size_t{1}, size_t{2}, size_t{3}, records / 8, records / 4, records / 2,
                     records * 3 / 4, records - 2}) {
    const std::string what = "killed after record " + std::to_string(cut);
    fs::path trace = tmp_ / ("cut-" + std::to_string(cut));
    RunOptions o;
    o.env["BACKSTEP_TEST_KILL_AFTER_RECORDS"] = std::to_string(cut);
    RunResult r =
        backstep({"record", "-o", trace.string(), "--", threads_cv().string(), "1200"}, xdg(), o);
    EXPECT_FALSE(r.exited) << what << ": " << r.describe();
    EXPECT_EQ(r.code, SIGKILL) << what << ": " << r.describe();
    expect_none_left(threads_cv(), what);
    prefixes += expect_prefix_replays(trace, what);
  }
  EXPECT_GE(prefixes, 2) << "the late cuts should leave prefixes to replay";
}

// The trace's file system fills up mid-recording (a small tmpfs in a
// private mount namespace): a clear error, the program not left running,
// and what was written is a readable prefix.
TEST_F(Faults, DiskFullWhileRecording) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for a tmpfs in a private mount namespace";
  RunResult full = backstep(
      {"record", "-o", (tmp_ / "full").string(), "--", threads_cv().string(), "8000"}, xdg());
  ASSERT_EQ(full.shell_status(), 0) << full.describe();
  uintmax_t copies = 0;
  // tmpfs keeps whole pages.
  for (const auto& f : fs::directory_iterator(tmp_ / "full" / "files"))
    copies += (fs::file_size(f) + 4095) / 4096 * 4096;
  const uintmax_t events = fs::file_size(tmp_ / "full" / "events");
  ASSERT_GT(events, 64u << 10) << "too few events to fill the disk in their middle";
  // Room for every copy and half of the events.
  const uintmax_t kib = (copies + events / 2) / 1024 + 16;
  fs::create_directory(tmp_ / "mnt");
  const std::string script =
      "mount -t tmpfs -o size=" + std::to_string(kib) +
      "k tmpfs \"$1\" || exit 99; "
      "\"$2\" record -o \"$1/t\" -- \"$3\" 8000; s=$?; cp -a \"$1/t\" \"$4\"; exit $s";
  RunOptions in_xdg;
  in_xdg.env["XDG_DATA_HOME"] = xdg().string();
  RunResult r =
      run({"/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh",
           (tmp_ / "mnt").string(), BACKSTEP_BIN, threads_cv().string(), (tmp_ / "cut").string()},
          in_xdg);
  ASSERT_NE(r.code, 99) << "cannot mount a tmpfs: " << r.describe();
  EXPECT_TRUE(r.exited) << r.describe();
  EXPECT_NE(r.code, 0) << r.describe();
  std::vector<std::string> err = lines(r.err);
  ASSERT_FALSE(err.empty()) << r.describe();
  EXPECT_TRUE(err.back().starts_with("backstep: ")) << r.describe();
  EXPECT_TRUE(contains(err.back(), "No space left on device")) << r.describe();
  expect_none_left(threads_cv(), "disk full");
  EXPECT_TRUE(expect_prefix_replays(tmp_ / "cut", "disk full"));
}

// The program killed from outside while it is recorded: recorded like any
// death by a signal, and the recording replays to it.
TEST_F(Faults, ProgramKilledFromOutside) {
  fs::path trace = tmp_ / "killed";
  Session rec({BACKSTEP_BIN, "record", "-o", trace.string(), "--", wait_for_kill().string()},
              xdg());
  ASSERT_TRUE(rec.read_until("ready\n")) << rec.output();
  std::vector<pid_t> program = processes_running(wait_for_kill());
  ASSERT_EQ(program.size(), 1u);
  ASSERT_EQ(::kill(program[0], SIGKILL), 0);
  // The recorder ends by itself, with the program's status.
  int status = rec.wait();
  EXPECT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGKILL);
  expect_none_left(wait_for_kill(), "program killed");
  RunResult r = backstep({"replay", "-q", trace.string()}, xdg());
  EXPECT_EQ(r.shell_status(), 0) << r.describe();
  EXPECT_TRUE(contains(r.err, "killed by SIGKILL")) << r.describe();
}

// The same, with both threads making syscalls when the kill comes: it finds
// them anywhere (user code, a syscall's entry, the syscall buffer), and the
// replay kills them at their last recorded stop. Several times, since where
// the kill lands is the machine's timing.
TEST_F(Faults, ProgramKilledFromOutsideWhileBusy) {
  for (int i = 0; i < 4; ++i) {
    const std::string what = "kill " + std::to_string(i);
    fs::path trace = tmp_ / ("busy-" + std::to_string(i));
    Session rec(
        {BACKSTEP_BIN, "record", "-o", trace.string(), "--", wait_for_kill().string(), "busy"},
        xdg());
    ASSERT_TRUE(rec.read_until("ready\n")) << what << ": " << rec.output();
    std::vector<pid_t> program = processes_running(wait_for_kill());
    ASSERT_EQ(program.size(), 1u) << what;
    ASSERT_EQ(::kill(program[0], SIGKILL), 0) << what;
    int status = rec.wait();
    EXPECT_TRUE(WIFEXITED(status)) << what << ": " << status;
    EXPECT_EQ(WEXITSTATUS(status), 128 + SIGKILL) << what;
    expect_none_left(wait_for_kill(), what);
    RunResult r = backstep({"replay", "-q", trace.string()}, xdg());
    EXPECT_EQ(r.shell_status(), 0) << what << ": " << r.describe();
    EXPECT_TRUE(contains(r.err, "killed by SIGKILL")) << what << ": " << r.describe();
    expect_none_left(wait_for_kill(), what);
  }
}

// `replay` (the debugger, reading commands from a pipe) and `gdbserver`
// killed while the replayed program stands stopped: it goes with them.
TEST_F(Faults, ReplayAndGdbserverKilledMidway) {
  fs::path trace = tmp_ / "t";
  RunResult rec =
      backstep({"record", "-o", trace.string(), "--", threads_cv().string(), "200"}, xdg());
  ASSERT_EQ(rec.shell_status(), 0) << rec.describe();
  const fs::path fifo = tmp_ / "commands";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  {
    Session replay({BACKSTEP_BIN, "replay", trace.string(), "-x", fifo.string()}, xdg());
    // Opening the fifo's write end blocks until replay opens it for reading.
    std::ofstream commands(fifo);
    commands << "goto event 100\nwhen\n" << std::flush;
    ASSERT_TRUE(replay.read_until("tick")) << replay.output();
    ASSERT_FALSE(processes_running(threads_cv()).empty()) << "no replayed program to leave";
    replay.kill(SIGKILL);
  }
  expect_none_left(threads_cv(), "replay killed");
  {
    Session server({BACKSTEP_BIN, "gdbserver", trace.string()}, xdg());
    server.send("+" + packet("qSupported"));
    ASSERT_TRUE(server.read_until("#")) << server.output();
    server.send("+" + packet("?"));
    ASSERT_TRUE(server.read_until("$T")) << server.output();
    ASSERT_FALSE(processes_running(threads_cv()).empty()) << "no replayed program to leave";
    server.kill(SIGKILL);
  }
  expect_none_left(threads_cv(), "gdbserver killed");
}

}  // namespace
}  // namespace e2e
