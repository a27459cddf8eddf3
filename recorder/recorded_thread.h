// What the recorder knows of one traced thread of the program.
#pragma once

#include <signal.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ptrace/proc.h"
#include "ptrace/shared_region.h"
#include "ptrace/task.h"
#include "recorder/mapped_files.h"
#include "runtime/abi.h"
#include "syscalls/syscall_table.h"

namespace backstep::recorder {

struct Process;

// How a thread blocked in the kernel comes back, which decides when the
// scheduler may see it again (see "Blocked threads" in docs/ARCHITECTURE.md).
enum class Wait {
  kNone,
  kFutex,    // FUTEX_WAIT* without a timeout: due when a recorded wake names it
  kTimed,    // a sleep or a wait with a timeout: due after kTimedWaitDecisions decisions
  kUntimed,  // anything else (pipes, sockets, wait4): seen when nothing else can run
  kVfork,    // vfork's parent: due when the child execs or ends
};

struct Thread {
  explicit Thread(pid_t tid) : task(tid), vtid(namespace_tid(tid)) {}
  Task task;
  pid_t vtid;                  // the tid the program sees; what the trace records
  Process* process = nullptr;  // the process it belongs to (never null once known)
  enum class State { kStarting, kStopped, kInKernel, kDead } state = State::kStarting;
  bool reaped = false;      // its exit was reported
  bool in_syscall = false;  // between entry and exit stops
  bool has_run = false;     // resumed at least once (preemption lets newcomers in early)
  sys::SyscallArgs call{};
  int64_t last_result = 0;               // of the last syscall exit recorded
  std::optional<int64_t> forced_result;  // the tracer's answer (registration, rseq)
  bool seeded_random = false;            // getrandom answered from the seed
  std::string mapped_path;               // mmap of a file: its path at entry
  std::optional<FileId> fd_file;         // a write's fd: the regular file it writes
  bool cloned = false;                   // this clone call made a traced thread
  std::string exec_path;                 // execve: the file as the program named it
  std::string exec_content;              // ... and the trace's copy of it
  std::optional<uint64_t> block;         // ThreadBlock address
  // The syscall buffer (recorder/syscall_buffer.cc): its header's address,
  // and whether the library's seccomp filter is in place, so that the
  // thread runs with PTRACE_CONT and stops only at traced syscalls.
  std::optional<uint64_t> syscallbuf;
  // The recorder's own mapping of that buffer (ptrace/shared_region.h):
  // drains read it with plain loads. Null where sharing failed (drains then
  // read through the kernel).
  std::shared_ptr<SharedRegion> buffer_view;
  // A fork child's copy of its creator's buffer as the fork found it: the
  // fork left the child's buffer shared with its creator's, so it is made
  // the child's own, with these bytes, before the child first runs.
  std::optional<std::vector<std::byte>> buffer_at_fork;
  bool seccomp = false;
  bool at_seccomp_stop = false;  // its last stop was a PTRACE_EVENT_SECCOMP (an entry)
  bool buffer_drained_at_entry = false;  // its last stop was an entry that drained its buffer
  // Preempted inside the buffer's path: its buffer is off until its next
  // stop, and the exit of its next traced call is a switch point.
  bool yield_at_next_call = false;
  bool buffer_paused = false;  // mode off around a vfork (the child shares the buffer)
  uint64_t call_rip = 0;       // rip at the current syscall's entry (after the instruction)
  // Signal handlers entered and not yet left by rt_sigreturn: their frames
  // may return into the middle of a syscall site (syscall_buffer.cc).
  int handler_frames = 0;
  uint64_t ticks = 0;
  uint64_t tick_limit = 0;
  uint64_t ring_drained = 0;     // events consumed: the ring head at the last stop
  uint64_t syscall_entries = 0;  // syscall-entry stops recorded (forced switches' position)
  uint64_t event_limit = 0;
  uint64_t ring_capacity = abi::kRingCapacity;
  int deliver_signal = 0;   // delivered on the next resume
  int injected_signal = 0;  // resumed from a syscall stop with it: its stop is ours
  // Asynchronous, held for a scheduling point, with the siginfo the kernel
  // queued (the stop of the signal sent again carries the recorder's own).
  // One is let through only where the thread does not block it.
  std::vector<siginfo_t> held_signals;
  std::optional<siginfo_t> injected_info;
  bool from_outside = false;  // the signal stop at hand: one of those (its siginfo is kept)
  // restart_syscall continues the call a signal interrupted with
  // -ERESTART_RESTARTBLOCK (nanosleep, clock_nanosleep, poll, a timed futex
  // wait): that call's arguments say what it writes and how it waits.
  std::optional<sys::SyscallArgs> interrupted_call;
  const sys::SyscallArgs& semantics() const {
    return call.nr == SYS_restart_syscall && interrupted_call ? *interrupted_call : call;
  }
  // nanosleep's remaining time as it was before the call (see
  // Session::undo_restart_writes).
  std::vector<std::byte> rem_before;
  // The registers of its last recorded stop when that was a syscall exit:
  // a signal stop with these registers comes before any user code ran.
  std::optional<Registers> exit_regs;
  // While blocked in the kernel (kInKernel) or starting: the stop that
  // brought it back, kept until a deterministic point admits it.
  std::optional<WaitStatus> arrival;
  Wait wait = Wait::kNone;
  uint64_t blocked_at = 0;  // Session::decisions_ when it blocked
  bool due = false;         // queued in Session::due_
  uint64_t clear_tid = 0;   // CLONE_CHILD_CLEARTID / set_tid_address: woken at exit
  // --bind-cpu: the thread runs bound to the recorder's CPU; around its own
  // affinity calls, which thread to bind again or to leave to the program.
  bool bound = false;
  pid_t affinity_rebind = 0;
  pid_t affinity_set = 0;
  ThreadStatFiles stat_files;  // its /proc stat and schedstat, kept open
  std::optional<char> proc_state() { return stat_files.state(process->tgid, task.tid()); }
  std::optional<uint64_t> cpu_ns() { return stat_files.cpu_ns(process->tgid, task.tid()); }
};

}  // namespace backstep::recorder
