// `backstep report` on real recordings. Each suite records its example once,
// with the first chaos seed in 1..kMaxSeeds that makes it fail (replay is
// exact, so every test of the suite then sees the same failure), and renders
// the formats it checks once.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "../e2e/e2e_support.h"

namespace {

using nlohmann::json;

// Both racy examples fail at seed 1 on a quiet machine; the bound only keeps
// a broken recorder from looping for long.
constexpr int kMaxSeeds = 200;

using e2e::Recording;

Recording record_failing(const std::string& program, const std::string& rounds) {
  return e2e::record_failing(program, rounds, kMaxSeeds);
}

// `backstep report TRACE ARGS... -o FILE`: the file's content.
std::string report(const Recording& r, const std::vector<std::string>& args,
                   const std::string& file_name) {
  std::vector<std::string> argv = {"report", r.trace.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  e2e::fs::path out = *r.dir / file_name;
  argv.push_back("-o");
  argv.push_back(out.string());
  auto res = e2e::backstep(argv, r.dir->path());
  EXPECT_EQ(res.shell_status(), 0) << res.describe();
  EXPECT_TRUE(res.out.empty()) << "with -o nothing goes to stdout: " << res.out;
  return e2e::read_file(out);
}

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

class GrowthPanicReport : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    recording_ = new Recording(record_failing(GROWTH_PANIC_BIN, "200"));
    if (recording_->trace.empty()) return;
    json_ = new json(json::parse(report(*recording_, {"--format", "json"}, "report.json")));
    markdown_ = new std::string(report(*recording_, {"--format", "md"}, "report.md"));
  }
  static void TearDownTestSuite() {
    delete json_;
    delete markdown_;
    delete recording_;
    json_ = nullptr;
    markdown_ = nullptr;
    recording_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(json_, nullptr) << "no failing recording"; }

  static Recording* recording_;
  static json* json_;
  static std::string* markdown_;
};
Recording* GrowthPanicReport::recording_ = nullptr;
json* GrowthPanicReport::json_ = nullptr;
std::string* GrowthPanicReport::markdown_ = nullptr;

TEST_F(GrowthPanicReport, JsonNamesTheFailingThreadTheInstructionAndItsSourceLine) {
  const json& j = *json_;
  EXPECT_EQ(j["schema"], "backstep-report/1");
  EXPECT_EQ(j["outcome"], "map_fatal");
  EXPECT_FALSE(j["ended_normally"].get<bool>());
  const json& f = j["failure"];
  EXPECT_EQ(f["kind"], "map_fatal");
  EXPECT_EQ(f["what"], "concurrent map iteration and map write");
  EXPECT_EQ(j["run"]["fatal_message"], f["what"]);
  EXPECT_EQ(j["run"]["signal"], 6);
  // The check: the iterator step in go_map.h reading the flags byte (offset 8
  // of the map header).
  EXPECT_TRUE(has(f["location"]["function"].get<std::string>(), "iter_next")) << f.dump();
  EXPECT_TRUE(f["location"]["file"].get<std::string>().ends_with("go_map.h")) << f.dump();
  EXPECT_TRUE(std::regex_search(f["instruction"].get<std::string>(),
                                std::regex(R"(byte ptr \[\w+ \+ 8\])")))
      << f["instruction"];
  int line = f["location"]["line"];
  EXPECT_GT(line, 0);
  EXPECT_EQ(f["source"]["line"], line);
  bool check_shown = false;
  for (const auto& l : f["source"]["lines"]) {
    if (l["line"] == line) check_shown = has(l["text"], "kFlagHashWriting");
  }
  EXPECT_TRUE(check_shown) << "the source line of the check tests hashWriting: "
                           << f["source"].dump();
  // The annotated disassembly marks exactly the failing instruction.
  int current = 0;
  for (const auto& insn : f["disassembly"]) {
    if (insn["current"].get<bool>()) {
      ++current;
      EXPECT_EQ(insn["address"], f["pc"]);
      EXPECT_EQ(insn["text"], f["instruction"]);
    }
  }
  EXPECT_EQ(current, 1);
  ASSERT_FALSE(f["backtrace"].empty());
  EXPECT_EQ(f["backtrace"][0]["pc"], f["pc"]);
  bool ranger = false;
  for (const auto& fr : f["backtrace"]) ranger |= has(fr["function"], "ranger");
  EXPECT_TRUE(ranger) << "the failing thread is the one ranging: " << f["backtrace"].dump();
  EXPECT_NE(
      f["position"].get<std::string>().find(":" + std::to_string(f["thread"].get<int>()) + ":"),
      std::string::npos);
}

TEST_F(GrowthPanicReport, JsonNamesTheSetterThreadItsOperationAndItsStack) {
  const json& j = *json_;
  const json& s = j["setter"];
  ASSERT_TRUE(s.is_object()) << j.dump();
  EXPECT_NE(s["thread"], j["failure"]["thread"]);
  // Both threads are threads of the run.
  std::vector<int> threads = j["run"]["threads"];
  EXPECT_NE(std::find(threads.begin(), threads.end(), s["thread"].get<int>()), threads.end());
  EXPECT_NE(std::find(threads.begin(), threads.end(), j["failure"]["thread"].get<int>()),
            threads.end());
  EXPECT_EQ(s["operation"].get<std::string>().rfind("PutAll -> assign", 0), 0u) << s.dump();
  EXPECT_TRUE(s["in_put_all"].get<bool>());
  // The site is the hashWriting set in assign, not the map's event helper.
  EXPECT_TRUE(s["site"]["file"].get<std::string>().ends_with("go_map.h"));
  bool set_line = false;
  for (const auto& l : s["source"]["lines"]) set_line |= has(l["text"], "^= abi::kFlagHashWriting");
  EXPECT_TRUE(set_line) << s["source"].dump();
  ASSERT_TRUE(s["position"].is_string());
  EXPECT_NE(
      s["position"].get<std::string>().find(":" + std::to_string(s["thread"].get<int>()) + ":"),
      std::string::npos);
  bool writer = false, assign = false;
  for (const auto& fr : s["backtrace"]) {
    writer |= has(fr["function"], "writer");
    assign |= has(fr["function"], "assign");
  }
  EXPECT_TRUE(writer && assign) << "the stack at the set: " << s["backtrace"].dump();
}

// The two conflicting operations with their arguments from DWARF: the
// writer in PutAll, writing one entry of its batch through put with that
// entry's key; the ranger starting its range loop.
TEST_F(GrowthPanicReport, JsonShowsTheConflictingOperationsArguments) {
  const json& j = *json_;
  const json& calls = j["setter"]["calls"];
  ASSERT_EQ(calls.size(), 2u) << j["setter"].dump();
  EXPECT_EQ(calls[0]["function"].get<std::string>().rfind("PutAll<", 0), 0u) << calls.dump();
  EXPECT_EQ(calls[1]["function"], "put") << calls.dump();
  std::map<std::string, std::string> put_args;
  for (const auto& a : calls[1]["arguments"]) put_args[a["name"]] = a["value"];
  ASSERT_EQ(put_args.count("key"), 1u) << calls.dump();
  EXPECT_TRUE(std::regex_match(put_args["key"], std::regex(R"(\d+)"))) << calls.dump();
  // The entry PutAll is writing is the one put was given.
  std::map<std::string, std::string> entry;
  for (const auto& e : calls[0]["entry"]) entry[e["name"]] = e["value"];
  EXPECT_EQ(entry["k"], put_args["key"]) << calls.dump();
  const json& failing = j["failure"]["calls"];
  ASSERT_EQ(failing.size(), 1u) << j["failure"].dump();
  EXPECT_EQ(failing[0]["function"], "begin");
  EXPECT_TRUE(failing[0]["arguments"].empty());
  EXPECT_TRUE(has(*markdown_, "map operation")) << *markdown_;
  EXPECT_TRUE(has(*markdown_, "put(value = <optimized out>, key = " + put_args["key"] + ")"))
      << *markdown_;
}

TEST_F(GrowthPanicReport, JsonShowsTheMapGrowingAtThePanic) {
  const json& m = (*json_)["map"];
  ASSERT_TRUE(m.is_object());
  EXPECT_EQ(m["map"], (*json_)["failure"]["map"]);
  EXPECT_TRUE(m["growing"].get<bool>());
  EXPECT_FALSE(m["same_size_grow"].get<bool>());
  EXPECT_EQ(m["B"], 9);
  EXPECT_EQ(m["old_bucket_count"], 256);
  EXPECT_LT(m["nevacuate"].get<int>(), m["old_bucket_count"].get<int>());
  EXPECT_NE(m["flags"].get<int>() & 4, 0) << "hashWriting is set at the check";
  EXPECT_GE(m["live_iterators"].get<int>(), 1);
}

TEST_F(GrowthPanicReport, JsonHasTheSeedTheLastTransitionsAndTheFixes) {
  const json& j = *json_;
  EXPECT_EQ(j["trace"]["scheduler"], "chaos");
  EXPECT_EQ(j["trace"]["seed"], recording_->seed);
  EXPECT_TRUE(j["trace"]["environment_redacted"].is_null());
  EXPECT_EQ(j["recent"]["last"], 20);
  const json& events = j["recent"]["events"];
  ASSERT_EQ(events.size(), 20u);
  // The last map event listed is the check that failed (switches may follow it).
  std::string last_map_kind;
  for (const auto& e : events) {
    EXPECT_TRUE(e["type"] == "map" || e["type"] == "switch") << e.dump();
    if (e["type"] == "map") {
      EXPECT_NE(e["event"]["kind"], "iter-step") << "iterator steps are checks, not transitions";
      last_map_kind = e["event"]["kind"];
    }
  }
  EXPECT_EQ(last_map_kind, "fatal");
  ASSERT_EQ(j["fixes"].size(), 3u);
  EXPECT_EQ(j["fixes"][0]["id"], "copy_on_write");
  EXPECT_EQ(j["fixes"][0]["example"], "examples/safe_cow.cc");
  EXPECT_EQ(j["fixes"][1]["id"], "rwlock");
  EXPECT_EQ(j["fixes"][2]["id"], "snapshot");
}

TEST_F(GrowthPanicReport, LastIsConfigurable) {
  json j = json::parse(report(*recording_, {"--format", "json", "--last", "5"}, "last5.json"));
  EXPECT_EQ(j["recent"]["last"], 5);
  ASSERT_EQ(j["recent"]["events"].size(), 5u);
  EXPECT_EQ(j["recent"]["events"].back(), (*json_)["recent"]["events"].back());
}

TEST_F(GrowthPanicReport, MarkdownContainsTheSameFacts) {
  const json& j = *json_;
  const std::string& md = *markdown_;
  EXPECT_EQ(md.rfind("# backstep report: growth_panic\n", 0), 0u) << md.substr(0, 200);
  EXPECT_TRUE(has(md, "fatal error: concurrent map iteration and map write on thread " +
                          std::to_string(j["failure"]["thread"].get<int>())));
  EXPECT_TRUE(has(md, "hashWriting set by thread " +
                          std::to_string(j["setter"]["thread"].get<int>()) + " in " +
                          j["setter"]["operation"].get<std::string>()));
  EXPECT_TRUE(has(md, j["failure"]["instruction"].get<std::string>()));
  EXPECT_TRUE(has(md, "iter_next"));
  EXPECT_TRUE(has(md, "go_map.h:" + std::to_string(j["failure"]["location"]["line"].get<int>())));
  EXPECT_TRUE(has(md, j["setter"]["position"].get<std::string>()));
  EXPECT_TRUE(has(md, "256 -> 512 buckets"));
  EXPECT_TRUE(has(md, "(nevacuate " + std::to_string(j["map"]["nevacuate"].get<int>()) + ")"));
  EXPECT_TRUE(has(md, "chaos, seed " + std::to_string(recording_->seed)));
  EXPECT_TRUE(has(md, "## What to do"));
  EXPECT_TRUE(has(md, "examples/safe_cow.cc"));
  // The source excerpt, the check's line marked.
  EXPECT_TRUE(has(md, "=> " + std::to_string(j["failure"]["location"]["line"].get<int>()) + " "));
}

TEST_F(GrowthPanicReport, HtmlIsOneSelfContainedFileWithTheTimeline) {
  e2e::TempDir out_dir;
  e2e::fs::path out = out_dir / "report.html";
  auto res =
      e2e::backstep({"report", recording_->trace.string(), "--format", "html", "-o", out.string()},
                    recording_->dir->path());
  ASSERT_EQ(res.shell_status(), 0) << res.describe();
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : e2e::fs::directory_iterator(out_dir.path())) ++files;
  EXPECT_EQ(files, 1u) << "one file, nothing beside it";
  std::string html = e2e::read_file(out);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_TRUE(has(html, "<svg id=\"timeline\""));
  EXPECT_TRUE(has(html, "Content-Security-Policy\" content=\"default-src 'none'"));
  // A lane per thread, the panic mark, the arrow from the set to the check.
  for (int tid : (*json_)["run"]["threads"]) {
    EXPECT_TRUE(has(html, "<g class=\"lane\" data-tid=\"" + std::to_string(tid) + "\">")) << tid;
  }
  EXPECT_TRUE(has(html, "id=\"timeline-panic\""));
  EXPECT_TRUE(has(html, "class=\"cause\""));
  EXPECT_TRUE(has(html, "class=\"writing\""));
  EXPECT_TRUE(has(html, "class=\"iterating\""));
  EXPECT_TRUE(has(html, "class=\"growth\""));
  // Nothing loaded from anywhere.
  EXPECT_FALSE(has(html, "http://"));
  EXPECT_FALSE(has(html, "https://"));
  EXPECT_FALSE(has(html, "<script"));
  EXPECT_FALSE(has(html, "<link"));
  EXPECT_FALSE(has(html, " src="));
  EXPECT_FALSE(has(html, "url(http"));
  // The annotated disassembly and the stacks, below the picture.
  size_t svg = html.find("<svg");
  size_t disassembly = html.find("<h3>Disassembly</h3>");
  ASSERT_NE(disassembly, std::string::npos);
  EXPECT_LT(svg, disassembly);
  EXPECT_TRUE(has(html, "<mark>=&gt; "));
}

// Debian's chromium (scripts/deps.sh installs it for the test suite): the
// HTML must render, show a lane per thread and the panic in the live DOM,
// and (its CSP says so) load nothing. Skipped when the machine has no
// chromium, unless BACKSTEP_REQUIRE_BROWSER=1 (scripts/test.sh, CI) makes
// that a failure.
constexpr const char* kChromium = "/usr/bin/chromium";

// Headless, as root, touching nothing outside a fresh profile; the page's
// console (messages and uncaught exceptions) goes to stderr as
// "INFO:CONSOLE" lines.
e2e::RunResult chromium(const e2e::fs::path& profile, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {kChromium,
                                   "--headless",
                                   "--no-sandbox",
                                   "--disable-gpu",
                                   "--no-first-run",
                                   "--disable-background-networking",
                                   "--disable-component-update",
                                   "--disable-sync",
                                   "--user-data-dir=" + profile.string(),
                                   "--enable-logging=stderr",
                                   "--v=0",
                                   "--hide-scrollbars",
                                   "--window-size=1250,1600"};
  argv.insert(argv.end(), args.begin(), args.end());
  e2e::RunOptions options;
  options.timeout = std::chrono::seconds(120);
  return e2e::run(argv, options);
}

// The page's console lines in chromium's log.
std::vector<std::string> console_lines(const std::string& log) {
  std::vector<std::string> out;
  for (const std::string& line : e2e::lines(log)) {
    if (has(line, ":CONSOLE")) out.push_back(line);
  }
  return out;
}

TEST_F(GrowthPanicReport, HtmlRendersInAHeadlessBrowser) {
  if (!e2e::fs::exists(kChromium)) {
    const char* required = std::getenv("BACKSTEP_REQUIRE_BROWSER");
    if (required && std::string(required) == "1") {
      FAIL() << "no " << kChromium << " (BACKSTEP_REQUIRE_BROWSER=1; scripts/deps.sh installs it)";
    }
    GTEST_SKIP() << "no " << kChromium << " on this machine";
  }
  e2e::TempDir dir;
  e2e::fs::path html = dir / "report.html";
  e2e::write_file(html, report(*recording_, {"--format", "html"}, "browser.html"));
  // A blank page whose one script fails: the size of an empty screenshot, and
  // proof that a script error would show in the log.
  e2e::fs::path blank = dir / "blank.html";
  e2e::write_file(
      blank, "<!DOCTYPE html><html><body><script>no_such_function();</script></body></html>\n");

  auto dom = chromium(dir / "profile-dom", {"--dump-dom", "file://" + html.string()});
  ASSERT_EQ(dom.shell_status(), 0) << dom.describe();
  EXPECT_EQ(console_lines(dom.err), std::vector<std::string>{}) << "the report's console";
  // The page's text, as the browser laid it out.
  EXPECT_TRUE(has(dom.out, "concurrent map iteration and map write")) << dom.out.substr(0, 500);
  EXPECT_TRUE(has(dom.out, "<h3>Disassembly</h3>")) << dom.out.substr(0, 500);
  std::string overview = dom.out.substr(0, dom.out.find("</svg>"));
  ASSERT_NE(overview.find("<svg id=\"timeline\""), std::string::npos) << dom.out.substr(0, 500);
  size_t lanes = 0;
  for (size_t at = 0; (at = overview.find("<g class=\"lane\"", at)) != std::string::npos; ++at) {
    ++lanes;
  }
  EXPECT_EQ(lanes, (*json_)["run"]["threads"].size());
  EXPECT_TRUE(has(overview, "id=\"timeline-panic\""));

  // Not blank: the report's screenshot holds far more than an empty page's.
  auto shot = chromium(dir / "profile-shot", {"--screenshot=" + (dir / "report.png").string(),
                                              "file://" + html.string()});
  ASSERT_EQ(shot.shell_status(), 0) << shot.describe();
  EXPECT_EQ(console_lines(shot.err), std::vector<std::string>{}) << "the report's console";
  auto empty = chromium(dir / "profile-blank", {"--screenshot=" + (dir / "blank.png").string(),
                                                "file://" + blank.string()});
  ASSERT_EQ(empty.shell_status(), 0) << empty.describe();
  auto blank_console = console_lines(empty.err);
  ASSERT_EQ(blank_console.size(), 1u) << empty.err;
  EXPECT_TRUE(has(blank_console[0], "Uncaught ReferenceError: no_such_function is not defined"))
      << blank_console[0];
  EXPECT_GT(e2e::fs::file_size(dir / "report.png"), 4 * e2e::fs::file_size(dir / "blank.png"));
}

TEST_F(GrowthPanicReport, TextOnAPipeIsPlain) {
  auto res = e2e::backstep({"report", recording_->trace.string()}, recording_->dir->path());
  ASSERT_EQ(res.shell_status(), 0) << res.describe();
  EXPECT_FALSE(has(res.out, "\x1b[")) << "no colours when stdout is not a terminal";
  EXPECT_EQ(res.out.rfind("backstep report: growth_panic\nfatal error: concurrent map iteration "
                          "and map write on thread ",
                          0),
            0u)
      << res.out.substr(0, 300);
}

// Records `program` until it dies of `signal` (no map fatal) and checks the
// JSON report's outline of that: the report, and the recording for more.
json signal_report(Recording& r, const char* program, int signal, const std::string& name) {
  r = record_failing(program, "200");
  if (r.trace.empty()) return nullptr;
  EXPECT_EQ(r.status, 128 + signal);
  json j = json::parse(report(r, {"--format", "json"}, "report.json"));
  EXPECT_EQ(j["outcome"], "signal");
  EXPECT_EQ(j["failure"]["kind"], "signal");
  EXPECT_EQ(j["failure"]["what"], name);
  EXPECT_TRUE(j["setter"].is_null());
  EXPECT_TRUE(j["map"].is_null());
  return j;
}

TEST(HeaderCorruptionReport, ASignalInTheMapsCodeIsExplained) {
  Recording r;
  json j = signal_report(r, HEADER_CORRUPTION_BIN, 11, "SIGSEGV");
  ASSERT_FALSE(j.is_null());
  EXPECT_TRUE(j["failure"]["location"]["file"].get<std::string>().ends_with("go_map.h"))
      << j["failure"]["location"].dump();
  ASSERT_FALSE(j["fixes"].empty());
  EXPECT_EQ(j["fixes"][0]["id"], "no_unsafe_writes");
}

TEST(TornBatchReport, AFailedAssertionIsQuotedAndTheFixIsAnAtomicBatch) {
  Recording r;
  json j = signal_report(r, TORN_BATCH_BIN, 6, "SIGABRT");
  ASSERT_FALSE(j.is_null());
  ASSERT_TRUE(j["failure"]["last_stderr"].is_string()) << j["failure"].dump();
  EXPECT_EQ(j["failure"]["last_stderr"].get<std::string>().rfind("assertion failed: torn batch", 0),
            0u)
      << j["failure"]["last_stderr"];
  bool check_failed = false;
  for (const auto& f : j["failure"]["backtrace"])
    check_failed |= has(f["function"], "check_failed");
  EXPECT_TRUE(check_failed) << j["failure"]["backtrace"].dump();
  ASSERT_FALSE(j["fixes"].empty());
  EXPECT_EQ(j["fixes"][0]["id"], "batch_atomic");
  std::string md = report(r, {"--format", "md"}, "report.md");
  EXPECT_TRUE(has(md, "**SIGABRT on thread " + std::to_string(j["failure"]["thread"].get<int>()) +
                          ": assertion failed: torn batch"))
      << md.substr(0, 400);
}

TEST(NormalEndReport, SaysTheRunEndedNormallyAndSummarizesIt) {
  e2e::TempDir dir;
  e2e::fs::path trace = dir / "trace";
  auto rec =
      e2e::backstep({"record", "-o", trace.string(), "--", SAFE_RWLOCK_BIN, "20"}, dir.path());
  ASSERT_EQ(rec.shell_status(), 0) << rec.describe();
  Recording r{std::make_unique<e2e::TempDir>(), trace, 0, 0};
  json j = json::parse(report(r, {"--format", "json"}, "report.json"));
  EXPECT_EQ(j["outcome"], "ended_normally");
  EXPECT_TRUE(j["ended_normally"].get<bool>());
  EXPECT_TRUE(j["run"]["exited"].get<bool>());
  EXPECT_EQ(j["run"]["exit_code"], 0);
  EXPECT_EQ(j["run"]["threads"].size(), 3u);  // main, writer, reader
  EXPECT_GT(j["run"]["map_operations"]["assign"].get<int>(), 0);
  EXPECT_GT(j["run"]["iterations"].get<int>(), 0);
  EXPECT_TRUE(j["failure"].is_null());
  EXPECT_TRUE(j["setter"].is_null());
  EXPECT_TRUE(j["fixes"].empty());
  EXPECT_EQ(j["trace"]["scheduler"], "fair");

  std::string text = report(r, {"--format", "text"}, "report.txt");
  EXPECT_TRUE(has(text, "The recording ended normally: the program exited with status 0.")) << text;
  EXPECT_TRUE(has(text, "threads:        3"));
  std::string md = report(r, {"--format", "md"}, "report.md");
  EXPECT_TRUE(has(md, "**The recording ended normally: the program exited with status 0.**"));
  std::string html = report(r, {"--format", "html"}, "report.html");
  EXPECT_TRUE(has(html, "<svg id=\"timeline\""));
  EXPECT_FALSE(has(html, "class=\"panic\""));
}

TEST(ReportErrors, ABadTracePathIsOneLineAndExitOne) {
  e2e::TempDir dir;
  auto res = e2e::backstep({"report", (dir / "no-such-trace").string()}, dir.path());
  EXPECT_EQ(res.shell_status(), 1) << res.describe();
  EXPECT_TRUE(res.out.empty());
  EXPECT_EQ(e2e::lines(res.err).size(), 1u) << res.err;
  EXPECT_EQ(res.err.rfind("backstep: ", 0), 0u) << res.err;
  EXPECT_TRUE(has(res.err, "no-such-trace")) << res.err;
}

TEST(ReportErrors, AnUnknownFormatIsOneLineAndExitOne) {
  e2e::TempDir dir;
  auto res = e2e::backstep({"report", (dir / "whatever").string(), "--format", "pdf"}, dir.path());
  EXPECT_EQ(res.shell_status(), 1) << res.describe();
  EXPECT_EQ(res.err, "backstep: unknown report format \"pdf\" (text, md, html or json)\n");
}

}  // namespace
