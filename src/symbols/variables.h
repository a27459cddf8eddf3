// A frame's variables by their DWARF descriptions, in gdb's forms: `print`
// of a local, an argument or a global with `.`, `->`, `[i]`, `*` and `&`,
// `info locals`, `info args`, with values printed as gdb prints them.
//
// Locations are evaluated with the frame's registers (FrameRegisters, from
// the unwinder) and memory: DW_OP_fbreg against the subprogram's frame base
// (the CFA from the module's CFI), registers, addresses, pieces, stack
// values, location lists; what DWARF cannot give here (an entry value, a
// register the CFI did not restore in an outer frame) is `<optimized out>`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "symbols/symbolizer.h"
#include "symbols/unwind.h"

namespace backstep::symbols {

// Which frame, and what it can read.
struct FrameContext {
  uint64_t pc = 0;
  bool caller = false;  // pc is a return address: scopes are those of pc - 1
  FrameRegisters registers;
  ReadMemory read_memory;
  // Which function at pc: 0 is the innermost (an inlined body when pc is in
  // one), 1 the function that one is inlined into, and so on, as gdb
  // numbers the frames of inlined calls.
  size_t inline_depth = 0;
  // A name not found in that function is also looked up in the functions
  // it is inlined into (for callers whose frame list has one frame per
  // physical frame).
  bool search_outer_inlines = false;
};

struct PrintedValue {
  std::string text;                // what gdb prints after "$N = "
  std::optional<uint64_t> scalar;  // an integer's, pointer's or enum's value
  std::string type;                // the value's type as gdb names it
};

struct NamedValue {
  std::string name;
  std::string text;  // as gdb prints it after "name = "
};

class FrameVariables {
 public:
  FrameVariables(const Symbolizer& symbols, FrameContext frame);

  // `expr`: NAME, literals, and the C operators . -> [] * & (and
  // parentheses) over them. `format` is print's /FMT letter (x, z, d, u,
  // o, t, c, a) or 0. Throws Error with gdb's message for an unknown name
  // ("No symbol \"x\" in current context.") or an expression it cannot
  // evaluate.
  PrintedValue print(std::string_view expr, char format = 0) const;

  // `info locals`: the variables of every block around pc, innermost block
  // first, up to the function (for an inlined function, its own body).
  std::vector<NamedValue> locals() const;
  // `info args`: the function's parameters in order.
  std::vector<NamedValue> args() const;

  // The function at `inline_depth`: its DWARF name ("put", "PutAll<...>")
  // and linkage name (mangled; empty for C functions or without DWARF).
  std::string function_name() const;
  std::string function_linkage_name() const;

  // The number of functions at pc: 1 + the inlined calls around it.
  static size_t function_count(const Symbolizer& symbols, uint64_t pc, bool caller);

 private:
  const Symbolizer& symbols_;
  FrameContext frame_;
};

}  // namespace backstep::symbols
