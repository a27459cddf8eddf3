// Which of a replayed process's file descriptors write to the streams the
// program was started with (its stdout and stderr), so that replay prints
// again what the program printed there and nothing else. Emulated syscalls
// do not change the replayed process's real descriptors, so the model
// follows the recorded ones: dup2(file, 1) sends later writes to fd 1 to the
// file, not the terminal.
#pragma once

#include <cstdint>
#include <map>
#include <optional>

namespace backstep::replayer {

class TerminalFds {
 public:
  TerminalFds();
  // The stream (1 = stdout, 2 = stderr) fd writes to, if one of them.
  std::optional<int> stream_of(int fd) const;
  // After a syscall the recording says returned `result`.
  void after_syscall(long nr, const uint64_t args[6], int64_t result);

 private:
  struct Entry {
    int stream;
    bool cloexec;
  };
  void duplicate(int from, int to, bool cloexec);
  std::map<int, Entry> fds_;
};

}  // namespace backstep::replayer
