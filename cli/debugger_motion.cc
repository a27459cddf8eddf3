// The debugger's stop points (break, watch, catch) and motion (continue,
// step, next, finish, and their reverse forms), over TimeTravel::resume.
#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstring>
#include <sstream>

#include "base/errors.h"
#include "cli/debugger.h"
#include "symbols/unwind.h"

namespace backstep::cli {
namespace {

using nlohmann::json;
using replayer::Direction;
using replayer::ResumeStop;
using replayer::WatchKind;

std::string trim_copy(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

const char* watch_kind_name(WatchKind k) {
  switch (k) {
    case WatchKind::kWrite:
      return "watchpoint";
    case WatchKind::kRead:
      return "read watchpoint";
    case WatchKind::kAccess:
      return "access watchpoint";
  }
  return "watchpoint";
}

// How far back reverse-step first looks, in ticks; it looks further when
// the line started earlier.
constexpr uint64_t kHistoryTicks = 64;
// A bound on instructions stepped by one `step` or `next`.
constexpr int kMaxLineSteps = 1'000'000;

}  // namespace

bool Debugger::run_motion(const std::string& command, const std::string& args) {
  if (command == "break" || command == "tbreak") {
    cmd_break(args);
  } else if (command == "watch") {
    cmd_watch(args, WatchKind::kWrite);
  } else if (command == "rwatch") {
    cmd_watch(args, WatchKind::kRead);
  } else if (command == "awatch") {
    cmd_watch(args, WatchKind::kAccess);
  } else if (command == "delete") {
    cmd_delete(args);
  } else if (command == "catch") {
    cmd_catch(args);
  } else if (command == "continue") {
    cmd_continue(Direction::kForward, args);
  } else if (command == "reverse-continue") {
    cmd_continue(Direction::kBackward, args);
  } else if (command == "step" || command == "next") {
    cmd_step(command == "next", false);
  } else if (command == "reverse-step" || command == "reverse-next") {
    cmd_step(command == "reverse-next", true);
  } else if (command == "finish") {
    cmd_finish(false);
  } else if (command == "reverse-finish") {
    cmd_finish(true);
  } else if (command == "print" || command == "output") {
    cmd_print(args);
  } else {
    return false;
  }
  return true;
}

std::vector<uint64_t> Debugger::resolve_location(const std::string& spec) {
  std::string s = trim_copy(spec);
  if (s.empty()) {
    return {tt_.engine().registers(tt_.thread()).rip};
  }
  if (s[0] == '*') return {eval(s.substr(1))};
  if (size_t colon = s.rfind(':'); colon != std::string::npos && colon + 1 < s.size() &&
                                   std::isdigit(static_cast<unsigned char>(s[colon + 1]))) {
    std::string file = s.substr(0, colon);
    int line = std::stoi(s.substr(colon + 1));
    auto addrs = symbolizer().line_addresses(file, line);
    if (addrs.empty()) {
      if (auto next = symbolizer().first_line_with_code(file, line)) {
        addrs = symbolizer().line_addresses(file, *next);
      }
    }
    if (addrs.empty()) throw Error(fmt::format("no code at {}", s));
    return addrs;
  }
  if (std::isdigit(static_cast<unsigned char>(s[0]))) return {eval(s)};
  // The out-of-line copy and every inlined one, as gdb does.
  std::vector<uint64_t> addrs = symbolizer().inlined_entries(s);
  if (auto a = symbolizer().function_address(s)) addrs.insert(addrs.begin(), *a);
  if (addrs.empty()) throw Error(fmt::format("Function \"{}\" not defined.", s));
  return addrs;
}

void Debugger::cmd_break(const std::string& args) {
  json arr = json::array();
  std::string text;
  for (uint64_t addr : resolve_location(args)) {
    int id = tt_.add_breakpoint(addr);
    std::string where = location(addr);
    stop_points_[id] = args.empty() ? where : args;
    arr.push_back({{"breakpoint", id}, {"pc", addr}, {"location", where}});
    text += fmt::format("Breakpoint {} at {:#x}: {}\n", id, addr, where);
  }
  emit(arr.size() == 1 ? arr[0] : json{{"breakpoints", arr}}, text);
}

void Debugger::cmd_watch(const std::string& args, WatchKind kind) {
  // watch ADDR [LEN] (LEN in bytes, default 8); `watch *ADDR` as gdb spells it.
  std::string a = trim_copy(args);
  if (!a.empty() && a[0] == '*') a = a.substr(1);
  if (a.empty()) throw Error("usage: watch|rwatch|awatch ADDR [LEN]");
  uint64_t len = 8;
  if (size_t sp = a.find(' '); sp != std::string::npos) {
    len = eval(a.substr(sp + 1));
    a = a.substr(0, sp);
  }
  uint64_t addr = eval(a);
  int id = tt_.add_watchpoint(addr, len, kind);
  stop_points_[id] = fmt::format("{:#x} ({} bytes)", addr, len);
  std::string name = watch_kind_name(kind);
  name[0] = static_cast<char>(std::toupper(name[0]));
  emit(json{{"watchpoint", id}, {"addr", addr}, {"len", len}, {"kind", watch_kind_name(kind)}},
       fmt::format("{} {}: {:#x} ({} bytes)", name, id, addr, len));
}

void Debugger::cmd_delete(const std::string& args) {
  std::string a = trim_copy(args);
  if (a.empty()) {
    for (const auto& [id, what] : stop_points_) tt_.remove(id);
    stop_points_.clear();
    catches_ = {};
    emit(json{{"deleted", "all"}}, "deleted all breakpoints, watchpoints and catchpoints");
    return;
  }
  int id = std::stoi(a);
  if (!tt_.remove(id)) throw Error(fmt::format("No breakpoint number {}.", id));
  stop_points_.erase(id);
  emit(json{{"deleted", id}}, fmt::format("deleted {}", id));
}

void Debugger::cmd_catch(const std::string& args) {
  std::string a = trim_copy(args);
  if (a == "map") {
    catches_.map = true;
  } else if (a == "syscall") {
    catches_.syscall = true;
  } else if (a == "switch") {
    catches_.switches = true;
  } else {
    throw Error("usage: catch map|syscall|switch");
  }
  emit(json{{"catch", a}}, fmt::format("Catchpoint: continue stops at every {} event", a));
}

void Debugger::info_breakpoints() {
  json arr = json::array();
  std::string text;
  for (const auto& b : tt_.breakpoints()) {
    arr.push_back(
        {{"id", b.id}, {"type", "breakpoint"}, {"pc", b.addr}, {"what", stop_points_[b.id]}});
    text += fmt::format("{:<3} breakpoint        {:#x}  {}\n", b.id, b.addr, location(b.addr));
  }
  for (const auto& w : tt_.watchpoints()) {
    arr.push_back(
        {{"id", w.id}, {"type", watch_kind_name(w.kind)}, {"addr", w.addr}, {"len", w.len}});
    text += fmt::format("{:<3} {:<17} {:#x} ({} bytes)\n", w.id, watch_kind_name(w.kind), w.addr,
                        w.len);
  }
  for (auto [on, name] : {std::pair{catches_.map, "map"}, std::pair{catches_.syscall, "syscall"},
                          std::pair{catches_.switches, "switch"}}) {
    if (!on) continue;
    arr.push_back({{"type", "catchpoint"}, {"what", name}});
    text += fmt::format("    catchpoint        {}\n", name);
  }
  emit(json{{"breakpoints", arr}}, text.empty() ? "No breakpoints or watchpoints." : text);
}

void Debugger::report_edge(bool at_end) {
  if (at_end) {
    emit(json{{"stopped", "end of recording"}}, "end of recording.");
  } else {
    emit(json{{"stopped", "start of recording"}},
         "No more reverse-execution history: start of recording.");
  }
}

void Debugger::report_stop(const ResumeStop& stop) {
  json j{{"position", stop.position.str()}, {"thread", stop.tid}, {"pc", stop.pc}};
  std::string text;
  switch (stop.why) {
    case ResumeStop::Why::kBreakpoint:
      j["stopped"] = "breakpoint";
      j["breakpoint"] = stop.breakpoint;
      text = fmt::format("Thread {} hit Breakpoint {}, {}", stop.tid, stop.breakpoint,
                         location(stop.pc));
      break;
    case ResumeStop::Why::kWatchpoint: {
      j["stopped"] = "watchpoint";
      j["watchpoint"] = stop.watchpoint;
      j["addr"] = stop.data_addr;
      text = fmt::format("Thread {} hit watchpoint {}: {:#x}", stop.tid, stop.watchpoint,
                         stop.data_addr);
      if (stop.old_value || stop.new_value) {
        auto show = [](const std::optional<uint64_t>& v) {
          return v ? fmt::format("{:#x}", *v) : std::string("<unreadable>");
        };
        j["old_value"] = stop.old_value ? json(*stop.old_value) : json(nullptr);
        j["new_value"] = stop.new_value ? json(*stop.new_value) : json(nullptr);
        text += fmt::format("\n\nOld value = {}\nNew value = {}", show(stop.old_value),
                            show(stop.new_value));
      }
      break;
    }
    case ResumeStop::Why::kEvent:
      j["stopped"] = "event";
      j["event"] = stop.record;
      text = fmt::format("Thread {} stopped at event {}", stop.tid, stop.record);
      break;
    case ResumeStop::Why::kSignal: {
      j["stopped"] = "signal";
      j["signal"] = stop.signal;
      const char* name = sigabbrev_np(stop.signal);
      text = fmt::format("Thread {} received signal SIG{}.", stop.tid, name ? name : "?");
      break;
    }
    case ResumeStop::Why::kEndOfTrace:
      report_edge(true);
      show_where();
      return;
    case ResumeStop::Why::kStartOfTrace:
      report_edge(false);
      show_where();
      return;
  }
  emit(j, text);
  show_where();
}

void Debugger::cmd_continue(Direction direction, const std::string& args) {
  replayer::EventFilter events = catches_;
  std::string a = trim_copy(args);
  // `continue map syscall` stops at those events this once.
  std::istringstream words(a);
  for (std::string w; words >> w;) {
    if (w == "map") {
      events.map = true;
    } else if (w == "syscall") {
      events.syscall = true;
    } else if (w == "switch") {
      events.switches = true;
    } else {
      throw Error(fmt::format("continue: unknown event kind \"{}\" (map, syscall, switch)", w));
    }
  }
  report_stop(tt_.resume(direction, events));
}

namespace {

struct LineKey {
  std::string file;
  int line = 0;
  bool operator==(const LineKey&) const = default;
};

}  // namespace

void Debugger::cmd_step(bool over, bool reverse) {
  const symbols::Symbolizer& sym = symbolizer();
  auto line_at = [&](uint64_t pc) -> std::optional<LineKey> {
    auto loc = sym.locate(pc);
    if (!loc.line) return std::nullopt;
    return LineKey{loc.line->file, loc.line->line};
  };
  auto function_at = [&](uint64_t pc) {
    auto r = sym.function_range(pc);
    return r ? r->first : 0;
  };
  const int32_t tid = tt_.thread();
  const Registers r0 = tt_.engine().registers(tid);
  const auto line0 = line_at(r0.rip);
  const uint64_t fn0 = function_at(r0.rip);
  auto deeper = [&](const Registers& r) { return function_at(r.rip) != fn0 && r.rsp < r0.rsp; };

  if (!reverse) {
    for (int n = 0; n < kMaxLineSteps; ++n) {
      if (!tt_.stepi()) return report_stop(tt_.resume(Direction::kForward));  // the end
      Registers r = tt_.engine().registers(tid);
      if (deeper(r)) {
        if (over || !line_at(r.rip)) {
          cmd_finish(false);  // out of the callee, back in this frame
          continue;
        }
        break;  // stepped into a function with source: its first line
      }
      auto line = line_at(r.rip);
      if (line && line != line0) break;
    }
    show_where();
    return;
  }
  // Backward: look through the thread's recent instructions for the start
  // of the previous line, further back when that line began earlier.
  uint64_t window = kHistoryTicks;
  for (;;) {
    auto history = tt_.recent_history(window);
    // Skip the rest of the current line (and, for reverse-next, calls).
    size_t i = history.size();
    auto same_line = [&](const replayer::TimeTravel::Executed& e) {
      return function_at(e.regs.rip) == fn0 && line_at(e.regs.rip) == line0;
    };
    auto skippable = [&](const replayer::TimeTravel::Executed& e) {
      return same_line(e) || (deeper(e.regs) && (over || !line_at(e.regs.rip))) ||
             !line_at(e.regs.rip);
    };
    while (i > 0 && skippable(history[i - 1])) --i;
    if (i > 0) {
      // history[i-1] is the last instruction of the previous line: walk to
      // that line's first instruction in the same function.
      const auto& last = history[i - 1];
      auto target_line = line_at(last.regs.rip);
      uint64_t target_fn = function_at(last.regs.rip);
      size_t k = i - 1;
      while (k > 0) {
        const auto& e = history[k - 1];
        bool same = function_at(e.regs.rip) == target_fn && line_at(e.regs.rip) == target_line;
        bool inner_call =
            over && function_at(e.regs.rip) != target_fn && e.regs.rsp < last.regs.rsp;
        if (!same && !inner_call) break;
        --k;
      }
      bool complete = k > 0 || tt_.history_reaches_run_start(window);
      if (complete || window > (1u << 20)) {
        tt_.goto_position(history[k].position);
        show_where();
        return;
      }
    } else if (tt_.history_reaches_run_start(window)) {
      // The line began in an earlier run: go back across its start.
      if (!history.empty()) tt_.goto_position(history.front().position);
      if (!tt_.reverse_stepi()) {
        report_edge(false);
        show_where();
        return;
      }
      if (auto l = line_at(tt_.engine().registers(tid).rip); l && l != line0) {
        show_where();
        return;
      }
      continue;
    }
    window *= 4;
  }
}

void Debugger::cmd_finish(bool reverse) {
  const int32_t tid = tt_.thread();
  auto& engine = tt_.engine();
  Registers regs = engine.registers(tid);
  const AddressSpace& mem = engine.memory(tid);
  auto frames = symbols::unwind(symbolizer(), regs, [&](uint64_t addr, void* out, size_t len) {
    return mem.read(addr, out, len);
  });
  if (frames.size() < 2) throw Error("\"finish\" not meaningful in the outermost frame.");
  const uint64_t cfa = frames[1].cfa_or_sp;  // rsp once this frame has returned
  if (!reverse) {
    // Run to the return address, in this thread, with this frame gone.
    int bp = tt_.add_breakpoint(frames[1].pc);
    ResumeStop stop;
    for (;;) {
      stop = tt_.resume(Direction::kForward);
      if (stop.why != ResumeStop::Why::kBreakpoint || stop.breakpoint != bp) break;
      if (stop.tid == tid && engine.registers(tid).rsp >= cfa) break;
    }
    tt_.remove(bp);
    if (stop.why == ResumeStop::Why::kBreakpoint && stop.breakpoint == bp) {
      emit(json{{"finished", true}},
           fmt::format("Run till exit; returned to {}", location(stop.pc)));
      show_where();
    } else {
      report_stop(stop);
    }
    return;
  }
  // Back to the call: the function's entry with this frame's return
  // address just pushed, then the call instruction before it.
  auto range = symbolizer().function_range(regs.rip);
  if (!range) throw Error("cannot tell where this function starts");
  int bp = tt_.add_breakpoint(range->first);
  ResumeStop stop;
  for (;;) {
    stop = tt_.resume(Direction::kBackward);
    if (stop.why != ResumeStop::Why::kBreakpoint || stop.breakpoint != bp) break;
    if (stop.tid == tid && engine.registers(tid).rsp == cfa - 8) break;
  }
  tt_.remove(bp);
  if (stop.why == ResumeStop::Why::kBreakpoint && stop.breakpoint == bp) {
    tt_.reverse_stepi();
    emit(json{{"finished", true}}, fmt::format("Run back to call of {}", location(range->first)));
    show_where();
  } else {
    report_stop(stop);
  }
}

void Debugger::cmd_print(const std::string& args) {
  std::string a = trim_copy(args);
  if (a.empty()) throw Error("usage: print EXPR ($register, number, FUNCTION, &FUNCTION)");
  uint64_t v = 0;
  if (a[0] == '&') a = a.substr(1);
  if (a[0] == '$' || std::isdigit(static_cast<unsigned char>(a[0]))) {
    v = eval(a);
  } else if (auto f = symbolizer().function_address(a)) {
    v = *f;
    emit(json{{"expression", a}, {"value", v}, {"location", location(v)}},
         fmt::format("$ = {:#x} <{}>", v, location(v)));
    return;
  } else {
    throw Error(fmt::format("No symbol \"{}\" in current context.", a));
  }
  emit(json{{"expression", a}, {"value", v}},
       fmt::format("$ = {} ({:#x})", static_cast<int64_t>(v), v));
}

}  // namespace backstep::cli
