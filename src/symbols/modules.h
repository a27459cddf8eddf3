// Module lists for a Symbolizer: from a live process's /proc/PID/maps, or
// from the file mappings a trace recorded (for replay, where the maps name
// no files).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <vector>

#include "symbols/symbolizer.h"
#include "trace/events.h"
#include "trace/trace_reader.h"

namespace backstep::symbols {

// One module per mapped file: for each path (absolute, still present), the
// lowest mapping at file offset 0. Special mappings ([vdso], [heap]...) and
// files mapped only at nonzero offsets are left out.
std::vector<Module> modules_from_proc_maps(pid_t pid);

// One module per file mapping at offset 0, read from the trace's copy
// `files_dir / content` (or the original path if the copy is missing). The
// records are taken in order, as the program mapped them: a later offset-0
// mapping over an earlier module's range means that module was unmapped, so
// it is dropped. Pass the records up to the point of interest.
std::vector<Module> modules_from_file_maps(const std::vector<trace::FileMap>& maps,
                                           const std::filesystem::path& files_dir);

// The modules of a whole recording: every FileMap of `trace`, read from its
// files/ folder.
std::vector<Module> modules_from_trace(const trace::Trace& trace);

}  // namespace backstep::symbols
