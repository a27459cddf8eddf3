#include "cli/commands.h"

#include <sys/random.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <cstring>
#include <filesystem>
#include <fmt/core.h>
#include <map>

#include "base/interrupt.h"
#include "cli/debugger.h"
#include "disasm/disassembler.h"
#include "ptrace/inferior.h"
#include "recorder/recorder.h"
#include "replayer/replay_session.h"
#include "syscalls/syscall_table.h"
#include "trace/event_format.h"
#include "trace/trace_dir.h"
#include "trace/trace_reader.h"

extern char** environ;

namespace backstep::cli {
namespace {

trace::Trace load(const std::string& arg) {
  return trace::Trace::load(trace::TraceDir::resolve(arg).path());
}

std::string ending(bool exited, int code) {
  if (exited) return fmt::format("exited with status {}", code);
  const char* name = sigabbrev_np(code);
  return fmt::format("killed by SIG{} ({})", name ? name : "?", code);
}

void print_registers(const Registers& r) {
  fmt::print("rax {:#018x}  rbx {:#018x}  rcx {:#018x}  rdx {:#018x}\n", r.rax, r.rbx, r.rcx,
             r.rdx);
  fmt::print("rsi {:#018x}  rdi {:#018x}  rbp {:#018x}  rsp {:#018x}\n", r.rsi, r.rdi, r.rbp,
             r.rsp);
  fmt::print("r8  {:#018x}  r9  {:#018x}  r10 {:#018x}  r11 {:#018x}\n", r.r8, r.r9, r.r10,
             r.r11);
  fmt::print("r12 {:#018x}  r13 {:#018x}  r14 {:#018x}  r15 {:#018x}\n", r.r12, r.r13, r.r14,
             r.r15);
  fmt::print("rip {:#018x}  eflags {:#x}  fs_base {:#x}\n", r.rip, r.eflags, r.fs_base);
}

}  // namespace

int run_record(const RecordArgs& args) {
  recorder::RecordOptions options;
  options.program.exe = resolve_program(args.command.at(0));
  options.program.argv = args.command;
  for (char** e = environ; *e; ++e) options.program.envp.emplace_back(*e);
  options.program.cwd = std::filesystem::current_path().string();
  options.scheduler.chaos = args.chaos;
  if (args.seed) {
    options.scheduler.seed = *args.seed;
  } else if (args.chaos) {
    uint64_t seed = 0;
    if (::getrandom(&seed, sizeof seed, 0) != sizeof seed) seed = static_cast<uint64_t>(::getpid());
    options.scheduler.seed = seed % 1000000000;
  }
  if (args.timeslice) options.scheduler.timeslice = *args.timeslice;
  options.trace_dir = args.output.empty()
                          ? trace::TraceDir::choose_default(options.program.exe).path()
                          : trace::TraceDir::create_new(args.output).path();
  if (args.chaos) fmt::print(stderr, "backstep: chaos scheduler, seed {}\n", options.scheduler.seed);
  install_interrupt_handlers();
  recorder::RecordResult r = recorder::record(options);
  if (r.interrupted) {
    fmt::print(stderr, "backstep: recording interrupted; the trace in {} keeps what happened\n",
               r.trace_dir.string());
    return 130;
  }
  fmt::print(stderr, "backstep: recorded {} in {} ({}{})\n", options.program.exe,
             r.trace_dir.string(), ending(r.exited, r.code),
             r.fatal_message.empty() ? "" : ", fatal error: " + r.fatal_message);
  return r.shell_status();
}

int run_replay(const ReplayArgs& args) {
  trace::Trace t = load(args.trace);
  if (std::string here = recorder::cpu_model(); here != t.header().cpu_model) {
    fmt::print(stderr,
               "backstep: warning: recorded on \"{}\", replaying on \"{}\": CPUID-dependent "
               "code paths may differ and make the replay diverge\n",
               t.header().cpu_model, here);
  }
  if (args.until_event &&
      (*args.until_event < 2 || *args.until_event >= t.events().size())) {
    throw Error(fmt::format("--until-event {}: this trace's events are numbered 2 to {}",
                            *args.until_event, t.events().size() - 1));
  }
  install_interrupt_handlers();
  if (!args.commands.empty() || !args.script.empty() ||
      (!args.until_event && !args.until_fatal && ::isatty(STDIN_FILENO) && !args.quiet)) {
    Debugger debugger(t, args.json);
    if (args.commands.empty() && args.script.empty()) {
      debugger.interactive();
      return 0;
    }
    for (const auto& c : args.commands) {
      if (!debugger.execute(c)) return 0;
    }
    if (!args.script.empty()) {
      std::ifstream in(args.script);
      if (!in) throw Error(fmt::format("cannot read {}", args.script));
      std::string line;
      while (std::getline(in, line)) {
        if (!debugger.execute(line)) return 0;
      }
    }
    return 0;
  }
  replayer::ReplayOptions options;
  options.echo_output = !args.quiet;
  options.until_event = args.until_event;
  options.until_fatal = args.until_fatal;
  replayer::ReplayResult r = replayer::replay(t, options);
  if (r.stopped_at) {
    const replayer::Position& p = *r.stopped_at;
    fmt::print("stopped at event {}: thread {}, tick {}\n", p.event, p.tid, p.ticks);
    print_registers(r.regs);
    Disassembler dis;
    auto insns = dis.decode(std::span<const uint8_t>(r.code_at_rip, sizeof r.code_at_rip), r.regs.rip, 1);
    if (!insns.empty()) fmt::print("=> {:#x}: {}\n", insns[0].address, insns[0].text);
    return 0;
  }
  if (r.interrupted) {
    fmt::print(stderr, "backstep: replay complete up to where the recording was interrupted "
                       "({} stops)\n", r.stops);
    return 0;
  }
  if (r.truncated || t.truncated()) {
    fmt::print(stderr, "backstep: the trace was cut short; replayed {} stops up to the cut\n",
               r.stops);
    return 3;
  }
  fmt::print(stderr, "backstep: replay complete: {} stops, {} map events; the program {}{}\n",
             r.stops, r.map_events, ending(r.exited, r.code),
             r.fatal_message.empty() ? "" : " (fatal error: " + r.fatal_message + ")");
  return 0;
}

int run_info(const std::string& arg) {
  trace::Trace t = load(arg);
  const trace::Header& h = t.header();
  std::map<std::string, uint64_t> kinds;
  std::map<int32_t, bool> threads;
  uint64_t switches = 0, map_events = 0;
  for (const auto& e : t.events()) {
    if (auto* s = std::get_if<trace::Stop>(&e)) {
      kinds[trace::stop_kind_name(s->kind)]++;
      threads[s->tid] = true;
    } else if (std::holds_alternative<trace::Switch>(e)) {
      switches++;
    } else if (const auto* m = std::get_if<trace::MapEvents>(&e)) {
      map_events += m->events.size();
    }
  }
  fmt::print("trace:      {}\n", t.dir().string());
  fmt::print("program:    {}\n", h.exe);
  std::string argv;
  for (const auto& a : h.argv) argv += (argv.empty() ? "" : " ") + a;
  fmt::print("argv:       {}\n", argv);
  fmt::print("cpu:        {}\n", h.cpu_model);
  fmt::print("scheduler:  {}{}\n", h.scheduler,
             h.scheduler == "chaos" ? fmt::format(" (seed {})", h.seed) : "");
  fmt::print("threads:    {}\n", threads.size());
  fmt::print("events:     {} records, {} switches, {} map events\n", t.events().size(), switches,
             map_events);
  for (const auto& [k, n] : kinds) fmt::print("  {:<14} {}\n", k, n);
  if (const trace::End* end = t.end()) {
    fmt::print("ended:      {}\n", end->interrupted ? std::string("recording interrupted")
                                                      : ending(end->exited, end->code));
    if (!end->fatal_message.empty()) {
      fmt::print("fatal:      {} (thread {})\n", end->fatal_message, end->fatal_tid);
    }
  } else {
    fmt::print("ended:      unknown: the trace was cut short\n");
  }
  return 0;
}

int run_dump(const std::string& arg, bool json) {
  trace::Trace t = load(arg);
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

}  // namespace backstep::cli
