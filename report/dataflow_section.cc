// The report's "Where the bad value came from" section (report/crash_dataflow.h).
#include <fmt/core.h>

#include "report/document.h"

namespace backstep::report {
namespace {

std::string value_text(const std::optional<uint64_t>& v) {
  return v ? fmt::format("{:#x}", *v) : "?";
}

// What the step did with the value, in words.
std::string step_action(const DataflowStepView& s) {
  if (s.kind == "use") {
    if (s.reg.empty()) return fmt::format("reads {} at {:#x}", value_text(s.value), s.addr);
    return s.addr ? fmt::format("uses {} = {} to access {:#x}", s.reg, value_text(s.value), s.addr)
                  : fmt::format("uses {} = {}", s.reg, value_text(s.value));
  }
  if (s.kind == "load") {
    return fmt::format("reads {} from {:#x} into {}", value_text(s.value), s.addr, s.reg);
  }
  if (s.kind == "store") {
    return fmt::format("writes {} to {:#x}{}", value_text(s.value), s.addr,
                       s.reg.empty() ? "" : " from " + s.reg);
  }
  return fmt::format("makes the value of {}", s.reg);
}

}  // namespace

void dataflow_section(const CrashReport& r, DocumentWriter& w) {
  if (r.dataflow.empty() && r.dataflow_error.empty()) return;
  w.heading("Where the bad value came from");
  if (!r.dataflow_error.empty()) {
    w.paragraph(fmt::format("backstep could not follow the value back: {}", r.dataflow_error));
    return;
  }
  w.paragraph(
      "Followed back through the recording, latest first: the register that held the value, "
      "the instruction that loaded it, the last write to that memory before the load (in "
      "whichever thread made it), and so on until the value was made.");
  for (const ValueOrigin& o : r.dataflow) {
    w.subheading(o.subject);
    if (o.writer) {
      const DataflowStepView& s = o.steps[*o.writer];
      w.paragraph(fmt::format("Thread {} wrote {} to {:#x} at {}: `{}`.", s.tid,
                              value_text(s.value), s.addr, s.location.text, s.instruction));
      w.field("written at", fmt::format("{} (backstep replay {} -ex 'goto {}')", s.position,
                                        r.trace_dir, s.position));
    }
    if (!o.steps.empty()) {
      w.field("walk ended", fmt::format("{}, in {}", o.origin, o.steps.back().location.text));
    }
    std::vector<CodeLine> lines;
    for (size_t i = 0; i < o.steps.size(); ++i) {
      const DataflowStepView& s = o.steps[i];
      lines.push_back({fmt::format("{:<5} thread {} at {}: {}    ; {}", s.kind, s.tid, s.position,
                                   s.instruction, step_action(s)),
                       o.writer == i});
      lines.push_back({fmt::format("      in {}", s.location.text), false});
      for (const std::string& v : s.via)
        lines.push_back({fmt::format("      before: {}", v), false});
    }
    w.code(lines);
  }
}

}  // namespace backstep::report
