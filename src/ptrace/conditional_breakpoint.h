// A breakpoint that traps only when the thread's state matches a target,
// decided inside the traced process: the instruction(s) at `pc` (at least 5
// bytes) are replaced by a jmp to a stub in a page mapped nearby, which
// compares memory words and registers with the target and executes int3
// only on a full match; otherwise it runs the displaced instructions
// (relocated: rip-relative displacements fixed) and jumps back. A loop
// passing `pc` a million times then costs a few nanoseconds per pass
// instead of a ptrace stop (20-40 us here) per pass. Replay finds the
// instants where the recorder interrupted a spinning thread with it
// (replayer/replay_preemption.cc).
//
// The stub saves the flags on a stack of its own (in the stub's page: the
// program's stack, even below its red zone, must hold what it held when
// recorded), and compares the general registers, rsp and the flags (but
// the trap and resume flags); fs_base, gs_base and the vector registers
// are left to the tracer, at the trap.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ptrace/syscall_injection.h"
#include "ptrace/task.h"

namespace backstep {

class ConditionalBreakpoint {
 public:
  struct Word {
    uint64_t addr = 0;
    std::vector<std::byte> value;  // 1 to 64 bytes
  };
  struct Target {
    uint64_t pc = 0;
    Registers regs{};
    std::vector<Word> words;
  };

  // Installs it in the process of `task` (stopped, held at `at`, its pc
  // not inside the bytes to patch), mapping the stub with an injected
  // mmap. Null, with `why` set, when `pc` cannot be patched (fewer than 5
  // bytes of relocatable straight-line code there, a branch into them, no
  // room for a stub within reach of a rel32 jmp) or the injection failed.
  // `avoid`: addresses that must not be covered (breakpoints).
  static std::unique_ptr<ConditionalBreakpoint> install(const Task& task, const AddressSpace& mem,
                                                        HeldAt at, const Target& target,
                                                        const std::vector<uint64_t>& avoid,
                                                        std::string* why);
  // Whether the code at `pc` is what install can patch (straight-line
  // instructions, no branch or trap, in the first 5 bytes); install may
  // still refuse for reasons of the moment (a branch into them, no room).
  static bool patchable(const AddressSpace& mem, uint64_t pc);
  ~ConditionalBreakpoint();  // puts the original code back (the stub page stays; see remove)
  ConditionalBreakpoint(const ConditionalBreakpoint&) = delete;
  ConditionalBreakpoint& operator=(const ConditionalBreakpoint&) = delete;

  // Whether `regs` (at a SIGTRAP) are those of the stub's trap.
  bool is_trap(const Registers& regs) const { return regs.rip == trap_addr_ + 1; }
  // At the trap: the program's registers, standing on `pc`, not executed.
  Registers program_registers(const Registers& at_trap) const;
  // At the trap, when the tracer's own checks say no: registers that run
  // the displaced instructions and go on.
  Registers miss_registers(const Registers& at_trap) const;
  // Puts the code back and unmaps the stub (an injected munmap; the thread
  // of `task` held at `at`).
  void remove(const Task& task, HeldAt at);
  // Bytes patched at pc (for tests and messages).
  size_t patched_length() const { return original_.size(); }

 private:
  ConditionalBreakpoint(const AddressSpace& mem) : mem_(mem) {}
  const AddressSpace& mem_;
  uint64_t pc_ = 0;
  std::vector<uint8_t> original_;
  uint64_t stub_ = 0;
  uint64_t stub_len_ = 0;
  uint64_t trap_addr_ = 0;
  uint64_t miss_addr_ = 0;
  uint64_t saved_rsp_addr_ = 0;
  bool patched_ = false;
};

}  // namespace backstep
