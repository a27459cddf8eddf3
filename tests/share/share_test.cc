// `backstep export`, `pack` and `unpack` on one recording of growth_panic
// (chaos scheduler, the first seed that hits the fatal check), made once for
// the whole suite from a private copy of the program that is deleted, with
// the directory it was recorded from, before any test runs: every replay
// below works without the original files.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include "e2e_support.h"
#include "replayer/executable_stand_in.h"
#include "share/bundle.h"
#include "trace/trace_reader.h"
#include "trace/trace_writer.h"

namespace e2e {
namespace {

constexpr int kMaxSeeds = 20;
constexpr char kFatal[] = "concurrent map iteration and map write";
constexpr char kSecret[] = "hunter2-secret";

// The replay's own summary line and the program's output: what must not
// change when the trace has travelled through a bundle.
struct ReplayOutcome {
  int status = -1;
  std::string out;
  std::string summary;  // the "backstep: replay complete: ..." line
};

class Share : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir;
    fs::create_directories(bin_dir());
    fs::copy_file(GROWTH_PANIC_BIN, bin_dir() / "growth_panic");
    RunOptions opts;
    opts.cwd = bin_dir();
    opts.env["BACKSTEP_TEST_SECRET"] = kSecret;
    for (int seed = 1; seed <= kMaxSeeds && seed_ == 0; ++seed) {
      fs::remove_all(trace_dir());
      RunResult r = backstep({"record", "-o", trace_dir().string(), "--chaos", "--seed",
                              std::to_string(seed), "--", "./growth_panic", "20"},
                             xdg(), opts);
      if (r.shell_status() == 134 && contains(r.err, kFatal)) seed_ = seed;
    }
    ASSERT_NE(seed_, 0) << "no seed in 1.." << kMaxSeeds << " made growth_panic fail";
    plain_ = new ReplayOutcome(replay({"-q", trace_dir().string()}));
    fatal_ = new ReplayOutcome(replay({"-q", "--until-fatal", trace_dir().string()}));
    // From here on the recorded program and its directory are gone.
    fs::remove_all(bin_dir());
  }
  static void TearDownTestSuite() {
    delete plain_;
    delete fatal_;
    delete tmp_;
  }

  static fs::path bin_dir() { return tmp_->path() / "bin"; }
  static fs::path trace_dir() { return tmp_->path() / "trace"; }
  static fs::path xdg() { return tmp_->path() / "xdg"; }

  static ReplayOutcome replay(std::vector<std::string> args) {
    args.insert(args.begin(), "replay");
    RunResult r = backstep(args, xdg());
    ReplayOutcome o;
    o.status = r.shell_status();
    o.out = r.out;
    for (const auto& l : lines(r.err)) {
      if (l.rfind("backstep: replay", 0) == 0) o.summary = l;
    }
    EXPECT_FALSE(contains(r.err, "diverged")) << r.describe();
    // Same machine: neither the CPU nor the kernel-loaded dynamic loader differ.
    EXPECT_FALSE(contains(r.err, "warning")) << r.describe();
    return o;
  }

  static RunResult run_backstep(const std::vector<std::string>& args,
                                const std::optional<fs::path>& cwd = std::nullopt) {
    RunOptions opts;
    opts.cwd = cwd;
    return backstep(args, xdg(), opts);
  }

  static nlohmann::json chrome_export() {
    RunResult r = run_backstep({"export", trace_dir().string(), "--format", "chrome"});
    EXPECT_EQ(r.shell_status(), 0) << r.describe();
    return nlohmann::json::parse(r.out);
  }

  static std::vector<nlohmann::json> jsonl(const fs::path& trace) {
    RunResult r = run_backstep({"export", trace.string(), "--format", "jsonl"});
    EXPECT_EQ(r.shell_status(), 0) << r.describe();
    std::vector<nlohmann::json> out;
    for (const auto& l : lines(r.out)) out.push_back(nlohmann::json::parse(l));
    return out;
  }

  // pack (ARGS added) then unpack into a fresh directory; the trace's path.
  static fs::path pack_and_unpack(const std::string& name, std::vector<std::string> pack_args) {
    fs::path bundle = tmp_->path() / (name + ".bkpack");
    std::vector<std::string> args{"pack", trace_dir().string(), "-o", bundle.string()};
    args.insert(args.end(), pack_args.begin(), pack_args.end());
    RunResult p = run_backstep(args);
    EXPECT_EQ(p.shell_status(), 0) << p.describe();
    fs::path where = tmp_->path() / ("elsewhere-" + name);
    fs::create_directories(where);
    RunResult u = run_backstep({"unpack", bundle.string()}, where);
    EXPECT_EQ(u.shell_status(), 0) << u.describe();
    EXPECT_EQ(u.out, (where / name).string() + "\n");
    return where / name;
  }

  // `unpack` of a damaged bundle: one line on stderr, exit 1, nothing left.
  static std::string unpack_error(const fs::path& bundle) {
    fs::path dir = tmp_->path() / "damaged-out";
    RunResult r = run_backstep({"unpack", bundle.string(), "-o", dir.string()});
    EXPECT_EQ(r.shell_status(), 1) << r.describe();
    EXPECT_EQ(lines(r.err).size(), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("backstep: ", 0), 0u) << r.err;
    EXPECT_FALSE(fs::exists(dir)) << "a failed unpack left " << dir;
    return r.err;
  }

  static std::string bundle_bytes() {
    static fs::path bundle = [] {
      fs::path b = tmp_->path() / "pristine.bkpack";
      EXPECT_EQ(run_backstep({"pack", trace_dir().string(), "-o", b.string()}).shell_status(), 0);
      return b;
    }();
    return read_file(bundle);
  }

  static TempDir* tmp_;
  static int seed_;
  static ReplayOutcome* plain_;
  static ReplayOutcome* fatal_;
};

TempDir* Share::tmp_ = nullptr;
int Share::seed_ = 0;
ReplayOutcome* Share::plain_ = nullptr;
ReplayOutcome* Share::fatal_ = nullptr;

// The tids the recording's stops name.
std::set<int64_t> recorded_threads(const std::vector<nlohmann::json>& events) {
  std::set<int64_t> out;
  for (const auto& e : events) {
    if (e["type"] == "stop") out.insert(e["tid"].get<int64_t>());
  }
  return out;
}

TEST_F(Share, ChromeExportIsWellFormedTraceEventJson) {
  nlohmann::json doc = chrome_export();
  ASSERT_TRUE(doc.contains("traceEvents"));
  const auto& events = doc["traceEvents"];
  ASSERT_TRUE(events.is_array());
  std::map<int64_t, std::string> thread_names;
  std::map<int64_t, std::vector<std::pair<uint64_t, uint64_t>>> slices;  // per tid
  std::vector<nlohmann::json> fatal, flow_starts, flow_ends;
  for (const auto& e : events) {
    ASSERT_TRUE(e.contains("ph") && e.contains("pid") && e.contains("name")) << e.dump();
    std::string ph = e["ph"];
    ASSERT_TRUE(ph == "X" || ph == "i" || ph == "C" || ph == "M" || ph == "s" || ph == "f")
        << e.dump();
    if (ph != "M") {
      ASSERT_TRUE(e["ts"].is_number_unsigned()) << e.dump();
    }
    if (ph == "M" && e["name"] == "thread_name") {
      thread_names[e["tid"].get<int64_t>()] = e["args"]["name"];
    }
    if (ph == "X") {
      uint64_t ts = e["ts"], dur = e["dur"];
      slices[e["tid"].get<int64_t>()].emplace_back(ts, ts + dur);
    }
    if (ph == "i" && e["name"] == std::string("fatal error: ") + kFatal) fatal.push_back(e);
    if (ph == "s") flow_starts.push_back(e);
    if (ph == "f") flow_ends.push_back(e);
  }
  // A named track for every recorded thread.
  for (int64_t tid : recorded_threads(dump_json(trace_dir(), xdg()))) {
    ASSERT_TRUE(thread_names.count(tid)) << "no thread_name for thread " << tid;
    EXPECT_EQ(thread_names[tid].rfind("thread " + std::to_string(tid), 0), 0u);
  }
  // Slices of one track nest: each starts after the innermost open one ends
  // or ends inside it.
  for (auto& [tid, list] : slices) {
    ASSERT_TRUE(thread_names.count(tid)) << "slices on unnamed track " << tid;
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first < b.first : a.second > b.second;
    });
    std::vector<uint64_t> open;
    for (const auto& [begin, end] : list) {
      while (!open.empty() && open.back() <= begin) open.pop_back();
      ASSERT_TRUE(open.empty() || end <= open.back())
          << "slice [" << begin << "," << end << ") crosses one ending at " << open.back()
          << " on track " << tid;
      open.push_back(end);
    }
  }
  // The fatal check, and one flow from the write that set hashWriting (on
  // another thread's map track) to it.
  ASSERT_EQ(fatal.size(), 1u);
  ASSERT_EQ(flow_starts.size(), 1u);
  ASSERT_EQ(flow_ends.size(), 1u);
  EXPECT_EQ(flow_starts[0]["id"], flow_ends[0]["id"]);
  EXPECT_EQ(flow_ends[0]["tid"], fatal[0]["tid"]);
  EXPECT_EQ(flow_ends[0]["ts"], fatal[0]["ts"]);
  EXPECT_LT(flow_starts[0]["ts"].get<uint64_t>(), flow_ends[0]["ts"].get<uint64_t>());
  int64_t setter_lane = flow_starts[0]["tid"];
  EXPECT_NE(setter_lane % 1000000, fatal[0]["tid"].get<int64_t>());
  EXPECT_TRUE(thread_names[setter_lane].find(" map") != std::string::npos)
      << thread_names[setter_lane];
  // The writer's hashWriting slice encloses the flow's start.
  bool inside = false;
  for (const auto& e : events) {
    if (e["ph"] == "X" && e["tid"] == setter_lane && e["cat"] == "map.write") {
      uint64_t ts = e["ts"], end = ts + e["dur"].get<uint64_t>();
      uint64_t at = flow_starts[0]["ts"];
      inside |= ts <= at && at <= end && end >= fatal[0]["ts"].get<uint64_t>();
    }
  }
  EXPECT_TRUE(inside) << "no hashWriting slice holds the flag from the flow's start to the fatal";

  // -o FILE writes the same document.
  fs::path file = tmp_->path() / "export.json";
  RunResult r =
      run_backstep({"export", trace_dir().string(), "--format", "chrome", "-o", file.string()});
  ASSERT_EQ(r.shell_status(), 0) << r.describe();
  EXPECT_EQ(nlohmann::json::parse(read_file(file)), doc);
}

TEST_F(Share, JsonlHasOneLinePerEventWithEveryDumpField) {
  std::vector<nlohmann::json> dump = dump_json(trace_dir(), xdg());
  std::vector<nlohmann::json> full = jsonl(trace_dir());
  ASSERT_EQ(full.size(), dump.size());
  for (size_t i = 0; i < dump.size(); ++i) {
    for (const auto& [key, value] : dump[i].items()) {
      ASSERT_TRUE(full[i].contains(key)) << "line " << i << " lacks " << key;
      ASSERT_EQ(full[i][key], value) << "line " << i << " field " << key;
    }
  }
  // And the fields only the full form has.
  EXPECT_TRUE(full[0].contains("envp") && full[0].contains("exe_sha")) << full[0].dump();
  for (const auto& j : full) {
    if (j["type"] == "stop") {
      ASSERT_TRUE(j.contains("regs") && j.contains("resumed") && j.contains("memory_writes"));
      EXPECT_EQ(j["regs"]["rip"], j["rip"]);
    }
    if (j["type"] == "file_map") {
      ASSERT_TRUE(j.contains("content") && j.contains("prot"));
    }
  }
}

TEST_F(Share, UnpackedBundleReplaysLikeTheOriginalWithTheOriginalFilesGone) {
  ASSERT_FALSE(fs::exists(bin_dir()));
  fs::path unpacked = pack_and_unpack("growth", {});
  ReplayOutcome plain = replay({"-q", unpacked.string()});
  EXPECT_EQ(plain.status, plain_->status);
  EXPECT_EQ(plain.out, plain_->out);
  EXPECT_EQ(plain.summary, plain_->summary);
  EXPECT_TRUE(contains(plain.summary, kFatal)) << plain.summary;
  ReplayOutcome fatal = replay({"-q", "--until-fatal", unpacked.string()});
  EXPECT_EQ(fatal.status, fatal_->status);
  EXPECT_EQ(fatal.out, fatal_->out);
  EXPECT_TRUE(contains(fatal.out, "stopped at event")) << fatal.out;
}

TEST_F(Share, EnvironmentValuesAreRedactedUnlessKept) {
  auto env_of = [](const fs::path& trace) {
    nlohmann::json header = jsonl(trace).at(0);
    EXPECT_EQ(header["type"], "header");
    return header;
  };
  nlohmann::json original = env_of(trace_dir());
  std::string secret_entry = std::string("BACKSTEP_TEST_SECRET=") + kSecret;
  ASSERT_TRUE(contains(original["envp"].dump(), secret_entry));

  fs::path redacted = pack_and_unpack("redacted", {});
  nlohmann::json h = env_of(redacted);
  EXPECT_TRUE(h["env_redacted"].get<bool>());
  ASSERT_EQ(h["envp"].size(), original["envp"].size());
  for (size_t i = 0; i < h["envp"].size(); ++i) {
    std::string was = original["envp"][i], now = h["envp"][i];
    EXPECT_EQ(now.size(), was.size());
    EXPECT_EQ(now.substr(0, now.find('=') + 1), was.substr(0, was.find('=') + 1));
  }
  EXPECT_TRUE(contains(h["envp"].dump(), "BACKSTEP_TEST_SECRET=xxxxxxxxxxxxxx"));
  EXPECT_FALSE(contains(h["envp"].dump(), kSecret));
  RunResult info = run_backstep({"info", redacted.string()});
  EXPECT_TRUE(contains(info.out, "env:        values redacted by backstep pack")) << info.out;

  fs::path kept = pack_and_unpack("kept", {"--keep-env"});
  nlohmann::json k = env_of(kept);
  EXPECT_FALSE(k["env_redacted"].get<bool>());
  EXPECT_EQ(k["envp"], original["envp"]);
  EXPECT_FALSE(contains(run_backstep({"info", kept.string()}).out, "redacted"));
}

TEST_F(Share, DamagedBundlesGiveOneLineErrors) {
  std::string good = bundle_bytes();
  ASSERT_GT(good.size(), 1000u);
  fs::path bad = tmp_->path() / "bad.bkpack";

  std::string flipped = good;
  flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x20);
  write_file(bad, flipped);
  EXPECT_TRUE(contains(unpack_error(bad), "corrupt bundle " + bad.string()));

  write_file(bad, good.substr(0, good.size() / 2));
  EXPECT_TRUE(contains(unpack_error(bad), "bundle " + bad.string() + " is truncated"));

  write_file(bad, good.substr(0, good.size() - 3));
  EXPECT_TRUE(contains(unpack_error(bad), "is truncated"));

  std::string newer = good;
  newer[8] = 2;
  write_file(bad, newer);
  EXPECT_EQ(unpack_error(bad),
            "backstep: bundle format version 2 is not supported (this backstep reads version "
            "1): " +
                bad.string() + "\n");

  std::string header_flip = good;
  header_flip[13] = 1;  // flags: covered by the header checksum
  write_file(bad, header_flip);
  EXPECT_TRUE(contains(unpack_error(bad), "corrupt bundle header"));

  write_file(bad, "definitely not a bundle\n");
  EXPECT_EQ(unpack_error(bad), "backstep: not a backstep bundle: " + bad.string() + "\n");

  // A trace that lacks a copy of a mapped file is not packed.
  fs::path partial = tmp_->path() / "partial-trace";
  fs::copy(trace_dir(), partial, fs::copy_options::recursive);
  fs::remove(*fs::directory_iterator(partial / "files"));
  fs::path nowhere = tmp_->path() / "nowhere.bkpack";
  RunResult p = run_backstep({"pack", partial.string(), "-o", nowhere.string()});
  EXPECT_EQ(p.shell_status(), 1) << p.describe();
  EXPECT_EQ(lines(p.err).size(), 1u) << p.err;
  EXPECT_TRUE(contains(p.err, "the trace lacks its copy of")) << p.err;
  EXPECT_FALSE(fs::exists(nowhere));

  // An existing, non-empty directory is refused, and left alone.
  fs::path busy = tmp_->path() / "busy";
  fs::create_directories(busy);
  write_file(busy / "keep", "x");
  write_file(bad, good);
  RunResult r = run_backstep({"unpack", bad.string(), "-o", busy.string()});
  EXPECT_EQ(r.shell_status(), 1) << r.describe();
  EXPECT_EQ(read_file(busy / "keep"), "x");
}

TEST_F(Share, ReplayWarnsWhenTheCpuDiffers) {
  fs::path unpacked = pack_and_unpack("cpu", {});
  fs::path other = tmp_->path() / "other-cpu";
  fs::create_directories(other);
  fs::copy(unpacked / "files", other / "files");
  backstep::trace::Header h = backstep::trace::Trace::load(unpacked).header();
  h.cpu_model = "Imaginary CPU 9000";
  backstep::share::rewrite_header(unpacked / "events", other / "events", h);
  RunResult r = run_backstep({"replay", "-q", other.string()});
  EXPECT_TRUE(contains(r.err, "warning: recorded on \"Imaginary CPU 9000\"")) << r.describe();
  EXPECT_TRUE(contains(r.err, plain_->summary)) << r.describe();
}

// concurrent_writes: the checking thread can see hashWriting set by a
// writer whose WriteBegin event is drained only after the check (the flag
// is stored before the event is published); the flow still goes from the
// writer, forward in time, to the check.
TEST_F(Share, ChromeExportLinksTheWriterOfConcurrentWrites) {
  fs::path trace = tmp_->path() / "concurrent_writes";
  bool failed = false;
  for (int seed = 1; seed <= kMaxSeeds && !failed; ++seed) {
    fs::remove_all(trace);
    RunResult r = run_backstep({"record", "-o", trace.string(), "--chaos", "--seed",
                                std::to_string(seed), "--", CONCURRENT_WRITES_BIN, "20"});
    failed = r.shell_status() == 134 && contains(r.err, "concurrent map writes");
  }
  ASSERT_TRUE(failed) << "no seed in 1.." << kMaxSeeds << " made concurrent_writes fail";
  RunResult r = run_backstep({"export", trace.string(), "--format", "chrome"});
  ASSERT_EQ(r.shell_status(), 0) << r.describe();
  std::vector<nlohmann::json> fatal, starts, ends;
  nlohmann::json doc = nlohmann::json::parse(r.out);
  for (const auto& e : doc["traceEvents"]) {
    if (e["ph"] == "i" && e["cat"] == "map.fatal") fatal.push_back(e);
    if (e["ph"] == "s") starts.push_back(e);
    if (e["ph"] == "f") ends.push_back(e);
  }
  ASSERT_EQ(fatal.size(), 1u);
  EXPECT_EQ(fatal[0]["name"], "fatal error: concurrent map writes");
  ASSERT_EQ(starts.size(), 1u);
  ASSERT_EQ(ends.size(), 1u);
  EXPECT_EQ(starts[0]["id"], ends[0]["id"]);
  EXPECT_EQ(ends[0]["tid"], fatal[0]["tid"]);
  EXPECT_LT(starts[0]["ts"].get<uint64_t>(), ends[0]["ts"].get<uint64_t>());
  EXPECT_NE(starts[0]["tid"].get<int64_t>() % 1000000, fatal[0]["tid"].get<int64_t>());
}

TEST(ExecutableStandIn, PathHasTheRecordedLength) {
  using backstep::replayer::ExecutableStandIn;
  for (size_t length : {3u, 12u, 13u, 14u, 15u, 40u, 250u, 600u}) {
    std::string p = ExecutableStandIn::path_of_length(length, "growth_panic");
    EXPECT_EQ(p.size(), length) << p;
    EXPECT_NE(p.front(), '/') << p;
    EXPECT_EQ(p.find("//"), std::string::npos) << p;
    if (length >= 14 || length == 12) {
      EXPECT_TRUE(p.ends_with("growth_panic")) << p;
    }
  }
}

}  // namespace
}  // namespace e2e
