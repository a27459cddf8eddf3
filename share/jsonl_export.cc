#include "share/jsonl_export.h"

#include "trace/event_format.h"

namespace backstep::share {

void write_jsonl(const trace::Trace& trace, std::ostream& out) {
  const auto& events = trace.events();
  for (size_t i = 0; i < events.size(); ++i) {
    for (const auto& j : trace::to_json(events[i], i, trace::JsonDetail::kFull)) {
      out << j.dump() << '\n';
    }
  }
}

}  // namespace backstep::share
