// Time travel over a recording: go to any position, step forward and back
// one instruction, and find the panic.
//
// Going back re-executes forward to the earlier position (positions are
// defined by forward execution, see replay_engine.h) from the latest
// checkpoint before it: a copy of the replayed program kept stopped
// (ReplayEngine::fork), taken as the replay moves forward, at most every
// `checkpoint_interval` of replaying. So the cost of going back depends on
// that interval, not on the length of the recording.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "replayer/flag_store.h"
#include "replayer/replay_engine.h"

namespace backstep::replayer {

// What `goto panic` found.
struct PanicReport {
  std::string what;         // the fatal message, or the signal
  int32_t tid = 0;          // the failing thread
  ReplayPosition position;  // where it now stands: the failing instruction
  uint64_t pc = 0;
  bool map_fatal = false;
  uint64_t map = 0;
  // For a map fatal: the hashWriting set that the check saw.
  std::optional<abi::MapEvent> setter;
  std::vector<abi::MapEvent> setter_steps;  // what the setter did after (evacuations, ...)
  size_t setter_record = 0;                 // the MapEvents record holding `setter`
  // The instruction that set it (flag_store.h); empty, with the reason in
  // `setter_store_error`, when the replay could not find it.
  std::optional<FlagStore> setter_store;
  std::string setter_store_error;
  std::optional<abi::MapEvent> fatal;
};

// A breakpoint: an address in the program's code (software int3).
struct Breakpoint {
  int id = 0;
  uint64_t addr = 0;
};

// watch (writes that change the value), rwatch (reads), awatch (either).
enum class WatchKind { kWrite, kRead, kAccess };
struct Watchpoint {
  int id = 0;
  uint64_t addr = 0;
  uint64_t len = 0;  // 1 to 8 bytes
  WatchKind kind = WatchKind::kWrite;
};

// Recorded events `resume` may stop at, besides breakpoints and watchpoints.
struct EventFilter {
  bool map = false;       // map-flag transitions (the MapEvents records)
  bool syscall = false;   // syscall stops
  bool switches = false;  // thread switches
  bool any() const { return map || syscall || switches; }
};

enum class Direction { kForward, kBackward };

// Why `resume` stopped, and where.
struct ResumeStop {
  enum class Why {
    kBreakpoint,    // `breakpoint` hit; stands on its instruction, not executed yet
    kWatchpoint,    // `watchpoint` triggered; stands just after the accessing
                    // instruction (forward) or on it (backward), as gdb does
    kEvent,         // a recorded event of a selected kind (`record`)
    kSignal,        // a recorded signal delivery (`signal`), e.g. the fatal SIGABRT
    kStartOfTrace,  // reverse motion reached the start of the recording
    kEndOfTrace,    // forward motion reached the end of the recording
  };
  Why why = Why::kEndOfTrace;
  int32_t tid = 0;  // the thread that stopped (now the selected thread)
  ReplayPosition position;
  uint64_t pc = 0;
  int breakpoint = 0;                            // id, for kBreakpoint
  int watchpoint = 0;                            // id, for kWatchpoint
  uint64_t data_addr = 0;                        // the watched address accessed, for kWatchpoint
  std::optional<uint64_t> old_value, new_value;  // for a write watchpoint
  size_t record = 0;                             // the event's record index, for kEvent and kSignal
  int signal = 0;                                // for kSignal
};

struct TimeTravelOptions {
  // Replaying time between two checkpoints; zero: no checkpoints (every
  // backward move replays from the start).
  std::chrono::milliseconds checkpoint_interval{25};
  // Beyond this many, the checkpoint closest to its neighbours goes.
  size_t max_checkpoints = 48;
};

class TimeTravel {
 public:
  explicit TimeTravel(const trace::Trace& trace, TimeTravelOptions options = {});
  ~TimeTravel();
  TimeTravel(const TimeTravel&) = delete;
  TimeTravel& operator=(const TimeTravel&) = delete;

  // Record indices of the checkpoints kept (the first is the start).
  std::vector<size_t> checkpoints() const;
  // Positions of the checkpoints kept in the middle of runs (taken while
  // single-stepping a long way), oldest first.
  std::vector<ReplayPosition> mid_run_checkpoints() const;
  // The first position of the recording: the exec has returned.
  size_t start_record() const { return start_record_; }

  ReplayEngine& engine() { return *engine_; }
  const trace::Trace& trace() const { return trace_; }
  int32_t thread() const { return thread_; }
  void select_thread(int32_t vtid);
  ReplayPosition where() const { return engine_->position(thread_); }

  void goto_position(const ReplayPosition& target);
  void goto_record(size_t record);
  void goto_start();
  void goto_end();
  // One instruction of the selected thread; false at either end. With
  // `hit`, also the watchpoint that instruction triggered, if any: gdb asks
  // the target after every instruction it steps (its `next` and `step` are
  // made of them), and a watched write must not pass unreported.
  bool stepi(std::optional<ResumeStop>* hit = nullptr);
  bool reverse_stepi();
  // Finds the failure the recording ended with and stands on its
  // instruction. Throws Error if the recording ended normally.
  PanicReport goto_panic();

  // Breakpoints and watchpoints, by id (numbered from 1, never reused).
  int add_breakpoint(uint64_t addr);
  int add_watchpoint(uint64_t addr, uint64_t len, WatchKind kind);
  // False if there is no such id.
  bool remove(int id);
  const std::vector<Breakpoint>& breakpoints() const { return breakpoints_; }
  const std::vector<Watchpoint>& watchpoints() const { return watchpoints_; }

  // continue / reverse-continue: runs all threads (in the recorded order)
  // until a breakpoint, a watchpoint, a selected event, a signal (forward),
  // or either end of the recording. Backward, it stops at the last such
  // moment before now. A breakpoint under the current position does not
  // stop a forward resume at once.
  ResumeStop resume(Direction direction, const EventFilter& events = {});

  // reverse-continue to the last moment before now that one of `breakpoints`
  // or `watchpoints` (ids 0: not the user's) matches, with the user's stop
  // points left out of the search and kept. Stands there; nullopt (standing
  // at the start) when there is none. For dataflow: the last write to some
  // bytes, the last time an instruction ran.
  std::optional<ResumeStop> reverse_to(std::vector<Breakpoint> breakpoints,
                                       std::vector<Watchpoint> watchpoints);
  // The last instruction before now that changed [addr, addr + len) (1 to 8
  // bytes); it stands on that instruction, not executed yet.
  std::optional<ResumeStop> last_change(uint64_t addr, uint64_t len);

  // The selected thread's instructions before now, oldest first, each with
  // its position and registers: at most `ticks` ticks back, and never before
  // the start of its current run (reverse-step looks through them). Leaves
  // the replay where it was.
  struct Executed {
    ReplayPosition position;
    Registers regs;
  };
  std::vector<Executed> recent_history(uint64_t ticks);
  // Whether recent_history(ticks) reaches back to the start of the run.
  bool history_reaches_run_start(uint64_t ticks) const;

  // The moment the replay stands at: the position of the thread whose run
  // is in progress, else of the selected thread.
  ReplayPosition now() const;
  // After a motion was abandoned halfway (Ctrl-C): back to `position`,
  // where it began, with a fresh copy of the replay.
  void recover(const ReplayPosition& position, int32_t thread);

 private:
  struct Match;
  class Conditions;
  ResumeStop resume_forward(const EventFilter& events);
  ResumeStop resume_backward(const EventFilter& events);
  // The backward search over records [begin, end) (and, when `last`, the
  // run in progress at `start`): the last moment matching `c` there.
  std::optional<ResumeStop> look_back(Conditions& c, const ReplayPosition& start, size_t begin,
                                      size_t end, bool last,
                                      const std::function<bool()>& before_start);
  // Steps all threads, instruction by instruction in the recorded order,
  // from the current state while `in_region` holds, checking `c` at every
  // instruction; returns the first match, or (want_last) the last one.
  std::optional<Match> scan(Conditions& c, const std::function<bool()>& in_region, bool want_last);
  ResumeStop stop_at(const Match& m);
  // A stop where the replay stands, selected thread, for the ends.
  ResumeStop stop_here(ResumeStop::Why why) const;
  // A new live engine, copied from the latest checkpoint at or before
  // `target` (or launched afresh without checkpoints).
  void restore(const ReplayPosition& target);
  void restore(size_t record) { restore(ReplayPosition{record, 0, 0, 0}); }
  // Makes the live engine able to reach `target` by going forward: restores
  // a checkpoint when the engine is past it (`behind`) or one lies nearer.
  void seek(const ReplayPosition& target, bool behind);
  // The record hook: keeps a checkpoint when it is time to.
  void keep_checkpoint();
  // One instruction of `tid` on a long walk of single steps (positions in
  // uninstrumented code, scans): every kWalkSteps, a checkpoint mid-run.
  bool walk_step(int32_t tid);
  void keep_walk_checkpoint();
  void stop_checkpointing(const std::string& why);
  void follow_next_thread();
  // Ticks of `vtid` at its last stop before record `record` (its run's start).
  uint64_t run_start_ticks(int32_t vtid, size_t record) const;

  struct Checkpoint {
    size_t record = 0;  // records [0, record) played, no run in progress
    int32_t thread = 0;
    std::unique_ptr<ReplayEngine> engine;  // stopped; only ever fork()ed
  };
  // The latest checkpoint at or before `record` (checkpoints_ not empty).
  std::vector<Checkpoint>::iterator latest_checkpoint(size_t record);

  const trace::Trace& trace_;
  TimeTravelOptions options_;
  size_t start_record_ = 2;
  std::vector<Checkpoint> checkpoints_;  // by record; [0] is the start
  // Checkpoints in the middle of a run (thread at.tid's), taken on long
  // walks of single steps; newest last, a few only.
  struct WalkCheckpoint {
    ReplayPosition at;
    std::unique_ptr<ReplayEngine> engine;
  };
  std::vector<WalkCheckpoint> walks_;
  uint64_t walked_ = 0;  // single steps since the last restore or walk checkpoint
  bool checkpointing_ = false;
  std::chrono::steady_clock::time_point last_checkpoint_;
  std::unique_ptr<ReplayEngine> engine_;
  int32_t thread_ = 0;
  std::vector<Breakpoint> breakpoints_;
  std::vector<Watchpoint> watchpoints_;
  int next_id_ = 1;
};

}  // namespace backstep::replayer
