// backstep record: runs a program under ptrace one thread at a time and
// writes everything replay needs into a trace directory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "ptrace/inferior.h"
#include "recorder/scheduler.h"

namespace backstep::recorder {

struct RecordOptions {
  LaunchSpec program;
  std::filesystem::path trace_dir;  // created; must not exist or be empty
  Scheduler::Options scheduler;
  // Run the program and the recorder's thread on this CPU
  // (ptrace/cpu_binding.h); by default on the CPU the recorder starts on,
  // unless cpu_unbound.
  std::optional<int> bind_cpu;
  bool cpu_unbound = false;
  // Preload the syscall buffer's library (src/preload): common syscalls
  // are then recorded without ptrace stops. `record --no-syscall-buffer`.
  bool syscall_buffer = true;
};

struct RecordResult {
  std::filesystem::path trace_dir;
  bool exited = false;        // exit(code) rather than a signal
  int code = 0;               // exit code or signal number
  std::string fatal_message;  // the map's fatal error, if any
  uint64_t stops = 0;
  uint64_t map_events = 0;
  uint64_t buffered_syscalls = 0;  // made through the syscall buffer, without stops
  uint64_t buffered_bytes = 0;     // their records' bytes in the trace, before compression
  uint64_t patched_sites = 0;      // syscall sites patched into the buffer
  uint64_t interrupts = 0;  // kInterrupt stops: threads preempted by the wall clock
  bool interrupted = false;  // Ctrl-C (or SIGTERM/SIGHUP) ended the recording
  // What a shell would report: the exit code, or 128 + signal.
  int shell_status() const { return exited ? code : 128 + code; }
};

// The CPU's model name, as recorded in traces.
std::string cpu_model();

// Records one run. Throws Error when the program cannot be started or the
// recording cannot be written; the program's own failure is a result.
RecordResult record(const RecordOptions& options);

}  // namespace backstep::recorder
