#include "hunt/seed_search.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <map>

#include "base/errors.h"
#include "base/interrupt.h"
#include "trace/trace_dir.h"

namespace backstep::hunt {
namespace fs = std::filesystem;

Shard Shard::parse(const std::string& text) {
  Shard s;
  auto slash = text.find('/');
  auto number = [&](std::string_view v, uint64_t& out) {
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    return ec == std::errc() && p == v.data() + v.size() && !v.empty();
  };
  std::string_view all(text);
  if (slash == std::string::npos || !number(all.substr(0, slash), s.k) ||
      !number(all.substr(slash + 1), s.m) || s.m == 0 || s.k < 1 || s.k > s.m) {
    throw Error("--shard " + text + ": expected K/M with 1 <= K <= M (e.g. 3/8)");
  }
  return s;
}

uint64_t Shard::seed(uint64_t start, uint64_t i) const {
  uint64_t first = start + (k - 1 + m - start % m) % m;  // smallest s >= start, s % m == k - 1
  return first + i * m;
}

namespace {

void remove_run(const fs::path& trace) {
  std::error_code ec;
  fs::remove_all(trace, ec);
  fs::remove(fs::path(trace.string() + ".log"), ec);
}

}  // namespace

SeedSearchResult SeedSearch::run() {
  const auto start = std::chrono::steady_clock::now();
  fs::create_directories(options_.work_dir);
  SeedSearchResult result;
  struct InFlight {
    uint64_t seed;
    fs::path trace;
    RecordingJob job;
  };
  std::map<uint64_t, InFlight> in_flight;  // by index in this shard's seed sequence
  std::optional<uint64_t> best;            // index of the lowest failure so far
  uint64_t next = 0;
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  auto last_progress = std::chrono::steady_clock::now();

  for (;;) {
    check_interrupt();
    // Launch in seed order, never past the lowest failure found.
    while (in_flight.size() < std::max(1u, options_.jobs) &&
           (!options_.runs || next < *options_.runs) && (!best || next < *best)) {
      uint64_t seed = options_.shard.seed(options_.seed_start, next);
      fs::path trace = options_.work_dir / ("seed-" + std::to_string(seed));
      remove_run(trace);
      trace::TraceDir::create_new(trace);
      recorder::RecordOptions ro;
      ro.program = options_.program;
      ro.trace_dir = trace;
      ro.scheduler.chaos = true;
      ro.scheduler.seed = seed;
      // Parallel recordings bound to the CPU each starts on could share one.
      ro.cpu_unbound = options_.jobs > 1;
      in_flight.emplace(
          next, InFlight{seed, trace,
                         RecordingJob(ro, fs::path(trace.string() + ".log"), options_.timeout)});
      ++next;
    }
    if (in_flight.empty()) break;

    // Wait for any run to end, or the nearest deadline, or a progress tick.
    std::vector<pollfd> fds;
    auto wake = std::chrono::steady_clock::now() + std::chrono::milliseconds(250);
    for (auto& [i, r] : in_flight) {
      fds.push_back({r.job.pidfd(), POLLIN, 0});
      wake = std::min(wake, r.job.deadline());
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        wake - std::chrono::steady_clock::now());
    ::poll(fds.data(), fds.size(), static_cast<int>(std::clamp<int64_t>(ms.count(), 0, 250)));

    for (auto it = in_flight.begin(); it != in_flight.end();) {
      std::optional<RunOutcome> o = it->second.job.poll();
      if (!o) {
        ++it;
        continue;
      }
      uint64_t index = it->first;
      InFlight& r = it->second;
      if (!o->timed_out) ++result.runs;
      if (o->timed_out) result.hangs.push_back(r.seed);
      if (!o->error.empty()) {
        // The recorder itself failed (cannot start the program, disk full):
        // every other seed would fail the same way.
        remove_run(r.trace);
        throw Error("hunt: seed " + std::to_string(r.seed) + ": " + o->error);
      }
      if (is_failure(*o, options_.until) && (!best || index < *best)) {
        if (result.failure) remove_run(result.failure->trace);
        result.failure = SeedRun{r.seed, *o, r.trace};
        best = index;
      } else {
        remove_run(r.trace);
      }
      it = in_flight.erase(it);
    }
    // Runs past the lowest failure cannot change the answer: stop them.
    if (best) {
      for (auto it = in_flight.upper_bound(*best); it != in_flight.end();) {
        fs::path trace = it->second.trace;
        it = in_flight.erase(it);  // the job's destructor kills it
        remove_run(trace);
      }
    }
    if (progress_ &&
        std::chrono::steady_clock::now() - last_progress > std::chrono::milliseconds(200)) {
      last_progress = std::chrono::steady_clock::now();
      progress_({result.runs, elapsed()});
    }
  }
  std::sort(result.hangs.begin(), result.hangs.end());
  result.seconds = elapsed();
  return result;
}

}  // namespace backstep::hunt
