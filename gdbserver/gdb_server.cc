#include "gdbserver/gdb_server.h"

#include <fmt/core.h>
#include <sys/ptrace.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>

#include "base/errors.h"
#include "base/interrupt.h"
#include "gdbserver/break_watcher.h"
#include "gdbserver/target_description.h"

namespace backstep::gdbserver {
namespace {

using replayer::Direction;
using replayer::ResumeStop;

constexpr uint64_t kPacketSize = 0x4000;

// Splits "a,b" (or "a:b", per `sep`) into two hex numbers.
std::optional<std::pair<uint64_t, uint64_t>> parse_pair(std::string_view text, char sep = ',') {
  size_t at = text.find(sep);
  if (at == std::string_view::npos) return std::nullopt;
  auto a = parse_hex(text.substr(0, at));
  auto b = parse_hex(text.substr(at + 1));
  if (!a || !b) return std::nullopt;
  return std::pair(*a, *b);
}

// One slice of a qXfer object: 'l' when it reaches the end, 'm' when more
// follows.
std::string xfer_slice(std::string_view data, std::string_view range) {
  auto r = parse_pair(range);
  if (!r) return "E01";
  uint64_t offset = r->first;
  uint64_t length = std::min<uint64_t>(r->second, kPacketSize - 8);
  if (offset >= data.size()) return "l";
  std::string_view slice = data.substr(offset, length);
  bool last = offset + slice.size() >= data.size();
  return (last ? "l" : "m") + std::string(slice);
}

// The x87 tag word gdb shows (2 bits a register) from fxsave's abridged
// one (1 bit: empty or not). Non-empty registers are shown as valid.
uint32_t full_tag_word(uint16_t abridged) {
  uint32_t tag = 0;
  for (int i = 0; i < 8; ++i) tag |= ((abridged >> i) & 1 ? 0u : 3u) << (2 * i);
  return tag;
}

}  // namespace

int gdb_signal(int s) {
  switch (s) {
    case SIGBUS:
      return 10;
    case SIGUSR1:
      return 30;
    case SIGUSR2:
      return 31;
    case SIGCHLD:
      return 20;
    case SIGCONT:
      return 19;
    case SIGSTOP:
      return 17;
    case SIGTSTP:
      return 18;
    case SIGURG:
      return 16;
    case SIGIO:
      return 23;
    case SIGPWR:
      return 32;
    case SIGSYS:
      return 12;
    default:
      return s > 0 && s < 32 ? s : 5;  // the rest are numbered alike
  }
}

std::string program_file(const trace::Trace& t) {
  for (const auto& e : t.events()) {
    const auto* f = std::get_if<trace::FileMap>(&e);
    if (!f || f->path != t.header().exe || f->content.empty()) continue;
    std::error_code ec;
    if (std::filesystem::exists(t.file_copy(f->content), ec)) {
      return std::filesystem::absolute(t.file_copy(f->content)).string();
    }
  }
  return t.header().exe;
}

GdbServer::GdbServer(replayer::TimeTravel& tt, RspConnection& connection, Monitor monitor)
    : tt_(tt),
      connection_(connection),
      monitor_(std::move(monitor)),
      pid_(tt.trace().exec().tid),
      files_(tt.trace()) {
  last_stop_.tid = tt_.thread();
  if (auto r = registers(last_stop_.tid)) last_registers_[last_stop_.tid] = *r;
}

void GdbServer::serve() {
  while (!finished_) {
    std::optional<std::string> packet = connection_.receive();
    if (!packet) return;  // gdb went away
    std::optional<std::string> reply;
    try {
      reply = handle(*packet);
    } catch (const std::exception& e) {
      // A packet the dispatch could not serve must not end the session.
      fmt::print(stderr, "backstep gdbserver: {}: {}\n", packet->substr(0, 40), e.what());
      reply = "E01";
    }
    if (reply && !connection_.send(*reply)) return;
    if (*packet == "QStartNoAckMode") connection_.disable_acks();
  }
}

std::optional<std::string> GdbServer::handle(const std::string& packet) {
  if (packet.empty()) return "";
  std::string_view args = std::string_view(packet).substr(1);
  switch (packet[0]) {
    case '?':
      return stop_reply(last_stop_);
    case 'g':
      return read_registers();
    case 'G':
      return "E01";  // the recording's registers cannot change
    case 'p':
      return read_register(args);
    case 'P':
      return "OK";  // see gdb_server.h: accepted, not applied
    case 'm':
      return read_memory(args);
    case 'M':
      return "E01";  // the recording's memory cannot change
    case 'H':
      return set_thread(args);
    case 'T': {
      auto tid = parse_thread(args);
      return tid && *tid > 0 && thread_known(*tid) ? "OK" : "E01";
    }
    case 'c':
    case 'C':
      return resume(Direction::kForward);
    case 's':
    case 'S':
      return step(continue_ > 0 ? continue_ : current_thread(), Direction::kForward);
    case 'b':
      if (packet == "bc") return resume(Direction::kBackward);
      if (packet == "bs") {
        return step(continue_ > 0 ? continue_ : current_thread(), Direction::kBackward);
      }
      return "";
    case 'Z':
    case 'z':
      return handle_breakpoint(args, packet[0] == 'Z');
    case 'q':
    case 'Q':
      return handle_query(packet);
    case 'v':
      if (packet == "vCont?") return "vCont;c;C;s;S";
      if (packet.rfind("vCont;", 0) == 0) return handle_vcont(args.substr(5));
      if (packet.rfind("vKill", 0) == 0) {
        finished_ = true;
        return "OK";
      }
      if (packet.rfind("vFile:", 0) == 0) return files_.handle_vfile(packet);
      return "";  // vMustReplyEmpty, vRun, vAttach, ...
    case '!':
      return "OK";  // extended-remote: fine, the session just stays open
    case 'D':
      finished_ = true;
      return "OK";
    case 'k':
      finished_ = true;
      return std::nullopt;  // gdb does not wait for a reply to `k`
    default:
      return "";
  }
}

std::string GdbServer::handle_query(const std::string& packet) {
  std::string_view p = packet;
  if (p.rfind("qSupported", 0) == 0) {
    return fmt::format(
        "PacketSize={:x};QStartNoAckMode+;qXfer:features:read+;qXfer:auxv:read+;"
        "qXfer:exec-file:read+;qXfer:libraries-svr4:read+;ReverseStep+;ReverseContinue+;"
        "multiprocess+;swbreak+;hwbreak+",
        kPacketSize);
  }
  if (p == "QStartNoAckMode") return "OK";
  if (p == "qC") return "QC" + thread_id(current_thread());
  if (p.rfind("qAttached", 0) == 0) return "1";  // so that `kill`/`quit` do not ask to kill
  if (p == "qfThreadInfo") {
    std::string out = "m";
    for (int32_t tid : threads()) out += (out.size() > 1 ? "," : "") + thread_id(tid);
    return out;
  }
  if (p == "qsThreadInfo") return "l";
  if (p.rfind("qThreadExtraInfo,", 0) == 0) {
    auto tid = parse_thread(p.substr(17));
    if (!tid || *tid <= 0) return "E01";
    std::optional<uint64_t> ticks;
    if (tt_.engine().has_thread(*tid)) ticks = tt_.engine().ticks(*tid);
    return to_hex(ticks ? fmt::format("tick {}", *ticks) : std::string("replayed"));
  }
  if (p.rfind("qXfer:", 0) == 0) {
    // qXfer:OBJECT:read:ANNEX:OFFSET,LENGTH
    std::string_view rest = p.substr(6);
    size_t a = rest.find(':');
    if (a == std::string_view::npos || rest.substr(a + 1, 5) != "read:") return "";
    std::string_view object = rest.substr(0, a);
    std::string_view tail = rest.substr(a + 6);
    size_t b = tail.rfind(':');
    if (b == std::string_view::npos) return "E01";
    return handle_xfer(object, tail.substr(0, b), tail.substr(b + 1));
  }
  if (p.rfind("qRcmd,", 0) == 0) return handle_monitor(p.substr(6));
  return "";  // qOffsets, qTStatus, qSymbol, QPassSignals, ...: not needed
}

std::string GdbServer::handle_xfer(std::string_view object, std::string_view annex,
                                   std::string_view range) {
  if (object == "features") {
    const std::string* xml = target_description(annex);
    return xml ? xfer_slice(*xml, range) : "E00";
  }
  if (object == "auxv") {
    const auto& auxv = tt_.trace().exec().auxv;
    return xfer_slice(std::string_view(reinterpret_cast<const char*>(auxv.data()), auxv.size()),
                      range);
  }
  if (object == "libraries-svr4") {
    // Made once per read: gdb reads a long list in slices.
    auto r = parse_pair(range);
    if (r && r->first == 0) {
      libraries_ = files_.libraries_svr4(
          [this](uint64_t addr, void* out, size_t len) {
            bool live =
                tt_.engine().has_thread(tt_.thread()) || !tt_.engine().live_threads().empty();
            return live && tt_.engine().memory().read(addr, out, len);
          },
          tt_.engine().next_record());
    }
    return xfer_slice(libraries_, range);
  }
  if (object == "exec-file") {
    std::string path = program_file(tt_.trace());
    return xfer_slice(path, range);
  }
  return "";
}

std::string GdbServer::handle_monitor(std::string_view hex) {
  std::string command;
  if (!from_hex(hex, command)) return "E01";
  std::string out = monitor_ ? monitor_(command) : "no monitor commands\n";
  if (!out.empty() && out.back() != '\n') out += '\n';
  // Console output goes as O packets, in pieces that fit a packet.
  for (size_t at = 0; at < out.size(); at += 1024) {
    if (!connection_.send("O" + to_hex(std::string_view(out).substr(at, 1024)))) break;
  }
  // `goto` and friends move the replay behind gdb's back: gdb keeps the
  // registers it cached until told to forget them (`maintenance flush
  // register-cache`; `replay --gdb` installs a hook that does it). The
  // general thread stays what gdb believes it is.
  return "OK";
}

std::string GdbServer::handle_vcont(std::string_view actions) {
  // vCont;ACTION[:THREAD];...: the first action that names a step decides;
  // everything else runs in the recorded order anyway.
  std::optional<int32_t> step_thread;
  bool run = false;
  while (!actions.empty()) {
    size_t end = actions.find(';');
    std::string_view action = actions.substr(0, end);
    actions = end == std::string_view::npos ? std::string_view() : actions.substr(end + 1);
    if (action.empty()) continue;
    std::string_view thread;
    if (size_t colon = action.find(':'); colon != std::string_view::npos) {
      thread = action.substr(colon + 1);
      action = action.substr(0, colon);
    }
    if (action[0] == 's' || action[0] == 'S') {
      if (!step_thread) {
        auto tid = thread.empty() ? std::optional<int32_t>(-1) : parse_thread(thread);
        if (!tid) return "E01";
        step_thread = *tid > 0 ? *tid : current_thread();
      }
    } else if (action[0] == 'c' || action[0] == 'C') {
      run = true;
    } else {
      return "E01";  // t, r: not offered by vCont?
    }
  }
  if (step_thread) return step(*step_thread, Direction::kForward);
  if (run) return resume(Direction::kForward);
  return "E01";
}

std::string GdbServer::handle_breakpoint(std::string_view args, bool insert) {
  // TYPE,ADDR,KIND[;cond...]
  if (size_t semi = args.find(';'); semi != std::string_view::npos) args = args.substr(0, semi);
  size_t c1 = args.find(',');
  if (c1 != 1 || args[0] < '0' || args[0] > '4') return "";
  int type = args[0] - '0';
  auto addr_kind = parse_pair(args.substr(2));
  if (!addr_kind) return "E01";
  auto key = std::tuple(type, addr_kind->first, addr_kind->second);
  if (!insert) {
    if (auto it = points_.find(key); it != points_.end()) {
      tt_.remove(it->second);
      points_.erase(it);
    }
    return "OK";
  }
  if (points_.count(key)) return "OK";
  if (type <= 1) {
    points_[key] = tt_.add_breakpoint(addr_kind->first);
    return "OK";
  }
  if (addr_kind->second == 0 || addr_kind->second > 8) return "E01";  // gdb splits larger ones
  auto kind = type == 2   ? replayer::WatchKind::kWrite
              : type == 3 ? replayer::WatchKind::kRead
                          : replayer::WatchKind::kAccess;
  points_[key] = tt_.add_watchpoint(addr_kind->first, addr_kind->second, kind);
  return "OK";
}

std::string GdbServer::set_thread(std::string_view args) {
  if (args.empty()) return "E01";
  auto tid = parse_thread(args.substr(1));
  if (!tid || (*tid > 0 && !thread_known(*tid))) return "E01";
  if (args[0] == 'g') {
    general_ = *tid;
  } else if (args[0] == 'c') {
    continue_ = *tid;
  } else {
    return "E01";
  }
  return "OK";
}

std::string GdbServer::read_registers() {
  int32_t tid = current_thread();
  std::string out;
  for (int n = 0; n < kRegisterCount; ++n) {
    auto bytes = register_bytes(tid, n);
    out += bytes ? to_hex(*bytes) : std::string(register_layout()[n].size * 2, 'x');
  }
  return out;
}

std::string GdbServer::read_register(std::string_view number) {
  auto n = parse_hex(number);
  if (!n || *n >= kRegisterCount) return "E01";
  int reg = static_cast<int>(*n);
  auto bytes = register_bytes(current_thread(), reg);
  return bytes ? to_hex(*bytes) : std::string(register_layout()[reg].size * 2, 'x');
}

std::string GdbServer::read_memory(std::string_view args) {
  auto r = parse_pair(args);
  if (!r) return "E01";
  uint64_t addr = r->first;
  uint64_t len = std::min<uint64_t>(r->second, (kPacketSize - 8) / 2);
  if (!tt_.engine().has_thread(current_thread()) && !tt_.engine().has_thread(tt_.thread())) {
    return "E14";  // the process is gone (end of the recording)
  }
  // Page by page: a read that runs into an unmapped page returns what comes
  // before it, as gdb expects.
  std::string out;
  while (out.size() < len) {
    uint64_t at = addr + out.size();
    uint64_t chunk = std::min<uint64_t>(len - out.size(), 4096 - (at & 4095));
    std::string bytes(chunk, '\0');
    if (!tt_.engine().memory(tt_.thread()).read(at, bytes.data(), chunk)) break;
    out += bytes;
  }
  if (out.empty() && len > 0) return "E14";  // EFAULT
  return to_hex(out);
}

std::string GdbServer::step(int32_t tid, Direction direction) {
  try {
    if (tid > 0 && tt_.engine().has_thread(tid)) tt_.select_thread(tid);
    std::optional<ResumeStop> hit;
    bool moved = direction == Direction::kForward ? tt_.stepi(&hit) : tt_.reverse_stepi();
    StopState s{5, tt_.thread(), ""};
    if (!moved) s.reason = direction == Direction::kForward ? "replaylog:end;" : "replaylog:begin;";
    if (hit) s.reason = watch_reason(*hit);
    return stop_reply(s);
  } catch (const std::exception& e) {
    return motion_failed(e);
  }
}

std::string GdbServer::resume(Direction direction) {
  const replayer::ReplayPosition before = tt_.now();
  const int32_t thread = tt_.thread();
  try {
    ResumeStop r;
    try {
      BreakWatcher watcher(connection_);
      r = tt_.resume(direction);
    } catch (const Interrupted&) {
      // gdb's ^C: the motion is abandoned where it began, as in backstep's
      // own debugger (a replay cannot stop halfway into a recorded stretch
      // and go on from there), and gdb hears SIGINT.
      clear_interrupt();
      tt_.recover(before, thread);
      return stop_reply(StopState{2, tt_.thread(), ""});
    }
    // A ^C that came as the motion ended: the stop it reports answers it.
    clear_interrupt();
    StopState s{5, r.tid ? r.tid : tt_.thread(), ""};
    switch (r.why) {
      case ResumeStop::Why::kBreakpoint: {
        bool hw = std::any_of(points_.begin(), points_.end(), [&](const auto& p) {
          return p.second == r.breakpoint && std::get<0>(p.first) == 1;
        });
        s.reason = hw ? "hwbreak:;" : "swbreak:;";
        break;
      }
      case ResumeStop::Why::kWatchpoint:
        s.reason = watch_reason(r);
        break;
      case ResumeStop::Why::kSignal:
        s.signal = gdb_signal(r.signal);
        break;
      case ResumeStop::Why::kStartOfTrace:
        s.reason = "replaylog:begin;";
        break;
      case ResumeStop::Why::kEndOfTrace:
        s.reason = "replaylog:end;";
        break;
      case ResumeStop::Why::kEvent:
        break;
    }
    return stop_reply(s);
  } catch (const std::exception& e) {
    return motion_failed(e);
  }
}

std::string GdbServer::watch_reason(const ResumeStop& r) const {
  const char* kind = "watch";
  uint64_t addr = r.data_addr;
  for (const auto& w : tt_.watchpoints()) {
    if (w.id != r.watchpoint) continue;
    kind = w.kind == replayer::WatchKind::kRead     ? "rwatch"
           : w.kind == replayer::WatchKind::kAccess ? "awatch"
                                                    : "watch";
    if (!addr) addr = w.addr;
  }
  return fmt::format("{}:{:x};", kind, addr);
}

std::string GdbServer::motion_failed(const std::exception& e) {
  // gdb shows console output while it waits for a stop, then takes an
  // error reply as "stopped, no signal" and stays in sync.
  connection_.send("O" + to_hex(fmt::format("backstep: {}\n", e.what())));
  fmt::print(stderr, "backstep gdbserver: {}\n", e.what());
  return "E01";
}

std::string GdbServer::stop_reply(StopState stop) {
  // A thread that has ended (at the end of the recording) keeps the
  // registers it had; gdb may still ask for them.
  if (auto r = registers(stop.tid)) last_registers_[stop.tid] = *r;
  if (!thread_known(stop.tid)) {
    auto live = threads();
    if (!live.empty()) stop.tid = live.front();
  }
  last_stop_ = stop;
  // gdb takes the thread of a stop reply as the new general thread without
  // sending Hg (remote.c's record_currthread), as gdbserver does.
  general_ = stop.tid;
  return fmt::format("T{:02x}thread:{};{}", stop.signal, thread_id(stop.tid), stop.reason);
}

std::optional<int32_t> GdbServer::parse_thread(std::string_view text) const {
  if (!text.empty() && text[0] == 'p') {
    size_t dot = text.find('.');
    if (dot == std::string_view::npos) return -1;  // pPID: all of its threads
    text = text.substr(dot + 1);
  }
  if (text == "-1") return -1;
  auto v = parse_hex(text);
  if (!v || *v > 0x7fffffff) return std::nullopt;
  return static_cast<int32_t>(*v);
}

std::string GdbServer::thread_id(int32_t tid) const { return fmt::format("p{:x}.{:x}", pid_, tid); }

int32_t GdbServer::current_thread() const {
  if (general_ > 0 && thread_known(general_)) return general_;
  return last_stop_.tid;
}

bool GdbServer::thread_known(int32_t tid) const {
  if (tt_.engine().has_thread(tid)) return true;
  // Once every thread has ended, the last ones seen stay for gdb to look at.
  return tt_.engine().live_threads().empty() && last_registers_.count(tid);
}

std::vector<int32_t> GdbServer::threads() const {
  std::vector<int32_t> live = tt_.engine().live_threads();
  if (live.empty()) live.push_back(last_stop_.tid);  // the end: the last one seen
  return live;
}

std::optional<user_regs_struct> GdbServer::registers(int32_t tid) const {
  if (tt_.engine().has_thread(tid)) {
    try {
      return tt_.engine().registers(tid);
    } catch (const std::exception&) {
    }
  }
  if (!thread_known(tid)) return std::nullopt;
  if (auto it = last_registers_.find(tid); it != last_registers_.end()) return it->second;
  return std::nullopt;
}

std::optional<std::string> GdbServer::register_bytes(int32_t tid, int n) const {
  auto regs = registers(tid);
  if (!regs) return std::nullopt;
  const user_regs_struct& r = *regs;
  auto le = [](uint64_t v, size_t size) {
    std::string out(size, '\0');
    std::memcpy(out.data(), &v, std::min<size_t>(size, 8));
    return out;
  };
  static const unsigned long long user_regs_struct::*gprs[] = {
      &user_regs_struct::rax, &user_regs_struct::rbx, &user_regs_struct::rcx,
      &user_regs_struct::rdx, &user_regs_struct::rsi, &user_regs_struct::rdi,
      &user_regs_struct::rbp, &user_regs_struct::rsp, &user_regs_struct::r8,
      &user_regs_struct::r9,  &user_regs_struct::r10, &user_regs_struct::r11,
      &user_regs_struct::r12, &user_regs_struct::r13, &user_regs_struct::r14,
      &user_regs_struct::r15, &user_regs_struct::rip, &user_regs_struct::eflags,
      &user_regs_struct::cs,  &user_regs_struct::ss,  &user_regs_struct::ds,
      &user_regs_struct::es,  &user_regs_struct::fs,  &user_regs_struct::gs};
  if (n < kSt0) return le(r.*gprs[n], register_layout()[n].size);
  if (n == kOrigRax) return le(r.orig_rax, 8);
  if (n == kFsBase) return le(r.fs_base, 8);
  if (n == kGsBase) return le(r.gs_base, 8);
  // x87 and SSE: from the stopped thread itself (the trace keeps general
  // registers only; replay recomputes the rest exactly).
  if (!tt_.engine().has_thread(tid)) return std::nullopt;
  user_fpregs_struct fp{};
  try {
    if (::ptrace(PTRACE_GETFPREGS, tt_.engine().kernel_tid(tid), nullptr, &fp) != 0) {
      return std::nullopt;
    }
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (n < kFctrl) {
    return std::string(reinterpret_cast<const char*>(fp.st_space) + 16 * (n - kSt0), 10);
  }
  if (n < kXmm0) {
    uint32_t v[] = {fp.cwd,
                    fp.swd,
                    full_tag_word(fp.ftw),
                    static_cast<uint32_t>(fp.rip >> 32),
                    static_cast<uint32_t>(fp.rip),
                    static_cast<uint32_t>(fp.rdp >> 32),
                    static_cast<uint32_t>(fp.rdp),
                    static_cast<uint32_t>(fp.fop & 0x7ff)};
    return le(v[n - kFctrl], 4);
  }
  if (n < kMxcsr) {
    return std::string(reinterpret_cast<const char*>(fp.xmm_space) + 16 * (n - kXmm0), 16);
  }
  if (n == kMxcsr) return le(fp.mxcsr, 4);
  return std::nullopt;
}

}  // namespace backstep::gdbserver
