// `backstep pack` / `backstep unpack`: a trace directory as one portable,
// compressed, checksummed file (layout in docs/export-formats.md).
//
// A trace already holds a copy of every file the program mapped (the
// executable and the dynamic loader included, under files/, once per
// content hash), so a bundle is the trace directory itself; the replayer
// executes the trace's copy of the program when the recorded path is gone
// (replayer/executable_stand_in.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "trace/events.h"

namespace backstep::share {

inline constexpr char kBundleMagic[8] = {'B', 'K', 'S', 'T', 'P', 'A', 'C', 'K'};
inline constexpr uint32_t kBundleVersion = 1;

struct PackOptions {
  bool keep_env = false;  // else environment values are redacted
};

struct PackResult {
  uint64_t files = 0;         // entries written (directories included)
  uint64_t raw_bytes = 0;     // bytes of the files, uncompressed
  uint64_t bundle_bytes = 0;  // size of the bundle file
  bool env_redacted = false;
};

// Packs the trace in `trace_dir` into `bundle` (replaced atomically; never
// left half-written). Throws Error / TraceError with a one-line message.
PackResult pack(const std::filesystem::path& trace_dir, const std::filesystem::path& bundle,
                const PackOptions& options);

// Unpacks `bundle` into the new trace directory `dir` (created, or an
// existing empty directory), checks that the result loads as a trace and
// returns its path. On any error nothing is left behind in `dir`.
std::filesystem::path unpack(const std::filesystem::path& bundle, const std::filesystem::path& dir);

// Environment entries with each value byte replaced by 'x': names and every
// length stay, so the program's initial stack (where the kernel copies the
// strings) and therefore every address in the replay are unchanged. The
// variables glibc acts on before main (LD_*, GLIBC_TUNABLES, MALLOC_*) keep
// their values: they decide what the loader opens and maps, and replay
// would diverge without them.
std::vector<std::string> redact_environment(const std::vector<std::string>& envp);

// Copies the events stream `from` into the new file `to`, record for
// record, with `header` (encoded by trace::encode) as the first record.
void rewrite_header(const std::filesystem::path& from, const std::filesystem::path& to,
                    const trace::Header& header);

}  // namespace backstep::share
