// A trace directory being written: the `events` stream plus `files/`, where
// each file the program mapped is kept once, named by its content hash.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "trace/chunk_writer.h"
#include "trace/events.h"

namespace backstep::trace {

inline constexpr char kEventsFile[] = "events";
inline constexpr char kFilesDir[] = "files";

class TraceWriter {
 public:
  // `dir` must exist (mode 0700) and be empty.
  explicit TraceWriter(const std::filesystem::path& dir);

  void write(const Event& event);
  // Copies `path` into files/ unless an identical copy is there; returns the
  // copy's name. Throws TraceError if the file cannot be read.
  std::string keep_file(const std::string& path);
  void flush() { events_.flush(); }
  void close() { events_.close(); }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  ChunkWriter events_;
  RecordBuilder builder_;
  std::map<std::string, std::string> kept_;  // path + identity -> copy name
};

// Content hash of a file, as 32 hex digits (XXH3-128).
std::string hash_file(const std::filesystem::path& path);

}  // namespace backstep::trace
