// ConditionalBreakpoint::patchable: which code replay's stub can be put
// over. The recorder steps an interrupted thread on to such code, so that
// replay finds the instant with the stub rather than a trap at every pass.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

#include "ptrace/conditional_breakpoint.h"

namespace backstep {
namespace {

bool patchable(std::vector<uint8_t> code) {
  code.resize(64, 0x90);  // nops after: what follows is readable
  AddressSpace self(::getpid());
  return ConditionalBreakpoint::patchable(self, reinterpret_cast<uint64_t>(code.data()));
}

TEST(PatchableCode, StraightLineInstructionsOfFiveBytesOrMore) {
  EXPECT_TRUE(patchable({0x48, 0x8b, 0x05, 0x10, 0x00, 0x00, 0x00}));  // mov rax, [rip+0x10]
  EXPECT_TRUE(patchable({0x48, 0x89, 0xd8, 0x48, 0x01, 0xc3}));  // mov rax, rbx ; add rbx, rax
  EXPECT_TRUE(patchable({0x90, 0x90, 0x90, 0x90, 0x90}));
}

TEST(PatchableCode, BranchesCallsAndTrapsAreNot) {
  EXPECT_FALSE(patchable({0xff, 0x25, 0xaa, 0x8f, 0x01, 0x00}));  // a PLT entry: jmp [rip+d]
  EXPECT_FALSE(patchable({0xe8, 0x00, 0x00, 0x00, 0x00}));        // call
  EXPECT_FALSE(
      patchable({0x48, 0x89, 0xd8, 0x75, 0xfb}));  // mov rax, rbx ; jne back: in the 5 bytes
  EXPECT_FALSE(patchable({0x0f, 0x05}));           // syscall
  EXPECT_FALSE(patchable({0xcc}));                 // int3
  EXPECT_FALSE(patchable({0xc3}));                 // ret
}

TEST(PatchableCode, UnreadableCodeIsNot) {
  EXPECT_FALSE(ConditionalBreakpoint::patchable(AddressSpace(::getpid()), 0x10));
}

}  // namespace
}  // namespace backstep
