// The ELF/DWARF symbol reader over damaged program copies.
//
// Replay symbolizes from the trace's copies of the program and its
// libraries; a copy that hashes right can still be a hostile or odd ELF
// file (a bundle from elsewhere). The input is such a file: the harness
// reports it as a module and asks everything replay's debugger asks of a
// module (symbols, lines, ranges, inlined code, unwinding through it).
#include <sys/user.h>

#include <cstdint>
#include <cstring>
#include <exception>
#include <fstream>

#include "fuzz_support.h"
#include "symbols/symbolizer.h"
#include "symbols/unwind.h"

using namespace backstep;

namespace {

constexpr uint64_t kLoad = 0x400000;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::filesystem::path file = fuzz::scratch() / "module";
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    symbols::Symbolizer s({symbols::Module{file.string(), "/fuzz/prog", kLoad}});
    std::vector<uint64_t> pcs = {kLoad, kLoad + 0x1000, kLoad + 0x1130};
    for (const char* name : {"main", "_start", "middle", "inner"}) {
      if (auto a = s.function_address(name)) pcs.push_back(*a);
      (void)s.inlined_entries(name);
    }
    for (uint64_t pc : pcs) {
      (void)s.locate(pc).describe();
      (void)s.locate_return_address(pc + 1).describe();
      (void)s.function_range(pc);
      (void)s.inlined_call_site(pc);
    }
    for (const char* f : {"prog.c", "seed_prog.cc", "/fuzz/prog.c"}) {
      for (int line = 1; line < 40; line += 7) {
        (void)s.line_addresses(f, line);
        (void)s.first_line_with_code(f, line);
      }
    }
    // Unwinding through the module: a stack made of the input's bytes.
    user_regs_struct regs{};
    regs.rip = pcs.back();
    regs.rsp = 0x7000000;
    regs.rbp = 0x7000040;
    auto memory = [&](uint64_t addr, void* out, size_t len) {
      if (addr < regs.rsp || addr - regs.rsp + len > size) return false;
      std::memcpy(out, data + (addr - regs.rsp), len);
      return true;
    };
    (void)symbols::unwind(s, regs, memory);
    (void)symbols::unwind_frame_pointers(s, regs, memory);
  } catch (const std::exception&) {
  }
  return 0;
}
