#include "recorder/scheduler.h"

#include <algorithm>

namespace backstep::recorder {

Scheduler::Scheduler(const Options& options)
    : options_(options), rng_(options.seed), wall_rng_(options.seed ^ 0x77a11c10c4ull) {
  for (const ForcedSwitch& s : options.forced_switches) forced_[s.from].push_back(s);
}

bool Scheduler::chaos_scheduling() const { return options_.chaos && !options_.forced; }

void Scheduler::add_thread(pid_t tid) { priority_[tid] = chaos_scheduling() ? rng_() % 100 : 0; }

const ForcedSwitch* Scheduler::next_forced(int32_t vtid) const {
  auto it = forced_.find(vtid);
  return it == forced_.end() || it->second.empty() ? nullptr : &it->second.front();
}

int32_t Scheduler::take_forced(int32_t vtid, uint64_t ticks, uint64_t events, uint64_t syscalls) {
  auto it = forced_.find(vtid);
  if (it == forced_.end() || it->second.empty()) return 0;
  const ForcedSwitch& s = it->second.front();
  if (ticks < s.ticks || events < s.events) return 0;
  if (ticks == s.ticks && events == s.events && syscalls < s.syscalls) return 0;
  int32_t to = s.to;
  it->second.pop_front();
  return to;
}

void Scheduler::remove_thread(pid_t tid) { priority_.erase(tid); }

uint64_t Scheduler::next_timeslice() {
  if (!chaos_scheduling()) return options_.timeslice;
  // Short and varied slices: preemption lands at many different points.
  std::uniform_int_distribution<uint64_t> d(50, 20'000);
  return d(rng_);
}

std::chrono::microseconds Scheduler::next_wall_timeslice(bool newcomer_waiting) {
  std::chrono::microseconds slice = options_.wall_timeslice;
  if (slice.count() <= 0) return std::chrono::microseconds(0);
  if (newcomer_waiting) slice = std::min(slice, std::chrono::microseconds(5000));
  if (chaos_scheduling()) {
    // Anywhere from half the slice to all of it: shorter would interrupt
    // ordinary code between its syscalls, where a seed alone decides.
    auto n = static_cast<uint64_t>(slice.count());
    slice = std::chrono::microseconds(n / 2 + wall_rng_() % (n - n / 2 + 1));
  }
  return std::max(slice, std::chrono::microseconds(100));
}

uint64_t Scheduler::next_event_gap(uint64_t capacity) {
  if (!chaos_scheduling()) return capacity;
  return std::min<uint64_t>(capacity, 1 + rng_() % 48);
}

bool Scheduler::should_switch(trace::SwitchReason reason) {
  switch (reason) {
    case trace::SwitchReason::kBlocked:
    case trace::SwitchReason::kTimeslice:
    case trace::SwitchReason::kExited:
    case trace::SwitchReason::kYield:
    case trace::SwitchReason::kStart:
    case trace::SwitchReason::kInterrupt:
      return true;
    case trace::SwitchReason::kMapEvent:
      return chaos_scheduling() && rng_() % 2 == 0;
    case trace::SwitchReason::kChaos:
      return chaos_scheduling() && rng_() % 16 == 0;
  }
  return false;
}

pid_t Scheduler::pick(const std::vector<pid_t>& runnable, pid_t current) {
  std::vector<pid_t> others;
  for (pid_t t : runnable) {
    if (t != current) others.push_back(t);
  }
  const std::vector<pid_t>& from = others.empty() ? runnable : others;
  if (!chaos_scheduling()) {
    // Fair: the next thread after `current` in tid order, round robin.
    auto it = std::upper_bound(from.begin(), from.end(), current);
    if (it == from.end()) it = from.begin();
    return *it;
  }
  // Chaos: mostly the highest random priority, sometimes anyone, and
  // priorities reshuffle now and then so no thread starves for long.
  if (rng_() % 4 == 0) return from[rng_() % from.size()];
  if (rng_() % 32 == 0) {
    for (auto& [tid, prio] : priority_) prio = rng_() % 100;
  }
  return *std::max_element(from.begin(), from.end(),
                           [&](pid_t a, pid_t b) { return priority_[a] < priority_[b]; });
}

}  // namespace backstep::recorder
