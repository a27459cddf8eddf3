// Debugger, part: looking at data in gdb's forms. Expressions ($registers,
// value history, numbers), `print/FMT`, `info registers REG...`, and the
// selected frame (`frame N`, `up`, `down`), whose pc and sp `$pc`/`$sp`
// name as in gdb.
#include <fmt/core.h>

#include <bitset>
#include <cctype>
#include <map>
#include <string>

#include "base/errors.h"
#include "cli/debugger.h"
#include "cli/registers.h"
#include "ptrace/proc.h"
#include "symbols/names.h"
#include "symbols/unwind.h"

namespace backstep::cli {
namespace {

using nlohmann::json;

// eflags as gdb shows it: the set flags' names.
std::string eflags_names(uint64_t v) {
  static const std::pair<int, const char*> kFlags[] = {
      {0, "CF"},  {2, "PF"},   {4, "AF"},   {6, "ZF"},  {7, "SF"},  {8, "TF"},
      {9, "IF"},  {10, "DF"},  {11, "OF"},  {14, "NT"}, {16, "RF"}, {17, "VM"},
      {18, "AC"}, {19, "VIF"}, {20, "VIP"}, {21, "ID"}};
  std::string out = "[ ";
  for (const auto& [bit, name] : kFlags) {
    if (v & (uint64_t{1} << bit)) out += std::string(name) + " ";
  }
  return out + "]";
}

}  // namespace

RegisterField register_field(std::string_view name) {
  static const std::map<std::string_view, RegisterField> table = {
      {"rax", &Registers::rax},
      {"rbx", &Registers::rbx},
      {"rcx", &Registers::rcx},
      {"rdx", &Registers::rdx},
      {"rsi", &Registers::rsi},
      {"rdi", &Registers::rdi},
      {"rbp", &Registers::rbp},
      {"rsp", &Registers::rsp},
      {"r8", &Registers::r8},
      {"r9", &Registers::r9},
      {"r10", &Registers::r10},
      {"r11", &Registers::r11},
      {"r12", &Registers::r12},
      {"r13", &Registers::r13},
      {"r14", &Registers::r14},
      {"r15", &Registers::r15},
      {"rip", &Registers::rip},
      {"pc", &Registers::rip},
      {"sp", &Registers::rsp},
      {"eflags", &Registers::eflags},
      {"fs_base", &Registers::fs_base},
      {"gs_base", &Registers::gs_base},
      {"cs", &Registers::cs},
      {"ss", &Registers::ss},
      {"ds", &Registers::ds},
      {"es", &Registers::es},
      {"fs", &Registers::fs},
      {"gs", &Registers::gs},
      {"orig_rax", &Registers::orig_rax}};
  auto it = table.find(name);
  return it == table.end() ? nullptr : it->second;
}

std::vector<symbols::Frame> Debugger::frames() {
  auto& engine = tt_.engine();
  Registers regs = engine.registers(tt_.thread());
  const AddressSpace& mem = engine.memory(tt_.thread());
  return symbols::with_inlined_frames(
      symbolizer(), symbols::unwind(symbolizer(), regs, [&](uint64_t addr, void* out, size_t len) {
        return mem.read(addr, out, len);
      }));
}

std::string Debugger::thread_name(int32_t tid) {
  auto& engine = tt_.engine();
  const AddressSpace& mem = engine.memory(tid);
  auto stack = symbols::with_inlined_frames(
      symbolizer(), symbols::unwind(symbolizer(), engine.registers(tid),
                                    [&](uint64_t addr, void* out, size_t len) {
                                      return mem.read(addr, out, len);
                                    }));
  // prctl(PR_SET_NAME) runs for real in replay: the replayed thread has
  // the name the recorded one had at this point.
  std::string comm = thread_given_name(engine.kernel_tid(tid));
  return symbols::thread_name(stack, trace_.header().exe, comm);
}

// The selected frame holds only where it was selected: any motion or
// another thread selects the innermost again, as in gdb.
size_t Debugger::selected_frame() {
  std::string here = fmt::format("{}/{}", tt_.now().str(), tt_.thread());
  if (here != frame_selected_at_) frame_ = 0;
  return frame_;
}

// As gdb prints a frame: a frame whose callee was inlined into it is at its
// call of that callee, not at an address of its own, so it has none.
std::string Debugger::describe_frame(size_t i, const std::vector<symbols::Frame>& all) {
  const symbols::Frame& f = all[i];
  if (i > 0 && all[i - 1].where.inlined) {
    return fmt::format("#{:<2} {}", i, f.where.describe(names_));
  }
  return fmt::format("#{:<2} {:#018x} in {}", i, f.pc, f.where.describe(names_));
}

nlohmann::json Debugger::frame_json(size_t i, const symbols::Frame& f) {
  json j{{"frame", i},
         {"pc", f.pc},
         {"function", f.where.function},
         {"name", symbols::display_name(f.where.function, names_)},
         {"inlined", f.where.inlined},
         {"module", f.where.module}};
  if (f.where.line) {
    j["file"] = f.where.line->file;
    j["line"] = f.where.line->line;
  }
  return j;
}

// `set print full-names on|off`: stacks and locations with the demangled
// names as they are (on), or short (off, the default).
void Debugger::cmd_set(const std::string& args) {
  std::string a = trim(args);
  const std::string prefix = "print full-names";
  if (a.rfind(prefix, 0) != 0) {
    throw Error("usage: set print full-names on|off");
  }
  std::string value = trim(a.substr(prefix.size()));
  if (value == "on" || value.empty()) {
    names_ = symbols::NameStyle::kFull;
  } else if (value == "off") {
    names_ = symbols::NameStyle::kShort;
  } else {
    throw Error("usage: set print full-names on|off");
  }
  emit(json{{"full_names", names_ == symbols::NameStyle::kFull}}, "");
}

void Debugger::cmd_frame(const std::string& command, const std::string& args) {
  std::vector<symbols::Frame> all = frames();
  long n = static_cast<long>(selected_frame());
  long arg = 0;
  if (!args.empty()) {
    try {
      arg = std::stol(args);
    } catch (const std::exception&) {
      throw Error(fmt::format("usage: {} [N]", command));
    }
  }
  if (command == "frame") {
    if (!args.empty()) n = arg;
  } else if (command == "up") {
    n += args.empty() ? 1 : arg;
  } else {
    n -= args.empty() ? 1 : arg;
  }
  if (n < 0) throw Error("Bottom (innermost) frame selected; you cannot go down.");
  if (n >= static_cast<long>(all.size())) {
    throw Error("Initial frame selected; you cannot go up.");
  }
  frame_ = static_cast<size_t>(n);
  frame_selected_at_ = fmt::format("{}/{}", tt_.now().str(), tt_.thread());
  emit(frame_json(frame_, all[frame_]), describe_frame(frame_, all));
}

uint64_t Debugger::eval(const std::string& expr) {
  std::string e = trim(expr);
  if (e.empty()) throw Error("an address is needed");
  size_t op = e.find_first_of("+-", 1);
  if (op != std::string::npos) {
    uint64_t base = eval(e.substr(0, op));
    uint64_t off = eval(e.substr(op + 1));
    return e[op] == '+' ? base + off : base - off;
  }
  if (e[0] == '$') {
    std::string name = e.substr(1);
    // The value history: $ (the last), $$ (the one before), $N.
    if (name.empty() || name == "$" ||
        std::all_of(name.begin(), name.end(), [](char c) { return std::isdigit(c); })) {
      size_t at = name.empty()  ? history_.size()
                  : name == "$" ? history_.size() - 1
                                : std::stoul(name);
      if (at == 0 || at > history_.size())
        throw Error(fmt::format("History has not yet reached {}.", e));
      return history_[at - 1];
    }
    RegisterField field = register_field(name);
    if (field == nullptr) throw Error(fmt::format("unknown register {}", e));
    // In an outer frame, pc and sp are that frame's (gdb's $pc, $sp).
    if (size_t n = selected_frame();
        n > 0 && (field == &Registers::rip || field == &Registers::rsp)) {
      std::vector<symbols::Frame> all = frames();
      if (n < all.size()) return field == &Registers::rip ? all[n].pc : all[n].cfa_or_sp;
    }
    return tt_.engine().registers(tt_.thread()).*field;
  }
  try {
    size_t used = 0;
    uint64_t v = std::stoull(e, &used, 0);
    if (used != e.size()) throw Error("");
    return v;
  } catch (...) {
    throw Error(fmt::format("cannot evaluate \"{}\"", e));
  }
}

// A value in one of gdb's print formats (x, z, d, u, o, t, c, a), or in the
// natural one for what the expression names.
std::string Debugger::format_value(uint64_t v, char format, const std::string& expr) {
  switch (format) {
    case 'x':
      return fmt::format("{:#x}", v);
    case 'z':
      return fmt::format("0x{:016x}", v);
    case 'd':
      return fmt::format("{}", static_cast<int64_t>(v));
    case 'u':
      return fmt::format("{}", v);
    case 'o':
      return v == 0 ? "0" : fmt::format("0{:o}", v);
    case 't':
      return fmt::format("{:b}", v);
    case 'c': {
      auto c = static_cast<int8_t>(v & 0xff);
      std::string shown = std::isprint(static_cast<unsigned char>(c))
                              ? std::string(1, static_cast<char>(c))
                              : fmt::format("\\{:03o}", static_cast<uint8_t>(c));
      return fmt::format("{} '{}'", static_cast<int>(c), shown);
    }
    case 'a':
      return fmt::format("{:#x} <{}>", v, location(v));
    default:
      break;
  }
  if (expr == "$pc" || expr == "$rip") return fmt::format("{:#x} <{}>", v, location(v));
  if (expr == "$sp" || expr == "$rsp" || expr == "$rbp" || expr == "$fs_base") {
    return fmt::format("{:#x}", v);
  }
  if (expr == "$eflags") return eflags_names(v);
  return fmt::format("{}", static_cast<int64_t>(v));
}

void Debugger::cmd_print(const std::string& args) {
  std::string a = trim(args);
  char format = 0;
  if (!a.empty() && a[0] == '/') {
    size_t end = a.find_first_of(" \t");
    std::string spec = a.substr(1, end == std::string::npos ? std::string::npos : end - 1);
    if (spec.size() != 1 || std::string("xzduotca").find(spec[0]) == std::string::npos) {
      throw Error(fmt::format("Undefined output format \"{}\".", spec));
    }
    format = spec[0];
    a = end == std::string::npos ? std::string() : trim(a.substr(end));
  }
  if (a.empty())
    throw Error("usage: print[/FMT] EXPR ($register, $N, number, FUNCTION, &FUNCTION, VARIABLE)");
  if (print_variable(a, format)) return;
  uint64_t v = 0;
  std::string expr = a;
  if (a[0] == '&') a = a.substr(1);
  if (a[0] == '$' || std::isdigit(static_cast<unsigned char>(a[0]))) {
    v = eval(a);
  } else if (auto f = symbolizer().function_address(a)) {
    v = *f;
    if (format == 0) format = 'a';
  } else {
    throw Error(fmt::format("No symbol \"{}\" in current context.", a));
  }
  history_.push_back(v);
  std::string shown = format_value(v, format, expr);
  json j{{"expression", expr}, {"value", v}, {"history", history_.size()}, {"text", shown}};
  if (format == 'a') j["location"] = location(v);
  emit(j, fmt::format("${} = {}", history_.size(), shown));
}

// `info registers REG...`: one line per register as gdb prints it: name,
// hex, natural (rip with its location, eflags with its flags).
void Debugger::info_registers(const std::string& names) {
  json j;
  std::string text;
  std::string rest = names;
  while (!rest.empty()) {
    size_t end = rest.find_first_of(" \t");
    std::string name = rest.substr(0, end);
    rest = end == std::string::npos ? std::string() : trim(rest.substr(end));
    if (!name.empty() && name[0] == '$') name = name.substr(1);
    RegisterField field = register_field(name);
    if (field == nullptr) throw Error(fmt::format("Invalid register `{}'", name));
    uint64_t v = eval("$" + name);
    j[name] = v;
    std::string natural =
        name == "rip" || name == "pc" ? fmt::format("{:#x} <{}>", v, location(v))
        : name == "eflags"            ? eflags_names(v)
        : name == "rsp" || name == "sp" || name == "rbp" || name == "fs_base" || name == "gs_base"
            ? fmt::format("{:#x}", v)
            : fmt::format("{}", static_cast<int64_t>(v));
    text += fmt::format("{:<15}{:<19}{}\n", name, fmt::format("{:#x}", v), natural);
  }
  emit(j, text);
}

}  // namespace backstep::cli
