// Call stacks of a stopped thread from its registers and memory, with the
// modules' DWARF CFI (.eh_frame/.debug_frame) through libdwfl, so that it
// works on a replayed process whose maps name no files.
#pragma once

#include <sys/types.h>
#include <sys/user.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "symbols/symbolizer.h"

namespace backstep::symbols {

// Reads `len` bytes at `addr` of the stopped process; false if unreadable.
using ReadMemory = std::function<bool(uint64_t addr, void* out, size_t len)>;

// A frame's registers by DWARF number (x86-64 psABI: 0 rax, 1 rdx, 2 rcx,
// 3 rbx, 4 rsi, 5 rdi, 6 rbp, 7 rsp, 8-15 r8-r15, 16 the return address,
// i.e. rip). In outer frames only what the CFI restores is known (the
// callee-saved registers, rsp, rip): the others are nullopt, which is
// what makes a variable living in one `<optimized out>` there, as in gdb.
inline constexpr unsigned kDwarfRegisterCount = 17;
using FrameRegisters = std::array<std::optional<uint64_t>, kDwarfRegisterCount>;

struct Frame {
  uint64_t pc = 0;           // frame 0: rip; others: the return address
  uint64_t cfa_or_sp = 0;    // frame 0: rsp; others: rsp in that frame once
                             // the callee returned (the callee's CFA)
  Location where;            // for frames after the first, of pc - 1
  FrameRegisters registers;  // for reading the frame's variables
};

inline constexpr size_t kMaxFrames = 64;

// Unwinds with CFI and, where CFI is missing or unwinding fails, goes on by
// following the rbp chain (see unwind_frame_pointers). Stops after
// kMaxFrames, at pc 0, or when a (pc, cfa) pair repeats. `tid_for_display`
// is only what libdwfl is told the thread is called.
std::vector<Frame> unwind(const Symbolizer& symbols, const user_regs_struct& regs,
                          const ReadMemory& read_memory, pid_t tid_for_display = 1);

// Unwinds by frame pointers only: [rbp] is the caller's rbp and [rbp + 8]
// the return address. Right for code built with -fno-omit-frame-pointer,
// wrong in a function's prologue or epilogue and in code without frame
// pointers. Stops when rbp does not grow, is misaligned or unreadable, or the
// return address is outside every module (when there are modules).
std::vector<Frame> unwind_frame_pointers(const Symbolizer& symbols, const user_regs_struct& regs,
                                         const ReadMemory& read_memory);

// The frames as gdb lists and numbers them: each physical frame of
// `physical` (unwind's) expanded into one frame per inlined call
// (Symbolizer::inline_frames), innermost first; the inlined ones carry
// their physical frame's pc and cfa_or_sp and `where.inlined`.
std::vector<Frame> with_inlined_frames(const Symbolizer& symbols,
                                       const std::vector<Frame>& physical);

}  // namespace backstep::symbols
