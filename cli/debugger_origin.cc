// `origin`: where a value came from (replayer/dataflow.h), the debugger's
// way to the dataflow `report` shows for a crash.
#include <fmt/core.h>

#include "base/errors.h"
#include "cli/debugger.h"
#include "disasm/x86_registers.h"
#include "replayer/dataflow.h"

namespace backstep::cli {
namespace {

using nlohmann::json;
using replayer::DataflowStep;

}  // namespace

// origin            the pointer the current instruction accesses memory through
// origin $REG       the value of REG the current instruction uses
// origin ADDR [LEN] the LEN bytes (default 8) at ADDR as they are now
// Lists the walk, latest first, and stands on the last write it found (or
// on the instruction that made the value), as reverse-continue with a
// watchpoint would.
void Debugger::cmd_origin(const std::string& args) {
  std::string a = trim(args);
  if (!a.empty() && a[0] == '*') a = a.substr(1);
  replayer::DataflowWalker walker(tt_);
  replayer::Dataflow d;
  if (a.empty()) {
    auto found = walker.from_address_operand();
    if (!found) throw Error("origin: this instruction accesses no memory through a register");
    d = std::move(*found);
  } else if (a[0] == '$' && a.find(' ') == std::string::npos &&
             x86::family_by_name(a.substr(1)) != 0) {
    d = walker.from_register(x86::family_by_name(a.substr(1)));
  } else {
    uint64_t len = 8;
    if (size_t sp = a.find(' '); sp != std::string::npos) {
      len = eval(a.substr(sp + 1));
      a = a.substr(0, sp);
    }
    d = walker.from_memory(eval(a), len);
  }
  json steps = json::array();
  std::string text;
  for (const DataflowStep& s : d.steps) {
    json j{{"kind", replayer::step_kind_name(s.kind)},
           {"thread", s.tid},
           {"position", s.position.str()},
           {"pc", s.pc},
           {"instruction", s.instruction},
           {"location", location(s.pc)},
           {"register", s.reg.empty() ? json(nullptr) : json(s.reg)},
           {"addr", s.addr ? json(s.addr) : json(nullptr)},
           {"len", s.addr ? json(s.len) : json(nullptr)},
           {"value", s.value ? json(*s.value) : json(nullptr)},
           {"via", s.via}};
    steps.push_back(j);
    std::string what = s.reg;
    if (s.addr) what += fmt::format("{}[{:#x}]", what.empty() ? "" : " ", s.addr);
    text += fmt::format("{:<5} thread {} at {}: {}  {} = {}\n      in {}\n",
                        replayer::step_kind_name(s.kind), s.tid, s.position.str(), s.instruction,
                        what, s.value ? fmt::format("{:#x}", *s.value) : "?", location(s.pc));
    for (const std::string& v : s.via) text += fmt::format("      before: {}\n", v);
  }
  text += d.origin.empty() ? "" : fmt::format("origin: {}\n", d.origin);
  // Stand on the write the value came from (else the instruction that
  // made it, else where the walk ended).
  const DataflowStep* at = d.last_store();
  if (!at && !d.steps.empty()) at = &d.steps.back();
  if (at) {
    tt_.goto_position(at->position);
    tt_.select_thread(at->tid);
  }
  emit(json{{"origin", d.origin},
            {"complete", d.complete},
            {"steps", steps},
            {"position", tt_.where().str()}},
       text);
}

}  // namespace backstep::cli
