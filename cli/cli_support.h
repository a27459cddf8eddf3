// What the subcommands share: finding a trace from its argument, and saying
// how a program ended.
#pragma once

#include <string>

#include "ptrace/task.h"
#include "trace/trace_reader.h"

namespace backstep::cli {

// A path, a name under the trace folder, or "" for latest-trace.
trace::Trace load_trace(const std::string& arg);
// "exited with status N" or "killed by SIGX (N)".
std::string describe_ending(bool exited, int code);
void print_registers(const Registers& r);

}  // namespace backstep::cli
