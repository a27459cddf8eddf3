// Making a stopped tracee run one syscall of the tracer's choosing, and then
// putting it back exactly as it was. Checkpoints (replayer/) are built on it:
// a fork made from inside the program, threads cloned into the copy, and
// per-thread kernel state (robust list, clear-tid address, signal stack)
// set up again there.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>

#include "ptrace/task.h"

namespace backstep {

// Where a stopped thread is held, as far as moving it again is concerned.
enum class HeldAt {
  // Resuming it with no signal runs user code from its registers (a syscall
  // exit, a trap or fault already dealt with, a new thread's first stop).
  kUserCode,
  // At a syscall-entry stop: resuming it lets the kernel run (or, with
  // orig_rax = -1, skip) the syscall its registers describe.
  kSyscallEntry,
};

struct InjectedResult {
  int64_t value = 0;  // the syscall's return value (rax)
  pid_t created = 0;  // for clone: the new task, as the tracer names it
};

// Runs syscall `nr` with `args` in `task` (stopped, held at `at`) and puts
// the thread back in the same place with the same registers. A clone's new
// task is left at its first stop, not waited for. Throws Error if the
// thread does anything but the syscall (it must not have a signal pending).
InjectedResult inject_syscall(const Task& task, const AddressSpace& mem, HeldAt at, long nr,
                              std::array<uint64_t, 6> args = {});

// Brings a thread held at kUserCode to a syscall-entry stop with registers
// `entry` (those of another thread at that stop): it executes the syscall
// instruction just before entry.rip again, and gets `entry` at the stop.
void reenter_syscall(const Task& task, const AddressSpace& mem, const Registers& entry);

// Waits for the first stop of a task created by an injected clone.
void wait_for_new_task(pid_t tid);

}  // namespace backstep
