#include "ptrace/rdtsc_patcher.h"

#include <capstone/capstone.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <fmt/core.h>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "base/unique_fd.h"
#include "ptrace/proc.h"

namespace backstep {
namespace {

// A read-only view of a whole file.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0 || st.st_size <= 0) return;
    void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (p == MAP_FAILED) return;
    data_ = static_cast<const uint8_t*>(p);
    size_ = static_cast<size_t>(st.st_size);
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};


// Sweeping a file costs ~0.1 s for libc, and every recording and replay maps
// the same few libraries: the sites are kept on disk, keyed by the file's
// identity (path, device, inode, size, modification time).
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
  return root / "backstep" / "rdtsc-sites" /
         fmt::format("{:016x}", std::hash<std::string>{}(identity));
}

}  // namespace

const std::vector<RdtscPatcher::FileSite>& RdtscPatcher::sites_of(const std::string& path) {
  auto it = by_file_.find(path);
  if (it != by_file_.end()) return it->second;
  std::filesystem::path cached = cache_path(path);
  if (!cached.empty()) {
    std::ifstream in(cached);
    std::string magic;
    if (in >> magic && magic == "backstep-rdtsc-sites-1") {
      std::vector<FileSite> sites;
      uint64_t offset = 0;
      unsigned length = 0;
      while (in >> offset >> length) sites.push_back({offset, static_cast<uint8_t>(length)});
      return by_file_.emplace(path, std::move(sites)).first->second;
    }
  }
  std::vector<FileSite> sites = sweep(path);
  if (!cached.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(cached.parent_path(), ec);
    std::filesystem::path tmp = cached;
    tmp += fmt::format(".{}", ::getpid());
    {
      std::ofstream out(tmp);
      out << "backstep-rdtsc-sites-1\n";
      for (const FileSite& site : sites) out << site.offset << ' ' << unsigned{site.length} << '\n';
    }
    std::filesystem::rename(tmp, cached, ec);
  }
  return by_file_.emplace(path, std::move(sites)).first->second;
}

std::vector<RdtscPatcher::FileSite> RdtscPatcher::sweep(const std::string& path) {
  std::vector<FileSite> sites;
  MappedFile file(path);
  const uint8_t* p = file.data();
  if (p && file.size() >= sizeof(Elf64_Ehdr) && std::memcmp(p, ELFMAG, SELFMAG) == 0) {
    const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(p);
    csh h = 0;
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) == CS_ERR_OK) {
      // Skip undecodable bytes rather than stopping at them.
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
        while (cs_disasm_iter(h, &code, &size, &off, insn)) {
          if (insn->id == X86_INS_RDTSC || insn->id == X86_INS_RDTSCP) {
            sites.push_back({insn->address, static_cast<uint8_t>(insn->size)});
          }
        }
      }
      cs_free(insn, 1);
      cs_close(&h);
    }
  }
  return sites;
}

std::vector<PatchSite> RdtscPatcher::patch_mapping(const AddressSpace& mem, const std::string& path,
                                                   uint64_t offset, uint64_t length,
                                                   uint64_t addr) {
  std::vector<PatchSite> out;
  for (const FileSite& s : sites_of(path)) {
    if (s.offset >= offset && s.offset + s.length <= offset + length) {
      out.push_back({addr + (s.offset - offset), s.length});
    }
  }
  apply(mem, out);
  return out;
}

std::vector<PatchSite> RdtscPatcher::patch_all_mappings(const AddressSpace& mem) {
  std::vector<PatchSite> out;
  for (const ProcMapping& m : read_proc_maps(mem.pid())) {
    if (!m.executable() || !m.is_file()) continue;
    auto sites = patch_mapping(mem, m.path, m.offset, m.end - m.start, m.start);
    out.insert(out.end(), sites.begin(), sites.end());
  }
  return out;
}

void RdtscPatcher::apply(const AddressSpace& mem, const std::vector<PatchSite>& sites) {
  const uint8_t int3 = 0xcc;
  for (const PatchSite& s : sites) {
    mem.write_or_throw(s.addr, &int3, 1);
    active_[s.addr] = s;
  }
}

const PatchSite* RdtscPatcher::site_at(uint64_t addr) const {
  auto it = active_.find(addr);
  return it == active_.end() ? nullptr : &it->second;
}

}  // namespace backstep
