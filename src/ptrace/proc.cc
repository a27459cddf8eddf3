#include "ptrace/proc.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace backstep {

std::optional<std::string> proc_status_field(pid_t tid, std::string_view key) {
  std::ifstream in(fmt::format("/proc/{}/status", tid));
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > key.size() && line.compare(0, key.size(), key) == 0 &&
        line[key.size()] == ':') {
      size_t b = line.find_first_not_of(" \t", key.size() + 1);
      return b == std::string::npos ? std::string() : line.substr(b);
    }
  }
  return std::nullopt;
}

std::string thread_given_name(pid_t tid) {
  std::ifstream in(fmt::format("/proc/{}/comm", tid));
  std::string comm;
  std::getline(in, comm);
  std::error_code ec;
  const std::filesystem::path exe =
      std::filesystem::read_symlink(fmt::format("/proc/{}/exe", tid), ec);
  constexpr size_t kCommLength = 15;  // TASK_COMM_LEN - 1
  if (!ec && comm == exe.filename().string().substr(0, kCommLength)) return {};
  return comm;
}

std::vector<ProcMapping> read_proc_maps(pid_t pid) {
  std::vector<ProcMapping> out;
  std::ifstream maps(fmt::format("/proc/{}/maps", pid));
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream in(line);
    std::string range, offset, dev, inode;
    ProcMapping m;
    in >> range >> m.perms >> offset >> dev >> inode >> m.path;
    size_t dash = range.find('-');
    if (dash == std::string::npos) continue;
    m.start = std::stoull(range.substr(0, dash), nullptr, 16);
    m.end = std::stoull(range.substr(dash + 1), nullptr, 16);
    m.offset = std::stoull(offset, nullptr, 16);
    if (size_t colon = dev.find(':'); colon != std::string::npos) {
      m.dev_major = static_cast<uint32_t>(std::stoul(dev.substr(0, colon), nullptr, 16));
      m.dev_minor = static_cast<uint32_t>(std::stoul(dev.substr(colon + 1), nullptr, 16));
    }
    m.inode = std::stoull(inode);
    out.push_back(std::move(m));
  }
  return out;
}

uint64_t proc_signal_set(pid_t tid, std::string_view key) {
  std::optional<std::string> field = proc_status_field(tid, key);
  return field ? std::stoull(*field, nullptr, 16) : 0;
}

std::optional<std::string_view> ThreadStatFiles::read(UniqueFd& fd, pid_t tgid, pid_t tid,
                                                      const char* name, char* buf, size_t size) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!fd) {
      fd.reset(::open(fmt::format("/proc/{}/task/{}/{}", tgid, tid, name).c_str(),
                      O_RDONLY | O_CLOEXEC));
      if (!fd) return std::nullopt;
    }
    ssize_t n = ::pread(fd.get(), buf, size, 0);
    if (n > 0) return std::string_view(buf, static_cast<size_t>(n));
    fd.reset();  // its thread is gone: a thread of that tid now is another
  }
  return std::nullopt;
}

std::optional<char> ThreadStatFiles::state(pid_t tgid, pid_t tid) {
  char buf[512];
  auto text = read(stat_, tgid, tid, "stat", buf, sizeof buf);
  if (!text) return std::nullopt;
  // "pid (comm) S ...": comm may hold spaces and parentheses.
  auto paren = text->rfind(')');
  if (paren == std::string_view::npos || paren + 2 >= text->size()) return std::nullopt;
  return (*text)[paren + 2];
}

std::optional<uint64_t> ThreadStatFiles::cpu_ns(pid_t tgid, pid_t tid) {
  char buf[128];
  auto text = read(schedstat_, tgid, tid, "schedstat", buf, sizeof buf);
  if (!text) return std::nullopt;
  uint64_t ns = 0;
  size_t i = 0;
  for (; i < text->size() && (*text)[i] >= '0' && (*text)[i] <= '9'; ++i) {
    ns = ns * 10 + static_cast<uint64_t>((*text)[i] - '0');
  }
  if (i == 0) return std::nullopt;
  return ns;
}

}  // namespace backstep
