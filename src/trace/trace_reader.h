// A recorded trace, read whole: the header, the exec record and the events.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "trace/bulk_arena.h"
#include "trace/events.h"

namespace backstep::trace {

class Trace {
 public:
  // Reads and checks the trace in `dir`. Throws TraceError with a one-line
  // message when it is missing, not a trace, of another version, or corrupt.
  // A trace cut short (a recorder killed mid-run) loads up to the cut.
  static Trace load(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return dir_; }
  const Header& header() const { return header_; }
  const Exec& exec() const { return exec_; }
  // Every record, in recording order (Header and Exec included).
  const std::vector<Event>& events() const { return events_; }
  bool truncated() const { return truncated_; }
  // The End record, if the recording got that far.
  const End* end() const;
  // The copy `name` under files/, checked against its content hash the
  // first time this process uses it (trace/file_copy.h): throws TraceError
  // naming the copy and the file it stands for when it was damaged. For
  // everything that reads or hands out the copy.
  std::filesystem::path file_copy(const std::string& name) const;
  // Where the copy `name` is, unchecked: for comparing names only.
  std::filesystem::path copy_path(const std::string& name) const;

 private:
  // The path the program knew the copy `name` by, for errors.
  std::string original_of(const std::string& name) const;

  std::filesystem::path dir_;
  // Before events_, which hold memory of it.
  std::unique_ptr<BulkArena> bulk_ = std::make_unique<BulkArena>();
  Header header_;
  Exec exec_;
  std::vector<Event> events_;
  bool truncated_ = false;
};

}  // namespace backstep::trace
