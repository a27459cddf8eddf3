#include "report/inline_site.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>

#include <cstdlib>
#include <memory>

namespace backstep::report {
namespace {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

std::optional<Dwarf_Word> udata(Dwarf_Die* die, int name) {
  Dwarf_Attribute attr;
  Dwarf_Word value = 0;
  if (dwarf_attr(die, name, &attr) == nullptr || dwarf_formudata(&attr, &value) != 0) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

std::optional<symbols::SourceLine> inlined_call_site(const symbols::Symbolizer& symbols,
                                                     uint64_t pc) {
  Dwfl_Module* mod = dwfl_addrmodule(symbols.dwfl(), pc);
  if (mod == nullptr) return std::nullopt;
  Dwarf_Addr bias = 0;
  Dwarf_Die* cu = dwfl_module_addrdie(mod, pc, &bias);
  if (cu == nullptr) return std::nullopt;
  Dwarf_Die* scopes_raw = nullptr;
  const int n = dwarf_getscopes(cu, pc - bias, &scopes_raw);
  std::unique_ptr<Dwarf_Die, FreeDeleter> scopes(scopes_raw);  // malloc'd by libdw
  for (int i = 0; i < n; ++i) {
    Dwarf_Die* die = &scopes.get()[i];
    if (dwarf_tag(die) == DW_TAG_subprogram) break;  // not inlined
    if (dwarf_tag(die) != DW_TAG_inlined_subroutine) continue;
    auto line = udata(die, DW_AT_call_line);
    auto file = udata(die, DW_AT_call_file);
    Dwarf_Files* files = nullptr;
    size_t nfiles = 0;
    if (!line || !file || dwarf_getsrcfiles(cu, &files, &nfiles) != 0 || *file >= nfiles) {
      return std::nullopt;
    }
    const char* name = dwarf_filesrc(files, *file, nullptr, nullptr);
    if (name == nullptr) return std::nullopt;
    auto column = udata(die, DW_AT_call_column);
    return symbols::SourceLine{name, static_cast<int>(*line), static_cast<int>(column.value_or(0))};
  }
  return std::nullopt;
}

}  // namespace backstep::report
