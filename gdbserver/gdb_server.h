// Serves a replay to gdb over the remote serial protocol: gdb's packets
// become TimeTravel calls (registers, memory, breakpoints and watchpoints,
// continue and step in both directions), and each motion's ResumeStop
// becomes a stop reply.
//
// The replay is a recording: memory and registers cannot be changed (M and
// G are refused; P is acknowledged and ignored, as rr does, because gdb
// treats a refused register write as fatal), signals gdb asks to deliver are
// ignored (the recording decides), and running off either end is the
// `replaylog:begin` / `replaylog:end` stop, for which gdb prints "No more
// reverse-execution history." and keeps the session.
#pragma once

#include <sys/user.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>

#include "gdbserver/rsp_connection.h"
#include "gdbserver/trace_files.h"
#include "replayer/time_travel.h"

namespace backstep::gdbserver {

class GdbServer {
 public:
  // Runs one `monitor` command line and returns what it printed.
  using Monitor = std::function<std::string(const std::string&)>;

  GdbServer(replayer::TimeTravel& tt, RspConnection& connection, Monitor monitor);

  // Answers packets until gdb kills, detaches or disconnects.
  void serve();

  // The reply to one packet, or nullopt for none (`k`). Public for tests
  // that drive the dispatch without a connection.
  std::optional<std::string> handle(const std::string& packet);
  bool finished() const { return finished_; }

 private:
  // Where the replay stands for gdb: the stop reply `?` repeats.
  struct StopState {
    int signal = 5;  // gdb's numbering (SIGTRAP = 5)
    int32_t tid = 0;
    std::string reason;  // "swbreak:;", "watch:ADDR;", "replaylog:end;", ...
  };

  std::string handle_query(const std::string& packet);
  std::string handle_xfer(std::string_view object, std::string_view annex, std::string_view range);
  std::string handle_monitor(std::string_view hex);
  std::string handle_vcont(std::string_view actions);
  std::string handle_breakpoint(std::string_view args, bool insert);
  std::string read_registers();
  std::string read_register(std::string_view number);
  std::string read_memory(std::string_view args);
  std::string set_thread(std::string_view args);

  // Motions; each returns the stop reply.
  std::string step(int32_t tid, replayer::Direction direction);
  std::string resume(replayer::Direction direction);
  // The stop reply's reason for a watchpoint stop ("watch:ADDR;", ...).
  std::string watch_reason(const replayer::ResumeStop& r) const;
  std::string motion_failed(const std::exception& e);
  std::string stop_reply(StopState stop);

  // A thread gdb named ("p1.2", "2", "-1", "0"): its tid, 0 for "any", -1
  // for "all"; nullopt when malformed.
  std::optional<int32_t> parse_thread(std::string_view text) const;
  std::string thread_id(int32_t tid) const;
  // The thread a packet without a thread id means.
  int32_t current_thread() const;
  bool thread_known(int32_t tid) const;
  std::vector<int32_t> threads() const;
  std::optional<user_regs_struct> registers(int32_t tid) const;
  // One register's bytes (raw, little-endian); nullopt if unavailable.
  std::optional<std::string> register_bytes(int32_t tid, int number) const;

  replayer::TimeTravel& tt_;
  RspConnection& connection_;
  Monitor monitor_;
  int32_t pid_;           // the process id gdb sees: the main thread's
  int32_t general_ = 0;   // Hg: registers and memory; 0 = any
  int32_t continue_ = 0;  // Hc: bs/s without a thread; 0 = any, -1 = all
  StopState last_stop_;
  // Registers of threads at the moment gdb last saw them stop, for a stop
  // at the end of the recording where the thread no longer exists.
  std::map<int32_t, user_regs_struct> last_registers_;
  // Z packets: (type, address, kind) -> TimeTravel id.
  std::map<std::tuple<int, uint64_t, uint64_t>, int> points_;
  bool finished_ = false;
  // The program and its libraries, served from the trace (vFile, library list).
  TraceFiles files_;
  std::string libraries_;  // the library list being read, made at offset 0
};

// The program file gdb should load: the trace's own copy of the executable
// (the file at the recorded path may have been rebuilt since), or the
// recorded path when the trace has no copy.
std::string program_file(const trace::Trace& trace);

// gdb's signal number for a Linux one (they differ above 6: SIGBUS, SIGUSR1,
// SIGCHLD, ...).
int gdb_signal(int linux_signal);

}  // namespace backstep::gdbserver
