// What the subcommands share: finding a trace from its argument, and saying
// how a program ended.
#pragma once

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
// PROGRAM [ARGS...] as typed, with this process's environment and working
// directory: what `record` and `hunt` launch.
LaunchSpec launch_spec_from_command(const std::vector<std::string>& command);

}  // namespace backstep::cli
