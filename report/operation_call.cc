#include "report/operation_call.h"

#include <algorithm>
#include <set>
#include <string_view>

#include "base/errors.h"
#include "symbols/variables.h"

namespace backstep::report {
namespace {

// What a user calls on a GoMap (src/gomap/go_map.h), by DWARF name without
// template arguments; the rest (assign, grow_work, ...) is its inside.
bool is_interface(std::string_view name) {
  static const std::set<std::string_view> kInterface = {
      "find", "get", "contains", "put", "operator[]", "erase", "clear", "PutAll", "clone", "begin"};
  if (size_t angle = name.find('<');
      angle != std::string_view::npos && angle > 0 && name.substr(0, angle) != "operator") {
    name = name.substr(0, angle);
  }
  return kInterface.count(name) != 0;
}

// "@0x7ffd...: 1696" (a reference) -> "1696".
std::string referred_value(const std::string& text) {
  if (text.empty() || text[0] != '@') return text;
  const size_t colon = text.find(": ");
  return colon == std::string::npos ? text : text.substr(colon + 2);
}

}  // namespace

std::vector<OperationCall> operation_calls(const symbols::Symbolizer& symbols,
                                           const std::vector<symbols::Frame>& frames,
                                           const symbols::ReadMemory& read_memory) {
  std::vector<OperationCall> out;  // innermost first until the end
  bool in_map = false;
  for (size_t i = 0; i < frames.size(); ++i) {
    symbols::FrameContext frame;
    frame.pc = frames[i].pc;
    frame.caller = i > 0;
    frame.registers = frames[i].registers;
    frame.read_memory = read_memory;
    const size_t functions = symbols::FrameVariables::function_count(symbols, frame.pc, i > 0);
    // Innermost first: the fatal handler, the map's internals, the method
    // the user called, the user's code.
    for (size_t depth = 0; depth < functions; ++depth) {
      frame.inline_depth = depth;
      symbols::FrameVariables vars(symbols, frame);
      // Members of GoMap, of its nested classes (iterators) and its lambdas
      // all have it in their mangled names.
      if (vars.function_linkage_name().find("GoMap") == std::string::npos) {
        if (in_map) {
          std::reverse(out.begin(), out.end());
          return out;
        }
        continue;
      }
      in_map = true;
      OperationCall call;
      call.function = vars.function_name();
      if (!is_interface(call.function)) continue;
      try {
        for (const auto& a : vars.args()) {
          if (a.name != "this") call.arguments.emplace_back(a.name, referred_value(a.text));
        }
        // PutAll's loop (`for (const auto& [k, v] : entries)`) holds the
        // batch entry it is writing; the first of each name is the
        // innermost block's.
        if (call.function.rfind("PutAll", 0) == 0) {
          for (const auto& l : vars.locals()) {
            const bool wanted = (l.name == "k" || l.name == "v") && l.text != "<optimized out>";
            if (wanted && std::none_of(call.entry.begin(), call.entry.end(),
                                       [&](const auto& e) { return e.first == l.name; })) {
              call.entry.emplace_back(l.name, referred_value(l.text));
            }
          }
        }
      } catch (const Error&) {
        // A value that cannot be read: the operation is still named.
      }
      out.push_back(std::move(call));
    }
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace backstep::report
