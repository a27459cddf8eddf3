#include "trace/trace_dir.h"

#include <fmt/format.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <string>
#include <system_error>
#include <vector>

#include "trace/error.h"
#include "trace/io.h"

namespace backstep::trace {
namespace fs = std::filesystem;
namespace {

[[noreturn]] void fail_errno(std::string_view what, const fs::path& p, int err) {
  throw TraceError(fmt::format("{} {}: {}", what, p.string(), detail::errno_text(err)));
}

// mkdir -p, giving directories we create mode 0700. Existing directories
// keep their mode: they are the user's.
void make_dirs_0700(const fs::path& p) {
  if (::mkdir(p.c_str(), 0700) == 0) return;
  int err = errno;
  if (err == ENOENT && p.has_relative_path() && p.parent_path() != p) {
    make_dirs_0700(p.parent_path());
    if (::mkdir(p.c_str(), 0700) == 0) return;
    err = errno;
  }
  if (err == EEXIST) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) return;
    throw TraceError(
        fmt::format("cannot create directory {}: it exists and is not a directory", p.string()));
  }
  fail_errno("cannot create directory", p, err);
}

fs::path home_dir() {
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') return home;
  // No $HOME (a service, a stripped environment): ask the password database.
  long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(size > 0 ? static_cast<size_t>(size) : 16384);
  passwd pw{};
  passwd* result = nullptr;
  if (::getpwuid_r(::getuid(), &pw, buf.data(), buf.size(), &result) == 0 && result != nullptr &&
      result->pw_dir != nullptr && *result->pw_dir != '\0') {
    return result->pw_dir;
  }
  throw TraceError(
      "cannot find the default trace directory: neither $XDG_DATA_HOME nor $HOME is "
      "set and the user has no home directory");
}

// The last path component of the program, made usable as a file name.
std::string trace_base_name(std::string_view program) {
  if (const auto slash = program.rfind('/'); slash != std::string_view::npos) {
    program.remove_prefix(slash + 1);
  }
  std::string name(program.substr(0, 200));  // leave room for "-<n>" in NAME_MAX
  std::erase(name, '\0');
  if (name.empty() || name == "." || name == ".." || name == TraceDir::kLatestLink) {
    name = "trace";
  }
  return name;
}

// n if `entry` is "<base>-<n>", else -1.
long long trace_number(std::string_view entry, std::string_view base) {
  if (entry.size() <= base.size() + 1 || !entry.starts_with(base) || entry[base.size()] != '-') {
    return -1;
  }
  const std::string_view digits = entry.substr(base.size() + 1);
  long long n = -1;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc{} || end != digits.data() + digits.size() || n < 0) return -1;
  return n;
}

// Points <root>/latest-trace at `target` (a name relative to the root, so
// the whole root can be moved). symlink() to a temporary name and rename()
// over the link, so readers never see the link missing or half-made.
void update_latest_link(const fs::path& root, const std::string& target) {
  static std::atomic<unsigned> counter{0};
  const fs::path link = root / TraceDir::kLatestLink;
  for (int attempt = 0;; ++attempt) {
    const fs::path tmp = root / fmt::format(".{}.tmp.{}.{}", TraceDir::kLatestLink, ::getpid(),
                                            counter.fetch_add(1));
    if (::symlink(target.c_str(), tmp.c_str()) != 0) {
      // A stale temporary from a crashed run that had the same pid: try
      // another name.
      if (errno == EEXIST && attempt < 100) continue;
      fail_errno("cannot create symlink", tmp, errno);
    }
    if (::rename(tmp.c_str(), link.c_str()) != 0) {
      const int err = errno;
      ::unlink(tmp.c_str());
      fail_errno("cannot update", link, err);
    }
    return;
  }
}

}  // namespace

fs::path TraceDir::default_root() {
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg != nullptr && xdg[0] == '/') {
    return fs::path(xdg) / "backstep";
  }
  return home_dir() / ".local" / "share" / "backstep";
}

TraceDir TraceDir::create_new(const fs::path& dir) {
  if (dir.has_parent_path()) make_dirs_0700(dir.parent_path());
  if (::mkdir(dir.c_str(), 0700) == 0) return TraceDir(dir);
  if (const int err = errno; err != EEXIST) fail_errno("cannot create trace directory", dir, err);

  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw TraceError(
        fmt::format("cannot use {} as a trace directory: it is not a directory", dir.string()));
  }
  if (!fs::is_empty(dir, ec) || ec) {
    throw TraceError(
        fmt::format("trace directory {} already exists and is not empty", dir.string()));
  }
  // An empty directory the user made for us: tighten it, since the trace
  // will hold the program's memory.
  if (::chmod(dir.c_str(), 0700) != 0) fail_errno("cannot set mode 0700 on", dir, errno);
  return TraceDir(dir);
}

TraceDir TraceDir::choose_default(std::string_view program_name) {
  const fs::path root = default_root();
  make_dirs_0700(root);
  const std::string base = trace_base_name(program_name);

  long long next = 0;
  std::error_code ec;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const long long n = trace_number(it->path().filename().native(), base);
    if (n >= next) next = n + 1;
  }
  if (ec) fail_errno("cannot list", root, ec.value());

  // mkdir is the arbiter between concurrent recorders: whoever creates
  // <base>-<n> owns it, the other moves on to n+1.
  for (;; ++next) {
    const std::string name = fmt::format("{}-{}", base, next);
    const fs::path dir = root / name;
    if (::mkdir(dir.c_str(), 0700) == 0) {
      try {
        update_latest_link(root, name);
      } catch (...) {
        ::rmdir(dir.c_str());
        throw;
      }
      return TraceDir(dir);
    }
    if (errno != EEXIST) fail_errno("cannot create trace directory", dir, errno);
  }
}

TraceDir TraceDir::resolve(std::string_view arg) {
  std::error_code ec;
  if (arg.empty()) {
    const fs::path root = default_root();
    const fs::path link = root / kLatestLink;
    const fs::path target = fs::read_symlink(link, ec);
    if (ec) {
      throw TraceError(fmt::format("no latest trace: {} {}", link.string(),
                                   ec == std::errc::no_such_file_or_directory
                                       ? "does not exist (record a trace first)"
                                       : "is not a symlink"));
    }
    // Resolve the link now, so that a recording started meanwhile does not
    // change which trace a long replay is reading.
    const fs::path dir = target.is_absolute() ? target : root / target;
    if (!fs::is_directory(dir, ec)) {
      throw TraceError(fmt::format("no latest trace: {} points to {}, which is not a directory",
                                   link.string(), dir.string()));
    }
    return TraceDir(dir);
  }

  const bool bare_name = arg.find('/') == std::string_view::npos && arg != "." && arg != "..";
  if (bare_name) {
    const fs::path root = default_root();
    if (fs::path in_root = root / arg; fs::is_directory(in_root, ec)) return TraceDir(in_root);
    if (!fs::is_directory(fs::path(arg), ec)) {
      throw TraceError(
          fmt::format("no trace named {} in {} or the current directory", arg, root.string()));
    }
    return TraceDir(fs::path(arg));
  }
  const fs::path dir(arg);
  if (!fs::is_directory(dir, ec)) {
    throw TraceError(fmt::format("no trace directory at {}", dir.string()));
  }
  return TraceDir(dir);
}

}  // namespace backstep::trace
