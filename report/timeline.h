// What each thread did over the recording, as intervals and instants on one
// axis, for the HTML report's picture.
//
// There is no wall clock in a trace, so the axis is the recording's own
// order: record indexes. A thread's map events are drained in one MapEvents
// record at the end of its run; they are spread over that run by their tick
// counts (a run from record r0 at tick t0 to record r1 at tick t1 puts an
// event of tick t at r0 + (r1 - r0) * (t - t0) / (t1 - t0)), so that the
// order of transitions inside a run is kept.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "trace/trace_reader.h"

namespace backstep::report {

struct Interval {
  double begin = 0;
  double end = 0;
};

struct Instant {
  double at = 0;
  std::string label;
};

struct Lane {
  int32_t tid = 0;
  std::vector<Interval> running;
  std::vector<Interval> writing;    // hashWriting held (set .. cleared)
  std::vector<Interval> iterating;  // iterator start .. its last step
  std::vector<Instant> syscalls;
  std::vector<Instant> growth;  // growth start and finish
};

// The flag set and the check that saw it.
struct Arrow {
  int32_t from_tid = 0;
  double from = 0;
  int32_t to_tid = 0;
  double to = 0;
};

struct Timeline {
  double begin = 0;  // the axis: record indexes
  double end = 0;
  std::vector<Lane> lanes;  // one per thread, in order of first appearance
  std::optional<Instant> panic;
  int32_t panic_tid = 0;
  std::optional<Arrow> arrow;
};

// Builds the lanes of every thread of `trace`. `setter` and `fatal` (a
// thread's per-thread event sequence numbers) place the arrow and the panic
// mark when given.
struct TimelineMarks {
  std::optional<std::pair<int32_t, uint64_t>> setter;  // tid, seq
  std::optional<std::pair<int32_t, uint64_t>> fatal;   // tid, seq
  std::optional<std::pair<int32_t, size_t>> signal;    // tid, record of the signal stop
  std::string panic_label;
};
Timeline build_timeline(const trace::Trace& trace, const TimelineMarks& marks);

}  // namespace backstep::report
