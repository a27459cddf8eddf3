// The replayer's own files that stand in for the program's mapped file
// objects (trace::FileMap::object, recorder/mapped_files.h) that need one:
// those mapped shared, or changed by a syscall while mapped. Each is a
// file in a private directory of the replayer's, holding the file's recorded content, which the
// replayed program maps wherever it mapped the file (replay_mappings.cc):
// its mappings then alias as they did when recorded, and the FileChanges of
// emulated syscalls (write, ftruncate, ...) applied to that file show in
// them as the real changes did. rr's EmuFs plays the same part.
//
// Other file mappings are replayed as private anonymous memory filled from
// the trace's copy, which is what they are as long as nothing changes the
// file under them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "base/scratch_dir.h"
#include "base/unique_fd.h"
#include "trace/trace_reader.h"

namespace backstep::replayer {

// Names of the backing files, as /proc/PID/maps shows them (after the
// directory). Not memfds: the program opens its backing file by path, and
// it cannot reach the replayer's /proc/PID/fd from its own PID namespace's
// /proc.
inline constexpr char kBackingFilePrefix[] = "backstep-file:";

// Whether a mapped path (as /proc/PID/maps names it) is a backing file.
bool is_backing_file(const std::string& mapped_path);

class BackingFiles {
 public:
  explicit BackingFiles(const trace::Trace& trace);
  // For a copy of the replay (ReplayEngine::fork): the same objects, none
  // made yet. A copy is made only while no backing file is mapped, and an
  // object whose mappings are all gone is never mapped or changed again
  // (the recorder starts a new object), so the copy needs none of ours.
  BackingFiles fresh() const;

  // Whether mappings of `object` are replayed from a backing file.
  bool backs(uint32_t object) const { return object != 0 && backed_->count(object) > 0; }
  // The path of the backing file of f's object, made from f's copy of the
  // file at its first mapping. Throws Error.
  std::string file_for(const trace::FileMap& f);
  // A recorded change of a file: written into its backing file, if it has
  // one. Throws Error.
  void apply(const trace::FileChange& c);

 private:
  BackingFiles(const trace::Trace& trace, std::shared_ptr<const std::set<uint32_t>> backed);

  struct File {
    std::string path;
    UniqueFd fd;
  };
  void drop(std::map<uint32_t, File>::iterator it);

  const trace::Trace* trace_;
  std::shared_ptr<const std::set<uint32_t>> backed_;
  std::shared_ptr<ScratchDir> dir_;  // made at the first backing file
  std::map<uint32_t, File> files_;
  // The live object of each recorded identity: the one before it is never
  // mapped again, so its file is removed.
  std::map<std::pair<uint64_t, uint64_t>, uint32_t> current_;
};

}  // namespace backstep::replayer
