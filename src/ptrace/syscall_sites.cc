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
#include <set>
#include <vector>

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
                               : home               ? std::filesystem::path(home) / ".cache"
                                                    : std::filesystem::path();
  if (root.empty()) return {};
  std::string identity = fmt::format("{}:{}:{}:{}:{}.{}", path, st.st_dev, st.st_ino, st.st_size,
                                     st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  return root / "backstep" / "syscall-sites" /
         fmt::format("{:016x}", std::hash<std::string>{}(identity));
}

constexpr const char* kCacheMagic = "backstep-syscall-sites-2";

bool writes_rax(csh h, const cs_insn* insn) {
  cs_regs read{}, written{};
  uint8_t nread = 0, nwritten = 0;
  if (cs_regs_access(h, insn, read, &nread, written, &nwritten) != CS_ERR_OK) return true;
  for (uint8_t i = 0; i < nwritten; ++i) {
    switch (written[i]) {
      case X86_REG_RAX:
      case X86_REG_EAX:
      case X86_REG_AX:
      case X86_REG_AL:
      case X86_REG_AH:
      case X86_REG_RSP:
      case X86_REG_RIP:
        return true;
      default:
        break;
    }
  }
  return false;
}

}  // namespace

std::optional<SyscallSite> SyscallSites::at(const std::string& path, uint64_t offset) {
  const Sites& sites = sites_of(path);
  auto it = sites.find(offset);
  if (it == sites.end()) return std::nullopt;
  return it->second;
}

const SyscallSites::Sites& SyscallSites::sites_of(const std::string& path) {
  auto it = by_file_.find(path);
  if (it != by_file_.end()) return it->second;
  std::filesystem::path cached = cache_path(path);
  if (!cached.empty()) {
    std::ifstream in(cached);
    std::string magic;
    if (in >> magic && magic == kCacheMagic) {
      Sites sites;
      uint64_t offset = 0;
      unsigned kind = 0;
      uint32_t nr = 0;
      while (in >> offset >> kind >> nr) {
        sites[offset] = SyscallSite{static_cast<SyscallSite::Kind>(kind), nr};
      }
      return by_file_.emplace(path, std::move(sites)).first->second;
    }
  }
  Sites sites = sweep(path);
  if (!cached.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(cached.parent_path(), ec);
    std::filesystem::path tmp = cached;
    tmp += fmt::format(".{}", ::getpid());
    {
      std::ofstream out(tmp);
      out << kCacheMagic << '\n';
      for (const auto& [offset, site] : sites) {
        out << offset << ' ' << unsigned{site.kind} << ' ' << site.nr << '\n';
      }
    }
    std::filesystem::rename(tmp, cached, ec);
  }
  return by_file_.emplace(path, std::move(sites)).first->second;
}

SyscallSites::Sites SyscallSites::sweep(const std::string& path) {
  Sites sites;
  FileView file(path);
  const uint8_t* p = file.data();
  if (!p || file.size() < sizeof(Elf64_Ehdr) || std::memcmp(p, ELFMAG, SELFMAG) != 0) return sites;
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(p);
  csh h = 0;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK) return sites;
  cs_option(h, CS_OPT_SKIPDATA, CS_OPT_ON);
  cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
  cs_insn* insn = cs_malloc(h);
  std::set<uint64_t> targets;  // direct branch targets: the cmp of a kCmpAfter site must not be one
  std::vector<std::pair<uint64_t, SyscallSite>> cmp_after;  // candidates, checked at the end
  for (int i = 0; i < eh->e_phnum; ++i) {
    uint64_t ph_at = eh->e_phoff + static_cast<uint64_t>(i) * sizeof(Elf64_Phdr);
    if (ph_at + sizeof(Elf64_Phdr) > file.size()) break;
    const auto* ph = reinterpret_cast<const Elf64_Phdr*>(p + ph_at);
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
    if (ph->p_offset + ph->p_filesz > file.size()) continue;
    const uint8_t* code = p + ph->p_offset;
    size_t size = ph->p_filesz;
    uint64_t off = ph->p_offset;
    // The two instructions before this one: what they were, whether they
    // set eax to a constant, whether they leave rax alone.
    struct Prev {
      uint64_t at = UINT64_MAX;
      uint8_t size = 0;
      std::optional<uint32_t> sets_eax;
      bool keeps_rax = false;
    } prev1, prev2;
    std::optional<std::pair<uint64_t, uint32_t>> pending;  // a syscall whose cmp may follow
    while (cs_disasm_iter(h, &code, &size, &off, insn)) {
      const uint8_t* b = insn->bytes;
      if (cs_insn_group(h, insn, CS_GRP_JUMP) || cs_insn_group(h, insn, CS_GRP_CALL)) {
        const cs_x86& x = insn->detail->x86;
        if (x.op_count == 1 && x.operands[0].type == X86_OP_IMM) {
          targets.insert(static_cast<uint64_t>(x.operands[0].imm));
        }
      }
      if (pending) {
        if (insn->size == 6 && b[0] == 0x48 && b[1] == 0x3d &&
            pending->first + 2 == insn->address) {
          cmp_after.push_back(
              {pending->first, SyscallSite{SyscallSite::kCmpAfter, pending->second}});
        }
        pending.reset();
      }
      bool is_syscall = insn->size == 2 && b[0] == 0x0f && b[1] == 0x05;
      if (is_syscall) {
        if (prev1.size == 5 && prev1.at + 5 == insn->address && prev1.sets_eax &&
            p[prev1.at] == 0xb8) {
          sites[insn->address] = SyscallSite{SyscallSite::kMovBefore, *prev1.sets_eax};
        } else if (prev1.at + prev1.size == insn->address) {
          std::optional<uint32_t> nr = prev1.sets_eax;
          if (!nr && prev1.keeps_rax && prev2.at + prev2.size == prev1.at) nr = prev2.sets_eax;
          if (nr) pending = std::pair(insn->address, *nr);
        }
      }
      Prev now;
      now.at = insn->address;
      now.size = static_cast<uint8_t>(insn->size);
      if (insn->size == 5 && b[0] == 0xb8) {
        uint32_t imm = 0;
        std::memcpy(&imm, b + 1, 4);
        now.sets_eax = imm;
      } else if (insn->size == 2 && (b[0] == 0x31 || b[0] == 0x33) && b[1] == 0xc0) {
        now.sets_eax = 0;  // xor %eax,%eax
      }
      now.keeps_rax = !is_syscall && !cs_insn_group(h, insn, CS_GRP_JUMP) &&
                      !cs_insn_group(h, insn, CS_GRP_CALL) && !cs_insn_group(h, insn, CS_GRP_RET) &&
                      !writes_rax(h, insn);
      prev2 = prev1;
      prev1 = now;
    }
  }
  for (const auto& [at, site] : cmp_after) {
    bool targeted = false;
    for (uint64_t a = at + 2; a < at + 8; ++a) targeted |= targets.count(a) > 0;
    if (!targeted && !sites.count(at)) sites[at] = site;
  }
  cs_free(insn, 1);
  cs_close(&h);
  return sites;
}

}  // namespace backstep
