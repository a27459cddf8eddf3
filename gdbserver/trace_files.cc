#include "gdbserver/trace_files.h"

#include <elf.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <link.h>
#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <vector>

#include "gdbserver/rsp_connection.h"
#include "trace/trace_writer.h"

namespace backstep::gdbserver {
namespace {

// gdb's File-I/O errno values (the remote protocol's, not Linux's).
constexpr int kEnoent = 2;
constexpr int kEio = 5;
constexpr int kEbadf = 9;
constexpr int kEacces = 13;
constexpr int kEinval = 22;
constexpr int kErofs = 30;

// gdb's File-I/O open flags that ask for more than reading.
constexpr uint64_t kWriteFlags = 0x1 | 0x2 | 0x8 | 0x200 | 0x400 | 0x800;

// A pread reply's data must fit a 16 KiB packet once escaped (each byte at
// most two).
constexpr uint64_t kMaxPread = 8000;

std::string error_reply(int fileio_errno) { return fmt::format("F-1,{:x}", fileio_errno); }

// "a,b,c" after the packet's name: hex fields.
std::vector<std::string_view> fields(std::string_view args) {
  std::vector<std::string_view> out;
  while (true) {
    size_t comma = args.find(',');
    out.push_back(args.substr(0, comma));
    if (comma == std::string_view::npos) return out;
    args = args.substr(comma + 1);
  }
}

// gdb's `struct stat` for vFile:fstat: fixed sizes, big-endian.
std::string fileio_stat(const struct stat& st) {
  std::string out;
  auto put = [&out](uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  put(st.st_dev, 4);
  put(st.st_ino, 4);
  put(st.st_mode, 4);
  put(st.st_nlink, 4);
  put(st.st_uid, 4);
  put(st.st_gid, 4);
  put(st.st_rdev, 4);
  put(static_cast<uint64_t>(st.st_size), 8);
  put(static_cast<uint64_t>(st.st_blksize), 8);
  put(static_cast<uint64_t>(st.st_blocks), 8);
  put(static_cast<uint64_t>(st.st_atime), 4);
  put(static_cast<uint64_t>(st.st_mtime), 4);
  put(static_cast<uint64_t>(st.st_ctime), 4);
  return out;
}

std::string xml_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// The PT_INTERP of an ELF file, "" when it has none or cannot be read.
std::string interpreter_of(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  Elf64_Ehdr eh{};
  if (!in.read(reinterpret_cast<char*>(&eh), sizeof eh) ||
      std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64) {
    return "";
  }
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph{};
    in.seekg(static_cast<std::streamoff>(eh.e_phoff + i * eh.e_phentsize));
    if (!in.read(reinterpret_cast<char*>(&ph), sizeof ph)) return "";
    if (ph.p_type != PT_INTERP || ph.p_filesz == 0 || ph.p_filesz > 4096) continue;
    std::string path(ph.p_filesz, '\0');
    in.seekg(static_cast<std::streamoff>(ph.p_offset));
    if (!in.read(path.data(), static_cast<std::streamsize>(path.size()))) return "";
    return path.substr(0, path.find('\0'));
  }
  return "";
}

std::optional<uint64_t> auxv_value(const std::vector<std::byte>& auxv, uint64_t type) {
  for (size_t at = 0; at + 16 <= auxv.size(); at += 16) {
    uint64_t entry[2];
    std::memcpy(entry, auxv.data() + at, sizeof entry);
    if (entry[0] == AT_NULL) break;
    if (entry[0] == type) return entry[1];
  }
  return std::nullopt;
}

template <class T>
bool read_value(const MemoryReader& memory, uint64_t addr, T& out) {
  return memory(addr, &out, sizeof out);
}

// A NUL-terminated string of the program's, up to 4 KiB.
std::string read_string(const MemoryReader& memory, uint64_t addr) {
  std::string out;
  char c = 0;
  while (out.size() < 4096 && memory(addr + out.size(), &c, 1) && c != '\0') out += c;
  return out;
}

}  // namespace

TraceFiles::TraceFiles(const trace::Trace& trace) : trace_(trace) {
  for (const auto& e : trace_.events()) {
    const auto* f = std::get_if<trace::FileMap>(&e);
    if (!f || f->path != trace_.header().exe || f->content.empty()) continue;
    interpreter_ = interpreter_of(trace_.file_copy(f->content));
    if (!interpreter_.empty()) break;
  }
}

const trace::FileMap* TraceFiles::mapping_at(uint64_t addr, uint64_t next_record) const {
  const trace::FileMap* found = nullptr;
  const auto& events = trace_.events();
  for (uint64_t i = 0; i < events.size() && i < next_record; ++i) {
    const auto* f = std::get_if<trace::FileMap>(&events[i]);
    if (f && addr >= f->addr && addr - f->addr < f->length) found = f;
  }
  return found;
}

std::optional<std::filesystem::path> TraceFiles::copy_of(std::string_view path) const {
  auto existing = [this](const std::string& content) -> std::optional<std::filesystem::path> {
    if (content.empty()) return std::nullopt;
    std::filesystem::path copy = trace_.file_copy(content);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(copy, ec)) return std::nullopt;
    return copy;
  };
  for (const auto& e : trace_.events()) {
    const auto* f = std::get_if<trace::FileMap>(&e);
    if (f && f->path == path) {
      if (auto copy = existing(f->content)) return copy;
    }
  }
  if (auto it = loader_names_.find(path); it != loader_names_.end()) {
    if (auto copy = existing(it->second)) return copy;
  }
  if (!interpreter_.empty() && path == interpreter_) {
    if (auto base = auxv_value(trace_.exec().auxv, AT_BASE)) {
      if (const trace::FileMap* f = mapping_at(*base, trace_.events().size())) {
        if (auto copy = existing(f->content)) return copy;
      }
    }
  }
  for (const auto& e : trace_.events()) {
    const auto* f = std::get_if<trace::FileMap>(&e);
    if (!f || f->content.empty()) continue;
    if (std::filesystem::absolute(trace_.file_copy(f->content)).string() == path) {
      return existing(f->content);
    }
  }
  return std::nullopt;
}

std::string TraceFiles::libraries_svr4(const MemoryReader& memory, uint64_t next_record) {
  const std::string empty = "<library-list-svr4 version=\"1.0\"/>";
  // The program's dynamic section, from its program headers in memory.
  auto phdr = auxv_value(trace_.exec().auxv, AT_PHDR);
  auto phnum = auxv_value(trace_.exec().auxv, AT_PHNUM);
  if (!phdr || !phnum || *phnum > 256) return empty;
  std::optional<uint64_t> bias, dynamic;
  for (uint64_t i = 0; i < *phnum; ++i) {
    Elf64_Phdr ph{};
    if (!read_value(memory, *phdr + i * sizeof ph, ph)) return empty;
    if (ph.p_type == PT_PHDR) bias = *phdr - ph.p_vaddr;
    if (ph.p_type == PT_DYNAMIC) dynamic = ph.p_vaddr;
  }
  if (!bias || !dynamic) return empty;  // static: no link map
  uint64_t r_debug = 0;
  for (uint64_t at = *bias + *dynamic, n = 0; n < 1024; at += sizeof(Elf64_Dyn), ++n) {
    Elf64_Dyn d{};
    if (!read_value(memory, at, d) || d.d_tag == DT_NULL) break;
    if (d.d_tag == DT_DEBUG) r_debug = d.d_un.d_val;
  }
  uint64_t lm = 0;
  if (!r_debug || !read_value(memory, r_debug + offsetof(struct r_debug, r_map), lm) || !lm) {
    return empty;  // the dynamic loader has not set r_debug up yet
  }
  // link_map: l_addr, l_name, l_ld, l_next, l_prev (the public part).
  std::string doc = fmt::format("<library-list-svr4 version=\"1.0\" main-lm=\"{:#x}\">", lm);
  uint64_t prev = 0;
  for (int n = 0; lm && n < 4096; ++n) {
    uint64_t entry[5];
    if (!read_value(memory, lm, entry) || entry[4] != prev) break;
    if (prev) {  // the first entry is the program itself
      std::string name = read_string(memory, entry[1]);
      if (!name.empty()) {
        if (const trace::FileMap* f = mapping_at(entry[2], next_record)) {
          loader_names_[name] = f->content;
        }
        doc += fmt::format(
            "<library name=\"{}\" lm=\"{:#x}\" l_addr=\"{:#x}\" l_ld=\"{:#x}\" lmid=\"0x0\"/>",
            xml_escape(name), lm, entry[0], entry[2]);
      }
    }
    prev = lm;
    lm = entry[3];
  }
  return doc + "</library-list-svr4>";
}

std::string TraceFiles::handle_vfile(std::string_view packet) {
  std::string_view rest = packet.substr(std::string_view("vFile:").size());
  size_t colon = rest.find(':');
  if (colon == std::string_view::npos) return "";
  std::string_view op = rest.substr(0, colon);
  std::vector<std::string_view> args = fields(rest.substr(colon + 1));

  auto open_file = [&](std::string_view hex_name) -> std::optional<std::filesystem::path> {
    std::string name;
    if (!from_hex(hex_name, name)) return std::nullopt;
    return copy_of(name);
  };
  auto fd_arg = [&]() -> std::map<int, UniqueFd>::iterator {
    auto fd = parse_hex(args[0]);
    return fd && *fd < 1u << 30 ? open_.find(static_cast<int>(*fd)) : open_.end();
  };

  if (op == "setfs") return "F0";  // one process, one file system: the trace's
  if (op == "open") {
    if (args.size() != 3) return error_reply(kEinval);
    auto flags = parse_hex(args[1]);
    if (!flags) return error_reply(kEinval);
    if (*flags & kWriteFlags) return error_reply(kErofs);
    auto copy = open_file(args[0]);
    if (!copy) return error_reply(kEnoent);
    UniqueFd fd(::open(copy->c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return error_reply(kEacces);
    int id = next_fd_++;
    open_.emplace(id, std::move(fd));
    return fmt::format("F{:x}", id);
  }
  if (op == "pread") {
    if (args.size() != 3) return error_reply(kEinval);
    auto it = fd_arg();
    auto count = parse_hex(args[1]);
    auto offset = parse_hex(args[2]);
    if (it == open_.end()) return error_reply(kEbadf);
    if (!count || !offset) return error_reply(kEinval);
    std::string data(std::min(*count, kMaxPread), '\0');
    ssize_t n = ::pread(it->second.get(), data.data(), data.size(), static_cast<off_t>(*offset));
    if (n < 0) return error_reply(kEio);
    data.resize(static_cast<size_t>(n));
    return fmt::format("F{:x};", n) + data;
  }
  if (op == "fstat" || op == "stat") {
    struct stat st {};
    if (op == "fstat") {
      auto it = fd_arg();
      if (it == open_.end()) return error_reply(kEbadf);
      if (::fstat(it->second.get(), &st) != 0) return error_reply(kEio);
    } else {
      auto copy = open_file(args[0]);
      if (!copy) return error_reply(kEnoent);
      if (::stat(copy->c_str(), &st) != 0) return error_reply(kEio);
    }
    std::string bytes = fileio_stat(st);
    return fmt::format("F{:x};", bytes.size()) + bytes;
  }
  if (op == "close") {
    auto it = fd_arg();
    if (it == open_.end()) return error_reply(kEbadf);
    open_.erase(it);
    return "F0";
  }
  if (op == "pwrite" || op == "unlink") return error_reply(kErofs);
  return "";  // readlink and the rest: not supported
}

bool recorded_files_are_local(const trace::Trace& trace) {
  for (const auto& e : trace.events()) {
    const auto* f = std::get_if<trace::FileMap>(&e);
    if (!f || f->content.empty() || f->path == trace.header().exe) continue;
    try {
      if (trace::hash_file(f->path) != f->content) return false;
    } catch (const std::exception&) {
      return false;
    }
  }
  return true;
}

}  // namespace backstep::gdbserver
