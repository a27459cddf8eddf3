#include "replayer/executable_stand_in.h"

#include <fmt/core.h>

#include "base/errors.h"
#include "trace/trace_writer.h"

namespace backstep::replayer {
namespace {

namespace fs = std::filesystem;

// The recorded program is usable when it is still there with the recorded
// content, and so is the working directory it was started in.
bool recorded_program_usable(const trace::Header& h) {
  fs::path exe = fs::path(h.exe).is_absolute() ? fs::path(h.exe) : fs::path(h.cwd) / h.exe;
  std::error_code ec;
  if (!fs::is_directory(h.cwd, ec) || !fs::is_regular_file(exe, ec)) return false;
  try {
    return h.exe_sha.empty() || trace::hash_file(exe) == h.exe_sha;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

std::string ExecutableStandIn::path_of_length(size_t length, const std::string& name) {
  if (name.size() > length) return std::string(length, 'x');
  size_t pad = length - name.size();
  if (pad == 1) return "_" + name;  // a lone '/' would make the path absolute
  std::string out;
  while (pad > 0) {
    size_t part = std::min<size_t>(pad, 200);  // directory names stay short of NAME_MAX
    if (pad - part == 1) --part;
    out += std::string(part - 1, 'd') + "/";
    pad -= part;
  }
  return out + name;
}

ExecutableStandIn::ExecutableStandIn(const trace::Trace& trace) {
  const trace::Header& h = trace.header();
  if (recorded_program_usable(h)) return;
  fs::path copy = trace.file_copy(h.exe_sha);
  std::error_code ec;
  if (h.exe_sha.empty() || !fs::is_regular_file(copy, ec)) {
    throw Error(
        fmt::format("{} is not there as recorded and the trace holds no copy of it", h.exe));
  }
  dir_.emplace("backstep-exe");
  exe_ = path_of_length(h.exe.size(), fs::path(h.exe).filename().string());
  fs::path target = dir_->path() / exe_;
  fs::create_directories(target.parent_path());
  fs::copy_file(copy, target);
  fs::permissions(target, fs::perms::owner_all);
}

std::vector<std::string> kernel_loaded_files_that_differ(const trace::Trace& trace) {
  std::vector<std::string> out;
  for (const auto& e : trace.events()) {
    const auto* f = std::get_if<trace::FileMap>(&e);
    if (!f || f->tid != 0 || f->offset != 0 || f->path == trace.header().exe) continue;
    bool same = false;
    try {
      same = trace::hash_file(f->path) == f->content;
    } catch (const std::exception&) {
    }
    if (!same) out.push_back(f->path);
  }
  return out;
}

}  // namespace backstep::replayer
