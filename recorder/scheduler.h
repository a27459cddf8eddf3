// Who runs next. The recorder runs one thread at a time and asks the
// scheduler at every scheduling point; the answer is recorded, so replay
// never needs the scheduler, only the recording.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "trace/events.h"

namespace backstep::recorder {

class Scheduler {
 public:
  struct Options {
    bool chaos = false;
    uint64_t seed = 0;
    uint64_t timeslice = 2'000'000;  // ticks; the fair default (~10 ms of map code)
  };
  explicit Scheduler(const Options& options);

  bool chaos() const { return options_.chaos; }
  // How many map events a thread may publish before it traps (at most
  // `capacity`, its ring's size): chaos stops threads at random transitions.
  uint64_t next_event_gap(uint64_t capacity);
  void add_thread(pid_t tid);
  void remove_thread(pid_t tid);

  // A fresh timeslice, in ticks, for a thread being switched to.
  uint64_t next_timeslice();

  // At a scheduling point of `current` (which may keep running): should it
  // yield? `forced` is set when it cannot continue (blocked, exited, its
  // slice ran out).
  bool should_switch(trace::SwitchReason reason);
  // Picks among `runnable` (never empty; sorted by tid). `current` is the
  // thread leaving, or 0.
  pid_t pick(const std::vector<pid_t>& runnable, pid_t current);

 private:
  Options options_;
  std::mt19937_64 rng_;
  std::map<pid_t, uint64_t> priority_;  // chaos: random priorities
};

}  // namespace backstep::recorder
