// What identifies the instant at which the recorder interrupted a thread
// that ran without stopping (a Stop of kind kInterrupt), and how replay
// recognizes it. Without a hardware branch counter the instant cannot be
// counted to; it is found again by its state instead: the thread's first
// moment in its run (from its previous recorded stop) where every general
// register, its tick count, the vector registers and a few memory words all
// hold their recorded values. Two moments equal in all of that are the same
// state wherever the thread itself wrote nothing else in between, which the
// recorder makes likely by putting what one iteration of the loop writes
// into the signature (recorder/preemption.cc; the exact cases are in
// docs/ARCHITECTURE.md, "Preemption without a counter").
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ptrace/task.h"

namespace backstep {

// The flags that ptrace may show differently at the same instant (the trap
// and resume flags of single-stepping and breakpoints) are not compared.
inline constexpr uint64_t kIgnoredFlags = 0x100 | 0x10000;  // TF, RF

// A digest of the vector and x87 registers and MXCSR in an XSAVE area as
// PTRACE_GETREGSET NT_X86_XSTATE gives it (standard format). A loop that
// counts in an xmm register repeats its general registers; this tells its
// iterations apart. 0 for an empty area.
uint64_t vector_digest(std::span<const std::byte> xstate);

// The first general register (or the flags) in which `got` differs from
// `want`, as "rax is 0x1, recorded 0x2"; empty when they are the same.
std::string register_mismatch(const Registers& want, const Registers& got);

}  // namespace backstep
