// What the subcommands share: finding a trace from its argument, and saying
// how a program ended.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "ptrace/inferior.h"
#include "ptrace/task.h"
#include "trace/trace_reader.h"

namespace backstep::cli {

// A path, a name under the trace folder, or "" for latest-trace.
trace::Trace load_trace(const std::string& arg);
// "exited with status N" or "killed by SIGX (N)".
std::string describe_ending(bool exited, int code);
void print_registers(const Registers& r);
// Whether what goes to `fd` may be coloured: a terminal (not TERM=dumb), and
// NO_COLOR (https://no-color.org) unset or empty.
bool colour_for(int fd);
// Whether stderr is a terminal a progress line can be redrawn on (not
// TERM=dumb).
bool progress_on_stderr();

// One line on stderr, redrawn in place as a long job goes on (`hunt`,
// `minimize`, `replay`), erased when it is done. Silent when disabled
// (stderr not a terminal: logs and pipes get the final summary only).
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled = progress_on_stderr()) : enabled_(enabled) {}
  ~ProgressLine() { finish(); }
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  bool enabled() const { return enabled_; }
  // Seconds since the line was made.
  double seconds() const;
  // Draws `text()` ("backstep: " before it) now if it is the first update,
  // else at most every 200 ms.
  template <class TextFn>
  void update(TextFn&& text) {
    if (enabled_ && due()) draw(text());
  }
  // Erases the line (once drawn).
  void finish();

 private:
  bool due();
  void draw(const std::string& text);

  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_{};
};

// PROGRAM [ARGS...] as typed, with this process's environment and working
// directory: what `record` and `hunt` launch.
LaunchSpec launch_spec_from_command(const std::vector<std::string>& command);

}  // namespace backstep::cli
