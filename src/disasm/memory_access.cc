#include "disasm/memory_access.h"

#include <capstone/capstone.h>

#include "base/errors.h"
#include "disasm/x86_registers.h"

namespace backstep {

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
  const cs_x86& detail = insn[0].detail->x86;
  uint64_t next_pc = regs.rip + insn[0].size;
  bool is_lea = insn[0].id == X86_INS_LEA || insn[0].id == X86_INS_NOP;
  for (uint8_t i = 0; i < detail.op_count && !is_lea; ++i) {
    const cs_x86_op& op = detail.operands[i];
    if (op.type != X86_OP_MEM) continue;
    uint64_t addr = 0;
    if (!x86::memory_address(op.mem.base, op.mem.index, op.mem.scale, op.mem.disp, op.mem.segment,
                             regs, next_pc, &addr)) {
      continue;
    }
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
