// Helpers for the end-to-end tests: run the real `backstep` binary (and test
// programs) as child processes with a hard timeout, in throw-away temporary
// directories.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace e2e {

namespace fs = std::filesystem;

// How long any single child may run before it is killed and the test fails.
inline constexpr std::chrono::seconds kChildTimeout{120};

struct RunResult {
  bool exited = false;  // exited normally (else killed by a signal)
  int code = -1;        // exit code, or the signal number
  bool timed_out = false;
  std::string out;  // stdout
  std::string err;  // stderr
  double seconds = 0;

  // The status a shell would report: code, or 128 + signal.
  int shell_status() const { return exited ? code : 128 + code; }
  // For assertion messages.
  std::string describe() const;
};

struct RunOptions {
  std::map<std::string, std::string> env;  // set on top of the test's environment
  std::optional<fs::path> cwd;
  std::chrono::seconds timeout = kChildTimeout;
  // Give the child a pseudo-terminal (raw: no "\r\n") as its stdout and/or
  // stderr instead of a pipe, for what backstep does only on a terminal
  // (colours, progress lines). With both, everything lands in `out`.
  bool stdout_terminal = false;
  bool stderr_terminal = false;
};

// Runs argv[0] (a path) with argv; never hangs longer than the timeout. A
// timeout kills the child's whole process group and records a test failure.
RunResult run(const std::vector<std::string>& argv, const RunOptions& options = {});

// A fresh directory under /tmp (mkdtemp), removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

// Runs `backstep ARGS...` with XDG_DATA_HOME pointing into `xdg_home` (so
// nothing ever lands in the user's real trace directory).
RunResult backstep(const std::vector<std::string>& args, const fs::path& xdg_home,
                   const RunOptions& options = {});

std::string read_file(const fs::path& p);
void write_file(const fs::path& p, const std::string& content);
std::vector<std::string> lines(const std::string& text);
bool contains(const std::string& haystack, const std::string& needle);

// A recording made by a test, in a temporary directory of its own.
struct Recording {
  std::unique_ptr<TempDir> dir;
  fs::path trace;  // empty when no seed made the program fail
  int seed = 0;
  int status = 0;  // shell status of `backstep record`
};

// Records `program rounds` under the chaos scheduler with seeds 1..max_seed
// until the program fails (exits non-zero); a test failure if none does.
Recording record_failing(const std::string& program, const std::string& rounds, int max_seed);

// `backstep dump --json TRACE`, one parsed object per line.
std::vector<nlohmann::json> dump_json(const fs::path& trace, const fs::path& xdg_home);

}  // namespace e2e
