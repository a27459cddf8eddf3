// `backstep export --format jsonl`: one JSON object per line for every
// record (and every map event of a MapEvents record), with every field of
// the trace format; trace::to_json(JsonDetail::kFull) is the serializer.
#pragma once

#include <ostream>

#include "trace/trace_reader.h"

namespace backstep::share {

void write_jsonl(const trace::Trace& trace, std::ostream& out);

}  // namespace backstep::share
