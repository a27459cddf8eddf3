#include "disasm/x86_registers.h"

#include <capstone/capstone.h>

namespace backstep::x86 {

bool register_value(unsigned reg, const user_regs_struct& r, uint64_t next_pc, uint64_t* out) {
  switch (reg) {
    case X86_REG_RIP:
      *out = next_pc;
      return true;
    case X86_REG_INVALID:
      *out = 0;
      return true;
    default:
      break;
  }
  // 32-bit address registers zero-extend; 8- and 16-bit ones never address.
  unsigned family = register_family(reg);
  bool full = reg == family;
  bool low32 =
      (reg >= X86_REG_EAX && reg <= X86_REG_ESP) || (reg >= X86_REG_R8D && reg <= X86_REG_R15D);
  if (!family || (!full && !low32)) return false;
  switch (family) {
    case X86_REG_RAX:
      *out = r.rax;
      break;
    case X86_REG_RBX:
      *out = r.rbx;
      break;
    case X86_REG_RCX:
      *out = r.rcx;
      break;
    case X86_REG_RDX:
      *out = r.rdx;
      break;
    case X86_REG_RSI:
      *out = r.rsi;
      break;
    case X86_REG_RDI:
      *out = r.rdi;
      break;
    case X86_REG_RBP:
      *out = r.rbp;
      break;
    case X86_REG_RSP:
      *out = r.rsp;
      break;
    case X86_REG_R8:
      *out = r.r8;
      break;
    case X86_REG_R9:
      *out = r.r9;
      break;
    case X86_REG_R10:
      *out = r.r10;
      break;
    case X86_REG_R11:
      *out = r.r11;
      break;
    case X86_REG_R12:
      *out = r.r12;
      break;
    case X86_REG_R13:
      *out = r.r13;
      break;
    case X86_REG_R14:
      *out = r.r14;
      break;
    case X86_REG_R15:
      *out = r.r15;
      break;
    default:
      return false;  // a vector register
  }
  if (!full) *out &= 0xffffffffu;
  return true;
}

bool memory_address(unsigned base, unsigned index, int scale, int64_t disp, unsigned segment,
                    const user_regs_struct& r, uint64_t next_pc, uint64_t* out) {
  uint64_t b = 0, i = 0;
  if (!register_value(base, r, next_pc, &b) || !register_value(index, r, next_pc, &i)) return false;
  *out = b + i * static_cast<uint64_t>(scale) + static_cast<uint64_t>(disp);
  if (segment == X86_REG_FS) *out += r.fs_base;
  if (segment == X86_REG_GS) *out += r.gs_base;
  return true;
}

unsigned register_family(unsigned reg) {
  switch (reg) {
    case X86_REG_RAX:
    case X86_REG_EAX:
    case X86_REG_AX:
    case X86_REG_AH:
    case X86_REG_AL:
      return X86_REG_RAX;
    case X86_REG_RBX:
    case X86_REG_EBX:
    case X86_REG_BX:
    case X86_REG_BH:
    case X86_REG_BL:
      return X86_REG_RBX;
    case X86_REG_RCX:
    case X86_REG_ECX:
    case X86_REG_CX:
    case X86_REG_CH:
    case X86_REG_CL:
      return X86_REG_RCX;
    case X86_REG_RDX:
    case X86_REG_EDX:
    case X86_REG_DX:
    case X86_REG_DH:
    case X86_REG_DL:
      return X86_REG_RDX;
    case X86_REG_RSI:
    case X86_REG_ESI:
    case X86_REG_SI:
    case X86_REG_SIL:
      return X86_REG_RSI;
    case X86_REG_RDI:
    case X86_REG_EDI:
    case X86_REG_DI:
    case X86_REG_DIL:
      return X86_REG_RDI;
    case X86_REG_RBP:
    case X86_REG_EBP:
    case X86_REG_BP:
    case X86_REG_BPL:
      return X86_REG_RBP;
    case X86_REG_RSP:
    case X86_REG_ESP:
    case X86_REG_SP:
    case X86_REG_SPL:
      return X86_REG_RSP;
    default:
      break;
  }
  // r8..r15 and their parts: four runs of eight in Capstone's numbering.
  for (unsigned base : {X86_REG_R8B, X86_REG_R8D, X86_REG_R8W}) {
    if (reg >= base && reg < base + 8) return X86_REG_R8 + (reg - base);
  }
  if (reg >= X86_REG_R8 && reg <= X86_REG_R15) return reg;
  if (reg >= X86_REG_XMM0 && reg <= X86_REG_XMM31) return reg;
  if (reg >= X86_REG_YMM0 && reg <= X86_REG_YMM31) return X86_REG_XMM0 + (reg - X86_REG_YMM0);
  if (reg >= X86_REG_ZMM0 && reg <= X86_REG_ZMM31) return X86_REG_XMM0 + (reg - X86_REG_ZMM0);
  return 0;
}

std::string family_name(unsigned family) {
  static const char* const kNames[] = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp"};
  static const unsigned kIds[] = {X86_REG_RAX, X86_REG_RBX, X86_REG_RCX, X86_REG_RDX,
                                  X86_REG_RSI, X86_REG_RDI, X86_REG_RBP, X86_REG_RSP};
  for (size_t i = 0; i < 8; ++i) {
    if (kIds[i] == family) return kNames[i];
  }
  if (family >= X86_REG_R8 && family <= X86_REG_R15)
    return "r" + std::to_string(family - X86_REG_R8 + 8);
  if (family >= X86_REG_XMM0 && family <= X86_REG_XMM31) {
    return "xmm" + std::to_string(family - X86_REG_XMM0);
  }
  return "?";
}

unsigned family_by_name(const std::string& name) {
  for (unsigned f = X86_REG_INVALID + 1; f < X86_REG_ENDING; ++f) {
    if (register_family(f) == f && family_name(f) == name) return f;
  }
  return 0;
}

}  // namespace backstep::x86
