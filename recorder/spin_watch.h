// Tells the user why a recording stopped moving: a thread that spins
// without syscalls in code the recorder cannot preempt.
#pragma once

#include <fmt/core.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <stop_token>
#include <thread>

namespace backstep::recorder {

// How long the running thread may go without a stop while other threads
// wait before the recorder says why nothing moves.
inline constexpr std::chrono::seconds kSpinWarning{5};

// Says, once, that the running thread has gone a long time without a stop
// while others wait. Threads of an uninstrumented program switch only at
// syscalls and signals, so one that spins waiting for another thread
// (`while (!ready) {}`) never gives the others a turn and the recording
// hangs; without this the user sees nothing at all. Runs on a thread of
// its own because the recorder is blocked in waitpid meanwhile.
class SpinWatch {
 public:
  SpinWatch()
      : thread_([this](std::stop_token stop) {
          uint64_t seen = 0;
          auto since = std::chrono::steady_clock::now();
          std::mutex mutex;
          std::condition_variable_any wake;
          std::unique_lock lock(mutex);
          // Woken at once by the stop request: the recording's end waits
          // for no sleep to finish.
          for (;;) {
            wake.wait_for(lock, stop, std::chrono::milliseconds(100), [] { return false; });
            if (stop.stop_requested()) return;
            uint64_t now_seen = stops_.load(std::memory_order_relaxed);
            auto now = std::chrono::steady_clock::now();
            if (now_seen != seen || waiting_ == 0) {
              seen = now_seen;
              since = now;
              continue;
            }
            if (now - since < kSpinWarning) continue;
            fmt::print(stderr,
                       "backstep: warning: thread {} has run {} s without a syscall while {} "
                       "other thread(s) wait; threads of a program built without "
                       "backstep_instrument switch only at syscalls and signals, so a thread "
                       "that spins waiting for another is never preempted (see README, \"What "
                       "the instrumentation adds\"). Ctrl-C ends the recording and keeps the "
                       "trace.\n",
                       running_.load(), kSpinWarning.count(), waiting_.load());
            return;
          }
        }) {}
  // Around the wait for the running thread's next stop.
  void running(int32_t vtid, int others) {
    running_ = vtid;
    waiting_ = others;
  }
  void stopped() {
    waiting_ = 0;
    stops_.fetch_add(1, std::memory_order_relaxed);
  }

 private:
  std::atomic<uint64_t> stops_{0};
  std::atomic<int32_t> running_{0};
  std::atomic<int> waiting_{0};
  std::jthread thread_;  // last: stopped and joined before the counters go
};

}  // namespace backstep::recorder
