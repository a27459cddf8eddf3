#include "ptrace/stop_waiter.h"

#include <fmt/core.h>
#include <poll.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cerrno>

#include "base/errors.h"
#include "base/interrupt.h"

namespace backstep {
namespace {

// -1: no StopWaiter made yet; else whether SIGCHLD was blocked before.
std::atomic<int> g_sigchld_was_blocked{-1};

// A wake-up lost to a thread that does not block SIGCHLD costs at most this
// much: poll() never sleeps longer before waitpid is asked again.
constexpr std::chrono::milliseconds kLongestPoll{20};

}  // namespace

StopWaiter::StopWaiter() {
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  if (int err = ::pthread_sigmask(SIG_BLOCK, &chld, &old_mask_); err != 0) {
    throw Error(fmt::format("blocking SIGCHLD: error {}", err));
  }
  int expected = -1;
  g_sigchld_was_blocked.compare_exchange_strong(expected, sigismember(&old_mask_, SIGCHLD));
  fd_.reset(::signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!fd_) throw_errno("signalfd");
}

StopWaiter::~StopWaiter() { ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr); }

std::optional<WaitStatus> StopWaiter::wait(pid_t tid, Clock::time_point deadline) {
  lost_ = false;
  // waitpid is asked first: the stop is usually there already (a thread
  // resumed into a short run), and every syscall counts on the recorder's
  // busiest path. Only before sleeping is the signalfd drained and waitpid
  // asked again: a stop after that waitpid makes the signalfd readable
  // again, so poll() cannot sleep through it.
  bool drained = false;
  for (;;) {
    int status = 0;
    pid_t got = ::waitpid(tid, &status, __WALL | WNOHANG);
    if (got > 0) return WaitStatus{got, status};
    if (got < 0) {
      if (errno == EINTR) {
        check_interrupt();
        continue;
      }
      if (errno == ECHILD) {
        lost_ = true;
        return std::nullopt;
      }
      throw_errno("waitpid");
    }
    if (!drained) {
      // SIGCHLD is a standard signal, pending at most once: one read
      // empties the signalfd unless it filled the whole buffer.
      signalfd_siginfo info[8];
      while (::read(fd_.get(), info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      }
      drained = true;
      continue;
    }
    auto now = Clock::now();
    if (now >= deadline) return std::nullopt;
    auto left = std::min<Clock::duration>(deadline - now, kLongestPoll);
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    timespec timeout{static_cast<time_t>(ns / 1'000'000'000),
                     static_cast<long>(ns % 1'000'000'000)};
    pollfd p{fd_.get(), POLLIN, 0};
    if (::ppoll(&p, 1, &timeout, nullptr) < 0) {
      if (errno != EINTR) throw_errno("poll");
      check_interrupt();
    }
    drained = false;
  }
}

void restore_launch_signal_mask() {
  if (g_sigchld_was_blocked.load() != 0) return;  // none made, or blocked before
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  ::sigprocmask(SIG_UNBLOCK, &chld, nullptr);
}

}  // namespace backstep
