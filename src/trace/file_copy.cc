#include "trace/file_copy.h"

#include <fmt/core.h>
#include <sys/stat.h>

#include <map>
#include <mutex>
#include <tuple>

#include "trace/error.h"
#include "trace/trace_writer.h"

namespace backstep::trace {
namespace {

bool is_content_name(const std::string& name) {
  if (name.size() != 32) return false;
  for (char c : name) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// What a stat says about a file: a copy replaced or touched is hashed again.
using Identity = std::tuple<std::string, dev_t, ino_t, off_t, int64_t>;

class VerifiedCopies {
 public:
  // The cached verdict for `id`, if any.
  const bool* find(const Identity& id) {
    std::lock_guard lock(mutex_);
    auto it = verdicts_.find(id);
    return it == verdicts_.end() ? nullptr : &it->second;
  }
  void insert(const Identity& id, bool matches) {
    std::lock_guard lock(mutex_);
    verdicts_.insert_or_assign(id, matches);
  }

 private:
  std::mutex mutex_;  // the gdb server's watcher thread may symbolize too
  std::map<Identity, bool> verdicts_;
};

VerifiedCopies& verified_copies() {
  static VerifiedCopies cache;
  return cache;
}

}  // namespace

void verify_file_copy(const std::filesystem::path& copy,
                      const std::function<std::string()>& original) {
  const std::string name = copy.filename().string();
  if (!is_content_name(name)) {
    throw TraceError(fmt::format("{}: the trace's copy of {} is not named by a content hash",
                                 copy.string(), original()));
  }
  struct stat st {};
  if (::stat(copy.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
  Identity id{copy.string(), st.st_dev, st.st_ino, st.st_size,
              st.st_mtim.tv_sec * 1000000000L + st.st_mtim.tv_nsec};
  const bool* known = verified_copies().find(id);
  bool matches = known ? *known : hash_file(copy) == name;
  if (!known) verified_copies().insert(id, matches);
  if (!matches) {
    throw TraceError(fmt::format(
        "{}: the trace's copy of {} does not match its content hash (the trace is damaged)",
        copy.string(), original()));
  }
}

}  // namespace backstep::trace
