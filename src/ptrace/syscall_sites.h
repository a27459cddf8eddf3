// Where a library's code makes syscalls that the syscall buffer can take
// over by patching, found by a linear sweep of the file's executable
// segments (Capstone, as RdtscPatcher sweeps; cached on disk):
//
//   kMovBefore:  `mov $nr,%eax; syscall` (436 of glibc 2.36's 526 syscall
//                instructions). The 5-byte mov becomes a jmp to a slot; the
//                syscall instruction stays, so every instruction start code
//                can come back to (the syscall, for a restarted call; the
//                instruction after it, for a call that blocked) stays one.
//   kCmpAfter:   `syscall; cmp $imm32,%rax` with the number set by the
//                instruction before (`xor %eax,%eax`: read) or by a `mov
//                $nr,%eax` one instruction further back. The 8 bytes become
//                a jmp to a slot that makes the call and the cmp. The cmp is
//                no longer an instruction start: no direct branch may target
//                it, and the recorder patches only when no thread can come
//                back there (blocked in that syscall, or in a signal handler
//                that interrupted it).
//
// See docs/ARCHITECTURE.md, "The syscall buffer".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace backstep {

struct SyscallSite {
  enum Kind : uint8_t { kMovBefore = 1, kCmpAfter = 2 };
  Kind kind{};
  uint32_t nr = 0;
};

class SyscallSites {
 public:
  // The site whose syscall instruction is at file offset `offset` of `path`.
  std::optional<SyscallSite> at(const std::string& path, uint64_t offset);

 private:
  using Sites = std::map<uint64_t, SyscallSite>;  // by the syscall instruction's offset
  const Sites& sites_of(const std::string& path);
  static Sites sweep(const std::string& path);
  std::map<std::string, Sites> by_file_;
};

}  // namespace backstep
