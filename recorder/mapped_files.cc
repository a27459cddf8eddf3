#include "recorder/mapped_files.h"

namespace backstep::recorder {

uint32_t MappedFiles::note_map(FileId id, bool shared, bool live_elsewhere) {
  if (shared) ever_shared_.insert(id);
  auto it = objects_.find(id);
  if (it != objects_.end() && live_elsewhere) return it->second;
  uint32_t object = next_++;
  if (objects_.insert_or_assign(id, object).second) ++generation_;
  return object;
}

std::vector<FileId> MappedFiles::tracked() const {
  std::vector<FileId> out;
  out.reserve(objects_.size());
  for (const auto& [id, object] : objects_) out.push_back(id);
  return out;
}

std::optional<uint32_t> MappedFiles::object(FileId id) const {
  auto it = objects_.find(id);
  if (it == objects_.end()) return std::nullopt;
  return it->second;
}

}  // namespace backstep::recorder
