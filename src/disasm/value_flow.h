// Where an instruction got the value it left in a register or stored to
// memory: the steps of a dataflow walk ("this pointer was loaded from
// there, which was stored from that register, which was loaded from ...").
// Decided from the instruction and the registers before it runs, so that a
// replay can follow a bad value back one instruction at a time.
#pragma once

#include <sys/user.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "disasm/memory_access.h"

namespace backstep {

struct ValueSource {
  enum class Kind {
    kMemory,    // loaded from `memory` (mov, movzx, pop, a string move's source)
    kRegister,  // copied from register family `reg`, its byte `offset` on
    kConstant,  // an immediate, a zeroing idiom, a return address: `constant`
    kSyscall,   // the kernel's result (rax after `syscall`)
    kComputed,  // arithmetic, or an instruction this does not follow: the walk ends
  };
  Kind kind = Kind::kComputed;
  MemoryAccess memory;
  unsigned reg = 0;  // a family (disasm/x86_registers.h)
  uint32_t offset = 0;
  uint64_t constant = 0;
  // How the instruction passed the value on when it is not a plain copy:
  // "plus 0x10" for pointer arithmetic (add of a constant, lea).
  std::string note;
};

class ValueFlowDecoder {
 public:
  ValueFlowDecoder();
  ~ValueFlowDecoder();
  ValueFlowDecoder(const ValueFlowDecoder&) = delete;
  ValueFlowDecoder& operator=(const ValueFlowDecoder&) = delete;

  // The register families the instruction in `code` (at regs.rip) writes,
  // flags and rip left out.
  std::vector<unsigned> written_registers(std::span<const uint8_t> code,
                                          const user_regs_struct& regs) const;
  // Reads `size` bytes of the program's memory at `addr` (nullopt: unreadable).
  using ReadValue = std::function<std::optional<uint64_t>(uint64_t addr, uint32_t size)>;
  // Where it got the value it leaves in `family` (one it writes). With
  // `pointer` (the value is a pointer being followed), an add of two values
  // follows the one that looks like the pointer: an address (>= 64 KiB)
  // rather than an offset, else a null one, else the one from memory.
  ValueSource register_source(std::span<const uint8_t> code, const user_regs_struct& regs,
                              unsigned family, const ReadValue* pointer = nullptr) const;
  // Where it got the bytes it stores at `addr` (an address it writes).
  ValueSource store_source(std::span<const uint8_t> code, const user_regs_struct& regs,
                           uint64_t addr) const;
  // Every explicit operand as a value it reads (a compare's two sides).
  std::vector<ValueSource> operands(std::span<const uint8_t> code,
                                    const user_regs_struct& regs) const;
  // The register that holds the address of its memory operand (the base,
  // else the index), with the access: for a fault, the bad pointer.
  struct AddressRegister {
    unsigned family = 0;
    MemoryAccess access;
  };
  std::optional<AddressRegister> address_register(std::span<const uint8_t> code,
                                                  const user_regs_struct& regs) const;

 private:
  size_t handle_ = 0;  // csh
};

}  // namespace backstep
