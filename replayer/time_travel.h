// Time travel over a recording: go to any position, step forward and back
// one instruction, and find the panic.
//
// Going back re-executes forward from the start of the recording to the
// earlier position (positions are defined by forward execution, see
// replay_engine.h). Checkpoints that bound that cost are not built yet.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "replayer/replay_engine.h"

namespace backstep::replayer {

// What `goto panic` found.
struct PanicReport {
  std::string what;            // the fatal message, or the signal
  int32_t tid = 0;             // the failing thread
  ReplayPosition position;     // where it now stands: the failing instruction
  uint64_t pc = 0;
  bool map_fatal = false;
  uint64_t map = 0;
  // For a map fatal: the hashWriting set that the check saw.
  std::optional<abi::MapEvent> setter;
  std::vector<abi::MapEvent> setter_steps;  // what the setter did after (evacuations, ...)
  std::optional<abi::MapEvent> fatal;
};

class TimeTravel {
 public:
  explicit TimeTravel(const trace::Trace& trace);

  ReplayEngine& engine() { return *engine_; }
  const trace::Trace& trace() const { return trace_; }
  int32_t thread() const { return thread_; }
  void select_thread(int32_t vtid);
  ReplayPosition where() const { return engine_->position(thread_); }

  void goto_position(const ReplayPosition& target);
  void goto_record(size_t record);
  void goto_start();
  void goto_end();
  // One instruction of the selected thread; false at either end.
  bool stepi();
  bool reverse_stepi();
  // Finds the failure the recording ended with and stands on its
  // instruction. Throws Error if the recording ended normally.
  PanicReport goto_panic();

 private:
  void restart();
  void follow_next_thread();
  // Ticks of `vtid` at its last stop before record `record` (its run's start).
  uint64_t run_start_ticks(int32_t vtid, size_t record) const;

  const trace::Trace& trace_;
  std::unique_ptr<ReplayEngine> engine_;
  int32_t thread_ = 0;
};

}  // namespace backstep::replayer
