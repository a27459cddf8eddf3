#include "ptrace/syscall_sites.h"

#include <capstone/capstone.h>
#include <elf.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "base/unique_fd.h"

namespace backstep {
namespace {

// A read-only view of a whole file.
class FileView {
 public:
  explicit FileView(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0 || st.st_size <= 0) return;
    void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (p == MAP_FAILED) return;
    data_ = static_cast<const uint8_t*>(p);
    size_ = static_cast<size_t>(st.st_size);
  }
  ~FileView() {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
  }
  FileView(const FileView&) = delete;
  FileView& operator=(const FileView&) = delete;
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Kept on disk like the rdtsc sites (a sweep of libc costs ~0.1 s), keyed by
// the file's identity.
std::filesystem::path cache_path(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  std::filesystem::path root = xdg && xdg[0] == '/' ? std::filesystem::path(xdg)
                               : home             ? std::filesystem::path(home) / ".cache"
                                                  : std::filesystem::path();
  if (root.empty()) return {};
  std::string identity = fmt::format("{}:{}:{}:{}:{}.{}", path, st.st_dev, st.st_ino, st.st_size,
                                     st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  return root / "backstep" / "syscall-sites" /
         fmt::format("{:016x}", std::hash<std::string>{}(identity));
}

constexpr const char* kCacheMagic = "backstep-syscall-sites-1";

}  // namespace

bool SyscallSites::is_site(const std::string& path, uint64_t offset) {
  const std::vector<uint64_t>& sites = sites_of(path);
  return std::binary_search(sites.begin(), sites.end(), offset);
}

const std::vector<uint64_t>& SyscallSites::sites_of(const std::string& path) {
  auto it = by_file_.find(path);
  if (it != by_file_.end()) return it->second;
  std::filesystem::path cached = cache_path(path);
  if (!cached.empty()) {
    std::ifstream in(cached);
    std::string magic;
    if (in >> magic && magic == kCacheMagic) {
      std::vector<uint64_t> sites;
      uint64_t offset = 0;
      while (in >> offset) sites.push_back(offset);
      std::sort(sites.begin(), sites.end());
      return by_file_.emplace(path, std::move(sites)).first->second;
    }
  }
  std::vector<uint64_t> sites = sweep(path);
  if (!cached.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(cached.parent_path(), ec);
    std::filesystem::path tmp = cached;
    tmp += fmt::format(".{}", ::getpid());
    {
      std::ofstream out(tmp);
      out << kCacheMagic << '\n';
      for (uint64_t s : sites) out << s << '\n';
    }
    std::filesystem::rename(tmp, cached, ec);
  }
  return by_file_.emplace(path, std::move(sites)).first->second;
}

std::vector<uint64_t> SyscallSites::sweep(const std::string& path) {
  std::vector<uint64_t> sites;
  FileView file(path);
  const uint8_t* p = file.data();
  if (!p || file.size() < sizeof(Elf64_Ehdr) || std::memcmp(p, ELFMAG, SELFMAG) != 0) return sites;
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(p);
  csh h = 0;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK) return sites;
  cs_option(h, CS_OPT_SKIPDATA, CS_OPT_ON);
  cs_insn* insn = cs_malloc(h);
  for (int i = 0; i < eh->e_phnum; ++i) {
    uint64_t ph_at = eh->e_phoff + static_cast<uint64_t>(i) * sizeof(Elf64_Phdr);
    if (ph_at + sizeof(Elf64_Phdr) > file.size()) break;
    const auto* ph = reinterpret_cast<const Elf64_Phdr*>(p + ph_at);
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
    if (ph->p_offset + ph->p_filesz > file.size()) continue;
    const uint8_t* code = p + ph->p_offset;
    size_t size = ph->p_filesz;
    uint64_t off = ph->p_offset;
    uint64_t mov_at = UINT64_MAX;  // the previous instruction, when it was `mov $imm32,%eax`
    while (cs_disasm_iter(h, &code, &size, &off, insn)) {
      const uint8_t* b = insn->bytes;
      if (insn->size == 2 && b[0] == 0x0f && b[1] == 0x05 && mov_at + 5 == insn->address) {
        sites.push_back(mov_at);
      }
      mov_at = insn->size == 5 && b[0] == 0xb8 ? insn->address : UINT64_MAX;
    }
  }
  cs_free(insn, 1);
  cs_close(&h);
  std::sort(sites.begin(), sites.end());
  return sites;
}

}  // namespace backstep
