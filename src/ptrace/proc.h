// Reading /proc about a traced process.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/unique_fd.h"

namespace backstep {

// The value after "Key:" in /proc/TID/status, trimmed; nullopt if the thread
// is gone or has no such line.
std::optional<std::string> proc_status_field(pid_t tid, std::string_view key);
// A signal-set field of /proc/TID/status (SigBlk, SigPnd, ShdPnd, SigIgn,
// SigCgt) as a mask; 0 if it cannot be read.
uint64_t proc_signal_set(pid_t tid, std::string_view key);
// The name the program gave thread `tid` (pthread_setname_np,
// prctl(PR_SET_NAME)), from /proc/TID/comm; empty when the thread has the
// kernel's default, the file name of what it executes cut to 15 bytes, or
// cannot be read.
std::string thread_given_name(pid_t tid);
// Whether thread `tid` belongs to one of the processes `known` holds (a map
// keyed by tgid), or to a new process whose parent is one of them: a new
// process can report before its creator's fork event is handled.
template <class Known>
bool in_known_tree(pid_t tid, const Known& known) {
  auto tgid = proc_status_field(tid, "Tgid");
  if (!tgid) return false;
  auto group = static_cast<pid_t>(std::stol(*tgid));
  if (known.count(group)) return true;
  auto parent = proc_status_field(group, "PPid");
  return parent && known.count(static_cast<pid_t>(std::stol(*parent))) > 0;
}

// One line of /proc/PID/maps.
struct ProcMapping {
  uint64_t start = 0;
  uint64_t end = 0;
  std::string perms;  // "r-xp"
  uint64_t offset = 0;
  uint32_t dev_major = 0;  // the mapped file's device and inode, as the kernel shows them
  uint32_t dev_minor = 0;
  uint64_t inode = 0;
  std::string path;  // empty for anonymous mappings; its first word only
  bool executable() const { return perms.size() > 2 && perms[2] == 'x'; }
  // A file mapping (not [stack], [vdso], anonymous memory).
  bool is_file() const { return !path.empty() && path[0] == '/'; }
  bool shared() const { return perms.size() > 3 && perms[3] == 's'; }
};
std::vector<ProcMapping> read_proc_maps(pid_t pid);

// A traced thread's /proc/TGID/task/TID/stat and schedstat, which the
// recorder reads around every blocking call and every run: opened once, at
// first use, and read with pread. Opening, reading and closing such a file
// costs about seven times one pread of it (47 us against 6.5 us, measured
// on this machine kind under load, where every syscall is expensive), and
// a pipe ping-pong reads them at every block.
class ThreadStatFiles {
 public:
  ThreadStatFiles() = default;
  // A copy opens its own files at its first use (a Thread copied when an
  // exec gives it the leader's tid reads the leader's).
  ThreadStatFiles(const ThreadStatFiles&) {}
  ThreadStatFiles& operator=(const ThreadStatFiles&) {
    stat_.reset();
    schedstat_.reset();
    return *this;
  }
  ThreadStatFiles(ThreadStatFiles&&) = default;
  ThreadStatFiles& operator=(ThreadStatFiles&&) = default;
  // The state letter of `stat` ('R', 'S', 't', ...); nullopt if the thread
  // is gone.
  std::optional<char> state(pid_t tgid, pid_t tid);
  // The CPU time the thread has run (schedstat's first field, ns).
  std::optional<uint64_t> cpu_ns(pid_t tgid, pid_t tid);

 private:
  // The file's text (at most what `buf` holds) through `fd`, opened at the
  // first use and again when its thread is gone (exec gives the leader's
  // tid to the thread that made it).
  std::optional<std::string_view> read(UniqueFd& fd, pid_t tgid, pid_t tid, const char* name,
                                       char* buf, size_t size);
  UniqueFd stat_;
  UniqueFd schedstat_;
};

}  // namespace backstep
