// `backstep hunt`: records a program under --chaos with successive seeds,
// several at a time, until one fails. The answer does not depend on how many
// run at a time: the reported seed is the lowest failing one, since a
// failure is only concluded once every lower seed has finished.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <vector>

#include "hunt/failure.h"
#include "hunt/recording_job.h"
#include "ptrace/inferior.h"

namespace backstep::hunt {

// `--shard K/M`: the seeds s with s % M == K - 1 (K counts from 1), so that
// M machines given K = 1..M share out the seed space without overlap.
struct Shard {
  uint64_t k = 1;
  uint64_t m = 1;
  // Parses "K/M"; throws Error for anything else (K outside 1..M, M = 0).
  static Shard parse(const std::string& text);
  // The i-th seed of this shard at or after `start`.
  uint64_t seed(uint64_t start, uint64_t i) const;
};

struct SeedSearchOptions {
  LaunchSpec program;
  uint64_t seed_start = 0;
  unsigned jobs = 1;                 // recordings at a time
  std::optional<uint64_t> runs;      // at most this many seeds (of this shard)
  std::chrono::seconds timeout{60};  // per run
  Until until = Until::kFail;
  Shard shard;
  std::filesystem::path work_dir;  // where runs are recorded (runs-<pid> made inside)
};

struct SeedRun {
  uint64_t seed = 0;
  RunOutcome outcome;
  std::filesystem::path trace;  // kept; the log of its output is trace + ".log"
};

struct SeedSearchResult {
  std::optional<SeedRun> failure;   // the lowest failing seed, if any
  uint64_t runs = 0;                // seeds recorded to the end (killed ones excluded)
  std::vector<uint64_t> hangs;      // seeds killed by --timeout (not failures unless --until hang)
  std::vector<std::string> errors;  // recordings that could not be made
  double seconds = 0;
};

struct SearchProgress {
  uint64_t runs = 0;
  double seconds = 0;
};

class SeedSearch {
 public:
  explicit SeedSearch(SeedSearchOptions options) : options_(std::move(options)) {}
  // Called now and then from the search loop (for a progress line).
  void on_progress(std::function<void(const SearchProgress&)> f) { progress_ = std::move(f); }
  SeedSearchResult run();

 private:
  SeedSearchOptions options_;
  std::function<void(const SearchProgress&)> progress_;
};

}  // namespace backstep::hunt
