#include "ptrace/interrupt_signature.h"

#include <fmt/core.h>
#include <xxhash.h>

#include <cstring>

namespace backstep {

uint64_t vector_digest(std::span<const std::byte> xstate) {
  // Legacy area: MXCSR at 24, ST0-7 at 32 (128 bytes), XMM0-15 at 160 (256
  // bytes); the XSAVE header's XSTATE_BV at 512; the upper halves of
  // YMM0-15 at 576 (256 bytes) when AVX state is present.
  constexpr size_t kLegacyEnd = 416;
  if (xstate.size() < kLegacyEnd) return 0;
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  XXH3_64bits_update(st, xstate.data() + 24, 4);
  XXH3_64bits_update(st, xstate.data() + 32, kLegacyEnd - 32);
  uint64_t bv = 0;
  if (xstate.size() >= 576 + 256) std::memcpy(&bv, xstate.data() + 512, sizeof bv);
  if (bv & 4) {
    XXH3_64bits_update(st, xstate.data() + 576, 256);
  } else {
    static const std::byte zeros[256] = {};
    XXH3_64bits_update(st, zeros, sizeof zeros);
  }
  uint64_t h = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return h == 0 ? 1 : h;  // 0 means "none"
}

std::string register_mismatch(const Registers& want, const Registers& got) {
  struct Field {
    const char* name;
    unsigned long long Registers::*member;
  };
  static const Field fields[] = {
      {"rip", &Registers::rip},         {"rsp", &Registers::rsp},
      {"rbp", &Registers::rbp},         {"rax", &Registers::rax},
      {"rbx", &Registers::rbx},         {"rcx", &Registers::rcx},
      {"rdx", &Registers::rdx},         {"rsi", &Registers::rsi},
      {"rdi", &Registers::rdi},         {"r8", &Registers::r8},
      {"r9", &Registers::r9},           {"r10", &Registers::r10},
      {"r11", &Registers::r11},         {"r12", &Registers::r12},
      {"r13", &Registers::r13},         {"r14", &Registers::r14},
      {"r15", &Registers::r15},         {"orig_rax", &Registers::orig_rax},
      {"fs_base", &Registers::fs_base}, {"gs_base", &Registers::gs_base},
  };
  for (const Field& f : fields) {
    if (want.*f.member != got.*f.member) {
      return fmt::format("{} is {:#x}, recorded {:#x}", f.name, got.*f.member, want.*f.member);
    }
  }
  if ((want.eflags ^ got.eflags) & ~kIgnoredFlags) {
    return fmt::format("eflags is {:#x}, recorded {:#x}", got.eflags, want.eflags);
  }
  return {};
}

}  // namespace backstep
