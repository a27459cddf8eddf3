// The files the program has mapped, as *file objects*: one number per file
// for as long as the program maps it somewhere. Replay gives an object that
// is mapped shared, or changed while mapped, one backing file of its own
// (replayer/backing_files.h), so that its mappings alias as they did and
// show what write(), ftruncate() and the like did to the file.
//
// A file is known by its device and inode. An inode number is reused once
// its file is gone, and a file that nothing maps may be changed unseen (by
// another process) before it is mapped again, so a mapping starts a new
// object, with the file's content read anew, unless another mapping of the
// same inode is still live.
#pragma once

#include <sys/types.h>

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

namespace backstep::recorder {

struct FileId {
  uint64_t dev = 0;
  uint64_t ino = 0;
  auto operator<=>(const FileId&) const = default;
};

class MappedFiles {
 public:
  // A new mapping of `id`; `live_elsewhere`: another mapping of it is live.
  // Returns the object it maps.
  uint32_t note_map(FileId id, bool shared, bool live_elsewhere);
  // The object of `id` while it is tracked (mapped since it was last
  // forgotten), for syscalls that change files.
  std::optional<uint32_t> object(FileId id) const;
  // Nothing maps `id` any more: changes to it no longer matter.
  void forget(FileId id) {
    if (objects_.erase(id)) ++generation_;
  }
  // The files tracked now, and a number that changes whenever they do (the
  // syscall buffer's library is told: Session::publish_mapped_files).
  std::vector<FileId> tracked() const;
  uint64_t generation() const { return generation_; }
  // Whether `id` was ever mapped shared: then its mtime does not tell
  // whether it changed (writes through a mapping need not move it).
  bool ever_shared(FileId id) const { return ever_shared_.count(id) > 0; }

 private:
  std::map<FileId, uint32_t> objects_;
  std::set<FileId> ever_shared_;
  uint32_t next_ = 1;
  uint64_t generation_ = 0;
};

}  // namespace backstep::recorder
