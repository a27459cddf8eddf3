// backstep replay: re-executes a recording. Syscalls are answered from the
// trace (only those that shape threads and the address space really run),
// threads run in the recorded order and stop where they stopped, and every
// stop is checked against the recording.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "base/errors.h"
#include "ptrace/task.h"
#include "trace/trace_reader.h"

namespace backstep::replayer {

// Replay does not match the recording: names the event, what was expected
// and what was found.
class Divergence : public Error {
 public:
  using Error::Error;
};

struct ReplayOptions {
  bool echo_output = true;              // write the recorded stdout/stderr
  std::optional<uint64_t> until_event;  // stop before this record index
  bool until_fatal = false;             // stop at the fatal signal
  // Called after every record replayed: (records replayed so far, records in
  // the trace). For a progress line; it must be cheap.
  std::function<void(uint64_t, uint64_t)> on_progress;
};

struct Position {
  uint64_t event = 0;  // index of the record reached
  int32_t tid = 0;
  uint64_t ticks = 0;
};

struct ReplayResult {
  bool completed = false;  // reached the end of the recording
  bool exited = false;
  int code = 0;
  bool truncated = false;    // the trace was cut; replay stopped at the cut
  bool interrupted = false;  // the recording was interrupted (Ctrl-C) at its end
  uint64_t stops = 0;
  uint64_t map_events = 0;
  // Interrupt stops found with an in-process conditional breakpoint, and
  // with an int3 (a ptrace stop per pass) where the code could not be patched.
  uint64_t interrupt_stubs = 0;
  uint64_t interrupt_int3s = 0;
  // Where replay stopped, when it stopped early (--until-*).
  std::optional<Position> stopped_at;
  Registers regs{};
  uint8_t code_at_rip[16] = {};
  std::string fatal_message;
};

// Replays `trace`; throws Divergence or Error.
ReplayResult replay(const trace::Trace& trace, const ReplayOptions& options);

}  // namespace backstep::replayer
