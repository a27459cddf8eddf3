#include "cli/debugger.h"

#include <fmt/core.h>
#include <readline/history.h>
#include <readline/readline.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <map>
#include <sstream>

#include "base/errors.h"
#include "base/interrupt.h"
#include "cli/registers.h"
#include "symbols/modules.h"
#include "symbols/unwind.h"
#include "trace/event_format.h"
#include "trace/process_list.h"
#include "trace/trace_writer.h"

namespace backstep::cli {
namespace {

using nlohmann::json;

// gdb's command abbreviations, for the commands that exist here.
std::string canonical_command(const std::string& c) {
  static const std::map<std::string, std::string> aliases = {
      {"si", "stepi"},
      {"rsi", "reverse-stepi"},
      {"i", "info"},
      {"q", "quit"},
      {"disas", "disassemble"},
      {"bt", "backtrace"},
      {"where", "backtrace"},
      {"exit", "quit"},
      {"b", "break"},
      {"br", "break"},
      {"c", "continue"},
      {"cont", "continue"},
      {"rc", "reverse-continue"},
      {"s", "step"},
      {"n", "next"},
      {"rs", "reverse-step"},
      {"rn", "reverse-next"},
      {"fin", "finish"},
      {"d", "delete"},
      {"p", "print"},
  };
  auto it = aliases.find(c);
  return it == aliases.end() ? c : it->second;
}

}  // namespace

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

Debugger::Debugger(const trace::Trace& trace, bool json, replayer::TimeTravelOptions options)
    : trace_(trace),
      own_tt_(std::make_unique<replayer::TimeTravel>(trace, options)),
      tt_(*own_tt_),
      json_(json) {}

Debugger::Debugger(replayer::TimeTravel& tt, std::string* capture)
    : trace_(tt.trace()), tt_(tt), json_(false), capture_(capture) {}

void Debugger::emit(const json& j, const std::string& text) {
  if (capture_) {
    if (!text.empty()) *capture_ += text + (text.back() == '\n' ? "" : "\n");
    return;
  }
  if (json_) {
    fmt::print("{}\n", j.dump());
  } else if (!text.empty()) {
    fmt::print("{}{}", text, text.back() == '\n' ? "" : "\n");
  }
  std::fflush(stdout);
}

bool Debugger::execute(const std::string& raw) {
  std::string line = trim(raw);
  if (line.empty() || line[0] == '#') return true;
  std::string command = line;
  std::string args;
  size_t split = line.find_first_of(" \t/");
  if (split != std::string::npos) {
    command = line.substr(0, split);
    args = line[split] == '/' ? line.substr(split) : trim(line.substr(split));
  }
  command = canonical_command(command);
  if (command == "quit") return false;
  const replayer::ReplayPosition before = tt_.now();
  const int32_t thread = tt_.thread();
  try {
    run(command, args);
  } catch (const Interrupted&) {
    // Ctrl-C: in a session, the motion is abandoned and the session stays
    // where it was; a batch run ends.
    if (!interactive_) throw;
    clear_interrupt();
    tt_.recover(before, thread);
    emit(json{{"error", "interrupted"}, {"position", before.str()}},
         fmt::format("interrupted; still at {}", before.str()));
  } catch (const std::exception& e) {
    emit(json{{"error", e.what()}}, fmt::format("error: {}", e.what()));
  }
  return true;
}

void Debugger::run(const std::string& command, const std::string& args) {
  if (command == "when") {
    show_where();
  } else if (command == "goto") {
    cmd_goto(args);
  } else if (command == "stepi" || command == "reverse-stepi") {
    long n = args.empty() ? 1 : std::stol(args);
    bool ok = true;
    for (long i = 0; i < n && ok; ++i) {
      ok = command == "stepi" ? tt_.stepi() : tt_.reverse_stepi();
    }
    if (!ok) {
      const char* edge = command == "stepi" ? "end of recording" : "start of recording";
      emit(json{{"stopped", edge}}, fmt::format("{}.", edge));
    }
    show_where();
  } else if (command == "info") {
    cmd_info(args);
  } else if (command == "thread") {
    if (args.empty()) {
      show_where();
    } else {
      tt_.select_thread(std::stoi(args));
      show_where();
    }
  } else if (command == "process") {
    cmd_process(args);
  } else if (command == "x") {
    std::string fmt_part = args;
    std::string rest;
    if (size_t sp = args.find(' '); sp != std::string::npos) {
      fmt_part = args.substr(0, sp);
      rest = trim(args.substr(sp));
    }
    cmd_examine(fmt_part, rest);
  } else if (command == "disassemble") {
    cmd_disassemble(args);
  } else if (command == "map") {
    cmd_map(args);
  } else if (command == "events") {
    cmd_events(args);
  } else if (command == "backtrace") {
    cmd_backtrace();
  } else if (command == "list") {
    cmd_list(args);
  } else if (command == "set") {
    cmd_set(args);
  } else if (command == "origin") {
    cmd_origin(args);
  } else if (run_motion(command, args)) {
  } else if (command == "help") {
    emit(json{{"commands",
               {"when",
                "goto start|end|panic|setter|event N|POSITION",
                "stepi [N]",
                "reverse-stepi [N]",
                "info registers|threads|processes",
                "thread N",
                "frame [N], up [N], down [N]",
                "info registers [REG...]",
                "print[/FMT] EXPR",
                "info locals, info args",
                "process N",
                "x/FMT ADDR",
                "disassemble [ADDR]",
                "map [ADDR]",
                "events [N] [map|stop|switch]",
                "backtrace",
                "list [ADDR]",
                "break FUNCTION|FILE:LINE|*ADDR",
                "watch|rwatch|awatch ADDR [LEN]",
                "delete [N]",
                "info breakpoints",
                "info checkpoints",
                "catch map|syscall|switch",
                "continue",
                "reverse-continue",
                "step",
                "next",
                "finish",
                "reverse-step",
                "reverse-next",
                "reverse-finish",
                "print EXPR",
                "set print full-names on|off",
                "origin [ADDR [LEN]|$REG]",
                "quit"}}},
         "commands: when, goto start|end|panic|setter|event N|POSITION, stepi [N] (si), "
         "reverse-stepi "
         "[N] (rsi), info registers [REG...]|threads|processes, thread N, process N, frame [N], "
         "up, down, x/FMT ADDR, "
         "disassemble [ADDR], map "
         "[ADDR], events [N] [map|stop|switch], backtrace (bt), list [ADDR], break (b) "
         "FUNCTION|FILE:LINE|*ADDR, watch|rwatch|awatch ADDR [LEN], delete (d) [N], info "
         "breakpoints|checkpoints|locals|args, catch map|syscall|switch, continue (c), "
         "reverse-continue (rc), "
         "step (s), "
         "next (n), finish, reverse-step (rs), reverse-next (rn), reverse-finish, print (p) EXPR, "
         "set print full-names on|off, origin [ADDR [LEN]|$REG] (where a value came from), quit");
  } else {
    throw Error(fmt::format("undefined command: \"{}\". Try \"help\".", command));
  }
}

const symbols::Symbolizer& Debugger::symbolizer() {
  if (!symbolizer_)
    symbolizer_ = std::make_unique<symbols::Symbolizer>(symbols::modules_from_trace(trace_));
  return *symbolizer_;
}

std::string Debugger::location(uint64_t pc) { return symbolizer().locate(pc).describe(names_); }

void Debugger::cmd_backtrace() {
  std::vector<symbols::Frame> all = frames();
  json arr = json::array();
  std::string text;
  for (size_t i = 0; i < all.size(); ++i) {
    arr.push_back(frame_json(i, all[i]));
    text += describe_frame(i, all) + "\n";
  }
  emit(json{{"thread", tt_.thread()}, {"frames", arr}}, text);
}

void Debugger::cmd_list(const std::string& args) {
  uint64_t pc = args.empty() ? tt_.engine().registers(tt_.thread()).rip : eval(args);
  symbols::Location where = symbolizer().locate(pc);
  if (!where.line) throw Error(fmt::format("no source line for {:#x}", pc));
  auto lines = symbols::Symbolizer::source_lines(where.line->file, where.line->line, 5, 5);
  if (lines.empty()) throw Error(fmt::format("cannot read {}", where.line->file));
  json arr = json::array();
  std::string text = fmt::format("{}:{}\n", where.line->file, where.line->line);
  for (const auto& [n, src] : lines) {
    arr.push_back({{"line", n}, {"text", src}});
    text += fmt::format("{}{:<5} {}\n", n == where.line->line ? "=> " : "   ", n, src);
  }
  emit(json{{"file", where.line->file}, {"line", where.line->line}, {"lines", arr}}, text);
}

std::string Debugger::describe_pc(uint64_t pc) {
  uint8_t code[16] = {};
  tt_.engine().memory(tt_.thread()).read(pc, code, sizeof code);
  auto insns = disassembler_.decode(code, pc, 1);
  return insns.empty() ? "(bad)" : insns[0].text;
}

void Debugger::show_where() {
  auto& engine = tt_.engine();
  replayer::ReplayPosition p = tt_.where();
  json j{{"position", p.str()},
         {"record", p.record},
         {"thread", p.tid},
         {"ticks", p.ticks},
         {"steps", p.steps}};
  std::string text = fmt::format("position {} (event {}, thread {}, tick {}, +{} instructions)",
                                 p.str(), p.record, p.tid, p.ticks, p.steps);
  if (engine.finished()) {
    j["at_end"] = true;
    text += "\nend of recording";
  } else if (engine.has_thread(p.tid)) {
    uint64_t pc = engine.registers(p.tid).rip;
    std::string insn = describe_pc(pc);
    j["pc"] = pc;
    j["instruction"] = insn;
    std::string where = location(pc);
    j["location"] = where;
    text += fmt::format("\n=> {:#x} in {}: {}", pc, where, insn);
  }
  emit(j, text);
}

// `process N`: the process's lowest-numbered live thread is selected (gdb's
// `inferior N`); without N, where the session stands.
void Debugger::cmd_process(const std::string& args) {
  if (args.empty()) {
    show_where();
    return;
  }
  int32_t pid = 0;
  try {
    pid = std::stoi(args);
  } catch (const std::exception&) {
    throw Error("usage: process N (info processes lists them)");
  }
  replayer::ReplayEngine& engine = tt_.engine();
  for (int32_t tid : engine.live_threads()) {
    if (engine.process_id(tid) == pid) {
      tt_.select_thread(tid);
      show_where();
      return;
    }
  }
  throw Error(fmt::format("process {} has no live thread here (info processes lists them)", pid));
}

void Debugger::cmd_goto(const std::string& args) {
  if (args == "start") {
    tt_.goto_start();
  } else if (args == "end") {
    tt_.goto_end();
  } else if (args == "panic") {
    cmd_panic();
    return;
  } else if (args == "setter") {
    // The store that set the hashWriting the failing check saw.
    replayer::PanicReport r = tt_.goto_panic();
    if (!r.setter) throw Error("the recording did not fail on a map's hashWriting: no setter");
    if (!r.setter_store) throw Error(r.setter_store_error);
    tt_.goto_position(r.setter_store->position);
  } else if (args.rfind("event", 0) == 0) {
    tt_.goto_record(std::stoull(trim(args.substr(5))));
  } else if (auto p = replayer::ReplayPosition::parse(args)) {
    tt_.goto_position(*p);
  } else {
    throw Error("usage: goto start|end|panic|setter|event N|RECORD:THREAD:TICKS:STEPS");
  }
  show_where();
}

void Debugger::cmd_panic() {
  replayer::PanicReport r = tt_.goto_panic();
  std::string insn = describe_pc(r.pc);
  json j{{"panic", r.what},
         {"thread", r.tid},
         {"position", r.position.str()},
         {"pc", r.pc},
         {"instruction", insn}};
  std::string where = location(r.pc);
  j["location"] = where;
  std::string text = fmt::format("panic: {}\nthread {} at position {}\n=> {:#x} in {}: {}", r.what,
                                 r.tid, r.position.str(), r.pc, where, insn);
  // The map's code is inlined into the user's: its callers out to the
  // first function that was not inlined, which holds the user's line.
  std::vector<symbols::Frame> stack = frames();
  json callers = json::array();
  for (size_t i = 1; i < stack.size(); ++i) {
    callers.push_back(frame_json(i, stack[i]));
    text += fmt::format("\n   called from {}", stack[i].where.describe(names_));
    if (!stack[i].where.inlined) break;
  }
  j["called_from"] = callers;
  if (r.map_fatal) {
    j["map"] = r.map;
    text += fmt::format("\nthe check read the flags of map {:#x}", r.map);
    if (r.setter) {
      const abi::MapEvent& s = *r.setter;
      std::string chain = trace::operation_chain(s, r.setter_steps);
      j["setter"] = {{"thread", s.tid},
                     {"ticks", s.ticks},
                     {"site", s.site},
                     {"operation", chain},
                     {"event", trace::map_event_json(s)}};
      if (r.setter_store) {
        // The store that flipped the flag: where `goto setter` and the
        // report stand (replayer/flag_store.h).
        const replayer::FlagStore& store = *r.setter_store;
        std::string site = location(store.pc);
        std::string store_insn = describe_pc(store.pc);
        j["setter"]["position"] = store.position.str();
        j["setter"]["pc"] = store.pc;
        j["setter"]["instruction"] = store_insn;
        j["setter"]["location"] = site;
        text += fmt::format(
            "\nhashWriting was set by thread {} in {}, at position {}\n=> {:#x} in {}: {}", s.tid,
            chain, store.position.str(), store.pc, site, store_insn);
      } else {
        j["setter"]["position"] = nullptr;
        j["setter"]["position_error"] = r.setter_store_error;
        text += fmt::format("\nhashWriting was set by thread {} in {}, at tick {} ({})", s.tid,
                            chain, s.ticks, r.setter_store_error);
      }
    }
    if (r.fatal) {
      text += fmt::format("\nmap state at the check: B {}, count {}, flags {}, nevacuate {}",
                          r.fatal->B, r.fatal->count, trace::flags_text(r.fatal->flags_before),
                          r.fatal->nevacuate);
    }
  }
  emit(j, text);
}

void Debugger::cmd_info(const std::string& args) {
  auto& engine = tt_.engine();
  if (args.rfind("registers ", 0) == 0 || args.rfind("r ", 0) == 0 || args.rfind("reg ", 0) == 0) {
    info_registers(trim(args.substr(args.find(' '))));
  } else if (args == "registers" || args == "r" || args == "reg") {
    Registers r = engine.registers(tt_.thread());
    json j;
    std::string text;
    static const char* order[] = {"rax", "rbx", "rcx", "rdx",    "rsi",    "rdi", "rbp",
                                  "rsp", "r8",  "r9",  "r10",    "r11",    "r12", "r13",
                                  "r14", "r15", "rip", "eflags", "fs_base"};
    for (const char* name : order) {
      uint64_t v = r.*(register_field(name));
      j[name] = v;
      text += fmt::format("{:<8} {:#018x} {}\n", name, v, static_cast<int64_t>(v));
    }
    emit(j, text);
  } else if (args == "threads") {
    json arr = json::array();
    std::string text;
    for (int32_t tid : engine.live_threads()) {
      uint64_t pc = engine.registers(tid).rip;
      auto ticks = engine.ticks(tid);
      int32_t pid = engine.process_id(tid);
      std::string name = thread_name(tid);
      arr.push_back({{"thread", tid},
                     {"process", pid},
                     {"name", name},
                     {"pc", pc},
                     {"ticks", ticks ? *ticks : 0},
                     {"selected", tid == tt_.thread()}});
      text += fmt::format("{} thread {} (process {}){}  pc {:#x}{}  {}\n",
                          tid == tt_.thread() ? '*' : ' ', tid, pid,
                          name.empty() ? "" : fmt::format(" \"{}\"", name), pc,
                          ticks ? fmt::format("  tick {}", *ticks) : "", describe_pc(pc));
    }
    emit(json{{"threads", arr}}, text);
  } else if (args == "processes") {
    // From the records played so far: the processes made, what they run, how they ended.
    trace::ProcessList list(tt_.trace(), engine.next_record());
    json arr = json::array();
    std::string text;
    int32_t selected = engine.process_id(tt_.thread());
    for (const trace::ProcessSummary& p : list.processes()) {
      std::string state = !p.ended   ? std::string("alive")
                          : p.exited ? fmt::format("exited with status {}", p.code)
                                     : fmt::format("killed by signal {}", p.code);
      arr.push_back({{"pid", p.pid},
                     {"parent", p.parent},
                     {"exe", p.exe},
                     {"state", state},
                     {"selected", p.pid == selected}});
      text += fmt::format("{} process {}{}  {}  {}\n", p.pid == selected ? '*' : ' ', p.pid,
                          p.parent ? fmt::format(" (parent {})", p.parent) : std::string(), p.exe,
                          state);
    }
    emit(json{{"processes", arr}}, text);
  } else if (args == "breakpoints" || args == "b" || args == "break" || args == "watchpoints") {
    info_breakpoints();
  } else if (args == "checkpoints") {
    json arr = json::array();
    std::string text;
    for (size_t r : tt_.checkpoints()) {
      arr.push_back(r);
      text += fmt::format("  event {}{}\n", r, r == tt_.start_record() ? " (start)" : "");
    }
    json mid = json::array();
    for (const auto& p : tt_.mid_run_checkpoints()) {
      mid.push_back(p.str());
      text += fmt::format("  position {} (inside thread {}'s run)\n", p.str(), p.tid);
    }
    emit(json{{"checkpoints", arr}, {"mid_run", mid}},
         arr.empty() ? "No checkpoints: going back replays from the start."
                     : "Checkpoints:\n" + text);
  } else if (args == "locals" || args == "args") {
    info_variables(args == "args");
  } else {
    throw Error("usage: info registers|threads|processes|breakpoints|checkpoints|locals|args");
  }
}

void Debugger::cmd_examine(const std::string& spec, const std::string& args) {
  // x/NFU: count, format (x, d, i, s), unit (b, h, w, g).
  size_t count = 1;
  char format = 'x';
  size_t unit = 8;
  std::string s = spec.size() > 1 ? spec.substr(1) : "";
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i > 0) count = std::stoul(s.substr(0, i));
  for (; i < s.size(); ++i) {
    switch (s[i]) {
      case 'b':
        unit = 1;
        break;
      case 'h':
        unit = 2;
        break;
      case 'w':
        unit = 4;
        break;
      case 'g':
        unit = 8;
        break;
      case 'x':
      case 'd':
      case 'i':
      case 'u':
        format = s[i];
        break;
      default:
        throw Error(fmt::format("unknown format letter '{}'", s[i]));
    }
  }
  uint64_t addr = eval(args);
  const AddressSpace& mem = tt_.engine().memory(tt_.thread());
  if (format == 'i') {
    std::vector<uint8_t> code(count * 16);
    mem.read(addr, code.data(), code.size());
    uint64_t pc =
        tt_.engine().has_thread(tt_.thread()) ? tt_.engine().registers(tt_.thread()).rip : 0;
    json arr = json::array();
    std::string text;
    for (const auto& insn : disassembler_.decode(code, addr, count)) {
      arr.push_back({{"address", insn.address}, {"instruction", insn.text}});
      text +=
          fmt::format("{} {:#x}:\t{}\n", insn.address == pc ? "=>" : "  ", insn.address, insn.text);
    }
    emit(json{{"instructions", arr}}, text);
    return;
  }
  std::vector<uint8_t> data(count * unit);
  if (!mem.read(addr, data.data(), data.size())) {
    throw Error(fmt::format("cannot access memory at address {:#x}", addr));
  }
  json arr = json::array();
  std::string text;
  for (size_t k = 0; k < count; ++k) {
    uint64_t v = 0;
    std::memcpy(&v, data.data() + k * unit, unit);
    arr.push_back(v);
    if (k % (16 / unit == 0 ? 1 : 16 / unit) == 0) {
      text += fmt::format("{}{:#x}:", k ? "\n" : "", addr + k * unit);
    }
    text += format == 'd'   ? fmt::format("\t{}", static_cast<int64_t>(v))
            : format == 'u' ? fmt::format("\t{}", v)
                            : fmt::format("\t{:#0{}x}", v, 2 + 2 * unit);
  }
  emit(json{{"address", addr}, {"values", arr}}, text);
}

void Debugger::cmd_disassemble(const std::string& args) {
  uint64_t pc = args.empty() ? tt_.engine().registers(tt_.thread()).rip : eval(args);
  cmd_examine("/12i", fmt::format("{:#x}", pc));
}

void Debugger::cmd_map(const std::string& args) {
  uint64_t addr = 0;
  if (!args.empty()) {
    addr = eval(args);
  } else {
    // The map the most recent event before now concerns.
    const auto& ev = trace_.events();
    for (size_t i = std::min(tt_.engine().next_record(), ev.size()); i-- > 0 && !addr;) {
      if (const auto* m = std::get_if<trace::MapEvents>(&ev[i]); m && !m->events.empty()) {
        addr = m->events.back().map;
      }
    }
    if (!addr) throw Error("no map event yet: give the map's address");
  }
  abi::MapHeader h{};
  if (!tt_.engine().memory(tt_.thread()).read(addr, &h, sizeof h) ||
      h.magic != abi::kMapHeaderMagic) {
    throw Error(fmt::format("no live instrumented map at {:#x}", addr));
  }
  emit(trace::map_header_json(addr, h), trace::map_header_text(addr, h));
}

void Debugger::cmd_events(const std::string& args) {
  // events [N] [map|stop|switch]: the last N before now, of one type or all.
  size_t n = 10;
  std::string only;
  std::istringstream in(args);
  for (std::string word; in >> word;) {
    if (std::isdigit(static_cast<unsigned char>(word[0]))) {
      n = std::stoul(word);
    } else if (word == "map" || word == "stop" || word == "switch") {
      only = word;
    } else {
      throw Error("usage: events [N] [map|stop|switch]");
    }
  }
  const auto& ev = trace_.events();
  size_t now = tt_.engine().next_record();
  std::vector<std::pair<json, std::string>> lines;
  for (size_t i = std::min(now, ev.size()); i-- > 2 && lines.size() < n;) {
    if (std::holds_alternative<trace::Patch>(ev[i]) ||
        std::holds_alternative<trace::CodeWrite>(ev[i]) ||
        std::holds_alternative<trace::FileMap>(ev[i])) {
      continue;
    }
    auto js = trace::to_json(ev[i], i);
    auto ts = trace::to_text(ev[i], i);
    for (size_t k = js.size(); k-- > 0 && lines.size() < n;) {
      if (only.empty() || js[k]["type"] == only) lines.emplace_back(js[k], ts[k]);
    }
  }
  json arr = json::array();
  std::string text;
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    arr.push_back(it->first);
    text += it->second + "\n";
  }
  text += fmt::format("--- now: before event {}", now);
  emit(json{{"events", arr}, {"now", now}}, text);
}

void Debugger::interactive() {
  const char* home = std::getenv("HOME");
  std::string history = home ? std::string(home) + "/.backstep_history" : "";
  if (!history.empty()) read_history(history.c_str());
  interactive_ = true;
  show_where();
  for (;;) {
    char* raw = readline("(backstep) ");
    if (!raw) break;
    std::string line(raw);
    std::free(raw);
    if (!trim(line).empty()) add_history(line.c_str());
    clear_interrupt();  // a Ctrl-C at the prompt only cancelled the line
    if (!execute(line)) break;
  }
  if (!history.empty()) write_history(history.c_str());
}

}  // namespace backstep::cli
