#include "replayer/terminal_fds.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/syscall.h>

#include <algorithm>

namespace backstep::replayer {

TerminalFds::TerminalFds() : fds_{{1, {1, false}}, {2, {2, false}}} {}

std::optional<int> TerminalFds::stream_of(int fd) const {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return std::nullopt;
  return it->second.stream;
}

void TerminalFds::duplicate(int from, int to, bool cloexec) {
  auto it = fds_.find(from);
  if (it == fds_.end()) {
    fds_.erase(to);
  } else {
    fds_[to] = {it->second.stream, cloexec};
  }
}

void TerminalFds::after_syscall(long nr, const uint64_t args[6], int64_t result) {
  if (result < 0) return;
  auto fd = [&](int i) { return static_cast<int>(args[i]); };
  switch (nr) {
    case SYS_close:
      fds_.erase(fd(0));
      break;
    case SYS_close_range: {
      if (args[2] & CLOSE_RANGE_CLOEXEC) {
        for (auto& [n, e] : fds_) {
          if (static_cast<uint64_t>(n) >= args[0] && static_cast<uint64_t>(n) <= args[1]) {
            e.cloexec = true;
          }
        }
      } else {
        std::erase_if(fds_, [&](const auto& kv) {
          auto n = static_cast<uint64_t>(kv.first);
          return n >= args[0] && n <= args[1];
        });
      }
      break;
    }
    case SYS_dup:
      duplicate(fd(0), static_cast<int>(result), false);
      break;
    case SYS_dup2:
      if (fd(0) != fd(1)) duplicate(fd(0), fd(1), false);
      break;
    case SYS_dup3:
      duplicate(fd(0), fd(1), (args[2] & O_CLOEXEC) != 0);
      break;
    case SYS_fcntl:
      switch (fd(1)) {
        case F_DUPFD:
        case F_DUPFD_CLOEXEC:
          duplicate(fd(0), static_cast<int>(result), fd(1) == F_DUPFD_CLOEXEC);
          break;
        case F_SETFD:
          if (auto it = fds_.find(fd(0)); it != fds_.end()) {
            it->second.cloexec = (args[2] & FD_CLOEXEC) != 0;
          }
          break;
        default:
          break;
      }
      break;
    case SYS_execve:
    case SYS_execveat:
      std::erase_if(fds_, [](const auto& kv) { return kv.second.cloexec; });
      break;
    default:
      break;
  }
}

}  // namespace backstep::replayer
