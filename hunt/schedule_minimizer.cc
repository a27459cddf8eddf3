#include "hunt/schedule_minimizer.h"

#include <fmt/core.h>
#include <unistd.h>

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
  std::map<int32_t, uint64_t> ticks;   // per thread, at its last stop
  std::map<int32_t, uint64_t> events;  // per thread, map events published
  std::vector<ForcedSwitch> out;
  for (const trace::Event& e : trace.events()) {
    if (const auto* s = std::get_if<trace::Stop>(&e)) {
      ticks[s->tid] = s->ticks;
    } else if (const auto* m = std::get_if<trace::MapEvents>(&e)) {
      for (const abi::MapEvent& ev : m->events) events[static_cast<int32_t>(ev.tid)]++;
    } else if (const auto* sw = std::get_if<trace::Switch>(&e)) {
      if (sw->from == 0 || sw->from == sw->to) continue;
      ForcedSwitch f;
      f.from = sw->from;
      f.to = sw->to;
      f.ticks = ticks[sw->from];
      f.events = events[sw->from];
      // Made where the thread was stopped by a limit: replay stops it there
      // again; the others come at a syscall, found by the first scheduling
      // point at or past the same position.
      f.at_limit = sw->reason == trace::SwitchReason::kTimeslice ||
                   sw->reason == trace::SwitchReason::kMapEvent;
      out.push_back(f);
    }
  }
  return out;
}

bool ScheduleMinimizer::fails_the_same_way(const std::vector<ForcedSwitch>& schedule) {
  check_interrupt();
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
  RecordingJob job(ro, fs::path(dir.string() + ".log"), options_.timeout);
  RunOutcome o = job.wait();
  bool same = false;
  last_outcome_ = describe(o);
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
  while (all.size() >= 2) {
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
  if (all.size() == 1 && fails_the_same_way({})) all.clear();
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

  std::vector<ForcedSwitch> all = forced_switches_of(original);
  MinimizeResult r;
  r.original = all.size();
  // The recording's own schedule, forced, must fail the same way first; the
  // empty schedule is tried next, as it often suffices for simple races.
  if (!fails_the_same_way(all)) {
    throw Error(fmt::format(
        "minimize: the recording's own {} switches, forced, do not fail the same way: the "
        "recording ended with {}, the forced run with {}",
        all.size(), target_.describe(), last_outcome_));
  }
  if (!all.empty() && fails_the_same_way({})) all.clear();
  r.schedule = ddmin(std::move(all));
  r.remaining = r.schedule.size();
  r.failure = target_;
  r.candidates = candidates_;
  fs::rename(best_trace_, options_.output);
  r.output = options_.output;
  return r;
}

}  // namespace backstep::hunt
