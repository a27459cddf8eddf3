// `backstep hunt` (search chaos seeds until the program fails) and
// `backstep minimize` (shrink a failing schedule to its essential switches).
#include <fmt/core.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "base/errors.h"
#include "base/interrupt.h"
#include "cli/cli_support.h"
#include "cli/subcommand.h"
#include "hunt/schedule_minimizer.h"
#include "hunt/seed_search.h"
#include "ptrace/tick_section.h"
#include "trace/trace_dir.h"

namespace backstep::cli {
namespace {
namespace fs = std::filesystem;

// Exit statuses besides 0 and 1 (errors), for scripts and batch engines.
constexpr int kNoFailureFound = 2;  // hunt: nothing failed within --runs
constexpr int kVerifyFailed = 3;    // hunt --verify: a seed failed

struct HuntArgs {
  std::vector<std::string> command;
  std::string output;
  uint64_t seed_start = 0;
  unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
  std::optional<uint64_t> runs;
  std::optional<uint64_t> verify;
  unsigned timeout = 60;
  std::string until = "fail";
  std::string shard = "1/1";
  bool no_minimize = false;
  unsigned minimize_budget = 120;  // seconds
};

struct MinimizeArgs {
  std::string trace;
  std::string output;
  unsigned timeout = 60;
  std::optional<unsigned> budget;  // seconds; none: to the end
};

// Moves a finished trace (and its log) to `to`, which may be an empty
// directory made by TraceDir.
void move_trace(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  if (fs::is_directory(to) && fs::is_empty(to)) fs::remove(to);
  fs::rename(from, to);
  fs::path log(from.string() + ".log");
  if (fs::exists(log)) fs::rename(log, fs::path(to.string() + ".log"), ec);
}

std::string json_path(const fs::path& p) { return p.empty() ? "" : fs::absolute(p).string(); }

hunt::MinimizeResult minimize(const fs::path& trace, const fs::path& out, unsigned timeout,
                              std::optional<unsigned> budget) {
  hunt::MinimizeOptions mo;
  mo.trace = trace;
  mo.output = out;
  mo.timeout = std::chrono::seconds(timeout);
  if (budget) mo.budget = std::chrono::seconds(*budget);
  hunt::ScheduleMinimizer m(mo);
  ProgressLine progress;
  if (progress.enabled()) {
    m.on_progress([&progress](uint64_t n, size_t left) {
      progress.update([&] {
        double s = progress.seconds();
        return fmt::format(
            "minimize: {} recordings, trying {} switches, {:.1f} recordings/s, "
            "{:.1f} s",
            n, left, s > 0 ? n / s : 0.0, s);
      });
    });
  }
  hunt::MinimizeResult r = m.run();
  progress.finish();
  // The schedule, for the curious and for tools: which switches are left.
  nlohmann::json schedule = nlohmann::json::array();
  for (const auto& s : r.schedule) {
    schedule.push_back({{"from", s.from},
                        {"to", s.to},
                        {"ticks", s.ticks},
                        {"events", s.events},
                        {"syscalls", s.syscalls},
                        {"at_limit", s.at_limit},
                        {"at_event", s.at_event}});
  }
  std::ofstream(out / "forced-schedule.json") << schedule.dump(1) << "\n";
  return r;
}

void print_minimized(const hunt::MinimizeResult& r, std::optional<unsigned> budget) {
  fmt::print("minimized: {}\n", r.output.string());
  fmt::print("forced switches: {} -> {} ({} recordings, {:.1f} s)\n", r.original, r.remaining,
             r.candidates, r.seconds);
  if (r.budget_used_up) {
    fmt::print(
        "time budget of {} s used up: kept the smallest failing schedule found so far (it may "
        "shrink further: backstep minimize {} without a budget)\n",
        budget ? *budget : 0, r.output.string());
  }
  fmt::print("fails with: {}\n", r.failure.describe());
}

int run_hunt(const HuntArgs& a) {
  hunt::SeedSearchOptions o;
  o.program = launch_spec_from_command(a.command);
  o.seed_start = a.seed_start;
  o.jobs = a.jobs;
  o.runs = a.verify ? a.verify : a.runs;
  o.timeout = std::chrono::seconds(a.timeout);
  o.until = hunt::parse_until(a.until);
  o.shard = hunt::Shard::parse(a.shard);
  fs::path out_dir = a.output;
  if (!out_dir.empty()) {
    fs::create_directories(out_dir);
    o.work_dir = out_dir / fmt::format("runs-{}", ::getpid());
  } else {
    o.work_dir = trace::TraceDir::default_root() / fmt::format(".hunt-{}", ::getpid());
  }
  struct RemoveWorkDir {
    fs::path dir;
    ~RemoveWorkDir() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } remove_work_dir{o.work_dir};

  install_interrupt_handlers();
  hunt::SeedSearch search(o);
  ProgressLine progress;
  if (progress.enabled()) {
    search.on_progress([&progress](const hunt::SearchProgress& p) {
      progress.update([&] {
        return fmt::format("hunt: {} seeds tried, {:.1f} seeds/s, {:.1f} s", p.runs,
                           p.seconds > 0 ? p.runs / p.seconds : 0.0, p.seconds);
      });
    });
  }
  hunt::SeedSearchResult r = search.run();
  progress.finish();

  nlohmann::json report = {
      {"program", o.program.exe}, {"argv", o.program.argv}, {"seed_start", o.seed_start},
      {"shard", a.shard},         {"until", a.until},       {"runs", r.runs},
      {"seconds", r.seconds},     {"hangs", r.hangs},       {"found", r.failure.has_value()}};
  for (const auto& e : r.errors) fmt::print(stderr, "backstep: hunt: {}\n", e);
  if (!r.hangs.empty()) {
    std::string seeds;
    for (size_t i = 0; i < r.hangs.size() && i < 10; ++i) seeds += " " + std::to_string(r.hangs[i]);
    fmt::print(stderr, "backstep: hunt: {} run(s) hung and were killed after {} s (seeds{}{})\n",
               r.hangs.size(), a.timeout, seeds, r.hangs.size() > 10 ? " ..." : "");
    if (!tick_section_of(o.program.exe)) {
      // Without ticks, a thread that spins waiting for another is preempted
      // only by the wall clock, where the seed decides nothing.
      fmt::print(stderr,
                 "backstep: hunt: {} was not built with backstep_instrument (it counts no "
                 "ticks), so the seed cannot preempt a thread that spins without syscalls: "
                 "build it with backstep_instrument() (CMake) or CC=backstep-cc "
                 "CXX=backstep-c++, or raise --timeout\n",
                 o.program.exe);
    }
  }
  auto write_report = [&] {
    if (!out_dir.empty()) std::ofstream(out_dir / "result.json") << report.dump(1) << "\n";
  };
  uint64_t first_seed = o.shard.seed(o.seed_start, 0);
  uint64_t last_seed = r.runs ? o.shard.seed(o.seed_start, r.runs - 1) : first_seed;
  if (!r.failure) {
    write_report();
    if (!r.errors.empty() && r.errors.size() == r.runs) {
      throw Error("hunt: no recording could be made (" + r.errors.front() + ")");
    }
    if (a.verify) {
      fmt::print("verified: {} runs (seeds {}..{}{}), no failure\n", r.runs, first_seed, last_seed,
                 o.shard.m > 1 ? ", shard " + a.shard : "");
      return 0;
    }
    fmt::print("no failure in {} runs (seeds {}..{}{}, {:.1f} s)\n", r.runs, first_seed, last_seed,
               o.shard.m > 1 ? ", shard " + a.shard : "", r.seconds);
    return kNoFailureFound;
  }

  const hunt::SeedRun& f = *r.failure;
  fs::path kept = out_dir.empty() ? trace::TraceDir::choose_default(o.program.exe).path()
                                  : out_dir / fmt::format("seed-{}", f.seed);
  move_trace(f.trace, kept);
  fmt::print("seed: {}\n", f.seed);
  fmt::print("failure: {}\n", hunt::describe(f.outcome));
  fmt::print("trace: {}\n", kept.string());
  fmt::print("runs: {} in {:.1f} s ({:.1f} runs/s)\n", r.runs, r.seconds,
             r.seconds > 0 ? r.runs / r.seconds : 0.0);
  report["seed"] = f.seed;
  report["failure"] = hunt::describe(f.outcome);
  report["trace"] = json_path(kept);
  if (!a.no_minimize && !f.outcome.timed_out) {
    fs::path min_out = out_dir.empty() ? trace::TraceDir::choose_default(o.program.exe).path()
                                       : out_dir / fmt::format("seed-{}-min", f.seed);
    if (fs::is_directory(min_out) && fs::is_empty(min_out)) fs::remove(min_out);
    try {
      hunt::MinimizeResult m = minimize(kept, min_out, a.timeout, a.minimize_budget);
      print_minimized(m, a.minimize_budget);
      report["minimized"] = json_path(m.output);
      report["forced_switches"] = {m.original, m.remaining};
      report["minimize_budget_used_up"] = m.budget_used_up;
    } catch (const Interrupted&) {
      throw;
    } catch (const Error& e) {
      fmt::print(stderr, "backstep: {} (the failing trace is kept)\n", e.what());
    }
  }
  write_report();
  return a.verify ? kVerifyFailed : 0;
}

int run_minimize(const MinimizeArgs& a) {
  fs::path trace = trace::TraceDir::resolve(a.trace).path();
  fs::path out = a.output.empty() ? fs::path(trace.string() + "-min") : fs::path(a.output);
  install_interrupt_handlers();
  print_minimized(minimize(trace, out, a.timeout, a.budget), a.budget);
  return 0;
}

}  // namespace

void add_hunt_command(CLI::App& app, Subcommands& out) {
  auto a = std::make_shared<HuntArgs>();
  auto* hunt = app.add_subcommand(
      "hunt", "Record PROGRAM under --chaos with successive seeds until it fails");
  hunt->add_option("-j,--jobs", a->jobs, "Recordings at a time (default: the number of cores)")
      ->check(CLI::PositiveNumber);
  hunt->add_option("--seed-start", a->seed_start, "First seed (default 0)");
  auto* runs =
      hunt->add_option("--runs", a->runs, "At most this many seeds (default: until a failure)")
          ->check(CLI::PositiveNumber);
  hunt->add_option("--timeout", a->timeout,
                   "Seconds per recording; a run killed by it is a hang, not a failure "
                   "(unless --until hang) (default 60)")
      ->check(CLI::PositiveNumber);
  hunt->add_option("--until", a->until,
                   "What ends the hunt: fail (non-zero exit, fatal signal or map fatal; the "
                   "default), fatal (a map fatal error), signal (killed by a signal), nonzero "
                   "(a non-zero exit status), hang (a run killed by --timeout)");
  auto* verify = hunt->add_option("--verify", a->verify,
                                  "Run N seeds and report that none failed (exit 0), or exit "
                                  "3 on the first failure, keeping its trace")
                     ->check(CLI::PositiveNumber);
  hunt->add_option("--shard", a->shard,
                   "K/M: only the seeds s with s % M == K-1, to spread a hunt over M machines "
                   "(default 1/1)");
  hunt->add_option("-o,--output", a->output,
                   "Directory for the failing trace (seed-N, seed-N-min) and result.json "
                   "(default: the trace folder, as `record` does)");
  hunt->add_flag("--no-minimize", a->no_minimize, "Do not shrink the failing schedule");
  hunt->add_option("--minimize-budget", a->minimize_budget,
                   "Seconds the shrinking may take; then the smallest failing schedule found "
                   "so far is kept (default 120)");
  hunt->add_option("command", a->command, "PROGRAM [ARGS...] (after --)")->required();
  verify->excludes(runs);
  hunt->footer(
      "Exit status: 0 a failure was found (or --verify: none was), 2 no failure within --runs, "
      "3 --verify found a failure, 1 error. The failing seed is the lowest one from "
      "--seed-start, whatever -j is.");
  out.push_back({hunt, [a] { return run_hunt(*a); }});
}

void add_minimize_command(CLI::App& app, Subcommands& out) {
  auto a = std::make_shared<MinimizeArgs>();
  auto* min = app.add_subcommand(
      "minimize",
      "Shrink a failing recording to the fewest forced thread switches that still "
      "fail the same way");
  min->add_option("trace", a->trace, "The failing trace (default: the latest)");
  min->add_option("-o,--output", a->output, "The shrunk trace (default: TRACE-min)");
  min->add_option("--timeout", a->timeout, "Seconds per candidate recording (default 60)")
      ->check(CLI::PositiveNumber);
  min->add_option("--budget", a->budget,
                  "Seconds the shrinking may take (no candidate starts after that; the "
                  "recording's own schedule is always tried); then the smallest failing "
                  "schedule found so far is kept (default: no limit)");
  out.push_back({min, [a] { return run_minimize(*a); }});
}

}  // namespace backstep::cli
