#include "report/timeline.h"

#include <fmt/core.h>

#include <algorithm>
#include <map>

#include "syscalls/syscall_table.h"

namespace backstep::report {
namespace {

using Kind = abi::MapEventKind;

bool is(const abi::MapEvent& e, Kind k) { return e.kind == static_cast<uint8_t>(k); }

// Where a thread's current run started on the axis, and at which tick.
struct RunStart {
  size_t record = 0;
  uint64_t ticks = 0;
};

// Per-thread state while walking the records.
struct ThreadWalk {
  std::optional<double> running_since;
  std::optional<double> writing_since;
  std::optional<double> iterating_since;
  double last_iter_step = 0;
};

class TimelineBuilder {
 public:
  TimelineBuilder(const trace::Trace& trace, const TimelineMarks& marks)
      : trace_(trace), marks_(marks) {}

  Timeline build() {
    const auto& ev = trace_.events();
    timeline_.begin = 2;  // after Header and Exec
    timeline_.end = static_cast<double>(ev.size());
    start_running(trace_.exec().tid, 2);
    for (size_t i = 2; i < ev.size(); ++i) {
      if (const auto* s = std::get_if<trace::Stop>(&ev[i])) {
        on_stop(*s, i);
      } else if (const auto* w = std::get_if<trace::Switch>(&ev[i])) {
        on_switch(*w, i);
      } else if (const auto* m = std::get_if<trace::MapEvents>(&ev[i])) {
        on_map_events(*m, i);
      }
    }
    for (auto& [tid, walk] : walks_) close_all(tid, walk, timeline_.end);
    if (marks_.signal && !timeline_.panic) {
      timeline_.panic = Instant{static_cast<double>(marks_.signal->second), marks_.panic_label};
      timeline_.panic_tid = marks_.signal->first;
    }
    return std::move(timeline_);
  }

 private:
  Lane& lane(int32_t tid) {
    for (auto& l : timeline_.lanes) {
      if (l.tid == tid) return l;
    }
    timeline_.lanes.push_back(Lane{tid, {}, {}, {}, {}, {}});
    return timeline_.lanes.back();
  }

  void start_running(int32_t tid, size_t record) {
    lane(tid);
    ThreadWalk& w = walks_[tid];
    if (!w.running_since) w.running_since = static_cast<double>(record);
    run_start_[tid].record = record;
  }

  void stop_running(int32_t tid, double at) {
    ThreadWalk& w = walks_[tid];
    if (w.running_since) {
      lane(tid).running.push_back({*w.running_since, at});
      w.running_since.reset();
    }
  }

  void on_stop(const trace::Stop& s, size_t i) {
    lane(s.tid);
    run_start_[s.tid] = {i, s.ticks};
    if (s.kind == trace::StopKind::kSyscallEntry) {
      lane(s.tid).syscalls.push_back(
          {static_cast<double>(i), std::string(sys::syscall_name(s.value))});
    } else if (s.kind == trace::StopKind::kClone) {
      lane(static_cast<int32_t>(s.value));  // the lane exists from the thread's birth
    } else if (s.kind == trace::StopKind::kExit) {
      stop_running(s.tid, static_cast<double>(i));
    }
  }

  void on_switch(const trace::Switch& w, size_t i) {
    if (w.from) stop_running(w.from, static_cast<double>(i));
    if (w.to) start_running(w.to, i);
  }

  // The ticks the thread had at the stop that drained this batch.
  uint64_t drain_ticks(int32_t tid, size_t batch) const {
    const auto& ev = trace_.events();
    for (size_t k = batch + 1; k < ev.size(); ++k) {
      if (const auto* s = std::get_if<trace::Stop>(&ev[k]); s && s->tid == tid) return s->ticks;
    }
    return 0;
  }

  void on_map_events(const trace::MapEvents& m, size_t i) {
    if (m.events.empty()) return;
    const auto tid = static_cast<int32_t>(m.events.front().tid);
    RunStart start = run_start_[tid];
    uint64_t end_ticks = drain_ticks(tid, i);
    auto place = [&](const abi::MapEvent& e) {
      double span = static_cast<double>(i - std::min(start.record, i));
      if (end_ticks <= start.ticks || e.ticks <= start.ticks)
        return static_cast<double>(start.record);
      double f =
          static_cast<double>(e.ticks - start.ticks) / static_cast<double>(end_ticks - start.ticks);
      return static_cast<double>(start.record) + span * std::min(f, 1.0);
    };
    for (const abi::MapEvent& e : m.events) on_map_event(e, place(e));
  }

  void on_map_event(const abi::MapEvent& e, double x) {
    const auto tid = static_cast<int32_t>(e.tid);
    ThreadWalk& w = walks_[tid];
    Lane& l = lane(tid);
    if (is(e, Kind::kWriteBegin)) {
      w.writing_since = x;
    } else if (is(e, Kind::kWriteEnd) && w.writing_since) {
      l.writing.push_back({*w.writing_since, x});
      w.writing_since.reset();
    } else if (is(e, Kind::kIterStart)) {
      if (w.iterating_since) l.iterating.push_back({*w.iterating_since, w.last_iter_step});
      w.iterating_since = x;
      w.last_iter_step = x;
    } else if (is(e, Kind::kIterStep)) {
      w.last_iter_step = x;
    } else if (is(e, Kind::kGrowStart)) {
      l.growth.push_back(
          {x, fmt::format("growth B {}->{}{}", e.arg0, e.arg1, e.arg2 ? " (same size)" : "")});
    } else if (is(e, Kind::kGrowFinish)) {
      l.growth.push_back({x, "growth finished"});
    }
    std::pair<int32_t, uint64_t> id{tid, e.seq};
    if (marks_.setter == id) setter_at_ = x;
    if (is(e, Kind::kFatal) && marks_.fatal == id) {
      timeline_.panic = Instant{x, marks_.panic_label};
      timeline_.panic_tid = tid;
      if (marks_.setter && setter_at_) {
        timeline_.arrow = Arrow{marks_.setter->first, *setter_at_, tid, x};
      }
      w.last_iter_step = x;
    }
  }

  void close_all(int32_t tid, ThreadWalk& w, double at) {
    Lane& l = lane(tid);
    stop_running(tid, at);
    if (w.writing_since) l.writing.push_back({*w.writing_since, at});
    if (w.iterating_since) l.iterating.push_back({*w.iterating_since, w.last_iter_step});
  }

  const trace::Trace& trace_;
  const TimelineMarks& marks_;
  Timeline timeline_;
  std::map<int32_t, ThreadWalk> walks_;
  std::map<int32_t, RunStart> run_start_;
  std::optional<double> setter_at_;
};

}  // namespace

Timeline build_timeline(const trace::Trace& trace, const TimelineMarks& marks) {
  return TimelineBuilder(trace, marks).build();
}

}  // namespace backstep::report
