// Reading /proc about a traced process.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

}  // namespace backstep
