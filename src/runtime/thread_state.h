// Internal to the runtime: the per-thread block and the trap into the tracer.
#pragma once

#include "runtime/abi.h"

namespace backstep::rt {

// Registers the block with a tracer (see abi::kRegisterSyscall) if this
// thread has not done so yet.
void register_thread(abi::ThreadBlock& block);

// Stops the thread in a SIGTRAP that the tracer recognises by trap_reason.
inline void trap_to_tracer(abi::ThreadBlock& block, abi::TrapReason reason) {
  block.trap_reason = static_cast<uint32_t>(reason);
  asm volatile("int3" ::: "memory");
}

}  // namespace backstep::rt
