// One recording run in a child process of its own: a recording that crashes,
// hangs or is killed never takes the caller down, and a timeout kills the
// child's whole process group (recorder, namespace holder, program).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>

#include "base/unique_fd.h"
#include "recorder/recorder.h"

namespace backstep::hunt {

// How a recording run ended.
struct RunOutcome {
  bool timed_out = false;     // killed by the caller's timeout
  std::string error;          // the recorder could not record (a one-line message)
  bool exited = false;        // the program exited (else a signal killed it)
  int code = 0;               // exit code or signal number
  std::string fatal_message;  // the map's fatal error, if any
};

class RecordingJob {
 public:
  // Forks a child that records `options` (its trace_dir must not exist yet)
  // with stdout and stderr (the program's and the recorder's) sent to `log`.
  RecordingJob(const recorder::RecordOptions& options, const std::filesystem::path& log,
               std::chrono::steady_clock::duration timeout);
  RecordingJob(RecordingJob&& other) noexcept
      : pid_(std::exchange(other.pid_, -1)),
        pidfd_(std::move(other.pidfd_)),
        result_(std::move(other.result_)),
        deadline_(other.deadline_),
        done_(other.done_) {}
  RecordingJob& operator=(RecordingJob&&) = delete;
  RecordingJob(const RecordingJob&) = delete;
  ~RecordingJob();  // kills the run if it is still going

  // Readable (poll) when the child has ended.
  int pidfd() const { return pidfd_.get(); }
  std::chrono::steady_clock::time_point deadline() const { return deadline_; }
  // Non-blocking: collects the child if it has ended, kills it if its time
  // is up. Returns the outcome once there is one.
  std::optional<RunOutcome> poll();
  // Waits (as long as the timeout allows) for the outcome.
  RunOutcome wait();

 private:
  void kill_group();
  pid_t pid_ = -1;  // also the process group
  UniqueFd pidfd_;
  UniqueFd result_;  // read end: the child's one-line result
  std::chrono::steady_clock::time_point deadline_;
  bool done_ = false;
};

}  // namespace backstep::hunt
