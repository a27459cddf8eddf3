// What counts as a failing run, and how a failure is told apart from
// another: the map's fatal message at the code site that raised it, or the
// signal and the faulting instruction.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "hunt/recording_job.h"

namespace backstep::hunt {

// `hunt --until`: which ends of a run stop the search.
enum class Until {
  kFail,     // any failure: a map fatal, a fatal signal, or a non-zero exit status
  kFatal,    // the map's `fatal error:` (concurrent map writes, ...)
  kSignal,   // killed by a signal (map fatals abort, so they count)
  kNonzero,  // exited normally with a non-zero status
  kHang,     // ran past --timeout
};
// Throws Error for an unknown name.
Until parse_until(const std::string& name);
const char* until_name(Until u);

// Whether a run that ended this way is what `until` hunts for.
bool is_failure(const RunOutcome& o, Until until);
// "fatal error: concurrent map writes (SIGABRT)", "exited with status 3", ...
std::string describe(const RunOutcome& o);

// A failure as recorded in a trace.
struct FailureSite {
  bool exited = false;
  int code = 0;               // exit code or signal
  std::string fatal_message;  // map fatal, if any
  uint64_t site = 0;          // the map fatal event's code site, or the faulting pc
  bool has_site = false;

  // Same message at the same place (for minimize: "fails the same way").
  bool same_as(const FailureSite& o) const;
  std::string describe() const;
  // Reads it from the trace in `dir`; nullopt when the trace has no end.
  static std::optional<FailureSite> of_trace(const std::filesystem::path& dir);
};

}  // namespace backstep::hunt
