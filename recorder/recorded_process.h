// What the recorder knows of one traced process: its memory and the rdtsc
// sites patched in it, shared by its threads (rr's AddressSpace). A thread
// points at its process; the process outlives its threads' records.
#pragma once

#include <sys/types.h>

#include <optional>

#include "ptrace/rdtsc_patcher.h"
#include "ptrace/task.h"

namespace backstep::recorder {

struct Process {
  explicit Process(pid_t leader) : tgid(leader), vpid(namespace_tid(leader)), mem(leader) {}
  pid_t tgid;  // the leader's tid, as the tracer sees it
  pid_t vpid;  // as the program sees it; what the trace records
  AddressSpace mem;
  RdtscPatcher patcher;
  pid_t parent = 0;        // the process that made it (tgid); 0 for the first
  bool dying = false;      // exit_group or a fatal signal: its threads are going
  pid_t ender = 0;         // the thread that is ending it (0: killed from outside)
  pid_t execing = 0;       // the thread inside execve/execveat, if any
  pid_t vfork_parent = 0;  // the thread sleeping in vfork until this one execs or ends
  std::optional<WaitStatus> end;  // how its leader ended
  bool ended = false;             // every thread collected; its end is known to the others
};

}  // namespace backstep::recorder
