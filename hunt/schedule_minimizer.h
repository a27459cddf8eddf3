// `backstep minimize`: from a failing recording, the fewest forced thread
// switches that still fail the same way, by delta debugging (Zeller's ddmin)
// over the recording's scheduling decisions. Each candidate is recorded
// again with the scheduler forced to it (recorder::Scheduler forced mode).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <vector>

#include "hunt/failure.h"
#include "recorder/scheduler.h"
#include "trace/trace_reader.h"

namespace backstep::hunt {

// The recording's switches as forced-switch points: every switch from one
// thread to another, at the leaving thread's ticks and map-event count.
std::vector<recorder::ForcedSwitch> forced_switches_of(const trace::Trace& trace);

struct MinimizeOptions {
  std::filesystem::path trace;       // the failing recording
  std::filesystem::path output;      // the shrunk recording (must not exist)
  std::chrono::seconds timeout{60};  // per candidate recording
};

struct MinimizeResult {
  size_t original = 0;   // forced switches in the recording
  size_t remaining = 0;  // in the shrunk one
  std::vector<recorder::ForcedSwitch> schedule;
  FailureSite failure;
  uint64_t candidates = 0;  // recordings made
  std::filesystem::path output;
};

class ScheduleMinimizer {
 public:
  explicit ScheduleMinimizer(MinimizeOptions options) : options_(std::move(options)) {}
  // Called after each candidate recording: (candidates so far, switches left).
  void on_progress(std::function<void(uint64_t, size_t)> f) { progress_ = std::move(f); }
  // Throws Error when the trace did not fail, or when even the recording's
  // own schedule, forced, does not fail the same way.
  MinimizeResult run();

 private:
  // Records `schedule`; true when it fails like the original. Keeps the
  // trace in `keep` if it does.
  bool fails_the_same_way(const std::vector<recorder::ForcedSwitch>& schedule);
  std::vector<recorder::ForcedSwitch> ddmin(std::vector<recorder::ForcedSwitch> all);

  MinimizeOptions options_;
  trace::Header header_;
  FailureSite target_;
  std::filesystem::path scratch_;
  std::filesystem::path best_trace_;
  uint64_t candidates_ = 0;
  std::string last_outcome_;  // how the last candidate ended, for messages
  std::function<void(uint64_t, size_t)> progress_;
};

}  // namespace backstep::hunt
