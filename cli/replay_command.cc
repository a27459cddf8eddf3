// `backstep replay`: re-execute a recording, straight through or as a
// debugger session.
#include <fmt/core.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <optional>
#include <span>

#include "base/errors.h"
#include "base/interrupt.h"
#include "cli/cli_support.h"
#include "cli/debugger.h"
#include "cli/subcommand.h"
#include "disasm/disassembler.h"
#include "ptrace/cpu_binding.h"
#include "recorder/recorder.h"
#include "replayer/executable_stand_in.h"
#include "replayer/replay_session.h"
#include "trace/process_list.h"

namespace backstep::cli {
namespace {

struct ReplayArgs {
  std::string trace;
  std::optional<uint64_t> until_event;
  bool until_fatal = false;
  bool quiet = false;
  std::vector<std::string> commands;  // -ex, in order
  std::string script;                 // -x FILE
  bool json = false;
  bool gdb = false;
  int64_t checkpoint_ms = 25;
  bool cpu_unbound = false;
  std::string on_process;      // -p PID|NAME
  std::optional<int> on_fork;  // -f PID
  bool exit_status = false;
};

std::string base_name(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string pid_list(const trace::ProcessList& list) {
  std::string out;
  for (const trace::ProcessSummary& p : list.processes()) {
    out += fmt::format("{}{}", out.empty() ? "" : ", ", p.pid);
  }
  return out;
}

// Where `-f PID` (the process's start) or `-p PID|NAME` (where the process,
// or the first one to run NAME, has exec'd: rr's -p) places the session: the
// first stop of one of its threads from there on.
std::optional<trace::ProcessStop> start_point(const trace::Trace& t, const ReplayArgs& args) {
  if (!args.on_fork && args.on_process.empty()) return std::nullopt;
  trace::ProcessList list(t);
  auto stop_at = [&](int32_t pid, size_t from, const std::string& what) {
    std::optional<trace::ProcessStop> s = list.first_stop(t, pid, from);
    if (!s) throw Error(fmt::format("{}: process {} makes no stop after that", what, pid));
    return *s;
  };
  if (args.on_fork) {
    std::string what = fmt::format("replay -f {}", *args.on_fork);
    const trace::ProcessSummary* p = list.find(*args.on_fork);
    if (!p) {
      throw Error(fmt::format("{}: the recording has no process {} (its processes: {})", what,
                              *args.on_fork, pid_list(list)));
    }
    return stop_at(p->pid, p->started, what);
  }
  std::string what = fmt::format("replay -p {}", args.on_process);
  const std::string& spec = args.on_process;
  if (!spec.empty() && spec.find_first_not_of("0123456789") == std::string::npos) {
    const trace::ProcessSummary* p = list.find(std::stoi(spec));
    if (!p) {
      throw Error(fmt::format("{}: the recording has no process {} (its processes: {})", what, spec,
                              pid_list(list)));
    }
    // A process that never execs is taken from its start.
    return stop_at(p->pid, p->execs.empty() ? p->started : p->execs.front(), what);
  }
  std::optional<trace::ProcessStop> best;
  for (const trace::ProcessSummary& p : list.processes()) {
    if (p.parent == 0 && base_name(t.header().exe) == spec) {
      best = stop_at(p.pid, p.started, what);
      break;
    }
    for (size_t at : p.execs) {
      if (base_name(std::get<trace::Exec>(t.events()[at]).exe) != spec) continue;
      trace::ProcessStop s = stop_at(p.pid, at, what);
      if (!best || s.record < best->record) best = s;
      break;
    }
  }
  if (!best) throw Error(fmt::format("{}: no process of the recording runs {}", what, spec));
  return best;
}

int run_replay(const ReplayArgs* args) {
  trace::Trace t = load_trace(args->trace);
  std::vector<std::string> start;
  if (std::optional<trace::ProcessStop> s = start_point(t, *args)) {
    start = {fmt::format("goto event {}", s->record), fmt::format("thread {}", s->tid)};
  }
  if (args->gdb) exec_gdb(args->trace, args->commands, args->cpu_unbound, start);
  // As `record` does, and for the same reason: the replayed program wakes
  // on the replayer's CPU at every stop instead of the other one (measured:
  // a syscall-heavy replay ~18% faster, the map workload ~7%). The program
  // never sees it: its affinity calls are answered from the trace.
  if (auto binding = CpuBinding::choose(std::nullopt, args->cpu_unbound)) {
    binding->pin_caller();
  }
  if (std::string here = recorder::cpu_model(); here != t.header().cpu_model) {
    fmt::print(stderr,
               "backstep: warning: recorded on \"{}\", replaying on \"{}\": CPUID-dependent "
               "code paths may differ and make the replay diverge\n",
               t.header().cpu_model, here);
  }
  for (const std::string& file : replayer::kernel_loaded_files_that_differ(t)) {
    fmt::print(stderr,
               "backstep: warning: {} is not the file the recording ran with (the kernel loads "
               "it at exec, not from the trace): the replay will likely diverge\n",
               file);
  }
  if (args->until_event && (*args->until_event < 2 || *args->until_event >= t.events().size())) {
    throw Error(fmt::format("--until-event {}: this trace's events are numbered 2 to {}",
                            *args->until_event, t.events().size() - 1));
  }
  install_interrupt_handlers();
  if (!args->commands.empty() || !args->script.empty() || !start.empty() ||
      (!args->until_event && !args->until_fatal && !args->exit_status && ::isatty(STDIN_FILENO) &&
       !args->quiet)) {
    replayer::TimeTravelOptions tt_options;
    tt_options.checkpoint_interval = std::chrono::milliseconds(args->checkpoint_ms);
    Debugger debugger(t, args->json, tt_options);
    for (const auto& c : start) {
      if (!debugger.execute(c)) return 0;
    }
    if (args->commands.empty() && args->script.empty() && ::isatty(STDIN_FILENO)) {
      debugger.interactive();
      return 0;
    }
    for (const auto& c : args->commands) {
      if (!debugger.execute(c)) return 0;
    }
    if (!args->script.empty()) {
      std::ifstream in(args->script);
      if (!in) throw Error(fmt::format("cannot read {}", args->script));
      std::string line;
      while (std::getline(in, line)) {
        if (!debugger.execute(line)) return 0;
      }
    }
    return 0;
  }
  replayer::ReplayOptions options;
  options.echo_output = !args->quiet;
  options.until_event = args->until_event;
  options.until_fatal = args->until_fatal;
  // On a terminal, unless the program's own output goes there: that shows
  // the progress already, and would overwrite the line.
  ProgressLine progress(progress_on_stderr() && (args->quiet || !::isatty(STDOUT_FILENO)));
  if (progress.enabled()) {
    options.on_progress = [&progress](uint64_t done, uint64_t total) {
      progress.update([&] {
        double s = progress.seconds();
        return fmt::format("replay: record {} of {} ({}%), {:.0f} records/s, {:.1f} s", done, total,
                           total ? done * 100 / total : 100, s > 0 ? done / s : 0.0, s);
      });
    };
  }
  replayer::ReplayResult r = replayer::replay(t, options);
  progress.finish();
  if (r.stopped_at) {
    const replayer::Position& p = *r.stopped_at;
    fmt::print("stopped at event {}: thread {}, tick {}\n", p.event, p.tid, p.ticks);
    print_registers(r.regs);
    Disassembler dis;
    auto insns =
        dis.decode(std::span<const uint8_t>(r.code_at_rip, sizeof r.code_at_rip), r.regs.rip, 1);
    if (!insns.empty()) fmt::print("=> {:#x}: {}\n", insns[0].address, insns[0].text);
    return 0;
  }
  if (r.interrupted) {
    fmt::print(stderr,
               "backstep: replay complete up to where the recording was interrupted "
               "({} stops)\n",
               r.stops);
    return 0;
  }
  if (r.truncated || t.truncated()) {
    fmt::print(stderr, "backstep: the trace was cut short; replayed {} stops up to the cut\n",
               r.stops);
    return 3;
  }
  fmt::print(stderr, "backstep: replay complete: {} stops, {} map events; the program {}{}\n",
             r.stops, r.map_events, describe_ending(r.exited, r.code),
             r.fatal_message.empty() ? "" : " (fatal error: " + r.fatal_message + ")");
  if (args->exit_status) return r.exited ? r.code : 128 + r.code;
  return 0;
}

}  // namespace

void add_replay_command(CLI::App& app, Subcommands& out) {
  auto args = std::make_shared<ReplayArgs>();
  auto* replay = app.add_subcommand("replay", "Re-execute a recording deterministically");
  add_trace_argument(replay, args->trace);
  auto* until_event =
      replay->add_option("--until-event", args->until_event, "Stop before event N and show where");
  auto* until_fatal = replay->add_flag("--until-fatal", args->until_fatal,
                                       "Stop at the fatal signal and show where");
  replay->add_flag("-q,--quiet", args->quiet, "Do not write the program's recorded output");
  // One command per -ex, so that a TRACE after them (`replay -ex bt DIR`, as
  // in gdb) is the trace and not one more command.
  auto* ex = replay
                 ->add_option(
                     "--ex", args->commands,
                     "Run a debugger command (repeatable; also spelled -ex, as in gdb), then exit")
                 ->allow_extra_args(false);
  auto* script =
      replay->add_option("-x", args->script, "Run the debugger commands in FILE, then exit");
  replay->add_flag("--json", args->json, "Debugger output as JSON, one object per line");
  replay->add_flag("-u,--cpu-unbound", args->cpu_unbound,
                   "Let the replayed program run on any CPU (by default it runs on the CPU "
                   "backstep starts on, with the replayer)");
  replay
      ->add_option("--checkpoint-interval", args->checkpoint_ms,
                   "Milliseconds of replaying between two checkpoints, which bound what going "
                   "back costs (default 25; 0: none, going back replays from the start)")
      ->check(CLI::NonNegativeNumber);
  auto* on_process =
      replay->add_option("-p,--onprocess", args->on_process,
                         "Start the session where process PID, or the first process to run NAME, "
                         "has exec'd (where it starts if it never execs), on its thread");
  replay
      ->add_option("-f,--onfork", args->on_fork,
                   "Start the session where process PID starts (its first stop), on its thread")
      ->excludes(on_process);
  auto* exit_status = replay->add_flag(
      "--exit-status", args->exit_status,
      "Exit with the replayed program's status (128 + signal when a signal killed it), as "
      "`record` does");
  auto* gdb = replay->add_flag("--gdb", args->gdb,
                               "Start gdb connected to the replay (backstep gdbserver); -ex "
                               "commands go to gdb, in batch mode");
  exit_status->excludes(until_event)
      ->excludes(until_fatal)
      ->excludes(ex)
      ->excludes(script)
      ->excludes(gdb);
  replay->footer(
      "Without --until-*, --exit-status, -ex or -x, and with a terminal on stdin, replay opens an "
      "interactive "
      "session: when, goto start|end|panic|setter|event N|POSITION, stepi, reverse-stepi, info "
      "registers|threads|processes, thread N, process N, x/FMT ADDR, disassemble, map [ADDR], "
      "events [N]. "
      "`help` in the session lists every command.");
  out.push_back({replay, [args] { return run_replay(args.get()); }});
}

}  // namespace backstep::cli
