#include "replayer/dataflow.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstring>
#include <functional>

#include "base/errors.h"
#include "disasm/x86_registers.h"

namespace backstep::replayer {
namespace {

// Bounds on one walk. Each memory hop is a reverse watchpoint search (a
// replay of the stretch since the last checkpoint); register moves are
// found in the thread's recent instructions, looked at in widening windows
// of ticks, and in the few runs of the thread before the current one (a
// run ends at each recorded stop; registers carry over).
constexpr int kMaxMemoryHops = 12;  // reverse watchpoint searches
constexpr size_t kMaxSteps = 48;
constexpr int kMaxRegisterMoves = 64;
constexpr uint64_t kHistoryWindows[] = {4, 64, 1024};
constexpr int kMaxRunsBack = 4;

}  // namespace

const DataflowStep* Dataflow::last_store() const {
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    if (it->kind == DataflowStep::Kind::kStore) return &*it;
  }
  return nullptr;
}

std::vector<uint8_t> DataflowWalker::code_at(int32_t tid, uint64_t pc) {
  std::vector<uint8_t> code(16);
  // Near the end of a mapping fewer bytes are readable: take what is.
  for (size_t n = code.size(); n > 0; --n) {
    if (tt_.engine().memory(tid).read(pc, code.data(), n)) {
      code.resize(n);
      return code;
    }
  }
  return {};
}

std::string DataflowWalker::text_at(int32_t tid, uint64_t pc) {
  auto code = code_at(tid, pc);
  auto insns = disassembler_.decode(code, pc, 1);
  return insns.empty() ? "(bad)" : insns[0].text;
}

void DataflowWalker::settle() {
  memory_hops_ = 0;
  // At the start of a run (a fault's signal stop just played) the same
  // instant is also the last instruction of the run before, which is where
  // the thread's recent instructions can be looked through.
  if (!tt_.history_reaches_run_start(0)) return;
  const ReplayPosition here = tt_.where();
  const int32_t tid = tt_.thread();
  const Registers regs = tt_.engine().registers(tid);
  if (!tt_.reverse_stepi()) return;
  const Registers back = tt_.engine().registers(tt_.thread());
  if (tt_.thread() != tid || std::memcmp(&back, &regs, sizeof regs) != 0) {
    tt_.goto_position(here);
    tt_.select_thread(tid);
  }
}

const char* step_kind_name(DataflowStep::Kind k) {
  switch (k) {
    case DataflowStep::Kind::kUse:
      return "use";
    case DataflowStep::Kind::kLoad:
      return "load";
    case DataflowStep::Kind::kStore:
      return "store";
    case DataflowStep::Kind::kMade:
      return "made";
  }
  return "?";
}

DataflowStep DataflowWalker::use_step(int32_t tid, const Registers& regs, unsigned family) {
  DataflowStep use;
  use.kind = DataflowStep::Kind::kUse;
  use.position = tt_.where();
  use.tid = tid;
  use.pc = regs.rip;
  use.instruction = text_at(tid, regs.rip);
  use.reg = x86::family_name(family);
  uint64_t v = 0;
  if (x86::register_value(family, regs, 0, &v)) use.value = v;
  return use;
}

std::optional<Dataflow> DataflowWalker::from_address_operand() {
  settle();
  const int32_t tid = tt_.thread();
  const Registers regs = tt_.engine().registers(tid);
  auto a = flow_.address_register(code_at(tid, regs.rip), regs);
  if (!a) return std::nullopt;
  Dataflow d;
  DataflowStep use = use_step(tid, regs, a->family);
  use.addr = a->access.addr;
  use.len = a->access.size;
  d.steps.push_back(use);
  follow_register(d, a->family, 0, true);
  return d;
}

Dataflow DataflowWalker::from_register(unsigned family) {
  settle();
  const int32_t tid = tt_.thread();
  const Registers regs = tt_.engine().registers(tid);
  Dataflow d;
  d.steps.push_back(use_step(tid, regs, family));
  follow_register(d, family, 0, false);
  return d;
}

Dataflow DataflowWalker::from_memory(uint64_t addr, uint64_t len) {
  if (len == 0 || len > 8) throw Error("origin: the value is 1 to 8 bytes");
  memory_hops_ = 0;
  Dataflow d;
  follow_memory(d, addr, len, false);
  return d;
}

std::optional<TimeTravel::Executed> DataflowWalker::last_in_history(
    const std::function<bool(const TimeTravel::Executed&)>& matches, int runs_back,
    bool* same_run) {
  const ReplayPosition here = tt_.now();
  if (same_run) *same_run = true;
  for (int run = 0; run <= runs_back; ++run) {
    std::vector<TimeTravel::Executed> history;
    bool whole_run = false;
    for (uint64_t window : kHistoryWindows) {
      history = tt_.recent_history(window);
      for (auto it = history.rbegin(); it != history.rend(); ++it) {
        if (matches(*it)) return *it;
      }
      whole_run = tt_.history_reaches_run_start(window);
      if (whole_run) break;
    }
    if (!whole_run || run == runs_back) break;  // not in the last ticks of a long run
    // Into the thread's previous run: its last instruction (the syscall
    // instruction, for a run that ended at a syscall).
    if (same_run) *same_run = false;
    if (!history.empty()) tt_.goto_position(history.front().position);
    if (!tt_.reverse_stepi()) break;
    TimeTravel::Executed last{tt_.where(), tt_.engine().registers(tt_.thread())};
    if (matches(last)) return last;
  }
  tt_.goto_position(here);
  tt_.select_thread(here.tid);
  return std::nullopt;
}

std::optional<TimeTravel::Executed> DataflowWalker::register_writer(unsigned family) {
  return last_in_history(
      [&](const TimeTravel::Executed& e) {
        auto regs = flow_.written_registers(code_at(e.position.tid, e.regs.rip), e.regs);
        return std::find(regs.begin(), regs.end(), family) != regs.end();
      },
      kMaxRunsBack, nullptr);
}

std::optional<ResumeStop> DataflowWalker::last_write(uint64_t addr, uint64_t len) {
  const ReplayPosition here = tt_.now();
  uint64_t value = 0;
  std::optional<uint64_t> now;
  if (tt_.engine().memory(here.tid).read(addr, &value, len)) now = value;
  bool same_run = true;
  std::optional<TimeTravel::Executed> own = last_in_history(
      [&](const TimeTravel::Executed& e) {
        auto code = code_at(e.position.tid, e.regs.rip);
        for (const MemoryAccess& a : accesses_.accesses(code, e.regs)) {
          if (a.write && overlaps(a, addr, len)) return true;
        }
        return false;
      },
      kMaxRunsBack, &same_run);
  auto stop_at_own = [&] {
    tt_.goto_position(own->position);
    tt_.select_thread(own->position.tid);
    ResumeStop stop;
    stop.why = ResumeStop::Why::kWatchpoint;
    stop.tid = own->position.tid;
    stop.position = own->position;
    stop.pc = own->regs.rip;
    stop.data_addr = addr;
    stop.new_value = now;  // no change between it and the load (else found first)
    return stop;
  };
  // Within the run no other thread runs: that is the last write.
  if (own && same_run) return stop_at_own();
  if (own_searches_) {
    if (own) return stop_at_own();
    return std::nullopt;  // (last_in_history left it where it was)
  }
  // Else the last change, in any thread; a write of the thread's own that
  // came after it stored the same value, and is the later write.
  tt_.goto_position(here);
  tt_.select_thread(here.tid);
  if (++memory_hops_ > kMaxMemoryHops) return std::nullopt;
  std::optional<ResumeStop> change = tt_.last_change(addr, len);
  if (own && (!change || change->position < own->position)) return stop_at_own();
  return change;
}

void DataflowWalker::follow_register(Dataflow& d, unsigned family, uint32_t offset, bool pointer) {
  std::vector<std::string> via;
  for (int moves = 0; moves < kMaxRegisterMoves; ++moves) {
    const std::optional<TimeTravel::Executed> w = register_writer(family);
    if (!w) {
      d.origin = fmt::format(
          "{} was not written in the thread's recent instructions (it came from further back)",
          x86::family_name(family));
      return;
    }
    const int32_t tid = w->position.tid;
    const ValueFlowDecoder::ReadValue read = [&](uint64_t addr, uint32_t size) {
      uint64_t v = 0;
      std::optional<uint64_t> out;
      if (size <= 8 && tt_.engine().memory(tid).read(addr, &v, size)) out = v;
      return out;
    };
    ValueSource s = flow_.register_source(code_at(tid, w->regs.rip), w->regs, family,
                                          pointer ? &read : nullptr);
    if (s.kind == ValueSource::Kind::kMemory && offset < s.memory.size) {
      // The value sat `offset` bytes into a wider register (a vector copy).
      s.memory.addr += offset;
      s.memory.size -= offset;
    }
    tt_.goto_position(w->position);
    if (s.kind == ValueSource::Kind::kRegister) {
      std::string how =
          s.reg == family ? "" : fmt::format("copied from {}", x86::family_name(s.reg));
      if (!s.note.empty()) how += (how.empty() ? "" : ", ") + s.note;
      if (!how.empty()) {
        via.push_back(
            fmt::format("{} ({}: {})", how, w->position.str(), text_at(tid, w->regs.rip)));
      }
      family = s.reg;
      offset = s.offset;
      continue;
    }
    // A register saved on the stack and restored (the tick counter's
    // push/pop of rax, a callee's saved registers): through the push, to
    // the register it saved, without a step of its own.
    if (s.kind == ValueSource::Kind::kMemory && text_at(tid, w->regs.rip).starts_with("pop")) {
      const ReplayPosition pop = w->position;
      own_searches_ = true;
      std::optional<ResumeStop> push = last_write(s.memory.addr, 8);
      own_searches_ = false;
      if (push) {
        const Registers regs = tt_.engine().registers(push->tid);
        const ValueSource saved =
            flow_.store_source(code_at(push->tid, push->pc), regs, s.memory.addr);
        if (text_at(push->tid, push->pc).starts_with("push") &&
            saved.kind == ValueSource::Kind::kRegister) {
          family = saved.reg;
          offset = 0;
          continue;
        }
        tt_.goto_position(pop);
      }
    }
    DataflowStep step;
    step.position = w->position;
    step.tid = tid;
    step.pc = w->regs.rip;
    step.instruction = text_at(tid, w->regs.rip);
    step.reg = x86::family_name(family);
    if (s.kind == ValueSource::Kind::kMemory && !s.note.empty()) {
      via.push_back(fmt::format("{} ({})", s.note, w->position.str()));
    }
    step.via = std::move(via);
    if (s.kind == ValueSource::Kind::kMemory) {
      step.kind = DataflowStep::Kind::kLoad;
      step.addr = s.memory.addr;
      step.len = std::min<uint64_t>(s.memory.size, 8);
      uint64_t v = 0;
      if (tt_.engine().memory(tid).read(step.addr, &v, step.len)) step.value = v;
      d.steps.push_back(std::move(step));
      follow_memory(d, s.memory.addr, std::min<uint64_t>(s.memory.size, 8), pointer);
      return;
    }
    step.kind = DataflowStep::Kind::kMade;
    d.complete = true;
    switch (s.kind) {
      case ValueSource::Kind::kConstant:
        d.origin = fmt::format("{} is set to the constant {:#x} by this instruction", step.reg,
                               s.constant);
        break;
      case ValueSource::Kind::kSyscall:
        d.origin = fmt::format("{} is the result of a system call", step.reg);
        break;
      default:
        d.origin = fmt::format("{} is computed by this instruction", step.reg);
        break;
    }
    d.steps.push_back(std::move(step));
    return;
  }
  d.origin = "the value went through too many registers to follow";
}

void DataflowWalker::follow_memory(Dataflow& d, uint64_t addr, uint64_t len, bool pointer) {
  if (d.steps.size() >= kMaxSteps) {
    d.origin = fmt::format("the walk went through {} steps; not followed further", kMaxSteps);
    return;
  }
  std::optional<ResumeStop> w = last_write(addr, len);
  if (!w && memory_hops_ > kMaxMemoryHops) {
    d.origin = fmt::format(
        "the value went through more than {} searches back in time; not followed further",
        kMaxMemoryHops);
    return;
  }
  if (!w) {
    d.origin = fmt::format("{:#x} was not written since the recording began", addr);
    d.complete = true;
    return;
  }
  const int32_t tid = w->tid;
  const Registers regs = tt_.engine().registers(tid);
  DataflowStep step;
  step.kind = DataflowStep::Kind::kStore;
  step.position = w->position;
  step.tid = tid;
  step.pc = w->pc;
  step.instruction = text_at(tid, w->pc);
  step.addr = addr;
  step.len = len;
  step.value = w->new_value;
  if (step.instruction == "syscall") {
    d.origin = "written by the kernel, as the output of a system call";
    d.complete = true;
    d.steps.push_back(std::move(step));
    return;
  }
  const ValueSource s = flow_.store_source(code_at(tid, w->pc), regs, addr);
  if (s.kind == ValueSource::Kind::kRegister) step.reg = x86::family_name(s.reg);
  d.steps.push_back(step);
  switch (s.kind) {
    case ValueSource::Kind::kRegister:
      follow_register(d, s.reg, s.offset, pointer);
      return;
    case ValueSource::Kind::kMemory:
      follow_memory(d, s.memory.addr, std::min<uint64_t>({len, s.memory.size, 8}), pointer);
      return;
    case ValueSource::Kind::kConstant:
      d.origin = fmt::format("this instruction stores the constant {:#x}", s.constant);
      d.complete = true;
      return;
    default:
      d.origin = "this instruction computes the value it stores";
      d.complete = true;
      return;
  }
}

}  // namespace backstep::replayer
