// `backstep export --format chrome`: a recording as Chrome trace-event JSON,
// which the Perfetto UI and chrome://tracing open directly. The time axis,
// the tracks and the mapping of every record are in docs/export-formats.md.
#pragma once

#include <nlohmann/json.hpp>

#include "trace/trace_reader.h"

namespace backstep::share {

// Microseconds on the exported time axis: one per fact (a record, or one
// map event of a MapEvents record) in recording order, so the axis is
// monotonic and every thread's slices keep the order the recorder saw.
using FactTime = uint64_t;

// The whole `{"traceEvents": [...], ...}` document.
nlohmann::json chrome_trace(const trace::Trace& trace);

}  // namespace backstep::share
