#include "symbols/modules.h"

#include <fmt/format.h>

#include <charconv>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <system_error>

#include "trace/file_copy.h"
#include "trace/trace_writer.h"

namespace backstep::symbols {
namespace {

bool parse_hex(std::string_view s, uint64_t& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 16);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

std::vector<Module> modules_from_proc_maps(pid_t pid) {
  std::ifstream maps(fmt::format("/proc/{}/maps", pid));
  std::map<std::string, uint64_t> lowest;  // path -> start, sorted for a stable order
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream in(line);
    std::string range, perms, offset, dev, inode, path;
    in >> range >> perms >> offset >> dev >> inode;
    std::getline(in >> std::ws, path);  // paths may contain spaces
    const size_t dash = range.find('-');
    uint64_t start = 0, off = 0;
    if (path.empty() || path[0] != '/' || dash == std::string::npos ||
        !parse_hex(std::string_view(range).substr(0, dash), start) || !parse_hex(offset, off) ||
        off != 0) {
      continue;
    }
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) continue;  // also "... (deleted)"
    auto [it, inserted] = lowest.try_emplace(path, start);
    if (!inserted && start < it->second) it->second = start;
  }
  std::vector<Module> out;
  for (const auto& [path, start] : lowest) out.push_back(Module{path, path, start});
  return out;
}

std::vector<Module> modules_from_file_maps(const std::vector<trace::FileMap>& maps,
                                           const std::filesystem::path& files_dir) {
  struct Entry {
    Module module;
    uint64_t end;
  };
  std::vector<Entry> live;
  for (const trace::FileMap& f : maps) {
    if (f.offset != 0 || f.length == 0) continue;
    const uint64_t end = f.addr + f.length;
    // The same file again at the same place (exec's maps list a file once
    // per segment, the loader maps some twice): nothing new.
    bool same = false;
    std::erase_if(live, [&](const Entry& e) {
      if (e.module.start == f.addr && e.module.name == f.path) {
        same = true;
        return false;
      }
      return f.addr < e.end && e.module.start < end;
    });
    if (same) continue;
    std::string path = f.path;
    std::error_code ec;
    if (!f.content.empty() && std::filesystem::exists(files_dir / f.content, ec)) {
      // Symbols and line numbers from a damaged copy would be wrong silently.
      trace::verify_file_copy(files_dir / f.content, f.path);
      path = (files_dir / f.content).string();
    }
    live.push_back(Entry{Module{std::move(path), f.path, f.addr}, end});
  }
  std::vector<Module> out;
  out.reserve(live.size());
  for (Entry& e : live) out.push_back(std::move(e.module));
  return out;
}

std::vector<Module> modules_from_trace(const trace::Trace& trace) {
  std::vector<trace::FileMap> maps;
  for (const auto& e : trace.events()) {
    if (const auto* f = std::get_if<trace::FileMap>(&e)) maps.push_back(*f);
  }
  return modules_from_file_maps(maps, trace.dir() / trace::kFilesDir);
}

}  // namespace backstep::symbols
