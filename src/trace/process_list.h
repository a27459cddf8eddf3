// The processes of a recording, read from its records: which process each
// thread belongs to, who made it, what it runs, how it ended. For `info`,
// the debugger's `info processes` and anything that names processes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "trace/trace_reader.h"

namespace backstep::trace {

struct ProcessSummary {
  int32_t pid = 0;              // as the program sees it
  int32_t parent = 0;           // 0 for the first
  uint64_t flags = 0;           // clone flags of its creation (ProcessStart)
  std::string exe;              // what it runs (after its last exec so far)
  size_t started = 0;           // record index of its creation
  std::vector<size_t> execs;    // record indices of its Exec records after its start
  std::optional<size_t> ended;  // record index of its end
  bool exited = false;          // ... and how: exit status or signal
  int32_t code = 0;
};

// Where `replay -f`/`-p` start: the first Stop record of one of process
// `pid`'s threads at or after record `from`, with that thread.
struct ProcessStop {
  size_t record = 0;
  int32_t tid = 0;
};

class ProcessList {
 public:
  // The processes as they stand once records [0, upto) have been played.
  ProcessList(const Trace& trace, size_t upto = SIZE_MAX);
  const std::vector<ProcessSummary>& processes() const { return processes_; }
  // The process of thread `tid` (0 if unknown).
  int32_t process_of(int32_t tid) const;
  const ProcessSummary* find(int32_t pid) const;
  // The first stop of one of pid's threads at or after record `from`.
  std::optional<ProcessStop> first_stop(const Trace& trace, int32_t pid, size_t from) const;

 private:
  ProcessSummary* find_mutable(int32_t pid);
  std::vector<ProcessSummary> processes_;
  std::map<int32_t, int32_t> process_of_;  // thread -> process
};

}  // namespace backstep::trace
