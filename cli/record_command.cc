// `backstep record`: run a program one thread at a time and keep what it did.
#include <fmt/core.h>
#include <sys/random.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <optional>

#include "base/interrupt.h"
#include "cli/cli_support.h"
#include "cli/subcommand.h"
#include "ptrace/inferior.h"
#include "recorder/recorder.h"
#include "trace/trace_dir.h"

namespace backstep::cli {
namespace {

struct RecordArgs {
  std::vector<std::string> command;
  std::string output;
  bool chaos = false;
  std::optional<uint64_t> seed;
  std::optional<uint64_t> timeslice;
  std::optional<double> wall_timeslice_ms;
  std::optional<int> bind_cpu;
  bool cpu_unbound = false;
  bool no_syscall_buffer = false;
};

int run_record(const RecordArgs* args) {
  recorder::RecordOptions options;
  options.program = launch_spec_from_command(args->command);
  options.scheduler.chaos = args->chaos;
  if (args->seed) {
    options.scheduler.seed = *args->seed;
  } else if (args->chaos) {
    uint64_t seed = 0;
    if (::getrandom(&seed, sizeof seed, 0) != sizeof seed) seed = static_cast<uint64_t>(::getpid());
    options.scheduler.seed = seed % 1000000000;
  }
  if (args->timeslice) options.scheduler.timeslice = *args->timeslice;
  if (args->wall_timeslice_ms) {
    options.scheduler.wall_timeslice =
        std::chrono::microseconds(static_cast<int64_t>(*args->wall_timeslice_ms * 1000));
  }
  options.bind_cpu = args->bind_cpu;
  options.cpu_unbound = args->cpu_unbound;
  options.syscall_buffer = !args->no_syscall_buffer;
  options.trace_dir = args->output.empty()
                          ? trace::TraceDir::choose_default(options.program.exe).path()
                          : trace::TraceDir::create_new(args->output).path();
  if (args->chaos)
    fmt::print(stderr, "backstep: chaos scheduler, seed {}\n", options.scheduler.seed);
  install_interrupt_handlers();
  recorder::RecordResult r = recorder::record(options);
  if (r.interrupted) {
    fmt::print(stderr, "backstep: recording interrupted; the trace in {} keeps what happened\n",
               r.trace_dir.string());
    return 130;
  }
  fmt::print(stderr, "backstep: recorded {} in {} ({}{})\n", options.program.exe,
             r.trace_dir.string(), describe_ending(r.exited, r.code),
             r.fatal_message.empty() ? "" : ", fatal error: " + r.fatal_message);
  return r.shell_status();
}

}  // namespace

const char* const kInstrumentationNote =
    "Programs built with backstep_instrument() (the instrumented map, and a tick "
    "at every function entry and loop iteration) count their progress in "
    "software \"ticks\": the recorder can then preempt spinning code "
    "deterministically, switch threads "
    "at map-flag transitions, and name every position cheaply. Any other binary "
    "records and replays too; a thread of it that runs --wall-timeslice without a "
    "syscall while another could run is interrupted, and replay finds that point "
    "again by its registers and memory.";

void add_record_command(CLI::App& app, Subcommands& out) {
  auto args = std::make_shared<RecordArgs>();
  auto* record = app.add_subcommand("record", "Record PROGRAM, one thread at a time");
  record->add_option("-o,--output", args->output,
                     "Trace directory (default: a new one under "
                     "$XDG_DATA_HOME/backstep, linked as latest-trace)");
  record->add_flag("--chaos", args->chaos,
                   "Randomized scheduling (priorities, short timeslices, switches at map-flag "
                   "transitions) to make races appear");
  record->add_option("--seed", args->seed, "Seed of the chaos scheduler (random when absent)");
  record->add_option("--timeslice", args->timeslice, "Timeslice in ticks (fair scheduler)")
      ->check(CLI::PositiveNumber);
  record
      ->add_option("--wall-timeslice", args->wall_timeslice_ms,
                   "Milliseconds of its own CPU time a thread may run without a stop, in code "
                   "that counts no ticks, while another could run, before it is interrupted "
                   "(default 10; at least 50 for an instrumented thread; 0: never)")
      ->check(CLI::NonNegativeNumber);
  auto* bind =
      record
          ->add_option("--bind-cpu", args->bind_cpu,
                       "Run the program and the recorder on CPU (default: the CPU backstep "
                       "starts on), the trace writer on the others. The program's "
                       "sched_getaffinity still shows its usual mask; /proc/PID/status shows "
                       "the binding")
          ->check(CLI::NonNegativeNumber);
  record
      ->add_flag("-u,--cpu-unbound", args->cpu_unbound,
                 "Let the program's threads run on any CPU (slower when the machine is idle; "
                 "better when another process keeps the recorder's CPU busy)")
      ->excludes(bind);
  record->add_flag("-n,--no-syscall-buffer", args->no_syscall_buffer,
                   "Record every syscall with ptrace stops: do not preload the syscall "
                   "buffer's library, which makes common syscalls in-process");
  record->add_option("command", args->command, "PROGRAM [ARGS...] (after --)")->required();
  record->footer(kInstrumentationNote);
  out.push_back({record, [args] { return run_record(args.get()); }});
}

}  // namespace backstep::cli
