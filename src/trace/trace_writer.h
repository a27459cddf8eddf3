// A trace directory being written: the `events` stream plus `files/`, where
// each file the program mapped is kept once, named by its content hash.
//
// Records are encoded, compressed and written on a thread of the writer's
// own: the recorder hands them over and lets the program run on while they
// are compressed on the other core (the recorder runs one program thread at
// a time, so a second core is otherwise idle). The order of records is the
// order of the write() calls. What is handed over but not yet written when
// the recorder is killed is lost, like the records of a chunk not yet
// sealed; every chunk written before stays readable.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "trace/events.h"

namespace backstep::trace {

inline constexpr char kEventsFile[] = "events";
inline constexpr char kFilesDir[] = "files";

class TraceWriter {
 public:
  // `dir` must exist (mode 0700) and be empty. `thread_cpus`: the CPUs the
  // writer's thread may run on (empty: wherever the recorder may).
  explicit TraceWriter(const std::filesystem::path& dir, std::vector<int> thread_cpus = {});
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;
  // Writes what was handed over if close() was not called; errors are
  // swallowed (call close() to see them).
  ~TraceWriter();

  // Queues a record. Throws TraceError if writing an earlier one failed.
  void write(Event event);
  // Queues a MapEvents record of `events` (a ring's drain), which the
  // writer's thread encodes (trace/map_event_batch.h). The vector's storage
  // comes back through spare_events().
  void write_map_events(MapEventBuffer events);
  // An empty vector to read the next drain into: the storage of one already
  // written when there is one, so that a drain does not fault in fresh pages.
  MapEventBuffer spare_events();
  // The same for the records of a SyscallBuffer (a buffer's drain).
  std::pmr::vector<std::byte> spare_bytes();

  // Copies `path` into files/ unless an identical copy is there; returns the
  // copy's name. Throws TraceError if the file cannot be read.
  std::string keep_file(const std::string& path);
  // The same for a file the program has open, read through `source` (its
  // /proc/PID/fd/N link, which reaches unlinked files, memfds and shm
  // objects too); `path` names it in errors. With `reuse` false the file is
  // read again even if its size and mtime are those of a kept copy: writes
  // through a shared mapping need not move its mtime. Throws TraceError for
  // anything but a regular file.
  std::string keep_open_file(const std::string& path, const std::string& source, bool reuse);
  // Keeps `content` (memory that is not a file the recorder can open: a
  // SysV shm segment) like a file's copy; returns its name.
  std::string keep_content(std::span<const std::byte> content);
  // Waits until every record handed over is in the file.
  void flush();
  // flush() and close the file; throws TraceError if any write failed.
  void close();
  const std::filesystem::path& dir() const { return dir_; }

 private:
  class Pipeline;
  std::filesystem::path dir_;
  std::unique_ptr<Pipeline> pipeline_;
  std::map<std::string, std::string> kept_;  // inode identity, size, mtime -> copy name
  // Tests only (tests/faults): with BACKSTEP_TEST_KILL_AFTER_RECORDS=N in
  // the environment, the process SIGKILLs itself as it hands over record N,
  // so that a test can cut a recording at a point chosen by record count,
  // never by timing. 0: never.
  uint64_t kill_after_ = 0;
  uint64_t records_ = 0;
  void count_record();
};

// Content hash of a file, as 32 hex digits (XXH3-128).
std::string hash_file(const std::filesystem::path& path);

}  // namespace backstep::trace
