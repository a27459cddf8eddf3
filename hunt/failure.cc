#include "hunt/failure.h"

#include <fmt/core.h>
#include <string.h>

#include <variant>

#include "base/errors.h"
#include "trace/trace_reader.h"

namespace backstep::hunt {

Until parse_until(const std::string& name) {
  if (name == "fail") return Until::kFail;
  if (name == "fatal") return Until::kFatal;
  if (name == "signal") return Until::kSignal;
  if (name == "nonzero") return Until::kNonzero;
  if (name == "hang") return Until::kHang;
  throw Error("--until " + name + ": expected fail, fatal, signal, nonzero or hang");
}

const char* until_name(Until u) {
  switch (u) {
    case Until::kFail:
      return "fail";
    case Until::kFatal:
      return "fatal";
    case Until::kSignal:
      return "signal";
    case Until::kNonzero:
      return "nonzero";
    case Until::kHang:
      return "hang";
  }
  return "?";
}

bool is_failure(const RunOutcome& o, Until until) {
  if (!o.error.empty()) return false;
  if (o.timed_out) return until == Until::kHang;
  switch (until) {
    case Until::kFail:
      return !o.exited || o.code != 0 || !o.fatal_message.empty();
    case Until::kFatal:
      return !o.fatal_message.empty();
    case Until::kSignal:
      return !o.exited;
    case Until::kNonzero:
      return o.exited && o.code != 0;
    case Until::kHang:
      return false;
  }
  return false;
}

static std::string ending(bool exited, int code) {
  if (exited) return fmt::format("exited with status {}", code);
  const char* name = sigabbrev_np(code);
  return fmt::format("killed by SIG{} ({})", name ? name : "?", code);
}

std::string describe(const RunOutcome& o) {
  if (!o.error.empty()) return "recording error: " + o.error;
  if (o.timed_out) return "hang (killed by --timeout)";
  if (!o.fatal_message.empty())
    return "fatal error: " + o.fatal_message + ", " + ending(o.exited, o.code);
  return ending(o.exited, o.code);
}

bool FailureSite::same_as(const FailureSite& o) const {
  return exited == o.exited && code == o.code && fatal_message == o.fatal_message &&
         has_site == o.has_site && site == o.site;
}

std::string FailureSite::describe() const {
  std::string what = fatal_message.empty()
                         ? ending(exited, code)
                         : "fatal error: " + fatal_message + ", " + ending(exited, code);
  if (has_site) what += fmt::format(" at {:#x}", site);
  return what;
}

std::optional<FailureSite> FailureSite::of_trace(const std::filesystem::path& dir) {
  trace::Trace t = trace::Trace::load(dir);
  const trace::End* end = t.end();
  if (!end) return std::nullopt;
  FailureSite f;
  f.exited = end->exited;
  f.code = end->code;
  f.fatal_message = end->fatal_message;
  // The site: the map's fatal event when there is one, else the pc of the
  // last signal stop (the fault).
  for (const trace::Event& e : t.events()) {
    if (const auto* m = std::get_if<trace::MapEvents>(&e)) {
      for (const abi::MapEvent& ev : m->events) {
        if (ev.kind == static_cast<uint8_t>(abi::MapEventKind::kFatal)) {
          f.site = ev.site;
          f.has_site = true;
        }
      }
    }
  }
  if (!f.has_site && !f.exited) {
    for (const trace::Event& e : t.events()) {
      if (const auto* s = std::get_if<trace::Stop>(&e); s && s->kind == trace::StopKind::kSignal) {
        f.site = s->regs.rip;
        f.has_site = true;
      }
    }
  }
  return f;
}

}  // namespace backstep::hunt
