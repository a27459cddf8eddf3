// `backstep info` and `backstep dump`: read a recording without running it.
#include <fmt/core.h>

#include <map>
#include <memory>

#include "cli/cli_support.h"
#include "trace/buffered_syscalls.h"
#include "cli/subcommand.h"
#include "trace/event_format.h"
#include "trace/process_list.h"

namespace backstep::cli {
namespace {

int run_info(const std::string& arg) {
  trace::Trace t = load_trace(arg);
  const trace::Header& h = t.header();
  std::map<std::string, uint64_t> kinds;
  std::map<int32_t, bool> threads;
  uint64_t switches = 0, map_events = 0;
  uint64_t buffered = 0, buffered_bytes = 0, code_writes = 0;
  for (const auto& e : t.events()) {
    if (auto* s = std::get_if<trace::Stop>(&e)) {
      kinds[trace::stop_kind_name(s->kind)]++;
      threads[s->tid] = true;
    } else if (std::holds_alternative<trace::Switch>(e)) {
      switches++;
    } else if (const auto* m = std::get_if<trace::MapEvents>(&e)) {
      map_events += m->events.size();
    } else if (const auto* b = std::get_if<trace::SyscallBuffer>(&e)) {
      buffered += trace::parse_buffered_calls(b->records).size();
      buffered_bytes += b->records.size();
    } else if (const auto* c = std::get_if<trace::CodeWrite>(&e)) {
      code_writes += c->writes.size() / 2;
    }
  }
  fmt::print("trace:      {}\n", t.dir().string());
  fmt::print("program:    {}\n", h.exe);
  std::string argv;
  for (const auto& a : h.argv) argv += (argv.empty() ? "" : " ") + a;
  fmt::print("argv:       {}\n", argv);
  fmt::print("cpu:        {}\n", h.cpu_model);
  if (h.env_redacted) {
    fmt::print("env:        values redacted by backstep pack (names and lengths kept)\n");
  }
  fmt::print("scheduler:  {}{}\n", h.scheduler,
             h.scheduler == "chaos" ? fmt::format(" (seed {})", h.seed) : "");
  trace::ProcessList processes(t);
  fmt::print("processes:  {}\n", processes.processes().size());
  for (const trace::ProcessSummary& p : processes.processes()) {
    if (processes.processes().size() == 1) break;
    std::string end = !p.ended           ? std::string("running at the end")
                      : p.exited          ? fmt::format("exited with status {}", p.code)
                                          : fmt::format("killed by signal {}", p.code);
    fmt::print("  process {}{}: {}, {}\n", p.pid,
               p.parent ? fmt::format(" (parent {})", p.parent) : std::string(), p.exe, end);
  }
  fmt::print("threads:    {}\n", threads.size());
  fmt::print("events:     {} records, {} switches, {} map events\n", t.events().size(), switches,
             map_events);
  for (const auto& [k, n] : kinds) fmt::print("  {:<14} {}\n", k, n);
  if (buffered || code_writes) {
    fmt::print("buffered:   {} syscalls without stops ({} bytes of records before compression), "
               "{} syscall sites patched\n",
               buffered, buffered_bytes, code_writes);
  }
  if (const trace::End* end = t.end()) {
    fmt::print("ended:      {}\n", end->interrupted ? std::string("recording interrupted")
                                                    : describe_ending(end->exited, end->code));
    if (!end->fatal_message.empty()) {
      fmt::print("fatal:      {} (thread {})\n", end->fatal_message, end->fatal_tid);
    }
  } else {
    fmt::print("ended:      unknown: the trace was cut short\n");
  }
  return 0;
}

int run_dump(const std::string& arg, bool json) {
  trace::Trace t = load_trace(arg);
  const auto& ev = t.events();
  for (size_t i = 0; i < ev.size(); ++i) {
    if (json) {
      for (const auto& j : trace::to_json(ev[i], i)) fmt::print("{}\n", j.dump());
    } else {
      for (const auto& line : trace::to_text(ev[i], i)) fmt::print("{}\n", line);
    }
  }
  if (t.truncated()) {
    fmt::print(stderr, "backstep: the trace was cut short after {} records\n", ev.size());
  }
  return 0;
}

}  // namespace

void add_info_command(CLI::App& app, Subcommands& out) {
  auto trace = std::make_shared<std::string>();
  auto* info = app.add_subcommand("info", "Summarize a recording");
  add_trace_argument(info, *trace);
  out.push_back({info, [trace] { return run_info(*trace); }});
}

void add_dump_command(CLI::App& app, Subcommands& out) {
  struct Args {
    std::string trace;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  auto* dump = app.add_subcommand("dump", "Print a recording's events, one per line");
  add_trace_argument(dump, args->trace);
  dump->add_flag("--json", args->json, "JSON lines");
  out.push_back({dump, [args] { return run_dump(args->trace, args->json); }});
}

}  // namespace backstep::cli
