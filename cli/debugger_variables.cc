// Debugger, part: the program's variables in the selected frame, by their
// DWARF descriptions (symbols::FrameVariables): `print` of locals,
// arguments and globals with . -> [] * &, `info locals`, `info args`.
#include <fmt/core.h>

#include <cctype>

#include "base/errors.h"
#include "cli/debugger.h"

namespace backstep::cli {
namespace {

using nlohmann::json;

}  // namespace

symbols::FrameContext Debugger::frame_context() {
  std::vector<symbols::Frame> all = frames();
  const size_t n = std::min(selected_frame(), all.size() - 1);
  const symbols::Frame& f = all[n];
  // Frames of inlined calls share their physical frame's pc and stack
  // pointer, innermost first, as gdb lists them: the depth is how many
  // such frames come before this one.
  auto same_place = [&](size_t j) {
    return j < all.size() && all[j].pc == f.pc && all[j].cfa_or_sp == f.cfa_or_sp;
  };
  size_t depth = 0;
  while (depth < n && same_place(n - depth - 1)) ++depth;
  symbols::FrameContext c;
  c.pc = f.pc;
  c.caller = n - depth > 0;
  c.registers = f.registers;
  const AddressSpace& mem = tt_.engine().memory(tt_.thread());
  c.read_memory = [&mem](uint64_t addr, void* out, size_t len) { return mem.read(addr, out, len); };
  c.inline_depth = depth;
  // A list with one frame per physical frame (no frames of inlined calls
  // around this one): a name is looked up in the innermost function at pc
  // first, then in those it is inlined into.
  c.search_outer_inlines = depth == 0 && !same_place(n + 1);
  return c;
}

// `print EXPR` when EXPR names the program's variables. False for what
// print handles itself: registers, the value history, numbers, and
// function names (`print main`, `print &main`).
bool Debugger::print_variable(const std::string& expr, char format) {
  if (expr.empty() || expr[0] == '$' || std::isdigit(static_cast<unsigned char>(expr[0]))) {
    return false;
  }
  symbols::PrintedValue v;
  try {
    v = symbols::FrameVariables(symbolizer(), frame_context()).print(expr, format);
  } catch (const Error& e) {
    const std::string name = expr[0] == '&' ? trim(expr.substr(1)) : expr;
    if (std::string_view(e.what()).rfind("No symbol ", 0) == 0 &&
        symbolizer().function_address(name)) {
      return false;
    }
    throw;
  }
  // The history keeps numbers: an aggregate's entry is 0.
  history_.push_back(v.scalar.value_or(0));
  json j{{"expression", expr}, {"type", v.type}, {"history", history_.size()}, {"text", v.text}};
  if (v.scalar) j["value"] = *v.scalar;
  emit(j, fmt::format("${} = {}", history_.size(), v.text));
  return true;
}

// `info locals` / `info args`: one `name = value` line each, as gdb prints
// them.
void Debugger::info_variables(bool args) {
  symbols::FrameVariables vars(symbolizer(), frame_context());
  const std::vector<symbols::NamedValue> list = args ? vars.args() : vars.locals();
  json arr = json::array();
  std::string text;
  for (const auto& v : list) {
    arr.push_back({{"name", v.name}, {"text", v.text}});
    text += fmt::format("{} = {}\n", v.name, v.text);
  }
  if (list.empty()) text = args ? "No arguments." : "No locals.";
  emit(json{{args ? "args" : "locals", arr}}, text);
}

}  // namespace backstep::cli
