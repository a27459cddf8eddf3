#include "report/operation_call.h"

#include "base/errors.h"
#include "symbols/variables.h"

namespace backstep::report {

std::optional<OperationCall> operation_call(const symbols::Symbolizer& symbols,
                                            const std::vector<symbols::Frame>& frames,
                                            const symbols::ReadMemory& read_memory) {
  std::optional<OperationCall> found;
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
      // Members of GoMap and of its nested classes (iterators) and lambdas
      // all have it in their mangled names.
      if (vars.function_linkage_name().find("GoMap") == std::string::npos) {
        if (found) return found;
        continue;
      }
      OperationCall call;
      call.function = vars.function_name();
      try {
        for (const auto& a : vars.args()) {
          if (a.name != "this") call.arguments.emplace_back(a.name, a.text);
        }
      } catch (const Error&) {
        // An argument that cannot be read: the operation is still named.
      }
      found = std::move(call);
    }
  }
  return found;
}

}  // namespace backstep::report
