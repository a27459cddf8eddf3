// Where a library's code makes syscalls that the syscall buffer can take
// over by patching: `mov $nr,%eax` (b8 imm32) immediately followed by
// `syscall` (0f 05), both instruction starts in a linear sweep of the file's
// executable segments (Capstone, as RdtscPatcher sweeps). 436 of glibc
// 2.36's 526 syscall instructions have that form.
//
// Patching replaces the 5-byte mov with a 5-byte jmp and keeps the syscall
// instruction, so every instruction start that code can return to (the
// syscall, for a restarted call; the instruction after it, for a call that
// blocked) stays one. See docs/ARCHITECTURE.md, "Patched syscall sites".
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace backstep {

class SyscallSites {
 public:
  // Whether file offset `offset` of `path` starts such a pair.
  bool is_site(const std::string& path, uint64_t offset);

 private:
  const std::vector<uint64_t>& sites_of(const std::string& path);
  static std::vector<uint64_t> sweep(const std::string& path);
  std::map<std::string, std::vector<uint64_t>> by_file_;  // sorted offsets of the movs
};

}  // namespace backstep
