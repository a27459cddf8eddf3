// The program replay executes when the recorded one is not there as it was
// (an unpacked bundle on another machine, a rebuilt or deleted binary, a
// recorded working directory that is gone): the trace's own copy, under a
// path of exactly the recorded length.
//
// Why the length: the kernel copies the path given to execve onto the new
// program's stack (AT_EXECFN) next to argv and envp, so a path of another
// length would move every string and pointer of the initial stack and the
// replay would diverge at its first stop. The stand-in is a relative path
// (of the recorded length, ending in the recorded file name where possible)
// in a private temporary directory that becomes the program's working
// directory; replay emulates every syscall that would look at it.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/scratch_dir.h"
#include "trace/trace_reader.h"

namespace backstep::replayer {

class ExecutableStandIn {
 public:
  // Prepares the stand-in when the recorded program cannot be used as is.
  // Throws Error when it is needed and the trace has no copy of the program.
  explicit ExecutableStandIn(const trace::Trace& trace);
  ExecutableStandIn(const ExecutableStandIn&) = delete;
  ExecutableStandIn& operator=(const ExecutableStandIn&) = delete;

  bool active() const { return dir_.has_value(); }
  // What to pass to execve, relative to cwd().
  const std::string& exe() const { return exe_; }
  const std::filesystem::path& cwd() const { return dir_->path(); }

  // A relative path of exactly `length` characters ending in `name` when
  // that fits (exposed for tests).
  static std::string path_of_length(size_t length, const std::string& name);

 private:
  std::optional<ScratchDir> dir_;
  std::string exe_;
};

// Files the kernel maps at exec from this machine, not from the trace (the
// dynamic loader named by the program's PT_INTERP), whose content here is
// not the recorded one: a replay on such a machine diverges early.
std::vector<std::string> kernel_loaded_files_that_differ(const trace::Trace& trace);

}  // namespace backstep::replayer
