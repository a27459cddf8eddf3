// Internals shared by symbolizer.cc and unwind.cc; not installed, not API.
#pragma once

#include <elfutils/libdwfl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "symbols/symbolizer.h"
#include "symbols/unwind.h"

namespace backstep::symbols {

// dwfl_end releases the modules, their Elf handles and the fds that
// dwfl_report_elf took over, and the attached thread state.
struct DwflDeleter {
  void operator()(Dwfl* d) const noexcept { dwfl_end(d); }
};
using DwflPtr = std::unique_ptr<Dwfl, DwflDeleter>;

// What the thread callbacks unwind: set for the duration of one unwind()
// call, because libdwfl lets a session be attached to a process only once.
struct UnwindRequest {
  const user_regs_struct* regs = nullptr;
  const ReadMemory* read_memory = nullptr;
  pid_t tid = 1;
};

struct Symbolizer::Impl {
  // A function symbol, for lookups by name.
  struct FunctionSymbol {
    std::string raw;        // as in the symbol table, without "@VERSION"
    std::string demangled;  // == raw for C names
    uint64_t addr = 0;
    bool in_executable = false;
    bool local = false;  // STB_LOCAL: a static function, or a loader's private copy
  };

  DwflPtr dwfl;
  std::vector<Module> modules;         // those reported, in list order
  std::vector<Dwfl_Module*> reported;  // parallel to `modules`
  Dwfl_Module* executable = nullptr;

  // Built on the first function_address(): demangling every symbol of every
  // module costs milliseconds, and most sessions never look names up.
  // Ordered by preference (executable first, then list order).
  mutable std::optional<std::vector<FunctionSymbol>> functions;

  enum class Attach { kNotYet, kAttached, kFailed };
  Attach attach = Attach::kNotYet;
  const UnwindRequest* request = nullptr;

  // The reported module containing pc, or null.
  Dwfl_Module* module_at(uint64_t pc) const;
};

// Lets unwind.cc reach a Symbolizer's session and unwinding state, which
// are not part of its interface.
struct SymbolizerAccess {
  static Symbolizer::Impl& impl(const Symbolizer& s) { return *s.impl_; }
};

}  // namespace backstep::symbols
