#include "report/crash_dataflow.h"

#include <fmt/core.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "disasm/disassembler.h"
#include "disasm/value_flow.h"
#include "disasm/x86_registers.h"
#include "replayer/dataflow.h"
#include "symbols/unwind.h"

namespace backstep::report {
namespace {

using replayer::Dataflow;
using replayer::DataflowStep;
using replayer::DataflowWalker;
using replayer::TimeTravel;

// How far back from the call that failed to look for the check: the
// frames of the program's own code, and its recent instructions.
constexpr size_t kFramesToTry = 3;
constexpr uint64_t kCheckWindows[] = {16, 256, 4096};

ValueOrigin view(const Dataflow& d, std::string subject, const LocateCode& locate) {
  ValueOrigin o;
  o.subject = std::move(subject);
  o.origin = d.origin;
  o.complete = d.complete;
  for (const DataflowStep& s : d.steps) {
    DataflowStepView v;
    v.kind = replayer::step_kind_name(s.kind);
    v.tid = s.tid;
    v.position = s.position.str();
    v.location = locate(s.pc);
    v.instruction = s.instruction;
    v.reg = s.reg;
    v.addr = s.addr;
    v.len = s.len;
    v.value = s.value;
    v.via = s.via;
    o.steps.push_back(std::move(v));
  }
  // The write to name: the latest one another thread made (where the bad
  // value crossed between threads, what a race report is about), else the
  // earliest the walk reached (where the value was made).
  std::optional<size_t> other_thread, earliest;
  for (size_t i = 0; i < d.steps.size(); ++i) {
    if (d.steps[i].kind != DataflowStep::Kind::kStore) continue;
    earliest = i;
    if (!other_thread && d.steps[i].tid != d.steps.front().tid) other_thread = i;
  }
  o.writer = other_thread ? other_thread : earliest;
  return o;
}

std::vector<uint8_t> code_at(TimeTravel& tt, int32_t tid, uint64_t pc) {
  std::vector<uint8_t> code(16);
  if (!tt.engine().memory(tid).read(pc, code.data(), code.size())) code.clear();
  return code;
}

// The call instruction that returns to `ra`: x86 cannot be decoded
// backwards, so try the lengths a call has.
std::optional<uint64_t> call_before(TimeTravel& tt, const Disassembler& dis, int32_t tid,
                                    uint64_t ra) {
  for (uint64_t len : {5, 6, 2, 3, 7}) {
    auto code = code_at(tt, tid, ra - len);
    auto insns = dis.decode(code, ra - len, 1);
    if (!insns.empty() && insns[0].size == len && insns[0].text.starts_with("call")) {
      return ra - len;
    }
  }
  return std::nullopt;
}

struct Check {
  TimeTravel::Executed at;
  std::string text;
};

// Standing on the failing call of a frame whose stack pointer at the call
// is `call_rsp`: the compare whose conditional jump led to it, among the
// frame's own instructions. None
// when the frame made another call after its last conditional jump: that
// jump did not decide the failure.
std::optional<Check> check_before_call(TimeTravel& tt, const Disassembler& dis, uint64_t call_rsp) {
  for (uint64_t window : kCheckWindows) {
    std::vector<TimeTravel::Executed> history = tt.recent_history(window);
    bool jumped = false;
    for (auto it = history.rbegin(); it != history.rend(); ++it) {
      // Callees run below the call's stack pointer; the frame itself at or
      // above it (it may push after the check, to align the stack).
      if (it->regs.rsp < call_rsp) continue;
      auto insns = dis.decode(code_at(tt, it->position.tid, it->regs.rip), it->regs.rip, 1);
      if (insns.empty()) return std::nullopt;
      const std::string& text = insns[0].text;
      if (text.starts_with("call")) return std::nullopt;
      if (!jumped) {
        jumped = text.starts_with("j") && !text.starts_with("jmp");
        continue;
      }
      // The flags the jump tested: moves may sit between them.
      if (text.starts_with("mov") || text.starts_with("lea")) continue;
      if (text.starts_with("cmp") || text.starts_with("test") || text.starts_with("ucomis") ||
          text.starts_with("comis")) {
        return Check{*it, text};
      }
      return std::nullopt;  // flags from arithmetic: not a comparison of two values
    }
    if (tt.history_reaches_run_start(window)) break;
  }
  return std::nullopt;
}

std::string value_text(const std::optional<uint64_t>& v) {
  return v ? fmt::format("{:#x}", *v) : "?";
}

std::vector<ValueOrigin> follow_fault(TimeTravel& tt, const LocateCode& locate) {
  DataflowWalker walker(tt);
  std::optional<Dataflow> d = walker.from_address_operand();
  if (!d || d->steps.empty()) return {};
  const DataflowStep& use = d->steps.front();
  return {view(*d,
               fmt::format("{} = {}, the pointer the faulting instruction used (it accessed {:#x})",
                           use.reg, value_text(use.value), use.addr),
               locate)};
}

std::vector<ValueOrigin> follow_failed_check(TimeTravel& tt, const symbols::Symbolizer& symbols,
                                             const replayer::PanicReport& panic,
                                             const std::string& exe, const LocateCode& locate) {
  const int32_t tid = panic.tid;
  const AddressSpace& mem = tt.engine().memory(tid);
  auto frames = symbols::unwind(
      symbols, tt.engine().registers(tid),
      [&](uint64_t addr, void* out, size_t len) { return mem.read(addr, out, len); });
  const std::string exe_name = std::filesystem::path(exe).filename().string();
  Disassembler dis;
  ValueFlowDecoder flow;
  size_t tried = 0;
  for (size_t i = 1; i < frames.size() && tried < kFramesToTry; ++i) {
    if (std::filesystem::path(frames[i].where.module).filename().string() != exe_name) continue;
    ++tried;
    std::optional<uint64_t> call = call_before(tt, dis, tid, frames[i].pc);
    if (!call) continue;
    // The last time this thread made that call: the failing one.
    tt.goto_position(panic.position);
    std::optional<replayer::ResumeStop> at;
    for (int other = 0; other < 8; ++other) {
      at = tt.reverse_to({{0, *call}}, {});
      if (!at || at->tid == tid) break;
    }
    if (!at || at->tid != tid) continue;
    std::optional<Check> check = check_before_call(tt, dis, frames[i].cfa_or_sp);
    if (!check) continue;
    std::vector<ValueOrigin> out;
    std::vector<unsigned> seen;
    const CodeLocation where = locate(check->at.regs.rip);
    const std::string by = fmt::format("compared by `{}` in {}", check->text, where.text);
    for (const ValueSource& s :
         flow.operands(code_at(tt, tid, check->at.regs.rip), check->at.regs)) {
      tt.goto_position(check->at.position);
      tt.select_thread(tid);
      DataflowWalker walker(tt);
      if (s.kind == ValueSource::Kind::kRegister) {
        if (std::find(seen.begin(), seen.end(), s.reg) != seen.end()) continue;
        seen.push_back(s.reg);
        Dataflow d = walker.from_register(s.reg);
        const DataflowStep& use = d.steps.front();
        out.push_back(
            view(d, fmt::format("{} = {}, {}", use.reg, value_text(use.value), by), locate));
      } else if (s.kind == ValueSource::Kind::kMemory) {
        const uint64_t len = std::min<uint64_t>(s.memory.size, 8);
        uint64_t value = 0;
        std::optional<uint64_t> v;
        if (tt.engine().memory(tid).read(s.memory.addr, &value, len)) v = value;
        Dataflow d = walker.from_memory(s.memory.addr, len);
        DataflowStep use;
        use.kind = DataflowStep::Kind::kUse;
        use.position = check->at.position;
        use.tid = tid;
        use.pc = check->at.regs.rip;
        use.instruction = check->text;
        use.addr = s.memory.addr;
        use.len = len;
        use.value = v;
        d.steps.insert(d.steps.begin(), use);
        out.push_back(view(
            d, fmt::format("the {} bytes at {:#x} = {}, {}", len, s.memory.addr, value_text(v), by),
            locate));
      }
    }
    return out;
  }
  return {};
}

}  // namespace

std::vector<ValueOrigin> follow_bad_values(TimeTravel& tt, const symbols::Symbolizer& symbols,
                                           const replayer::PanicReport& panic,
                                           const std::string& exe, const LocateCode& locate) {
  if (panic.map_fatal) return {};
  if (panic.what == "SIGABRT") return follow_failed_check(tt, symbols, panic, exe, locate);
  return follow_fault(tt, locate);
}

}  // namespace backstep::report
