#include "trace/trace_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <fmt/core.h>
#include <vector>

#include "base/unique_fd.h"
#include "trace/error.h"

namespace backstep::trace {
namespace {

std::vector<char> read_whole(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw TraceError(fmt::format("cannot read {}", path.string()));
  std::vector<char> data;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw TraceError(fmt::format("cannot read {}", path.string()));
    if (n == 0) break;
    data.insert(data.end(), buf, buf + n);
  }
  return data;
}

std::string hash_bytes(const std::vector<char>& data) {
  XXH128_hash_t h = XXH3_128bits(data.data(), data.size());
  return fmt::format("{:016x}{:016x}", h.high64, h.low64);
}

}  // namespace

std::string hash_file(const std::filesystem::path& path) { return hash_bytes(read_whole(path)); }

TraceWriter::TraceWriter(const std::filesystem::path& dir)
    : dir_(dir), events_(ChunkWriter::create(dir / kEventsFile, kEventsFile)) {
  std::filesystem::create_directory(dir_ / kFilesDir);
  std::filesystem::permissions(dir_ / kFilesDir, std::filesystem::perms::owner_all);
}

void TraceWriter::write(const Event& event) {
  builder_.clear();
  encode(event, builder_);
  events_.append(static_cast<uint16_t>(record_type(event)), builder_.view());
}

std::string TraceWriter::keep_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw TraceError(fmt::format("cannot stat {}", path));
  std::string identity = fmt::format("{}:{}:{}:{}:{}", path, st.st_dev, st.st_ino, st.st_size,
                                     st.st_mtim.tv_nsec + st.st_mtim.tv_sec * 1000000000L);
  if (auto it = kept_.find(identity); it != kept_.end()) return it->second;
  std::vector<char> data = read_whole(path);
  std::string name = hash_bytes(data);
  std::filesystem::path copy = dir_ / kFilesDir / name;
  if (!std::filesystem::exists(copy)) {
    std::filesystem::path tmp = copy;
    tmp += ".tmp";
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd) throw TraceError(fmt::format("cannot write {}", tmp.string()));
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
      if (n <= 0) throw TraceError(fmt::format("cannot write {}", tmp.string()));
      off += static_cast<size_t>(n);
    }
    fd.reset();
    std::filesystem::rename(tmp, copy);
  }
  kept_.emplace(identity, name);
  return name;
}

}  // namespace backstep::trace
