// Where traces live on disk.
//
// A trace is a directory (mode 0700: it holds the traced program's memory)
// with one file per stream. By default traces go under
// $XDG_DATA_HOME/backstep, or ~/.local/share/backstep, as <program>-<n>, and
// a `latest-trace` symlink there names the newest one, as rr does.
#pragma once

#include <filesystem>
#include <string_view>
#include <utility>

namespace backstep::trace {

class TraceDir {
 public:
  // Uses `dir` for a new trace: creates it (and missing parents) with mode
  // 0700, or takes it if it is an existing empty directory (then set to
  // 0700). Throws TraceError if it exists and is not an empty directory.
  static TraceDir create_new(const std::filesystem::path& dir);

  // Creates the next free <root>/<program>-<n> (n counts from 0, one past
  // the highest existing n for that program, so numbers are never reused
  // while newer traces exist), creating the root with mode 0700 if needed,
  // and atomically points <root>/latest-trace at it. `program_name` may be
  // a path; its last component is used.
  static TraceDir choose_default(std::string_view program_name);

  // The trace named by a user argument:
  //  - empty: the target of <root>/latest-trace;
  //  - a name without '/' that exists under the root: that trace;
  //  - anything else: a path (relative to the current directory).
  // Throws TraceError naming what was looked for when nothing matches.
  static TraceDir resolve(std::string_view arg);

  // $XDG_DATA_HOME/backstep when XDG_DATA_HOME is set to an absolute path
  // (the XDG spec says to ignore a relative one), else
  // $HOME/.local/share/backstep. Does not create anything.
  static std::filesystem::path default_root();

  static constexpr std::string_view kLatestLink = "latest-trace";

  const std::filesystem::path& path() const noexcept { return path_; }
  // The file of one stream in this trace.
  std::filesystem::path stream_path(std::string_view stream) const { return path_ / stream; }

 private:
  explicit TraceDir(std::filesystem::path p) : path_(std::move(p)) {}
  std::filesystem::path path_;
};

}  // namespace backstep::trace
