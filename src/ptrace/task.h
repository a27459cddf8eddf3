// A traced thread and the address space it shares with its siblings.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/unique_fd.h"

namespace backstep {

using Registers = user_regs_struct;

// How a stopped task is let go.
enum class Resume { kContinue, kSyscall, kSingleStep };

// The memory of a traced process, read and written through /proc/PID/mem,
// which (unlike process_vm_writev) also writes read-only pages: breakpoints,
// file contents of replayed mappings, patched auxv entries.
class AddressSpace {
 public:
  explicit AddressSpace(pid_t pid);

  pid_t pid() const { return pid_; }
  // After an exec: /proc/PID/mem stays bound to the memory it was opened
  // on, which the exec threw away.
  void reopen();
  // Reads len bytes; false if any of it is unmapped.
  bool read(uint64_t addr, void* out, size_t len) const;
  std::vector<std::byte> read_bytes(uint64_t addr, size_t len) const;  // throws on failure
  template <class T>
  T read_value(uint64_t addr) const {
    T v{};
    read_or_throw(addr, &v, sizeof v);
    return v;
  }
  void read_or_throw(uint64_t addr, void* out, size_t len) const;
  // Reads len bytes with process_vm_readv (one copy, pages pinned in
  // batches: about twice as fast as /proc/PID/mem for large reads), falling
  // back to read() for what it cannot reach. For bulk reads such as rings.
  bool read_bulk(uint64_t addr, void* out, size_t len) const;
  // A NUL-terminated string of at most max bytes.
  std::string read_string(uint64_t addr, size_t max = 4096) const;
  bool write(uint64_t addr, const void* data, size_t len) const;
  void write_or_throw(uint64_t addr, const void* data, size_t len) const;
  template <class T>
  void write_value(uint64_t addr, const T& v) const {
    write_or_throw(addr, &v, sizeof v);
  }

 private:
  pid_t pid_;
  UniqueFd mem_;
};

// One kernel thread under ptrace. Thin: it knows how to ask the kernel about
// and move its thread, not what the thread means to a recording.
class Task {
 public:
  explicit Task(pid_t tid) : tid_(tid) {}
  pid_t tid() const { return tid_; }

  Registers regs() const;
  void set_regs(const Registers& regs) const;
  siginfo_t siginfo() const;
  // At a signal-delivery stop: what the handler will be given.
  void set_siginfo(const siginfo_t& si) const;
  unsigned long event_message() const;
  // The FPU/SSE/AVX state (the XSAVE area, as PTRACE_GETREGSET NT_X86_XSTATE
  // gives it) and the blocked-signal mask: with the registers, everything of
  // a thread that a copy of it needs.
  std::vector<std::byte> xstate() const;
  void set_xstate(const std::vector<std::byte>& state) const;
  uint64_t blocked_signals() const;
  void set_blocked_signals(uint64_t mask) const;
  // Returns false if the thread is gone (ESRCH): it was killed meanwhile.
  bool resume(Resume how, int signal = 0) const;

 private:
  pid_t tid_;
};

// What waitpid said about one thread.
struct WaitStatus {
  pid_t tid = 0;
  int status = 0;

  bool exited() const { return WIFEXITED(status); }
  bool signaled() const { return WIFSIGNALED(status); }
  bool stopped() const { return WIFSTOPPED(status); }
  int exit_code() const { return WEXITSTATUS(status); }
  int term_signal() const { return WTERMSIG(status); }
  int stop_signal() const { return WSTOPSIG(status); }
  // PTRACE_EVENT_* of an event stop, else 0.
  int ptrace_event() const { return stopped() ? (status >> 16) & 0xff : 0; }
  // A syscall-entry or -exit stop (PTRACE_O_TRACESYSGOOD).
  bool syscall_stop() const { return stopped() && stop_signal() == (SIGTRAP | 0x80); }
  std::string describe() const;
};

// The thread id `tid` (as the tracer sees it) has in its own, innermost PID
// namespace: what the program itself sees from gettid(). Recordings name
// threads by it, since it is the same in every replay.
pid_t namespace_tid(pid_t tid);

// Whether thread `tid` belongs to the process `tgid` (a wait status of an
// earlier, killed process can still arrive after a new one started).
bool thread_of_process(pid_t tid, pid_t tgid);

// Waits for any traced thread (tid = -1) or one thread; __WALL.
std::optional<WaitStatus> wait_for(pid_t tid, bool nohang = false);

// clang-format off
// Syscall arguments from the registers of a syscall stop.
inline uint64_t syscall_arg(const Registers& r, int i) {
  switch (i) {
    case 0: return r.rdi;
    case 1: return r.rsi;
    case 2: return r.rdx;
    case 3: return r.r10;
    case 4: return r.r8;
    default: return r.r9;
  }
}
inline void set_syscall_arg(Registers& r, int i, uint64_t v) {
  switch (i) {
    case 0: r.rdi = v; break;
    case 1: r.rsi = v; break;
    case 2: r.rdx = v; break;
    case 3: r.r10 = v; break;
    case 4: r.r8 = v; break;
    default: r.r9 = v; break;
  }
}
// clang-format on

}  // namespace backstep
