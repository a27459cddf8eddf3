#include "trace/trace_reader.h"

#include <fmt/core.h>

#include "trace/chunk_reader.h"
#include "trace/error.h"
#include "trace/file_copy.h"
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
    t.events_.push_back(decode(rec.type, rec.payload, version, t.bulk_.get()));
    if (const auto* h = std::get_if<Header>(&t.events_.back()); h && rec.index == 0) {
      version = h->events_version;
    }
  }
  t.truncated_ = reader.truncated();
  // No records at all: the recorder was killed before its first chunk.
  if (t.events_.size() < 2 && (t.truncated_ || t.events_.empty())) {
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

std::filesystem::path Trace::copy_path(const std::string& name) const {
  return dir_ / kFilesDir / name;
}

std::filesystem::path Trace::file_copy(const std::string& name) const {
  std::filesystem::path copy = copy_path(name);
  if (name.empty()) return copy;  // no copy: the caller says what is missing
  verify_file_copy(copy, [&] { return original_of(name); });
  return copy;
}

std::string Trace::original_of(const std::string& name) const {
  if (name == header_.exe_sha) return header_.exe;
  for (const Event& e : events_) {
    if (const auto* f = std::get_if<FileMap>(&e); f && f->content == name) return f->path;
    if (const auto* x = std::get_if<Exec>(&e); x && x->content == name) return x->path;
  }
  return "a recorded file";
}

}  // namespace backstep::trace
