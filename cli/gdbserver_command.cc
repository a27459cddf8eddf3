// `backstep gdbserver`: serve a replay to gdb over the remote serial
// protocol, on stdin/stdout (`target remote | backstep gdbserver TRACE`) or
// on 127.0.0.1:PORT (`target remote :PORT`). Also what `replay --gdb` runs.
#include <fmt/core.h>
#include <sys/mman.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>

#include "base/errors.h"
#include "base/interrupt.h"
#include "cli/cli_support.h"
#include "cli/debugger.h"
#include "cli/subcommand.h"
#include "gdbserver/break_watcher.h"
#include "gdbserver/gdb_server.h"
#include "gdbserver/rsp_connection.h"
#include "gdbserver/trace_files.h"
#include "ptrace/cpu_binding.h"
#include "trace/trace_dir.h"

namespace backstep::cli {
namespace {

struct GdbserverArgs {
  std::string trace;
  std::optional<uint16_t> port;
  bool verbose = false;
  bool cpu_unbound = false;
};

void ignore_signal(int) {}

int run_gdbserver(const GdbserverArgs* args) {
  trace::Trace t = load_trace(args->trace);
  // gdb going away mid-reply must end the session, not kill it silently. A
  // handler rather than SIG_IGN: an ignored disposition would be inherited
  // by the replayed program, which the recording did not see.
  struct sigaction sa {};
  sa.sa_handler = ignore_signal;
  ::sigaction(SIGPIPE, &sa, nullptr);
  // gdb's ^C during a motion (gdbserver/break_watcher.h).
  install_interrupt_handler(gdbserver::BreakWatcher::kSignal);
  // The connection first: the replayed program must not inherit it.
  gdbserver::RspConnection connection =
      args->port
          ? gdbserver::RspConnection::accept_tcp(
                *args->port,
                [](uint16_t port) {
                  fmt::print(stderr,
                             "backstep: listening on 127.0.0.1:{} (in gdb: target remote :{})\n",
                             port, port);
                })
          : gdbserver::RspConnection::from_stdio();
  connection.set_log(args->verbose);
  // The replayer and the program on one CPU, as `replay` does.
  if (auto binding = CpuBinding::choose(std::nullopt, args->cpu_unbound)) binding->pin_caller();
  replayer::TimeTravel tt(t);
  std::string captured;
  Debugger debugger(tt, &captured);
  gdbserver::GdbServer server(tt, connection, [&](const std::string& line) {
    captured.clear();
    debugger.execute(line);
    return captured;
  });
  server.serve();
  return 0;
}

// Single quotes for /bin/sh, which runs `target remote | CMD`.
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

void exec_gdb(const std::string& trace_arg, const std::vector<std::string>& commands,
              bool cpu_unbound, const std::vector<std::string>& start) {
  std::filesystem::path trace =
      std::filesystem::absolute(trace::TraceDir::resolve(trace_arg).path());
  trace::Trace t = trace::Trace::load(trace);
  std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  // `monitor goto ...` moves the replay behind gdb's back: gdb must forget
  // the registers and memory it cached, re-read the list of libraries
  // (it only follows them at the loader's breakpoint), and select the
  // thread the replay now stands on. A hook does that after every `monitor`; gdb reads it from
  // a memory file inherited across exec.
  int script = ::memfd_create("backstep-gdbinit", 0);
  if (script < 0) throw_errno("memfd_create");
  std::string hooks = R"(define hookpost-monitor
maintenance flush register-cache
maintenance flush dcache
sharedlibrary
python
import re
_m = re.search(r"thread (\d+), tick", gdb.execute("monitor when", to_string=True))
if _m:
    gdb.execute("info threads", to_string=True)
    for _t in gdb.selected_inferior().threads():
        if _t.ptid[1] == int(_m.group(1)) and _t != gdb.selected_thread():
            _t.switch()
            gdb.execute("frame")
end
end
)";
  if (::write(script, hooks.data(), hooks.size()) != static_cast<ssize_t>(hooks.size())) {
    throw_errno("write");
  }
  std::vector<std::string> argv = {"gdb", "-q", "-nx"};
  if (!commands.empty()) argv.push_back("-batch");
  // gdb styles a terminal's output whatever NO_COLOR says.
  if (const char* no_colour = std::getenv("NO_COLOR"); no_colour && *no_colour) {
    argv.insert(argv.end(), {"-iex", "set style enabled off"});
  }
  // The libraries from this machine when they are the recorded ones (quicker),
  // else from the trace's copies through the server (a bundle unpacked
  // elsewhere, a library upgraded since).
  if (gdbserver::recorded_files_are_local(t)) argv.insert(argv.end(), {"-ex", "set sysroot /"});
  // A replay may take a while to answer (going back, a loaded machine):
  // gdb's 2 s default would drop the connection.
  argv.insert(argv.end(), {"-ex", "set remotetimeout 120"});
  for (std::string a : {fmt::format("source /proc/self/fd/{}", script),
                        fmt::format("target remote | exec {} gdbserver {}{}", shell_quote(self),
                                    cpu_unbound ? "-u " : "", shell_quote(trace.string()))}) {
    argv.push_back("-ex");
    argv.push_back(a);
  }
  // Where the session starts (replay -p/-f): monitor commands, which the
  // hook follows, before the user's own.
  for (const std::string& c : start) {
    argv.push_back("-ex");
    argv.push_back("monitor " + c);
  }
  for (const std::string& c : commands) {
    argv.push_back("-ex");
    argv.push_back(c);
  }
  argv.push_back(gdbserver::program_file(t));
  std::vector<char*> raw;
  for (auto& a : argv) raw.push_back(a.data());
  raw.push_back(nullptr);
  ::execvp("gdb", raw.data());
  throw_errno("cannot run gdb");
}

void add_gdbserver_command(CLI::App& app, Subcommands& out) {
  auto args = std::make_shared<GdbserverArgs>();
  auto* cmd = app.add_subcommand("gdbserver",
                                 "Serve a replay to gdb (remote protocol, with reverse execution)");
  add_trace_argument(cmd, args->trace);
  cmd->add_option("--port", args->port,
                  "Listen on 127.0.0.1:PORT (0: any free port) instead of stdin/stdout");
  cmd->add_flag("-v,--verbose", args->verbose, "Log every packet on stderr");
  cmd->add_flag("-u,--cpu-unbound", args->cpu_unbound,
                "Let the replayed program run on any CPU (by default it runs on the CPU "
                "backstep starts on, with the replayer)");
  cmd->footer(
      "In gdb: target remote | backstep gdbserver TRACE (or --port N and target remote :N); "
      "`backstep replay --gdb TRACE` starts gdb connected. monitor commands: when, goto "
      "start|end|panic|setter|event N|POSITION, map [ADDR], events [N], and the rest of replay's "
      "debugger commands.");
  out.push_back({cmd, [args] { return run_gdbserver(args.get()); }});
}

}  // namespace backstep::cli
