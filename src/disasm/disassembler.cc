#include "disasm/disassembler.h"

#include <capstone/capstone.h>

#include "base/errors.h"

namespace backstep {

Disassembler::Disassembler() {
  csh h = 0;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK) throw Error("cannot start Capstone");
  handle_ = h;
}

Disassembler::~Disassembler() {
  csh h = handle_;
  cs_close(&h);
}

std::vector<Instruction> Disassembler::decode(std::span<const uint8_t> code, uint64_t address,
                                              size_t max) const {
  std::vector<Instruction> out;
  cs_insn* insn = nullptr;
  size_t n = cs_disasm(handle_, code.data(), code.size(), address, max, &insn);
  for (size_t i = 0; i < n; ++i) {
    std::string text = insn[i].mnemonic;
    if (insn[i].op_str[0]) text += std::string(" ") + insn[i].op_str;
    out.push_back({insn[i].address, insn[i].size, std::move(text)});
  }
  if (n) cs_free(insn, n);
  return out;
}

}  // namespace backstep
