// How a subcommand joins the `backstep` command line: each lives in its own
// file, declares its options on a CLI11 subcommand, and hands back the
// function that runs it once the command line has been parsed.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace backstep::cli {

struct Subcommand {
  CLI::App* app = nullptr;
  std::function<int()> run;  // returns the process exit status
};
using Subcommands = std::vector<Subcommand>;

// The TRACE argument every command reading a recording takes: a trace
// directory or a name under the trace root, the latest one when omitted.
inline CLI::Option* add_trace_argument(CLI::App* cmd, std::string& trace) {
  return cmd->add_option("trace", trace, "Trace directory or name (default: latest-trace)");
}

// Shown in the help of `backstep` and of `record`.
extern const char* const kInstrumentationNote;

// One per subcommand, in the order `backstep --help` lists them.
void add_record_command(CLI::App& app, Subcommands& out);
void add_replay_command(CLI::App& app, Subcommands& out);
void add_info_command(CLI::App& app, Subcommands& out);
void add_dump_command(CLI::App& app, Subcommands& out);
void add_gdbserver_command(CLI::App& app, Subcommands& out);
void add_report_command(CLI::App& app, Subcommands& out);
void add_export_command(CLI::App& app, Subcommands& out);
// `pack` and `unpack`.
void add_pack_commands(CLI::App& app, Subcommands& out);
void add_hunt_command(CLI::App& app, Subcommands& out);
void add_minimize_command(CLI::App& app, Subcommands& out);

// Replaces this process with gdb connected to `backstep gdbserver TRACE`
// (`replay --gdb`, as `rr replay` does); with `commands`, gdb runs them in
// batch mode and exits; `cpu_unbound` is replay's -u, passed on; `start`:
// debugger commands, run as monitor commands before the user's, that place
// the session (replay -p/-f). Returns only by throwing.
[[noreturn]] void exec_gdb(const std::string& trace, const std::vector<std::string>& commands,
                           bool cpu_unbound, const std::vector<std::string>& start = {});

}  // namespace backstep::cli
