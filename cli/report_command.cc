// `backstep report`: an automatic investigation of how a recording ended,
// for the person who files the bug (report/ does the work).
#include <fmt/core.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>

#include "base/errors.h"
#include "cli/cli_support.h"
#include "cli/subcommand.h"
#include "report/crash_report.h"
#include "report/render.h"

namespace backstep::cli {
namespace {

struct ReportArgs {
  std::string trace;
  std::string format = "text";
  std::string output;
  size_t last = 20;
  bool full_names = false;
};

int run_report(const ReportArgs& args) {
  // Checked before the (possibly long) replay.
  std::optional<report::Format> format = report::parse_format(args.format);
  if (!format) {
    throw Error(fmt::format("unknown report format \"{}\" (text, md, html or json)", args.format));
  }
  trace::Trace t = load_trace(args.trace);
  report::CrashReport r = report::build_crash_report(t, {args.last, args.full_names});
  bool colour = args.output.empty() && colour_for(STDOUT_FILENO);
  std::string text = report::render(r, *format, colour);
  if (args.output.empty()) {
    fmt::print("{}", text);
    return 0;
  }
  std::ofstream out(args.output, std::ios::binary | std::ios::trunc);
  if (!out || !out.write(text.data(), static_cast<std::streamsize>(text.size())) || !out.flush()) {
    throw Error(fmt::format("cannot write {}: {}", args.output, std::strerror(errno)));
  }
  return 0;
}

}  // namespace

void add_report_command(CLI::App& app, Subcommands& out) {
  auto args = std::make_shared<ReportArgs>();
  auto* report = app.add_subcommand(
      "report", "Explain how a recording ended: what failed, why, and what to do");
  add_trace_argument(report, args->trace);
  report->add_option("--format", args->format,
                     "text (coloured on a terminal unless NO_COLOR is set), md (Markdown), html "
                     "(one self-contained "
                     "file) or json (docs/report-schema.md)");
  report->add_option("-o,--output", args->output, "Write the report to FILE instead of stdout");
  report
      ->add_option("--last", args->last,
                   "How many map-flag transitions and thread switches before the end to list")
      ->check(CLI::PositiveNumber);
  report->add_flag("--full-names", args->full_names,
                   "Name functions in full (demangled, with parameters and every template "
                   "argument) instead of short (GoMap<int, int>::put)");
  out.push_back({report, [args] { return run_report(*args); }});
}

}  // namespace backstep::cli
