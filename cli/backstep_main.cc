// The backstep command line: one executable, one subcommand per job.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <exception>
#include <string>
#include <vector>

#include "cli/subcommand.h"

int main(int argc, char** argv) {
  using namespace backstep::cli;
  CLI::App app{
      "backstep: deterministic record-and-replay crash investigator for multi-threaded C++ "
      "programs on Linux x86-64 (no hardware performance counters needed)",
      "backstep"};
  app.set_version_flag("--version", fmt::format("backstep {}", BACKSTEP_VERSION));
  app.require_subcommand(0, 1);
  app.footer(kInstrumentationNote);

  Subcommands subcommands;
  add_record_command(app, subcommands);
  add_replay_command(app, subcommands);
  add_info_command(app, subcommands);
  add_dump_command(app, subcommands);
  add_gdbserver_command(app, subcommands);
  add_report_command(app, subcommands);
  add_export_command(app, subcommands);
  add_pack_commands(app, subcommands);
  add_hunt_command(app, subcommands);
  add_minimize_command(app, subcommands);

  // gdb spells it -ex; CLI11 wants one-letter short options.
  std::vector<std::string> args(argv + 1, argv + argc);
  for (auto& a : args) {
    if (a == "-ex") a = "--ex";
  }
  std::reverse(args.begin(), args.end());
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // One line, as for every other bad input.
    fmt::print(stderr, "backstep: {} (see backstep --help)\n", e.what());
    return 2;
  }
  try {
    for (const Subcommand& sub : subcommands) {
      if (sub.app->parsed()) return sub.run();
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "backstep: {}\n", e.what());
    return 1;
  }
  fmt::print("{}", app.help());
  return 0;
}
