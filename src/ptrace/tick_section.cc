#include "ptrace/tick_section.h"

#include <elf.h>

#include <cstring>
#include <fstream>
#include <vector>

#include "runtime/abi.h"

namespace backstep {
namespace {

bool read_header(std::ifstream& in, Elf64_Ehdr& eh) {
  return in.read(reinterpret_cast<char*>(&eh), sizeof eh) &&
         std::memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 && eh.e_ident[EI_CLASS] == ELFCLASS64;
}

}  // namespace

std::optional<std::pair<uint64_t, uint64_t>> tick_section_of(const std::string& elf_file) {
  std::ifstream in(elf_file, std::ios::binary);
  Elf64_Ehdr eh{};
  if (!read_header(in, eh) || eh.e_shentsize != sizeof(Elf64_Shdr)) return std::nullopt;
  std::vector<Elf64_Shdr> sections(eh.e_shnum);
  in.seekg(static_cast<std::streamoff>(eh.e_shoff));
  in.read(reinterpret_cast<char*>(sections.data()),
          static_cast<std::streamsize>(sections.size() * sizeof(Elf64_Shdr)));
  if (!in || eh.e_shstrndx >= sections.size()) return std::nullopt;
  const Elf64_Shdr& names = sections[eh.e_shstrndx];
  if (names.sh_size > (uint64_t{1} << 24)) return std::nullopt;
  std::string strtab(names.sh_size, '\0');
  in.seekg(static_cast<std::streamoff>(names.sh_offset));
  if (!in.read(strtab.data(), static_cast<std::streamsize>(strtab.size()))) return std::nullopt;
  for (const Elf64_Shdr& sh : sections) {
    if (sh.sh_name < strtab.size() &&
        std::strcmp(strtab.c_str() + sh.sh_name, abi::kTickSection) == 0) {
      return std::pair(sh.sh_addr, sh.sh_addr + sh.sh_size);
    }
  }
  return std::nullopt;
}

bool is_position_independent(const std::string& elf_file) {
  std::ifstream in(elf_file, std::ios::binary);
  Elf64_Ehdr eh{};
  return read_header(in, eh) && eh.e_type == ET_DYN;
}

}  // namespace backstep
