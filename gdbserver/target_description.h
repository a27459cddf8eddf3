// What gdb is told about the machine: x86-64 GNU/Linux with gdb's own
// register numbering (the `g` packet order), as target.xml.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace backstep::gdbserver {

// gdb's amd64-linux register numbers, the ones served.
enum RegisterNumber : int {
  kRax = 0,  // ... r15 = 15, in the order rax rbx rcx rdx rsi rdi rbp rsp r8..r15
  kRip = 16,
  kEflags = 17,
  kCs = 18,     // cs ss ds es fs gs: 18..23
  kSt0 = 24,    // st0..st7: 24..31, 10 bytes each
  kFctrl = 32,  // fctrl fstat ftag fiseg fioff foseg fooff fop: 32..39
  kXmm0 = 40,   // xmm0..xmm15: 40..55
  kMxcsr = 56,
  kOrigRax = 57,
  kFsBase = 58,
  kGsBase = 59,
  kRegisterCount = 60,
};

struct RegisterInfo {
  std::string_view name;
  size_t size;  // bytes in the `g`/`p` packets
};

// Indexed by RegisterNumber.
const std::vector<RegisterInfo>& register_layout();

// The XML of a qXfer:features:read annex ("target.xml"); nullptr for any
// other annex.
const std::string* target_description(std::string_view annex);

}  // namespace backstep::gdbserver
