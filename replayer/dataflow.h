// Dataflow over a recording: where did this value come from? Starting from
// a register or from bytes in memory at the current moment, follows the
// value back instruction by instruction: the instruction that last wrote
// the register (in the thread's own history), the memory it was loaded
// from, the last write to that memory before the load (a reverse write
// watchpoint, in whichever thread made it), the register that write
// stored, and so on, until the value was made rather than copied: a
// constant, arithmetic, a syscall's result. Pernosco calls this dataflow;
// `report` uses it on faults and failed assertions, the debugger's
// `origin` command on any address.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "disasm/disassembler.h"
#include "disasm/memory_access.h"
#include "disasm/value_flow.h"
#include "replayer/time_travel.h"

namespace backstep::replayer {

struct DataflowStep {
  enum class Kind {
    kUse,    // where the walk began: the instruction that used the value
    kLoad,   // an instruction loaded the value from memory into a register
    kStore,  // the last write to that memory before the load
    kMade,   // the instruction that made the value in a register: a constant,
             // arithmetic, a syscall's result (the walk ends there)
  };
  Kind kind = Kind::kUse;
  ReplayPosition position;  // standing on the instruction, not executed yet
  int32_t tid = 0;
  uint64_t pc = 0;
  std::string instruction;  // "mov qword ptr [rax + 0x10], 0"
  std::string reg;          // the register holding the value (kUse, kLoad), or empty
  uint64_t addr = 0;        // the memory (kLoad, kStore); 0 for a register
  uint64_t len = 0;
  std::optional<uint64_t> value;  // the value (up to 8 bytes) as it was used, loaded, stored
  // How the value reached this instruction's register from the one the
  // walk looked at before ("copied to rdx", "plus 0x10").
  std::vector<std::string> via;
};

// "use", "load", "store", "made": how the debugger and the report name a
// step's kind.
const char* step_kind_name(DataflowStep::Kind k);

struct Dataflow {
  std::vector<DataflowStep> steps;  // latest first: the use, then back in time
  // Why the walk ended, for the last step: "stores the constant 0x0",
  // "computed by `imul rax, rdx`", "the kernel's result (syscall)",
  // "not written since the recording began".
  std::string origin;
  bool complete = false;  // ended at a constant, arithmetic or a syscall
  // The last step that is a store: the write the bad value came from.
  const DataflowStep* last_store() const;
};

class DataflowWalker {
 public:
  explicit DataflowWalker(TimeTravel& tt) : tt_(tt) {}

  // From the instruction the selected thread stands on: the register that
  // holds the address of its memory operand (for a fault, the bad pointer).
  // nullopt when it has no memory operand through a register.
  std::optional<Dataflow> from_address_operand();
  // The value of register family `family` (disasm/x86_registers.h) that
  // the selected thread's current instruction uses.
  Dataflow from_register(unsigned family);
  // The bytes [addr, addr + len) (len 1 to 8) as they are now.
  Dataflow from_memory(uint64_t addr, uint64_t len);

 private:
  // Resets the walk's bounds; at a fault's stop, stands at the same instant
  // inside the run that led to it.
  void settle();
  // `pointer`: the value is a pointer (see ValueFlowDecoder::register_source).
  void follow_register(Dataflow& d, unsigned family, uint32_t offset, bool pointer);
  void follow_memory(Dataflow& d, uint64_t addr, uint64_t len, bool pointer);
  // The thread's last instruction before now that `matches`: in its recent
  // instructions (widening windows of ticks), then in up to `runs_back` of
  // its earlier runs. `same_run`: found in the run in progress. nullopt
  // (standing where it was) when none.
  std::optional<TimeTravel::Executed> last_in_history(
      const std::function<bool(const TimeTravel::Executed&)>& matches, int runs_back,
      bool* same_run);
  std::optional<TimeTravel::Executed> register_writer(unsigned family);
  // The last write to [addr, addr + len) before now, standing on it: a
  // write of the thread's own in the run in progress (no other thread runs
  // within a run; the tick counter's push/pop of rax, a function's spills
  // are found without a search), else the later of the last change of
  // those bytes (a reverse watchpoint, any thread) and the thread's own
  // last write in its earlier runs (a write that stored the value they
  // already had is no change). nullopt when neither is found.
  std::optional<ResumeStop> last_write(uint64_t addr, uint64_t len);
  std::vector<uint8_t> code_at(int32_t tid, uint64_t pc);
  std::string text_at(int32_t tid, uint64_t pc);
  // The walk's first step: the instruction at the thread's pc, using the
  // value in register `family`.
  DataflowStep use_step(int32_t tid, const Registers& regs, unsigned family);

  TimeTravel& tt_;
  ValueFlowDecoder flow_;
  AccessDecoder accesses_;
  Disassembler disassembler_;
  int memory_hops_ = 0;
  bool own_searches_ = false;  // last_write looks in the thread's history only
};

}  // namespace backstep::replayer
