#include "replayer/backing_files.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "base/errors.h"

namespace backstep::replayer {
namespace {

bool maps_shared(int32_t flags) {
  int32_t type = flags & MAP_TYPE;
  return type == MAP_SHARED || type == MAP_SHARED_VALIDATE;
}

void write_all_at(int fd, const std::byte* data, size_t len, uint64_t offset) {
  while (len > 0) {
    ssize_t n = ::pwrite(fd, data, len, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error(fmt::format("cannot write a backing file: {}", std::strerror(errno)));
    data += n;
    len -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
}

}  // namespace

BackingFiles::BackingFiles(const trace::Trace& trace) : trace_(&trace) {
  auto backed = std::make_shared<std::set<uint32_t>>();
  for (const trace::Event& e : trace.events()) {
    if (const auto* f = std::get_if<trace::FileMap>(&e); f && f->object && maps_shared(f->flags)) {
      backed->insert(f->object);
    } else if (const auto* c = std::get_if<trace::FileChange>(&e)) {
      backed->insert(c->object);
    }
  }
  backed_ = std::move(backed);
}

BackingFiles::BackingFiles(const trace::Trace& trace,
                           std::shared_ptr<const std::set<uint32_t>> backed)
    : trace_(&trace), backed_(std::move(backed)) {}

BackingFiles BackingFiles::fresh() const {
  BackingFiles copy(*trace_, backed_);
  copy.dir_ = dir_;  // its files get the same names: made only after ours are gone
  return copy;
}

bool is_backing_file(const std::string& mapped_path) {
  return mapped_path.find(std::string("/") + kBackingFilePrefix) != std::string::npos;
}

std::string BackingFiles::file_for(const trace::FileMap& f) {
  if (auto it = files_.find(f.object); it != files_.end()) return it->second.path;
  if (!dir_) dir_ = std::make_shared<ScratchDir>("backstep-replay");
  std::string path = (dir_->path() / fmt::format("{}{}", kBackingFilePrefix, f.object)).string();
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd)
    throw Error(fmt::format("cannot make a backing file for {}: {}", f.path, std::strerror(errno)));
  UniqueFd copy(::open(trace_->file_copy(f.content).c_str(), O_RDONLY | O_CLOEXEC));
  if (!copy) throw Error(fmt::format("the trace lacks its copy of {}", f.path));
  std::vector<std::byte> buf(size_t{1} << 20);
  uint64_t at = 0;
  for (;;) {
    ssize_t n = ::read(copy.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(fmt::format("cannot read the trace's copy of {}", f.path));
    if (n == 0) break;
    write_all_at(fd.get(), buf.data(), static_cast<size_t>(n), at);
    at += static_cast<uint64_t>(n);
  }
  if (at != f.file_size && ::ftruncate(fd.get(), static_cast<off_t>(f.file_size)) != 0) {
    throw Error(fmt::format("cannot size the backing file of {}", f.path));
  }
  // Its predecessor for the same file is never mapped again.
  auto identity = std::pair(f.dev, f.ino);
  if (auto it = current_.find(identity); it != current_.end()) {
    if (auto old = files_.find(it->second); old != files_.end()) drop(old);
  }
  current_[identity] = f.object;
  files_.emplace(f.object, File{path, std::move(fd)});
  return path;
}

void BackingFiles::drop(std::map<uint32_t, File>::iterator it) {
  ::unlink(it->second.path.c_str());
  files_.erase(it);
}

void BackingFiles::apply(const trace::FileChange& c) {
  auto it = files_.find(c.object);
  if (it == files_.end()) {
    // Changes are recorded only while the file is mapped, so its backing
    // file exists unless this replay is a copy made since (which cannot
    // happen while it is mapped): a trace or engine error, not to be
    // passed over.
    if (backs(c.object)) {
      throw Error(fmt::format("a change of mapped file {} before it was mapped", c.object));
    }
    return;
  }
  int fd = it->second.fd.get();
  write_all_at(fd, c.data.data(), c.data.size(), c.offset);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_size) != c.size) {
    if (::ftruncate(fd, static_cast<off_t>(c.size)) != 0) {
      throw Error(fmt::format("cannot resize the backing file of mapped file {}", c.object));
    }
  }
}

}  // namespace backstep::replayer
