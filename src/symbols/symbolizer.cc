#include "symbols/symbolizer.h"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gelf.h>
#include <libelf.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <tuple>
#include <unordered_map>

#include "base/unique_fd.h"
#include "symbols/names.h"
#include "symbols/symbolizer_impl.h"

namespace backstep::symbols {
namespace {

using backstep::UniqueFd;

struct FreeDeleter {
  void operator()(void* p) const noexcept { std::free(p); }
};

// The DWARF scopes around pc, innermost first (inlined subroutines, then
// their subprogram, ..., then the CU).
struct DieScopes {
  Dwarf_Die* cu = nullptr;
  Dwarf_Addr bias = 0;
  std::unique_ptr<Dwarf_Die, FreeDeleter> dies;  // malloc'd by libdw
  int count = 0;
};

DieScopes die_scopes(Dwfl_Module* mod, uint64_t pc) {
  DieScopes out;
  out.cu = dwfl_module_addrdie(mod, pc, &out.bias);
  if (out.cu == nullptr) return out;
  Dwarf_Die* raw = nullptr;
  out.count = std::max(0, dwarf_getscopes(out.cu, pc - out.bias, &raw));
  out.dies.reset(raw);
  return out;
}

std::optional<Dwarf_Word> die_udata(Dwarf_Die* die, int name) {
  Dwarf_Attribute attr;
  Dwarf_Word value = 0;
  if (dwarf_attr(die, name, &attr) == nullptr || dwarf_formudata(&attr, &value) != 0) {
    return std::nullopt;
  }
  return value;
}

// Elf handles opened here to read program headers, before libdwfl gets the
// file; libdwfl opens its own.
struct ElfDeleter {
  void operator()(Elf* e) const noexcept { elf_end(e); }
};
using ElfPtr = std::unique_ptr<Elf, ElfDeleter>;

constexpr uint64_t kPageSize = 4096;  // x86-64: what mmap offsets are aligned to

uint64_t page_down(uint64_t v) { return v & ~(kPageSize - 1); }

std::string_view basename_of(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// C++ names demangled; anything else (C names, failures) as is.
std::string demangle(const std::string& name) {
  if (name.size() > 2 && name[0] == '_' && name[1] == 'Z') {
    int status = 0;
    std::unique_ptr<char, FreeDeleter> out(
        abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status));
    if (status == 0 && out) return out.get();
  }
  return name;
}

// Symbol names from .symtab may carry a version ("memcpy@GLIBC_2.2.5").
std::string without_version(const char* name) {
  std::string s(name);
  if (const size_t at = s.find('@'); at != std::string::npos && at > 0) s.resize(at);
  return s;
}

// The separate debug info of a module is looked up next to the file that is
// read, which for a trace's copy is files/<hash>: nothing is there. Looking
// again next to the original path finds /usr/lib/debug/<dir>/... debuglinks
// (build-id lookups do not depend on the path). Candidates are validated
// against the module's build-id or debuglink CRC either way.
int find_debuginfo(Dwfl_Module* mod, void** userdata, const char* modname, Dwarf_Addr base,
                   const char* file_name, const char* debuglink_file, GElf_Word debuglink_crc,
                   char** debuginfo_file_name) {
  int fd = dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file,
                                        debuglink_crc, debuginfo_file_name);
  if (fd < 0 && modname != nullptr && modname[0] == '/' &&
      (file_name == nullptr || std::strcmp(modname, file_name) != 0)) {
    fd = dwfl_standard_find_debuginfo(mod, userdata, modname, base, modname, debuglink_file,
                                      debuglink_crc, debuginfo_file_name);
  }
  return fd;
}

// Offline callbacks: every module is reported with an open file, so
// find_elf only serves libdwfl's own needs. Must outlive every Dwfl.
const Dwfl_Callbacks kCallbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = nullptr,  // the default: ":.debug:/usr/lib/debug"
};

// What reporting a file needs from its program headers.
struct ElfLayout {
  bool is_exec = false;      // ET_EXEC: loads at its link-time addresses
  bool has_interp = false;   // a dynamically linked program, not a library
  uint64_t first_vaddr = 0;  // of the first PT_LOAD
  uint64_t first_offset = 0;
  uint64_t first_align = 1;
  uint64_t end_vaddr = 0;  // highest p_vaddr + p_memsz of the PT_LOADs
};

std::optional<ElfLayout> read_layout(int fd) {
  ElfPtr elf(elf_begin(fd, ELF_C_READ_MMAP, nullptr));
  if (!elf || elf_kind(elf.get()) != ELF_K_ELF) return std::nullopt;
  GElf_Ehdr ehdr;
  if (gelf_getehdr(elf.get(), &ehdr) == nullptr) return std::nullopt;
  if (ehdr.e_type != ET_EXEC && ehdr.e_type != ET_DYN) return std::nullopt;
  size_t phnum = 0;
  if (elf_getphdrnum(elf.get(), &phnum) != 0) return std::nullopt;
  ElfLayout out;
  out.is_exec = ehdr.e_type == ET_EXEC;
  bool seen_load = false;
  for (size_t i = 0; i < phnum; ++i) {
    GElf_Phdr ph;
    if (gelf_getphdr(elf.get(), static_cast<int>(i), &ph) == nullptr) continue;
    if (ph.p_type == PT_INTERP) out.has_interp = true;
    if (ph.p_type != PT_LOAD) continue;
    if (!seen_load) {
      seen_load = true;
      out.first_vaddr = ph.p_vaddr;
      out.first_offset = ph.p_offset;
      out.first_align = ph.p_align == 0 ? 1 : ph.p_align;
    }
    out.end_vaddr = std::max<uint64_t>(out.end_vaddr, ph.p_vaddr + ph.p_memsz);
  }
  if (!seen_load) return std::nullopt;
  return out;
}

const char* module_name(Dwfl_Module* mod) {
  return dwfl_module_info(mod, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
}

// A file name relative to a compilation directory (ccache's base_dir,
// -fdebug-prefix-map make them), made absolute and without "..": what the
// user names and what can be opened.
std::string in_comp_dir(const char* dir, const char* file) {
  if (file[0] == '/' || dir == nullptr || dir[0] == '\0') return file;
  return (std::filesystem::path(dir) / file).lexically_normal().string();
}

// A line table's file name, made absolute with the CU's directory if needed.
std::string line_file(Dwfl_Line* line, const char* file) {
  if (file == nullptr) return {};
  return in_comp_dir(file[0] == '/' ? nullptr : dwfl_line_comp_dir(line), file);
}

// `query` names `file` if it is a suffix of it starting at a '/' boundary.
bool file_matches(std::string_view file, std::string_view query) {
  if (query.empty() || file.size() < query.size()) return false;
  if (file.substr(file.size() - query.size()) != query) return false;
  return file.size() == query.size() || query.front() == '/' ||
         file[file.size() - query.size() - 1] == '/';
}

// Calls fn(addr, line, is_stmt, end_sequence, file_matches) for every row of
// every line table, in each table's address order, with file matching
// memoized per file-name string (libdw hands out one string per file entry).
template <typename Fn>
void for_each_row(const Symbolizer::Impl& impl, std::string_view file, Fn&& fn) {
  for (Dwfl_Module* mod : impl.reported) {
    Dwarf_Addr cu_bias = 0;
    Dwarf_Die* cu = nullptr;
    while ((cu = dwfl_module_nextcu(mod, cu, &cu_bias)) != nullptr) {
      size_t n = 0;
      if (dwfl_getsrclines(cu, &n) != 0) continue;
      std::unordered_map<const char*, bool> matched;
      for (size_t i = 0; i < n; ++i) {
        Dwfl_Line* line = dwfl_onesrcline(cu, i);
        if (line == nullptr) continue;
        Dwarf_Addr addr = 0;
        int lineno = 0;
        const char* name = dwfl_lineinfo(line, &addr, &lineno, nullptr, nullptr, nullptr);
        Dwarf_Addr bias = 0;
        Dwarf_Line* dline = dwfl_dwarf_line(line, &bias);
        bool stmt = false;
        bool end = false;
        if (dline != nullptr) {
          dwarf_linebeginstatement(dline, &stmt);
          dwarf_lineendsequence(dline, &end);
        }
        auto [it, inserted] = matched.try_emplace(name, false);
        if (inserted && name != nullptr) it->second = file_matches(line_file(line, name), file);
        fn(static_cast<uint64_t>(addr), lineno, stmt, end, it->second);
      }
    }
  }
}

std::string without_templates(std::string_view s) {
  std::string out;
  int depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s.compare(i, 8, "operator") == 0) {
      // "operator<" and friends are names, not template brackets.
      size_t j = i + 8;
      while (j < s.size() && std::strchr("<>=", s[j]) != nullptr) ++j;
      if (depth == 0) out.append(s.substr(i, j - i));
      i = j - 1;
      continue;
    }
    if (s[i] == '<')
      ++depth;
    else if (s[i] == '>' && depth > 0)
      --depth;
    else if (depth == 0)
      out.push_back(s[i]);
  }
  return out;
}

std::vector<std::string_view> components(std::string_view s) {
  std::vector<std::string_view> out;
  int depth = 0;
  size_t begin = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '<' || s[i] == '(') ++depth;
    if ((s[i] == '>' || s[i] == ')') && depth > 0) --depth;
    if (depth == 0 && s.compare(i, 2, "::") == 0) {
      out.push_back(s.substr(begin, i - begin));
      begin = i + 2;
      ++i;
    }
  }
  out.push_back(s.substr(begin));
  return out;
}

bool component_suffix(std::string_view name, std::string_view query) {
  const auto n = components(name);
  const auto q = components(query);
  if (q.size() > n.size()) return false;
  return std::equal(q.begin(), q.end(), n.end() - static_cast<std::ptrdiff_t>(q.size()));
}

// 1 to 3 as documented on function_address, 0 for no match.
int match_rank(const Symbolizer::Impl::FunctionSymbol& f, std::string_view query) {
  if (f.raw == query || f.demangled == query) return 1;
  const std::string_view base =
      without_return_type(std::string_view(f.demangled).substr(0, params_start(f.demangled)));
  if (base == query) return 2;
  if (component_suffix(base, query)) return 3;
  if (component_suffix(without_templates(base), without_templates(query))) return 3;
  return 0;
}

}  // namespace

std::string Location::describe(NameStyle style) const {
  const std::string_view mod = module.empty() ? std::string_view("??") : basename_of(module);
  if (function.empty()) return fmt::format("{:#x} in {}", pc, mod);
  const std::string name = display_name(function, style);
  std::string out = offset != 0 ? fmt::format("{}+{:#x}", name, offset) : name;
  if (line) {
    out += fmt::format(" at {}:{}", basename_of(line->file), line->line);
  } else {
    out += fmt::format(" in {}", mod);
  }
  return out;
}

Dwfl_Module* Symbolizer::Impl::module_at(uint64_t pc) const {
  return dwfl_addrmodule(dwfl.get(), pc);
}

Symbolizer::Symbolizer(std::vector<Module> modules) : impl_(std::make_unique<Impl>()) {
  // libelf refuses to work before a version handshake; libdwfl does not do
  // it for the Elf handles opened here.
  static const bool elf_ready = elf_version(EV_CURRENT) != EV_NONE;
  impl_->dwfl.reset(dwfl_begin(&kCallbacks));
  if (!impl_->dwfl || !elf_ready) return;

  struct Range {
    uint64_t low, high;
  };
  std::vector<Range> taken;
  Dwfl_Module* first = nullptr;
  dwfl_report_begin(impl_->dwfl.get());
  for (Module& m : modules) {
    UniqueFd fd(::open(m.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) continue;
    const std::optional<ElfLayout> layout = read_layout(fd.get());
    if (!layout) continue;

    // Where vaddr 0 lands. The first PT_LOAD's page holding file offset
    // page_down(p_offset) is at bias + page_down(p_vaddr), so file offset 0
    // (`start`) is at bias + page_down(p_vaddr) - page_down(p_offset).
    const uint64_t bias = layout->is_exec ? 0
                                          : m.start - page_down(layout->first_vaddr) +
                                                page_down(layout->first_offset);
    // dwfl_report_elf with add_p_vaddr=false wants, for ET_DYN, the address
    // of the first PT_LOAD's vaddr rounded down to *its* p_align, and
    // derives the bias as base - (p_vaddr & -p_align). ET_EXEC ignores it.
    const uint64_t base = layout->is_exec ? 0 : bias + (layout->first_vaddr & -layout->first_align);
    const Range range{bias + page_down(layout->first_vaddr), bias + layout->end_vaddr};
    if (std::any_of(taken.begin(), taken.end(),
                    [&](const Range& r) { return range.low < r.high && r.low < range.high; })) {
      continue;
    }
    const std::string& display = m.name.empty() ? m.path : m.name;
    Dwfl_Module* mod =
        dwfl_report_elf(impl_->dwfl.get(), display.c_str(), m.path.c_str(), fd.get(), base, false);
    if (mod == nullptr) continue;  // the fd is still ours, and closes here
    fd.release();                  // libdwfl owns it now, dwfl_end closes it
    taken.push_back(range);
    if (first == nullptr) first = mod;
    if (impl_->executable == nullptr && (layout->is_exec || layout->has_interp)) {
      impl_->executable = mod;
    }
    impl_->modules.push_back(std::move(m));
    impl_->reported.push_back(mod);
  }
  dwfl_report_end(impl_->dwfl.get(), nullptr, nullptr);
  if (impl_->executable == nullptr) impl_->executable = first;
}

Symbolizer::~Symbolizer() = default;
Symbolizer::Symbolizer(Symbolizer&&) noexcept = default;
Symbolizer& Symbolizer::operator=(Symbolizer&&) noexcept = default;

const std::vector<Module>& Symbolizer::modules() const { return impl_->modules; }

Dwfl* Symbolizer::dwfl() const { return impl_->dwfl.get(); }

Location Symbolizer::locate(uint64_t pc) const {
  Location loc;
  loc.pc = pc;
  if (!impl_->dwfl) return loc;
  Dwfl_Module* mod = impl_->module_at(pc);
  if (mod == nullptr) return loc;
  if (const char* name = module_name(mod)) loc.module = name;

  GElf_Sym sym;
  GElf_Off offset = 0;
  if (const char* name = dwfl_module_addrinfo(mod, pc, &offset, &sym, nullptr, nullptr, nullptr)) {
    loc.function = demangle(without_version(name));
    loc.offset = offset;
  }
  if (Dwfl_Line* line = dwfl_module_getsrc(mod, pc)) {
    Dwarf_Addr addr = 0;
    SourceLine src;
    const char* file = dwfl_lineinfo(line, &addr, &src.line, &src.column, nullptr, nullptr);
    if (file != nullptr && src.line > 0) {
      src.file = line_file(line, file);
      loc.line = std::move(src);
    }
  }
  return loc;
}

Location Symbolizer::locate_return_address(uint64_t pc) const {
  if (pc == 0) return locate(pc);
  Location loc = locate(pc - 1);
  loc.pc = pc;
  if (!loc.function.empty()) loc.offset += 1;
  return loc;
}

std::optional<uint64_t> Symbolizer::function_address(std::string_view name) const {
  if (name.empty() || !impl_->dwfl) return std::nullopt;
  if (!impl_->functions) {
    std::vector<Impl::FunctionSymbol> all;
    std::vector<Dwfl_Module*> order = impl_->reported;
    std::stable_partition(order.begin(), order.end(),
                          [&](Dwfl_Module* m) { return m == impl_->executable; });
    for (Dwfl_Module* mod : order) {
      const int count = dwfl_module_getsymtab(mod);
      for (int i = 1; i < count; ++i) {
        GElf_Sym sym;
        GElf_Addr addr = 0;
        GElf_Word shndx = 0;
        const char* raw = dwfl_module_getsym_info(mod, i, &sym, &addr, &shndx, nullptr, nullptr);
        if (raw == nullptr || raw[0] == '\0' || shndx == SHN_UNDEF) continue;
        const int type = GELF_ST_TYPE(sym.st_info);
        if (type != STT_FUNC && type != STT_GNU_IFUNC) continue;
        Impl::FunctionSymbol f;
        f.raw = without_version(raw);
        f.demangled = demangle(f.raw);
        f.addr = addr;
        f.in_executable = mod == impl_->executable;
        f.local = GELF_ST_BIND(sym.st_info) == STB_LOCAL;
        all.push_back(std::move(f));
      }
    }
    impl_->functions = std::move(all);
  }
  // Lower is better: how well the name matches, then the executable first,
  // then global before local (ld.so's symbol table has local copies of
  // getpid, memcpy... that nobody means), then table order.
  using Key = std::tuple<int, bool, bool>;
  std::optional<Key> best_key;
  uint64_t best = 0;
  for (const Impl::FunctionSymbol& f : *impl_->functions) {
    const int rank = match_rank(f, name);
    if (rank == 0) continue;
    const Key key{rank, !f.in_executable, f.local};
    if (!best_key || key < *best_key) {
      best_key = key;
      best = f.addr;
    }
  }
  if (!best_key) return std::nullopt;
  return best;
}

std::vector<uint64_t> Symbolizer::line_addresses(std::string_view file, int line) const {
  std::vector<uint64_t> out;
  if (!impl_->dwfl || line <= 0) return out;
  bool in_block = false;
  for_each_row(*impl_, file, [&](uint64_t addr, int lineno, bool stmt, bool end, bool matches) {
    if (end || !matches || lineno != line) {
      in_block = false;  // another line (or the end of a sequence) ends the run
      return;
    }
    if (stmt && !in_block) {
      out.push_back(addr);
      in_block = true;
    }
  });
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::optional<int> Symbolizer::first_line_with_code(std::string_view file, int line) const {
  std::optional<int> best;
  if (!impl_->dwfl) return best;
  for_each_row(*impl_, file, [&](uint64_t, int lineno, bool stmt, bool end, bool matches) {
    if (matches && stmt && !end && lineno >= line && (!best || lineno < *best)) best = lineno;
  });
  return best;
}

std::optional<std::pair<uint64_t, uint64_t>> Symbolizer::function_range(uint64_t pc) const {
  if (!impl_->dwfl) return std::nullopt;
  Dwfl_Module* mod = impl_->module_at(pc);
  if (mod == nullptr) return std::nullopt;
  GElf_Sym sym;
  GElf_Off offset = 0;
  if (dwfl_module_addrinfo(mod, pc, &offset, &sym, nullptr, nullptr, nullptr) != nullptr &&
      sym.st_size != 0 && offset < sym.st_size) {
    return std::pair{pc - offset, pc - offset + sym.st_size};
  }
  // No sized symbol: the DWARF subprogram (not an inlined one) around pc.
  DieScopes scopes = die_scopes(mod, pc);
  const Dwarf_Addr bias = scopes.bias;
  for (int i = 0; i < scopes.count; ++i) {
    Dwarf_Die* die = &scopes.dies.get()[i];
    if (dwarf_tag(die) != DW_TAG_subprogram) continue;
    Dwarf_Addr base = 0, low = 0, high = 0;
    ptrdiff_t it = 0;
    while ((it = dwarf_ranges(die, it, &base, &low, &high)) > 0) {
      if (pc - bias >= low && pc - bias < high) return std::pair{low + bias, high + bias};
    }
    break;
  }
  return std::nullopt;
}

namespace {

// The line an inlined subroutine was called from: its DW_AT_call_file and
// DW_AT_call_line, the file named through the CU's file table.
std::optional<SourceLine> call_site_of(Dwarf_Die* inlined, Dwarf_Die* cu) {
  auto line = die_udata(inlined, DW_AT_call_line);
  auto file = die_udata(inlined, DW_AT_call_file);
  Dwarf_Files* files = nullptr;
  size_t nfiles = 0;
  if (!line || !file || dwarf_getsrcfiles(cu, &files, &nfiles) != 0 || *file >= nfiles) {
    return std::nullopt;
  }
  const char* name = dwarf_filesrc(files, *file, nullptr, nullptr);
  if (name == nullptr) return std::nullopt;
  Dwarf_Attribute attr;
  std::string path = in_comp_dir(dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &attr)), name);
  auto column = die_udata(inlined, DW_AT_call_column);
  return SourceLine{std::move(path), static_cast<int>(*line), static_cast<int>(column.value_or(0))};
}

// The DIE an inlined subroutine's attributes come from: its abstract
// origin, then that one's declaration (DW_AT_specification), as far as
// they go.
Dwarf_Die declaration_of(Dwarf_Die die) {
  for (int hops = 0; hops < 4; ++hops) {
    Dwarf_Attribute attr;
    Dwarf_Die next;
    if ((dwarf_attr(&die, DW_AT_abstract_origin, &attr) == nullptr &&
         dwarf_attr(&die, DW_AT_specification, &attr) == nullptr) ||
        dwarf_formref_die(&attr, &next) == nullptr) {
      break;
    }
    die = next;
  }
  return die;
}

// A scope's part of a qualified name: a lambda's class ("<lambda()>" in
// DWARF) as the demangler writes it, an anonymous namespace as
// "(anonymous namespace)", a function without its parameters.
std::string scope_name(Dwarf_Die* scope) {
  const char* name = dwarf_diename(scope);
  if (name == nullptr) {
    // gcc leaves a lambda's closure type unnamed.
    return dwarf_tag(scope) == DW_TAG_namespace ? "(anonymous namespace)" : "{lambda()}";
  }
  std::string_view n = name;
  if (n.starts_with("<lambda")) return "{" + std::string(n.substr(1, n.size() - 2)) + "}";
  return std::string(n);
}

// An inlined function's qualified name: its linkage name demangled when
// DWARF has one (through DW_AT_abstract_origin and DW_AT_specification),
// else its name under the names of the scopes it is declared in (a
// lambda's operator() has no linkage name: "main::{lambda()}::operator()()").
std::string inlined_function_name(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  for (int name : {DW_AT_linkage_name, DW_AT_MIPS_linkage_name}) {
    if (dwarf_attr_integrate(die, name, &attr) != nullptr) {
      if (const char* linkage = dwarf_formstring(&attr)) return demangle(linkage);
    }
  }
  Dwarf_Die decl = declaration_of(*die);
  const char* own = dwarf_diename(&decl);
  std::string out = std::string(own != nullptr ? own : "??") + "()";
  Dwarf_Die* raw = nullptr;
  const int n = dwarf_getscopes_die(&decl, &raw);
  std::unique_ptr<Dwarf_Die, FreeDeleter> scopes(raw);
  for (int i = 1; i < n; ++i) {
    Dwarf_Die* scope = &scopes.get()[i];
    const int tag = dwarf_tag(scope);
    if (tag == DW_TAG_subprogram) {
      // The function a local class or lambda is in: by its name alone.
      std::string fn = inlined_function_name(scope);
      out = std::string(without_return_type(fn.substr(0, params_start(fn)))) + "::" + out;
      break;
    }
    if (tag == DW_TAG_namespace || tag == DW_TAG_class_type || tag == DW_TAG_structure_type ||
        tag == DW_TAG_union_type) {
      out = scope_name(scope) + "::" + out;
    }
  }
  return out;
}

}  // namespace

std::optional<SourceLine> Symbolizer::inlined_call_site(uint64_t pc) const {
  if (!impl_->dwfl) return std::nullopt;
  Dwfl_Module* mod = impl_->module_at(pc);
  if (mod == nullptr) return std::nullopt;
  DieScopes scopes = die_scopes(mod, pc);
  for (int i = 0; i < scopes.count; ++i) {
    Dwarf_Die* die = &scopes.dies.get()[i];
    if (dwarf_tag(die) == DW_TAG_subprogram) break;  // not inlined
    if (dwarf_tag(die) == DW_TAG_inlined_subroutine) return call_site_of(die, scopes.cu);
  }
  return std::nullopt;
}

std::vector<Location> Symbolizer::inline_frames(uint64_t pc, bool return_address) const {
  Location physical = return_address ? locate_return_address(pc) : locate(pc);
  std::vector<Location> out;
  Dwfl_Module* mod = impl_->dwfl ? impl_->module_at(pc) : nullptr;
  const uint64_t lookup = return_address && pc != 0 ? pc - 1 : pc;
  if (mod != nullptr) {
    // dwarf_getscopes goes from an inlined subroutine to the scopes of its
    // abstract definition; the DIE tree's own nesting (inlined in inlined
    // ... in the subprogram) is dwarf_getscopes_die's from the innermost.
    DieScopes around = die_scopes(mod, lookup);
    Dwarf_Die* nested = nullptr;
    const int count =
        around.count > 0 ? std::max(0, dwarf_getscopes_die(&around.dies.get()[0], &nested)) : 0;
    std::unique_ptr<Dwarf_Die, FreeDeleter> chain(nested);
    std::optional<SourceLine> line = physical.line;  // the line table's, for the innermost
    for (int i = 0; i < count; ++i) {
      Dwarf_Die* die = &chain.get()[i];
      const int tag = dwarf_tag(die);
      if (tag == DW_TAG_subprogram) break;
      if (tag != DW_TAG_inlined_subroutine) continue;  // lexical blocks
      Location l;
      l.pc = pc;
      l.function = inlined_function_name(die);
      l.module = physical.module;
      l.line = line;
      l.inlined = true;
      out.push_back(std::move(l));
      line = call_site_of(die, around.cu);
    }
    if (!out.empty()) physical.line = line;
  }
  out.push_back(std::move(physical));
  return out;
}

namespace {

// Collects the entry of every DW_TAG_inlined_subroutine named `name` under
// `die` (depth first).
void collect_inlined(Dwarf_Die* die, std::string_view name, Dwarf_Addr bias,
                     std::vector<uint64_t>& out) {
  Dwarf_Die child;
  if (dwarf_child(die, &child) != 0) return;
  do {
    const int tag = dwarf_tag(&child);
    if (tag == DW_TAG_inlined_subroutine) {
      // dwarf_diename follows DW_AT_abstract_origin to the declaration.
      const char* n = dwarf_diename(&child);
      Dwarf_Addr entry = 0;
      std::string_view dn = n ? n : "";
      // A template's DWARF name carries its arguments: "PutAll<std::vector<...> >".
      bool named = dn == name || (dn.size() > name.size() && dn.substr(0, name.size()) == name &&
                                  dn[name.size()] == '<');
      if (named && (dwarf_entrypc(&child, &entry) == 0 || dwarf_lowpc(&child, &entry) == 0)) {
        out.push_back(entry + bias);
      }
    }
    if (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
        tag == DW_TAG_lexical_block || tag == DW_TAG_namespace || tag == DW_TAG_class_type ||
        tag == DW_TAG_structure_type) {
      collect_inlined(&child, name, bias, out);
    }
  } while (dwarf_siblingof(&child, &child) == 0);
}

}  // namespace

std::vector<uint64_t> Symbolizer::inlined_entries(std::string_view name) const {
  std::vector<uint64_t> out;
  if (!impl_->dwfl || impl_->executable == nullptr) return out;
  if (size_t colon = name.rfind("::"); colon != std::string_view::npos) {
    name = name.substr(colon + 2);
  }
  Dwarf_Addr bias = 0;
  Dwarf_Die* cu = nullptr;
  while ((cu = dwfl_module_nextcu(impl_->executable, cu, &bias)) != nullptr) {
    collect_inlined(cu, name, bias, out);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<std::pair<int, std::string>> Symbolizer::source_lines(const std::string& file, int line,
                                                                  int before, int after) {
  std::vector<std::pair<int, std::string>> out;
  std::ifstream in(file);
  if (!in || line <= 0) return out;
  const int first = std::max(1, line - std::max(0, before));
  const int last = line + std::max(0, after);
  std::string text;
  for (int n = 1; n <= last && std::getline(in, text); ++n) {
    if (n >= first) out.emplace_back(n, std::move(text));
  }
  return out;
}

}  // namespace backstep::symbols
