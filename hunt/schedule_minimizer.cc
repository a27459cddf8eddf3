#include "hunt/schedule_minimizer.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <variant>

#include "base/errors.h"
#include "base/interrupt.h"
#include "hunt/recording_job.h"
#include "trace/trace_dir.h"

namespace backstep::hunt {
namespace fs = std::filesystem;
using recorder::ForcedSwitch;

std::vector<ForcedSwitch> forced_switches_of(const trace::Trace& trace) {
  std::map<int32_t, const trace::Stop*> last;  // per thread, its last stop
  std::map<int32_t, uint64_t> events;          // per thread, map events published
  std::map<int32_t, uint64_t> syscalls;        // per thread, syscall entries
  std::vector<ForcedSwitch> out;
  for (const trace::Event& e : trace.events()) {
    if (const auto* s = std::get_if<trace::Stop>(&e)) {
      last[s->tid] = s;
      if (s->kind == trace::StopKind::kSyscallEntry) syscalls[s->tid]++;
    } else if (const auto* m = std::get_if<trace::MapEvents>(&e)) {
      for (const abi::MapEvent& ev : m->events) events[static_cast<int32_t>(ev.tid)]++;
    } else if (const auto* sw = std::get_if<trace::Switch>(&e)) {
      if (sw->from == 0 || sw->from == sw->to) continue;
      ForcedSwitch f;
      f.from = sw->from;
      f.to = sw->to;
      const trace::Stop* at = last[sw->from];
      f.ticks = at ? at->ticks : 0;
      f.events = events[sw->from];
      f.syscalls = syscalls[sw->from];
      // Made where the thread was stopped by a limit: replay stops it there
      // again, by the same limit; the others come at a syscall, found by the
      // first scheduling point at or past the same position.
      if (at && at->kind == trace::StopKind::kTrap) {
        auto why = static_cast<abi::TrapReason>(at->value);
        f.at_limit = why == abi::TrapReason::kTickLimit || why == abi::TrapReason::kMapEvent;
        f.at_event = why == abi::TrapReason::kMapEvent;
      }
      out.push_back(f);
    }
  }
  return out;
}

std::vector<ForcedSwitch> switches_before_failure(const trace::Trace& trace) {
  const auto& ev = trace.events();
  // The record that tells the failure: the batch holding the kFatal event,
  // else the last signal stop (a fault, an abort).
  size_t failure = ev.size();
  for (size_t i = 0; i < ev.size() && failure == ev.size(); ++i) {
    if (const auto* m = std::get_if<trace::MapEvents>(&ev[i])) {
      for (const abi::MapEvent& e : m->events) {
        if (e.kind == static_cast<uint8_t>(abi::MapEventKind::kFatal)) failure = i;
      }
    }
  }
  if (failure == ev.size()) {
    for (size_t i = ev.size(); i-- > 0;) {
      const auto* s = std::get_if<trace::Stop>(&ev[i]);
      if (s && s->kind == trace::StopKind::kSignal) {
        failure = i;
        break;
      }
    }
  }
  size_t before = 0;  // switches recorded before that record
  for (size_t i = 0; i < failure; ++i) {
    if (const auto* sw = std::get_if<trace::Switch>(&ev[i]);
        sw && sw->from != 0 && sw->from != sw->to) {
      ++before;
    }
  }
  std::vector<ForcedSwitch> all = forced_switches_of(trace);
  all.resize(std::min(all.size(), before));
  return all;
}

std::chrono::steady_clock::duration ScheduleMinimizer::candidate_time() const {
  std::chrono::steady_clock::duration t = options_.timeout;
  if (!options_.budget) return t;
  auto left = started_ + *options_.budget - std::chrono::steady_clock::now();
  if (left <= std::chrono::steady_clock::duration::zero()) return {};
  return std::min(t, left);
}

bool ScheduleMinimizer::fails_the_same_way(const std::vector<ForcedSwitch>& schedule) {
  check_interrupt();
  const bool own = candidates_ == 0;  // the recording's own schedule: always tried
  std::chrono::steady_clock::duration time = own ? options_.timeout : candidate_time();
  if (budget_used_up_ || time <= std::chrono::steady_clock::duration::zero()) {
    budget_used_up_ = true;
    return false;
  }
  ++candidates_;
  fs::path dir = scratch_ / fmt::format("candidate-{}", candidates_);
  recorder::RecordOptions ro;
  ro.program.exe = header_.exe;
  ro.program.argv = header_.argv;
  ro.program.envp = header_.envp;
  ro.program.cwd = header_.cwd;
  ro.trace_dir = trace::TraceDir::create_new(dir).path();
  ro.scheduler.chaos = header_.scheduler != "fair";
  ro.scheduler.seed = header_.seed;
  ro.scheduler.forced = true;
  ro.scheduler.forced_switches = schedule;
  RecordingJob job(ro, fs::path(dir.string() + ".log"), time);
  RunOutcome o = job.wait();
  bool same = false;
  last_outcome_ = describe(o);
  // Killed because the budget ran out, not because it hung: no verdict.
  if (o.timed_out && time < options_.timeout) budget_used_up_ = true;
  if (o.error.empty() && !o.timed_out && fs::exists(dir / "events")) {
    try {
      auto f = FailureSite::of_trace(dir);
      same = f && f->same_as(target_);
      if (f && !same) last_outcome_ = f->describe();
    } catch (const Error& e) {
      same = false;
      last_outcome_ = e.what();
    }
  }
  std::error_code ec;
  fs::remove(fs::path(dir.string() + ".log"), ec);
  if (same) {
    if (!best_trace_.empty()) fs::remove_all(best_trace_, ec);
    best_trace_ = dir;
  } else {
    fs::remove_all(dir, ec);
  }
  if (progress_) progress_(candidates_, schedule.size());
  return same;
}

std::vector<ForcedSwitch> ScheduleMinimizer::shortest_failing_suffix(
    std::vector<ForcedSwitch> all) {
  size_t lo = 0, hi = all.size();  // the last lo do not fail (the empty schedule), the last hi do
  while (hi - lo > 1 && !budget_used_up_) {
    size_t mid = lo + (hi - lo) / 2;
    if (fails_the_same_way(
            std::vector<ForcedSwitch>(all.end() - static_cast<std::ptrdiff_t>(mid), all.end()))) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return std::vector<ForcedSwitch>(all.end() - static_cast<std::ptrdiff_t>(hi), all.end());
}

// ddmin: split into n parts; keep a part, or a complement, that still fails;
// else split finer. Ends 1-minimal: dropping any one switch loses the failure.
std::vector<ForcedSwitch> ScheduleMinimizer::ddmin(std::vector<ForcedSwitch> all) {
  auto subset = [&](size_t from, size_t to, bool complement) {
    std::vector<ForcedSwitch> out;
    for (size_t i = 0; i < all.size(); ++i) {
      bool inside = i >= from && i < to;
      if (inside != complement) out.push_back(all[i]);
    }
    return out;
  };
  size_t n = 2;
  while (all.size() >= 2 && !budget_used_up_) {
    size_t chunk = (all.size() + n - 1) / n;
    bool reduced = false;
    for (size_t start = 0; start < all.size() && !reduced; start += chunk) {
      auto part = subset(start, start + chunk, false);
      if (fails_the_same_way(part)) {
        all = std::move(part);
        n = 2;
        reduced = true;
      }
    }
    for (size_t start = 0; start < all.size() && !reduced && n > 2; start += chunk) {
      auto rest = subset(start, start + chunk, true);
      if (fails_the_same_way(rest)) {
        all = std::move(rest);
        n = std::max<size_t>(n - 1, 2);
        reduced = true;
      }
    }
    if (reduced) continue;
    if (n >= all.size()) break;
    n = std::min(all.size(), 2 * n);
  }
  return all;
}

MinimizeResult ScheduleMinimizer::run() {
  trace::Trace original = trace::Trace::load(options_.trace);
  header_ = original.header();
  auto target = FailureSite::of_trace(options_.trace);
  if (!target || (target->exited && target->code == 0 && target->fatal_message.empty())) {
    throw Error("minimize: " + options_.trace.string() + " did not fail; nothing to shrink");
  }
  target_ = *target;
  if (fs::exists(options_.output)) {
    throw Error("minimize: " + options_.output.string() + " already exists");
  }
  scratch_ = fs::path(options_.output.string() + ".work");
  fs::remove_all(scratch_);
  fs::create_directories(scratch_);
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{scratch_};

  started_ = std::chrono::steady_clock::now();
  std::vector<ForcedSwitch> all = switches_before_failure(original);
  MinimizeResult r;
  r.original = all.size();
  // The recording's own schedule, forced, must fail the same way first; the
  // empty schedule is tried next, as it often suffices for simple races,
  // then the shortest failing suffix, which ddmin shrinks further.
  if (!fails_the_same_way(all)) {
    throw Error(fmt::format(
        "minimize: the recording's own {} switches, forced, do not fail the same way: the "
        "recording ended with {}, the forced run with {}",
        all.size(), target_.describe(), last_outcome_));
  }
  if (!all.empty() && fails_the_same_way({})) all.clear();
  if (!all.empty()) all = ddmin(shortest_failing_suffix(std::move(all)));
  r.schedule = std::move(all);
  r.remaining = r.schedule.size();
  r.failure = target_;
  r.candidates = candidates_;
  r.budget_used_up = budget_used_up_;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  fs::rename(best_trace_, options_.output);
  r.output = options_.output;
  return r;
}

}  // namespace backstep::hunt
