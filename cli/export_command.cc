// `backstep export`: a recording in formats other tools read (Chrome
// trace-event JSON for Perfetto / chrome://tracing, JSON lines).
#include <fmt/core.h>

#include <fstream>
#include <iostream>
#include <memory>

#include "base/errors.h"
#include "cli/cli_support.h"
#include "cli/subcommand.h"
#include "share/chrome_export.h"
#include "share/jsonl_export.h"

namespace backstep::cli {
namespace {

struct ExportArgs {
  std::string trace;
  std::string format;
  std::string output;
};

void write_export(const trace::Trace& t, const std::string& format, std::ostream& out) {
  if (format == "chrome") {
    out << share::chrome_trace(t).dump() << '\n';
  } else {
    share::write_jsonl(t, out);
  }
}

int run_export(const ExportArgs* args) {
  trace::Trace t = load_trace(args->trace);
  if (args->output.empty() || args->output == "-") {
    write_export(t, args->format, std::cout);
    std::cout.flush();
    if (!std::cout) throw Error("cannot write the export to standard output");
    return 0;
  }
  std::ofstream file(args->output, std::ios::binary | std::ios::trunc);
  if (!file) throw Error(fmt::format("cannot create {}", args->output));
  write_export(t, args->format, file);
  file.close();
  if (!file) throw Error(fmt::format("cannot write {}", args->output));
  return 0;
}

}  // namespace

void add_export_command(CLI::App& app, Subcommands& out) {
  auto args = std::make_shared<ExportArgs>();
  auto* cmd = app.add_subcommand(
      "export",
      "Write a recording as Chrome trace-event JSON (Perfetto UI, chrome://tracing) "
      "or JSON lines (docs/export-formats.md)");
  add_trace_argument(cmd, args->trace);
  cmd->add_option("--format", args->format, "chrome or jsonl")
      ->required()
      ->check(CLI::IsMember({"chrome", "jsonl"}));
  cmd->add_option("-o,--output", args->output, "Output file (default: standard output)");
  out.push_back({cmd, [args] { return run_export(args.get()); }});
}

}  // namespace backstep::cli
