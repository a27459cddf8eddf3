#include "disasm/memory_access.h"

#include <capstone/capstone.h>

#include "base/errors.h"

namespace backstep {
namespace {

// The 64-bit value of a Capstone register, or false if it is not one of
// the general registers (or their 32-bit halves) an address can use.
bool register_value(unsigned reg, const user_regs_struct& r, uint64_t next_pc, uint64_t* out) {
  switch (reg) {
    case X86_REG_RAX: case X86_REG_EAX: *out = r.rax; break;
    case X86_REG_RBX: case X86_REG_EBX: *out = r.rbx; break;
    case X86_REG_RCX: case X86_REG_ECX: *out = r.rcx; break;
    case X86_REG_RDX: case X86_REG_EDX: *out = r.rdx; break;
    case X86_REG_RSI: case X86_REG_ESI: *out = r.rsi; break;
    case X86_REG_RDI: case X86_REG_EDI: *out = r.rdi; break;
    case X86_REG_RBP: case X86_REG_EBP: *out = r.rbp; break;
    case X86_REG_RSP: case X86_REG_ESP: *out = r.rsp; break;
    case X86_REG_R8: case X86_REG_R8D: *out = r.r8; break;
    case X86_REG_R9: case X86_REG_R9D: *out = r.r9; break;
    case X86_REG_R10: case X86_REG_R10D: *out = r.r10; break;
    case X86_REG_R11: case X86_REG_R11D: *out = r.r11; break;
    case X86_REG_R12: case X86_REG_R12D: *out = r.r12; break;
    case X86_REG_R13: case X86_REG_R13D: *out = r.r13; break;
    case X86_REG_R14: case X86_REG_R14D: *out = r.r14; break;
    case X86_REG_R15: case X86_REG_R15D: *out = r.r15; break;
    case X86_REG_RIP: *out = next_pc; break;
    case X86_REG_INVALID: *out = 0; break;
    default: return false;
  }
  if (reg >= X86_REG_EAX && reg <= X86_REG_R15D && reg != X86_REG_RIP) {
    // 32-bit address registers zero-extend.
    switch (reg) {
      case X86_REG_EAX: case X86_REG_EBX: case X86_REG_ECX: case X86_REG_EDX:
      case X86_REG_ESI: case X86_REG_EDI: case X86_REG_EBP: case X86_REG_ESP:
      case X86_REG_R8D: case X86_REG_R9D: case X86_REG_R10D: case X86_REG_R11D:
      case X86_REG_R12D: case X86_REG_R13D: case X86_REG_R14D: case X86_REG_R15D:
        *out &= 0xffffffffu;
        break;
      default:
        break;
    }
  }
  return true;
}

}  // namespace

AccessDecoder::AccessDecoder() {
  csh h = 0;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK) throw Error("cannot start Capstone");
  cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
  handle_ = h;
}

AccessDecoder::~AccessDecoder() {
  csh h = handle_;
  cs_close(&h);
}

std::vector<MemoryAccess> AccessDecoder::accesses(std::span<const uint8_t> code,
                                                  const user_regs_struct& regs) const {
  std::vector<MemoryAccess> out;
  cs_insn* insn = nullptr;
  size_t n = cs_disasm(handle_, code.data(), code.size(), regs.rip, 1, &insn);
  if (n == 0) return out;
  const cs_x86& x86 = insn[0].detail->x86;
  uint64_t next_pc = regs.rip + insn[0].size;
  bool is_lea = insn[0].id == X86_INS_LEA || insn[0].id == X86_INS_NOP;
  for (uint8_t i = 0; i < x86.op_count && !is_lea; ++i) {
    const cs_x86_op& op = x86.operands[i];
    if (op.type != X86_OP_MEM) continue;
    uint64_t base = 0, index = 0;
    if (!register_value(op.mem.base, regs, next_pc, &base) ||
        !register_value(op.mem.index, regs, next_pc, &index)) {
      continue;
    }
    uint64_t addr = base + index * static_cast<uint64_t>(op.mem.scale) +
                    static_cast<uint64_t>(op.mem.disp);
    if (op.mem.segment == X86_REG_FS) addr += regs.fs_base;
    if (op.mem.segment == X86_REG_GS) addr += regs.gs_base;
    MemoryAccess a;
    a.addr = addr;
    a.size = op.size ? op.size : 8;
    a.read = (op.access & CS_AC_READ) != 0;
    a.write = (op.access & CS_AC_WRITE) != 0;
    if (!a.read && !a.write) a.read = true;  // Capstone did not say: assume a read
    out.push_back(a);
  }
  // The stack slot of push/call (write) and pop/ret (read).
  switch (insn[0].id) {
    case X86_INS_PUSH: case X86_INS_CALL:
      out.push_back({regs.rsp - 8, 8, false, true});
      break;
    case X86_INS_POP: case X86_INS_RET:
      out.push_back({regs.rsp, 8, true, false});
      break;
    default:
      break;
  }
  cs_free(insn, n);
  return out;
}

}  // namespace backstep
