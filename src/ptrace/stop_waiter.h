// Waiting for ptrace stops with a deadline. waitpid has no timeout, and the
// recorder must notice that the running thread has gone a wall-clock
// timeslice without a stop (to interrupt it: PTRACE_INTERRUPT has to come
// from the tracer thread itself, so nothing else can do it for us). The
// kernel tells a tracer about every stop of its tracees with SIGCHLD; here
// SIGCHLD is blocked and read from a signalfd, which poll() waits for with
// a timeout, and waitpid(WNOHANG) collects what has happened.
#pragma once

#include <signal.h>

#include <chrono>
#include <optional>

#include "base/unique_fd.h"
#include "ptrace/task.h"

namespace backstep {

class StopWaiter {
 public:
  using Clock = std::chrono::steady_clock;
  // Blocks SIGCHLD in the calling thread: make it before the tracer starts
  // threads of its own (they inherit the mask; one with SIGCHLD unblocked
  // could take the signal, which then wakes no poll). The mask comes back
  // when it goes.
  StopWaiter();
  ~StopWaiter();
  StopWaiter(const StopWaiter&) = delete;
  StopWaiter& operator=(const StopWaiter&) = delete;

  // The next stop (or exit) of any traced thread (tid -1) or of `tid`, or
  // nothing once `deadline` has passed. Also nothing when no traced thread
  // is left (ECHILD), which `lost()` then says. Ctrl-C is checked while
  // waiting (check_interrupt).
  std::optional<WaitStatus> wait(pid_t tid, Clock::time_point deadline);
  bool lost() const { return lost_; }

 private:
  UniqueFd fd_;
  sigset_t old_mask_{};
  bool lost_ = false;
};

// In a program's process between fork and exec: SIGCHLD unblocked again
// unless it was blocked before the first StopWaiter blocked it, so that the
// program starts with the signal mask backstep was given.
void restore_launch_signal_mask();

}  // namespace backstep
