#include "trace/trace_reader.h"

#include <fmt/core.h>

#include "trace/chunk_reader.h"
#include "trace/error.h"
#include "trace/trace_writer.h"

namespace backstep::trace {

Trace Trace::load(const std::filesystem::path& dir) {
  Trace t;
  t.dir_ = dir;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    throw TraceError(fmt::format("{}: no such trace directory", dir.string()));
  }
  ChunkReader reader = ChunkReader::open(dir / kEventsFile);
  Record rec;
  // The Header comes first and says how the records after it are laid out.
  uint32_t version = kEventsVersion;
  while (reader.next(rec)) {
    t.events_.push_back(decode(rec.type, rec.payload, version));
    if (const auto* h = std::get_if<Header>(&t.events_.back()); h && rec.index == 0) {
      version = h->events_version;
    }
  }
  t.truncated_ = reader.truncated();
  if (t.events_.size() < 2 && t.truncated_) {
    throw TraceError(fmt::format("{}: the trace was cut short before the program started",
                                 dir.string()));
  }
  if (t.events_.empty() || !std::holds_alternative<Header>(t.events_[0])) {
    throw TraceError(fmt::format("{}: the trace has no header", dir.string()));
  }
  t.header_ = std::get<Header>(t.events_[0]);
  if (t.events_.size() < 2 || !std::holds_alternative<Exec>(t.events_[1])) {
    throw TraceError(fmt::format("{}: the trace ends before the program started", dir.string()));
  }
  t.exec_ = std::get<Exec>(t.events_[1]);
  return t;
}

const End* Trace::end() const {
  if (events_.empty()) return nullptr;
  return std::get_if<End>(&events_.back());
}

std::filesystem::path Trace::file_copy(const std::string& name) const {
  return dir_ / kFilesDir / name;
}

}  // namespace backstep::trace
