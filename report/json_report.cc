// The report for tools; docs/report-schema.md is its contract.
#include "report/render.h"
#include "trace/event_format.h"

namespace backstep::report {
namespace {

using nlohmann::json;

json location_json(const CodeLocation& c) {
  json j{{"pc", c.pc}, {"function", c.function}, {"module", c.module}, {"text", c.text}};
  j["file"] = c.file.empty() ? json(nullptr) : json(c.file);
  j["line"] = c.file.empty() ? json(nullptr) : json(c.line);
  return j;
}

json frames_json(const std::vector<CodeLocation>& frames) {
  json out = json::array();
  for (const auto& f : frames) {
    json j = location_json(f);
    j["inlined"] = f.inlined;
    out.push_back(std::move(j));
  }
  return out;
}

json name_json(const std::string& name) { return name.empty() ? json(nullptr) : json(name); }

json source_json(const std::optional<SourceExcerpt>& s) {
  if (!s) return nullptr;
  json lines = json::array();
  for (const auto& [n, text] : s->lines) lines.push_back({{"line", n}, {"text", text}});
  return {{"file", s->file}, {"line", s->line}, {"lines", lines}};
}

// "iterate", "PutAll -> assign": the operation chain without growth steps.
std::string operation_name(abi::MapOp op, abi::MapOp outer) {
  std::string name = trace::map_op_name(static_cast<uint8_t>(op));
  if (outer != abi::MapOp::kNone) {
    name = std::string(trace::map_op_name(static_cast<uint8_t>(outer))) + " -> " + name;
  }
  return name;
}

json calls_json(const std::vector<OperationCall>& calls) {
  json out = json::array();
  for (const OperationCall& c : calls) {
    auto pairs = [](const std::vector<std::pair<std::string, std::string>>& list) {
      json arr = json::array();
      for (const auto& [name, value] : list) arr.push_back({{"name", name}, {"value", value}});
      return arr;
    };
    out.push_back(
        {{"function", c.function}, {"arguments", pairs(c.arguments)}, {"entry", pairs(c.entry)}});
  }
  return out;
}

json failure_json(const Failure& f) {
  json disassembly = json::array();
  for (const auto& l : f.disassembly) {
    disassembly.push_back(
        {{"address", l.address}, {"text", l.text}, {"current", l.current}, {"note", l.note}});
  }
  return {{"kind", f.map_fatal ? "map_fatal" : "signal"},
          {"what", f.what},
          {"thread", f.tid},
          {"thread_name", name_json(f.thread_name)},
          {"position", f.position},
          {"record", f.record},
          {"pc", f.pc},
          {"instruction", f.instruction},
          {"location", location_json(f.location)},
          {"source", source_json(f.source)},
          {"disassembly", disassembly},
          {"backtrace", frames_json(f.backtrace)},
          {"map", f.map_fatal ? json(f.map) : json(nullptr)},
          {"operation", f.map_fatal ? json(operation_name(f.op, f.outer_op)) : json(nullptr)},
          {"last_stderr", f.last_stderr.empty() ? json(nullptr) : json(f.last_stderr)},
          {"calls", calls_json(f.calls)}};
}

json setter_json(const Setter& s) {
  return {{"thread", s.tid},
          {"thread_name", name_json(s.thread_name)},
          {"operation", s.operation},
          {"in_put_all", s.in_put_all},
          {"position", s.position.empty() ? json(nullptr) : json(s.position)},
          {"position_error", s.position_error.empty() ? json(nullptr) : json(s.position_error)},
          {"record", s.record},
          {"ticks", s.ticks},
          {"pc", s.pc ? json(s.pc) : json(nullptr)},
          {"instruction", s.instruction.empty() ? json(nullptr) : json(s.instruction)},
          {"site", location_json(s.site)},
          {"source", source_json(s.source)},
          {"backtrace", frames_json(s.backtrace)},
          {"calls", calls_json(s.calls)}};
}

json dataflow_json(const CrashReport& r) {
  json out = json::array();
  for (const ValueOrigin& o : r.dataflow) {
    json steps = json::array();
    for (const DataflowStepView& s : o.steps) {
      steps.push_back({{"kind", s.kind},
                       {"thread", s.tid},
                       {"position", s.position},
                       {"location", location_json(s.location)},
                       {"instruction", s.instruction},
                       {"register", s.reg.empty() ? json(nullptr) : json(s.reg)},
                       {"addr", s.addr ? json(s.addr) : json(nullptr)},
                       {"len", s.addr ? json(s.len) : json(nullptr)},
                       {"value", s.value ? json(*s.value) : json(nullptr)},
                       {"via", s.via}});
    }
    out.push_back({{"subject", o.subject},
                   {"origin", o.origin},
                   {"complete", o.complete},
                   {"writer", o.writer ? json(*o.writer) : json(nullptr)},
                   {"steps", steps}});
  }
  return out;
}

json run_json(const RunSummary& r) {
  return {{"threads", r.threads},
          {"records", r.records},
          {"stops", r.stops},
          {"syscalls", r.syscalls},
          {"switches", r.switches},
          {"map_events", r.map_events},
          {"map_operations", r.map_operations},
          {"put_all_assigns", r.put_all_assigns},
          {"iterations", r.iterations},
          {"growths", r.growths},
          {"ended", r.ended},
          {"exited", r.exited},
          {"exit_code", r.exited ? json(r.code) : json(nullptr)},
          {"signal", r.ended && !r.exited ? json(r.code) : json(nullptr)},
          {"interrupted", r.interrupted},
          {"truncated", r.truncated},
          {"ending", r.ending},
          {"fatal_message", r.fatal_message}};
}

std::string outcome(const CrashReport& r) {
  if (r.failure) return r.failure->map_fatal ? "map_fatal" : "signal";
  if (r.ended_normally) return "ended_normally";
  if (r.run.interrupted) return "interrupted";
  return "truncated";
}

}  // namespace

json to_json(const CrashReport& r) {
  json recent = json::array();
  for (const auto& e : r.recent) {
    recent.push_back({{"record", e.record}, {"type", e.type}, {"text", e.text}, {"event", e.json}});
  }
  json fixes = json::array();
  for (const auto& f : r.fixes) {
    fixes.push_back({{"id", f.id},
                     {"title", f.title},
                     {"steps", f.steps},
                     {"example", f.example},
                     {"seed_section", f.seed_section}});
  }
  return {{"schema", "backstep-report/1"},
          {"trace",
           {{"dir", r.trace_dir},
            {"program", r.program},
            {"argv", r.argv},
            {"cpu", r.cpu},
            {"scheduler", r.scheduler},
            {"seed", r.seed},
            {"environment_redacted",
             r.environment_redacted ? json(*r.environment_redacted) : json(nullptr)}}},
          {"outcome", outcome(r)},
          {"ended_normally", r.ended_normally},
          {"run", run_json(r.run)},
          {"failure", r.failure ? failure_json(*r.failure) : json(nullptr)},
          {"investigation_error",
           r.investigation_error.empty() ? json(nullptr) : json(r.investigation_error)},
          {"setter", r.setter ? setter_json(*r.setter) : json(nullptr)},
          {"map", r.map ? trace::map_header_json(r.map->address, r.map->header) : json(nullptr)},
          {"dataflow", dataflow_json(r)},
          {"dataflow_error", r.dataflow_error.empty() ? json(nullptr) : json(r.dataflow_error)},
          {"recent", {{"last", r.last}, {"events", recent}}},
          {"fixes", fixes}};
}

}  // namespace backstep::report
