#include "hunt/recording_job.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>
#include <utility>

#include "base/errors.h"

namespace backstep::hunt {
namespace {

// In the child: record, report one line on `out`, never return.
[[noreturn]] void run_child(const recorder::RecordOptions& options,
                            const std::filesystem::path& log, int out) {
  // A process group of its own: the timeout kills the recorder and every
  // process it started, and the terminal's Ctrl-C reaches only the hunt.
  ::setpgid(0, 0);
  // The hunt's Ctrl-C handlers are not ours: die on signals like any child.
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  ::signal(SIGHUP, SIG_DFL);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
  int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (log_fd >= 0) {
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
  }
  std::string line;
  try {
    recorder::RecordResult r = recorder::record(options);
    line = std::string("ok ") + (r.exited ? "1 " : "0 ") + std::to_string(r.code) + " " +
           r.fatal_message + "\n";
  } catch (const std::exception& e) {
    line = std::string("error ") + e.what() + "\n";
  }
  [[maybe_unused]] ssize_t n = ::write(out, line.data(), line.size());
  ::_exit(0);
}

RunOutcome parse_result(const std::string& text, const WaitStatus& status) {
  RunOutcome o;
  std::istringstream in(text);
  std::string word;
  in >> word;
  if (word == "ok") {
    int exited = 0;
    in >> exited >> o.code;
    o.exited = exited != 0;
    std::getline(in >> std::ws, o.fatal_message);
  } else if (word == "error") {
    std::getline(in >> std::ws, o.error);
  } else {
    o.error = "the recording process ended without a result (" + status.describe() + ")";
  }
  return o;
}

}  // namespace

RecordingJob::RecordingJob(const recorder::RecordOptions& options, const std::filesystem::path& log,
                           std::chrono::steady_clock::duration timeout)
    : deadline_(std::chrono::steady_clock::now() + timeout) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2");
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  pid_ = ::fork();
  if (pid_ < 0) throw_errno("fork");
  if (pid_ == 0) {
    read_end.reset();
    run_child(options, log, write_end.get());
  }
  ::setpgid(pid_, pid_);  // also here: no race with an early kill
  result_ = std::move(read_end);
  pidfd_ = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
  if (!pidfd_) throw_errno("pidfd_open");
}

RecordingJob::~RecordingJob() {
  if (pid_ > 0 && !done_) {
    kill_group();
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

void RecordingJob::kill_group() {
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
}

std::optional<RunOutcome> RecordingJob::poll() {
  if (done_) return std::nullopt;
  int status = 0;
  pid_t got = ::waitpid(pid_, &status, WNOHANG);
  if (got == 0) {
    if (std::chrono::steady_clock::now() < deadline_) return std::nullopt;
    kill_group();
    ::waitpid(pid_, &status, 0);
    done_ = true;
    RunOutcome o;
    o.timed_out = true;
    return o;
  }
  done_ = true;
  // Whatever the program left running in the group (none, normally) goes too.
  ::kill(-pid_, SIGKILL);
  std::string text;
  char buf[512];
  ::fcntl(result_.get(), F_SETFL, O_NONBLOCK);
  for (ssize_t n; (n = ::read(result_.get(), buf, sizeof buf)) > 0;) {
    text.append(buf, static_cast<size_t>(n));
  }
  return parse_result(text, WaitStatus{pid_, status});
}

RunOutcome RecordingJob::wait() {
  for (;;) {
    if (auto o = poll()) return *o;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline_ - std::chrono::steady_clock::now());
    pollfd p{pidfd_.get(), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(std::clamp<int64_t>(left.count(), 0, 1000)));
  }
}

}  // namespace backstep::hunt
