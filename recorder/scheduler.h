// Who runs next. The recorder runs one thread at a time and asks the
// scheduler at every scheduling point; the answer is recorded, so replay
// never needs the scheduler, only the recording.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <random>
#include <vector>

#include "trace/events.h"

namespace backstep::recorder {

// A switch a forced schedule demands: when thread `from` (a tid as the
// program sees it) has reached `ticks` and published `events` map events,
// the recorder switches to `to` (if it can run). Positions are the thread's
// own progress, so they keep their meaning when other switches are dropped.
// At the same ticks and events, `syscalls` (the thread's traced syscall
// entries) tells apart the syscalls libc makes with no tick between them (a
// mutex's wake, then a condition variable's wait): the switch is due at the
// first scheduling point past (ticks, events), or at it from that syscall on.
struct ForcedSwitch {
  int32_t from = 0;
  int32_t to = 0;
  uint64_t ticks = 0;
  uint64_t events = 0;
  uint64_t syscalls = 0;
  bool at_limit = false;  // made at a tick or event limit (the thread is stopped there)
  bool at_event = false;  // that limit was the event limit (a map-event trap), else the tick limit
};

class Scheduler {
 public:
  struct Options {
    bool chaos = false;  // chaos scheduling; also: the program's randomness comes from the seed
    uint64_t seed = 0;
    uint64_t timeslice = 2'000'000;  // ticks; the fair default (~10 ms of map code)
    // How long a thread may run without a stop (in code without ticks:
    // uninstrumented code, libc) while another could run before the
    // recorder interrupts it (recorder/preemption.cc). Zero: never.
    std::chrono::microseconds wall_timeslice{10'000};
    // Forced mode (schedule minimization): only these switches, in each
    // thread's order; elsewhere a thread runs until it blocks or exits (or,
    // as a safety net against spinning, a fair timeslice ends) and the next
    // is picked round robin. The seed still drives the program's inputs.
    bool forced = false;
    std::vector<ForcedSwitch> forced_switches;
  };
  explicit Scheduler(const Options& options);

  // Whether the program's randomness and rdtsc come from the seed.
  bool chaos() const { return options_.chaos || options_.forced; }
  bool forced() const { return options_.forced; }
  const Options& options() const { return options_; }
  // Forced mode: the next switch point of thread `vtid`, if any.
  const ForcedSwitch* next_forced(int32_t vtid) const;
  // Forced mode: at a scheduling point of `vtid` at (ticks, events,
  // syscalls): the thread to switch to when its next forced switch is due
  // (consumed), else 0.
  int32_t take_forced(int32_t vtid, uint64_t ticks, uint64_t events, uint64_t syscalls);
  // How many map events a thread may publish before it traps (at most
  // `capacity`, its ring's size): chaos stops threads at random transitions.
  uint64_t next_event_gap(uint64_t capacity);
  void add_thread(pid_t tid);
  void remove_thread(pid_t tid);

  // A fresh timeslice, in ticks, for a thread being switched to.
  uint64_t next_timeslice();
  // The wall-clock timeslice of the next run (zero: no interrupts). Shorter
  // while a new thread waits for its first run: natively it would start
  // within microseconds on another CPU. Chaos varies it; an interrupt is
  // still a matter of the wall clock, so no seed reproduces where it lands.
  std::chrono::microseconds next_wall_timeslice(bool newcomer_waiting);

  // At a scheduling point of `current` (which may keep running): should it
  // yield? `forced` is set when it cannot continue (blocked, exited, its
  // slice ran out).
  bool should_switch(trace::SwitchReason reason);
  // Picks among `runnable` (never empty; sorted by tid). `current` is the
  // thread leaving, or 0.
  pid_t pick(const std::vector<pid_t>& runnable, pid_t current);

 private:
  bool chaos_scheduling() const;
  Options options_;
  std::mt19937_64 rng_;
  std::mt19937_64 wall_rng_;            // apart from rng_: interrupts do not shift seeded decisions
  std::map<pid_t, uint64_t> priority_;  // chaos: random priorities
  std::map<int32_t, std::deque<ForcedSwitch>> forced_;  // per thread, in its order
};

}  // namespace backstep::recorder
