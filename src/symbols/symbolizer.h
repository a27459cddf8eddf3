// Symbols, source lines and function lookups for a process whose modules are
// known from a list rather than from /proc/PID/maps.
//
// In replay the program's shared libraries are anonymous memory that the
// replayer filled with the files' contents, so nothing in the process says
// which file lives where. The trace does (trace::FileMap), and this library
// turns such a module list into an offline libdwfl session: every file is
// reported at the address its first PT_LOAD was mapped, and everything else
// (ELF symbols, DWARF lines, CFI, separate debug info by build-id) is libdw's.
//
// Not thread-safe: libdwfl loads symbol tables and DWARF lazily into the
// shared session, so concurrent calls on one Symbolizer, even const ones,
// race. Use one per thread or lock around it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "symbols/names.h"

// libdwfl's session handle, left opaque here so that users of this header
// need not include elfutils.
struct Dwfl;

namespace backstep::symbols {

// One ELF file mapped into the process.
struct Module {
  std::string path;    // the file to read: the trace's copy, or the original
  std::string name;    // the original path, for display and debug-info lookup
  uint64_t start = 0;  // where file offset 0 is mapped (the first PT_LOAD)
};

struct SourceLine {
  std::string file;  // as the DWARF line table names it, usually absolute
  int line = 0;
  int column = 0;  // 0 when unknown
};

struct Location {
  uint64_t pc = 0;
  std::string function;  // demangled; empty when no symbol covers pc
  uint64_t offset = 0;   // pc - function start
  std::string module;    // the module's original path; empty if none
  std::optional<SourceLine> line;
  // A call the compiler inlined into the function of the next Location of
  // Symbolizer::inline_frames: `function` is the inlined function (from
  // DWARF), `pc` the physical frame's, `offset` 0.
  bool inlined = false;

  // "inner()+0x12 at prog.cc:42", "write+0x17 in libc.so.6",
  // "0x7f0012345678 in libc.so.6", or "0x1234 in ??"; the function's name
  // in `style` ("inner+0x12 at prog.cc:42" short).
  std::string describe(NameStyle style = NameStyle::kFull) const;
};

class Symbolizer {
 public:
  // Reports every module to libdwfl. A module whose file cannot be opened or
  // is not ELF is skipped (symbolization degrades, it does not fail), as is
  // one overlapping an earlier module.
  explicit Symbolizer(std::vector<Module> modules);
  ~Symbolizer();
  // A moved-from Symbolizer may only be destroyed or assigned to.
  Symbolizer(Symbolizer&&) noexcept;
  Symbolizer& operator=(Symbolizer&&) noexcept;
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // The modules that were reported (those skipped are not listed).
  const std::vector<Module>& modules() const;

  // What is at `pc`: function, offset, module and source line.
  Location locate(uint64_t pc) const;

  // The same for a return address (a caller frame's pc): the lookup uses
  // pc - 1, which is still inside the call instruction, so that a call that
  // is the last instruction of a function or of a line is attributed to it,
  // not to what follows. The result's pc and offset are of `pc` itself.
  Location locate_return_address(uint64_t pc) const;

  // The entry address of the function `name`. Candidates, best first:
  //   1. the raw (mangled) symbol name or the full demangled name equals
  //      `name` ("_ZN2ns5innerEv", "ns::inner()", "main");
  //   2. the demangled name without its parameter list equals `name`
  //      ("ns::inner", "ns::Box<int>::get");
  //   3. `name` is a trailing run of `::` components of that, compared with
  //      or without template arguments ("inner", "get", "Box::get",
  //      "Box<int>::get").
  // Among equally good candidates the executable's symbols win, then global
  // and weak symbols over local ones (ld.so's table has private copies of
  // getpid, memcpy...), then the modules in list order, then symbol table
  // order. The executable is the first module that is ET_EXEC or has a
  // PT_INTERP, or else the first module.
  // Only defined function symbols (STT_FUNC, STT_GNU_IFUNC) are considered;
  // for an IFUNC that is the resolver, not the implementation it picks.
  std::optional<uint64_t> function_address(std::string_view name) const;

  // Addresses to break at for `file:line`: for every contiguous run of
  // is_stmt line-table rows with that line, the first address. `file` is
  // matched by path suffix at a '/' boundary, so "prog.cc",
  // "symbols/prog.cc" and the absolute path all match. Sorted, unique.
  // Empty when the line has no code (see first_line_with_code).
  std::vector<uint64_t> line_addresses(std::string_view file, int line) const;

  // The first line >= `line` in `file` that has code, like debuggers do for
  // `break file:line` on a blank line or comment; nullopt if none.
  std::optional<int> first_line_with_code(std::string_view file, int line) const;

  // [low, high) of the function containing pc, from its symbol's size, or
  // from the DWARF subprogram when the symbol has no size.
  std::optional<std::pair<uint64_t, uint64_t>> function_range(uint64_t pc) const;

  // For code inlined into its caller: the line that called the innermost
  // inlined function around `pc` (the line table names the inlined body).
  // nullopt when `pc` is not in inlined code or has no DWARF.
  std::optional<SourceLine> inlined_call_site(uint64_t pc) const;

  // The source-level frames at `pc`, innermost first, as gdb numbers them:
  // one per inlined call around pc (the innermost at the line the line
  // table gives, each outer one at the DW_AT_call_file/DW_AT_call_line of
  // the call it inlined), then the physical function (the symbol covering
  // pc, with its offset) at the call site of its outermost inlined call.
  // With `return_address`, lookups use pc - 1 as locate_return_address
  // does. Without inlined code or DWARF, just the physical function's
  // Location.
  std::vector<Location> inline_frames(uint64_t pc, bool return_address) const;

  // Where the executable's code inlines the function `name` (its DWARF name,
  // unqualified: "PutAll", or the last `::` component of `name`): the entry
  // address of every inlined copy, sorted. `break PutAll` stops at these as
  // well as at an out-of-line copy, as gdb does.
  std::vector<uint64_t> inlined_entries(std::string_view name) const;

  // Lines [line - before, line + after] of `file` (clamped to the file) read
  // from disk, numbered from 1; empty if the file cannot be read.
  static std::vector<std::pair<int, std::string>> source_lines(const std::string& file, int line,
                                                               int before, int after);

  // The libdwfl session, for what this class does not wrap. Owned here.
  Dwfl* dwfl() const;

  struct Impl;

 private:
  // The unwinder (unwind.cc) shares the session; see symbolizer_impl.h.
  friend struct SymbolizerAccess;
  std::unique_ptr<Impl> impl_;
};

}  // namespace backstep::symbols
