// `backstep minimize`: from a failing recording, the fewest forced thread
// switches that still fail the same way, by delta debugging (Zeller's ddmin)
// over the recording's scheduling decisions. Each candidate is recorded
// again with the scheduler forced to it (recorder::Scheduler forced mode).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <vector>

#include "hunt/failure.h"
#include "recorder/scheduler.h"
#include "trace/trace_reader.h"

namespace backstep::hunt {

// The recording's switches as forced-switch points: every switch from one
// thread to another, at the leaving thread's ticks and map-event count.
std::vector<recorder::ForcedSwitch> forced_switches_of(const trace::Trace& trace);

// The switches of forced_switches_of(trace) made before the failure: those
// after the record that tells it (the kFatal event's batch, the fatal
// signal's stop) cannot change it.
std::vector<recorder::ForcedSwitch> switches_before_failure(const trace::Trace& trace);

struct MinimizeOptions {
  std::filesystem::path trace;       // the failing recording
  std::filesystem::path output;      // the shrunk recording (must not exist)
  std::chrono::seconds timeout{60};  // per candidate recording
  // No candidate is started after this long: the smallest failing schedule
  // found so far is kept. None: to the end. The recording's own schedule
  // is always tried, whatever the budget.
  std::optional<std::chrono::seconds> budget;
};

struct MinimizeResult {
  size_t original = 0;   // forced switches in the recording
  size_t remaining = 0;  // in the shrunk one
  std::vector<recorder::ForcedSwitch> schedule;
  FailureSite failure;
  uint64_t candidates = 0;  // recordings made
  std::filesystem::path output;
  bool budget_used_up = false;  // stopped by the budget: `schedule` may shrink further
  double seconds = 0;
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
  // Records `schedule`; true when it fails like the original, and then its
  // trace becomes the best so far. False without recording once the budget
  // is used up (budget_used_up_).
  bool fails_the_same_way(const std::vector<recorder::ForcedSwitch>& schedule);
  // The shortest failing suffix of `all` (which fails), by bisection: the
  // switches that matter are most often the last ones before the failure,
  // and log2(n) recordings find them where ddmin would need n.
  std::vector<recorder::ForcedSwitch> shortest_failing_suffix(
      std::vector<recorder::ForcedSwitch> all);
  std::vector<recorder::ForcedSwitch> ddmin(std::vector<recorder::ForcedSwitch> all);
  // How long the next candidate may run: the per-candidate timeout, within
  // what is left of the budget. Zero: none may start.
  std::chrono::steady_clock::duration candidate_time() const;

  MinimizeOptions options_;
  trace::Header header_;
  FailureSite target_;
  std::filesystem::path scratch_;
  std::filesystem::path best_trace_;
  uint64_t candidates_ = 0;
  std::string last_outcome_;  // how the last candidate ended, for messages
  std::chrono::steady_clock::time_point started_;
  bool budget_used_up_ = false;
  std::function<void(uint64_t, size_t)> progress_;
};

}  // namespace backstep::hunt
