// What the recorder knows of one traced process: its memory and the rdtsc
// sites patched in it, shared by its threads (rr's AddressSpace). A thread
// points at its process; the process outlives its threads' records.
#pragma once

#include <sys/types.h>

#include "ptrace/rdtsc_patcher.h"
#include "ptrace/task.h"

namespace backstep::recorder {

struct Process {
  explicit Process(pid_t leader) : tgid(leader), vpid(namespace_tid(leader)), mem(leader) {}
  pid_t tgid;  // the leader's tid, as the tracer sees it
  pid_t vpid;  // as the program sees it; what the trace records
  AddressSpace mem;
  RdtscPatcher patcher;
};

}  // namespace backstep::recorder
