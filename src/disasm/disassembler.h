// x86-64 disassembly with Capstone.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace backstep {

struct Instruction {
  uint64_t address = 0;
  uint32_t size = 0;
  std::string text;  // "mov rax, qword ptr [rdi + 8]"
};

class Disassembler {
 public:
  Disassembler();
  ~Disassembler();
  Disassembler(const Disassembler&) = delete;
  Disassembler& operator=(const Disassembler&) = delete;

  // Decodes up to `max` instructions from `code`, which sits at `address`.
  std::vector<Instruction> decode(std::span<const uint8_t> code, uint64_t address,
                                  size_t max) const;

 private:
  size_t handle_ = 0;  // csh
};

}  // namespace backstep
