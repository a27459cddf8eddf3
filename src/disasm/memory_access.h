// Which memory an instruction reads or writes, computed from its operands
// and the registers before it runs. This machine kind has no working
// hardware debug registers (gdb's watchpoints never fire here), so
// watching memory means single-stepping and asking this.
#pragma once

#include <sys/user.h>

#include <cstdint>
#include <span>
#include <vector>

namespace backstep {

struct MemoryAccess {
  uint64_t addr = 0;
  uint32_t size = 0;
  bool read = false;
  bool write = false;
};

class AccessDecoder {
 public:
  AccessDecoder();
  ~AccessDecoder();
  AccessDecoder(const AccessDecoder&) = delete;
  AccessDecoder& operator=(const AccessDecoder&) = delete;

  // The explicit memory operands of the instruction in `code` (at regs.rip).
  // Implicit accesses (push/pop/call/ret stack slots, string instructions)
  // are included for the stack-pointer forms.
  std::vector<MemoryAccess> accesses(std::span<const uint8_t> code,
                                     const user_regs_struct& regs) const;

 private:
  size_t handle_ = 0;
};

inline bool overlaps(const MemoryAccess& a, uint64_t addr, uint64_t len) {
  return a.addr < addr + len && addr < a.addr + a.size;
}

}  // namespace backstep
