// The backstep command line: one executable, one subcommand per job.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <exception>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace {

constexpr const char* kInstrumentationNote =
    "Programs built with backstep_instrument() (the instrumented map plus "
    "-fsanitize-coverage=trace-pc) count their progress in software \"ticks\": "
    "the recorder can then preempt spinning code deterministically, switch threads "
    "at map-flag transitions, and name every position cheaply. Any other binary "
    "records and replays too, but its threads switch only at syscalls and signals.";

}  // namespace

int main(int argc, char** argv) {
  using namespace backstep::cli;
  CLI::App app{
      "backstep: deterministic record-and-replay crash investigator for multi-threaded C++ "
      "programs on Linux x86-64 (no hardware performance counters needed)",
      "backstep"};
  app.set_version_flag("--version", fmt::format("backstep {}", BACKSTEP_VERSION));
  app.require_subcommand(0, 1);
  app.footer(kInstrumentationNote);

  RecordArgs rec;
  auto* record = app.add_subcommand("record", "Record PROGRAM, one thread at a time");
  record->add_option("-o,--output", rec.output, "Trace directory (default: a new one under "
                                                "$XDG_DATA_HOME/backstep, linked as latest-trace)");
  record->add_flag("--chaos", rec.chaos,
                   "Randomized scheduling (priorities, short timeslices, switches at map-flag "
                   "transitions) to make races appear");
  record->add_option("--seed", rec.seed, "Seed of the chaos scheduler (random when absent)");
  record->add_option("--timeslice", rec.timeslice, "Timeslice in ticks (fair scheduler)")
      ->check(CLI::PositiveNumber);
  record->add_option("command", rec.command, "PROGRAM [ARGS...] (after --)")->required();
  record->footer(kInstrumentationNote);

  ReplayArgs rep;
  auto* replay = app.add_subcommand("replay", "Re-execute a recording deterministically");
  replay->add_option("trace", rep.trace, "Trace directory or name (default: latest-trace)");
  replay->add_option("--until-event", rep.until_event, "Stop before event N and show where");
  replay->add_flag("--until-fatal", rep.until_fatal, "Stop at the fatal signal and show where");
  replay->add_flag("-q,--quiet", rep.quiet, "Do not write the program's recorded output");
  replay->add_option("--ex", rep.commands,
                     "Run a debugger command (repeatable; also spelled -ex, as in gdb), then exit");
  replay->add_option("-x", rep.script, "Run the debugger commands in FILE, then exit");
  replay->add_flag("--json", rep.json, "Debugger output as JSON, one object per line");
  replay->footer(
      "Without --until-*, -ex or -x, and with a terminal on stdin, replay opens an interactive "
      "session: when, goto start|end|panic|event N|POSITION, stepi, reverse-stepi, info "
      "registers|threads, thread N, x/FMT ADDR, disassemble, map [ADDR], events [N].");

  std::string info_trace;
  auto* info = app.add_subcommand("info", "Summarize a recording");
  info->add_option("trace", info_trace, "Trace directory or name (default: latest-trace)");

  std::string dump_trace;
  bool dump_json = false;
  auto* dump = app.add_subcommand("dump", "Print a recording's events, one per line");
  dump->add_option("trace", dump_trace, "Trace directory or name (default: latest-trace)");
  dump->add_flag("--json", dump_json, "JSON lines");

  // gdb spells it -ex; CLI11 wants one-letter short options.
  std::vector<std::string> args(argv + 1, argv + argc);
  for (auto& a : args) {
    if (a == "-ex") a = "--ex";
  }
  std::reverse(args.begin(), args.end());
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (record->parsed()) return run_record(rec);
    if (replay->parsed()) return run_replay(rep);
    if (info->parsed()) return run_info(info_trace);
    if (dump->parsed()) return run_dump(dump_trace, dump_json);
  } catch (const std::exception& e) {
    fmt::print(stderr, "backstep: {}\n", e.what());
    return 1;
  }
  fmt::print("{}", app.help());
  return 0;
}
