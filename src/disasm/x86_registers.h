// Capstone's x86 register ids, as the tracer sees them: the 64-bit value of
// an address register, and the register a sub-register belongs to (eax and
// al are parts of rax; xmm0 is the low part of ymm0 and zmm0). Shared by the
// units that compute addresses (memory_access) and follow values (value_flow).
#pragma once

#include <sys/user.h>

#include <cstdint>
#include <string>

namespace backstep::x86 {

// The 64-bit value of a Capstone register, or false if it is not one of
// the general registers (or their 32-bit halves) an address can use. rip
// reads as `next_pc`, as in an rip-relative operand.
bool register_value(unsigned reg, const user_regs_struct& r, uint64_t next_pc, uint64_t* out);

// The address of a memory operand [segment: base + index * scale + disp],
// or false when a register in it is not an address register.
bool memory_address(unsigned base, unsigned index, int scale, int64_t disp, unsigned segment,
                    const user_regs_struct& r, uint64_t next_pc, uint64_t* out);

// The whole register `reg` is part of: X86_REG_RAX for al/ax/eax/rax,
// X86_REG_XMM0 for xmm0/ymm0/zmm0; 0 for flags, segments and the others.
unsigned register_family(unsigned reg);

// The family's name: "rax", "r12", "xmm3".
std::string family_name(unsigned family);

// The family named `name` ("rax", "r12", "xmm3"); 0 if none is.
unsigned family_by_name(const std::string& name);

}  // namespace backstep::x86
