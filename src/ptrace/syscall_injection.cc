#include "ptrace/syscall_injection.h"

#include <fmt/core.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#include <cstring>

#include "base/errors.h"

namespace backstep {
namespace {

constexpr uint8_t kSyscallInsn[2] = {0x0f, 0x05};

WaitStatus wait_stopped(pid_t tid) {
  auto st = wait_for(tid);
  if (!st) throw Error(fmt::format("thread {} vanished while the tracer moved it", tid));
  if (!st->stopped()) throw Error(fmt::format("while the tracer moved it, {}", st->describe()));
  return *st;
}

// Resumes to the thread's next syscall stop, noting a clone on the way.
void to_syscall_stop(const Task& task, pid_t* created) {
  for (;;) {
    if (!task.resume(Resume::kSyscall, 0)) {
      throw Error(fmt::format("thread {} vanished while the tracer moved it", task.tid()));
    }
    WaitStatus st = wait_stopped(task.tid());
    if (st.syscall_stop()) return;
    int event = st.ptrace_event();
    // The syscall buffer's filter stops a traced syscall once more after
    // its entry stop; the exit stop comes next.
    if (event == PTRACE_EVENT_SECCOMP) continue;
    if (event == PTRACE_EVENT_CLONE || event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK) {
      if (created) *created = static_cast<pid_t>(task.event_message());
      continue;
    }
    throw Error(fmt::format("an injected syscall did not come back: {}", st.describe()));
  }
}

void set_call(Registers& r, long nr, const std::array<uint64_t, 6>& args) {
  for (int i = 0; i < 6; ++i) set_syscall_arg(r, i, args[static_cast<size_t>(i)]);
  r.orig_rax = static_cast<uint64_t>(nr);
  r.rax = static_cast<uint64_t>(nr);
}

}  // namespace

InjectedResult inject_syscall(const Task& task, const AddressSpace& mem, HeldAt at, long nr,
                              std::array<uint64_t, 6> args) {
  const Registers saved = task.regs();
  Registers r = saved;
  set_call(r, nr, args);
  InjectedResult out;
  if (at == HeldAt::kSyscallEntry) {
    // At the entry stop the kernel reads the number and arguments back from
    // the registers: this stop becomes our call's.
    task.set_regs(r);
    to_syscall_stop(task, &out.created);  // its exit
    out.value = static_cast<int64_t>(task.regs().rax);
    // Then the thread's own syscall is entered again, as it was.
    reenter_syscall(task, mem, saved);
    return out;
  }
  // Elsewhere: a syscall instruction over the one at rip, for one call.
  uint8_t code[2] = {};
  mem.read_or_throw(saved.rip, code, sizeof code);
  mem.write_or_throw(saved.rip, kSyscallInsn, sizeof kSyscallInsn);
  try {
    task.set_regs(r);
    to_syscall_stop(task, &out.created);  // entry
    to_syscall_stop(task, &out.created);  // exit
    out.value = static_cast<int64_t>(task.regs().rax);
  } catch (...) {
    mem.write(saved.rip, code, sizeof code);
    throw;
  }
  mem.write_or_throw(saved.rip, code, sizeof code);
  // Now at a syscall-exit stop, from which a resumption runs user code from
  // the registers just as from the stop it was at.
  task.set_regs(saved);
  return out;
}

void reenter_syscall(const Task& task, const AddressSpace& mem, const Registers& entry) {
  uint8_t code[2] = {};
  mem.read_or_throw(entry.rip - 2, code, sizeof code);
  if (std::memcmp(code, kSyscallInsn, sizeof code) != 0) {
    throw Error(
        fmt::format("thread {}: no syscall instruction before {:#x}", task.tid(), entry.rip));
  }
  Registers r = entry;
  r.rip = entry.rip - 2;
  r.rax = SYS_getppid;  // entered, then replaced by the real call's registers
  task.set_regs(r);
  to_syscall_stop(task, nullptr);
  task.set_regs(entry);
}

void wait_for_new_task(pid_t tid) { wait_stopped(tid); }

}  // namespace backstep
