// The files of a recording as gdb asks for them, so that gdb needs none of
// them on its own machine (a bundle unpacked elsewhere, the program rebuilt
// or deleted): the program and every library it mapped are served from the
// trace's copies (vFile:open/pread/fstat/close), and the list of loaded
// libraries comes from the replayed program's own link map
// (qXfer:libraries-svr4:read), as a live gdbserver gives it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/unique_fd.h"
#include "trace/trace_reader.h"

namespace backstep::gdbserver {

// Reads the replayed program's memory; false when [addr, addr+len) is not
// readable.
using MemoryReader = std::function<bool(uint64_t addr, void* out, size_t len)>;

class TraceFiles {
 public:
  explicit TraceFiles(const trace::Trace& trace);

  // The trace's copy of the file gdb names: a path the program mapped (as
  // recorded, or as the dynamic loader named it in a library list this
  // object made), the interpreter as the program's PT_INTERP names it, or a
  // copy's own path (what qXfer:exec-file answers). nullopt: not in the
  // trace.
  std::optional<std::filesystem::path> copy_of(std::string_view path) const;

  // The qXfer:libraries-svr4 document for the program's state now: its
  // r_debug (found through DT_DEBUG in its dynamic section) and the link
  // map's entries after the program's own. `next_record` bounds the file
  // mappings that name a library (those of the records played so far).
  // An empty list before the dynamic loader has set r_debug up.
  std::string libraries_svr4(const MemoryReader& memory, uint64_t next_record);

  // The vFile packets ("vFile:open:...", ...): the reply, or "" for one
  // that is not supported. Files open read-only; they stay open until
  // vFile:close or the end of the session.
  std::string handle_vfile(std::string_view packet);

 private:
  // The file mapped over `addr` by the last mapping at or before record
  // `next_record`: its recorded path and copy.
  const trace::FileMap* mapping_at(uint64_t addr, uint64_t next_record) const;

  const trace::Trace& trace_;
  std::string interpreter_;  // the program's PT_INTERP, "" if none
  // Names the loader gave libraries (link_map l_name) -> the mapped file.
  std::map<std::string, std::string, std::less<>> loader_names_;
  std::map<int, UniqueFd> open_;
  int next_fd_ = 1;
};

// Whether every file the program mapped, but the program itself, is on this
// machine at its recorded path with its recorded content: then gdb may read
// them from here (`set sysroot /`, quicker than through the server).
bool recorded_files_are_local(const trace::Trace& trace);

}  // namespace backstep::gdbserver
