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

// One line of /proc/PID/maps.
struct ProcMapping {
  uint64_t start = 0;
  uint64_t end = 0;
  std::string perms;  // "r-xp"
  uint64_t offset = 0;
  uint32_t dev_major = 0;  // the mapped file's device and inode, as the kernel shows them
  uint32_t dev_minor = 0;
  uint64_t inode = 0;
  std::string path;   // empty for anonymous mappings; its first word only
  bool executable() const { return perms.size() > 2 && perms[2] == 'x'; }
  // A file mapping (not [stack], [vdso], anonymous memory).
  bool is_file() const { return !path.empty() && path[0] == '/'; }
  bool shared() const { return perms.size() > 3 && perms[3] == 's'; }
};
std::vector<ProcMapping> read_proc_maps(pid_t pid);

}  // namespace backstep
