// The report's dataflow for crashes that are not map fatals ("Where the bad
// value came from") and the debugger's `origin`, on programs whose bad
// value has a known writer, and on the examples. Each writer the report
// names is checked independently: a write watchpoint on the same bytes,
// reverse-continued from the failure in the debugger, must stop at the
// same instruction, thread and position.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "../e2e/e2e_support.h"

namespace {

using e2e::Recording;
using nlohmann::json;

constexpr int kMaxSeeds = 200;

// The first line of `file` containing `text` (1-based).
int line_of(const std::string& file, const std::string& text) {
  std::ifstream in(file);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find(text) != std::string::npos) return n;
  }
  ADD_FAILURE() << text << " not found in " << file;
  return 0;
}

json report_json(const Recording& r) {
  e2e::fs::path out = *r.dir / "report.json";
  auto res = e2e::backstep({"report", r.trace.string(), "--format", "json", "-o", out.string()},
                           r.dir->path());
  EXPECT_EQ(res.shell_status(), 0) << res.describe();
  return json::parse(e2e::read_file(out));
}

std::string report_text(const Recording& r) {
  auto res = e2e::backstep({"report", r.trace.string(), "--format", "text"}, r.dir->path());
  EXPECT_EQ(res.shell_status(), 0) << res.describe();
  return res.out;
}

std::vector<json> debug(const Recording& r, const std::vector<std::string>& commands) {
  std::vector<std::string> args = {"replay", r.trace.string(), "--json"};
  for (const auto& c : commands) {
    args.push_back("-ex");
    args.push_back(c);
  }
  auto res = e2e::backstep(args, r.dir->path());
  EXPECT_EQ(res.shell_status(), 0) << res.describe();
  std::vector<json> out;
  for (const auto& line : e2e::lines(res.out)) {
    if (!line.empty() && line[0] == '{') out.push_back(json::parse(line));
  }
  return out;
}

bool at_line(const json& location, const std::string& file, int line) {
  return location["file"].is_string() && location["file"].get<std::string>().ends_with(file) &&
         location["line"] == line;
}

std::string fmt_watch(uint64_t addr, uint64_t len) {
  return "watch " + std::to_string(addr) + " " + std::to_string(len);
}

const json* first_with(const std::vector<json>& out, const std::string& key) {
  for (const json& j : out) {
    if (j.contains(key)) return &j;
  }
  return nullptr;
}

// The writer the report names for `origin`, checked against a reverse
// watchpoint on its bytes from the failure: same position, thread and
// value; standing there, the instruction is the one the report shows.
void expect_watchpoint_agrees(const Recording& r, const json& origin) {
  ASSERT_TRUE(origin["writer"].is_number()) << origin.dump();
  const json& w = origin["steps"][origin["writer"].get<size_t>()];
  // The use the walk began at, then back from the failure to each load:
  // the oracle replays from the load that read the writer's value.
  std::string from;
  for (size_t i = 0; i < origin["writer"].get<size_t>(); ++i) from = origin["steps"][i]["position"];
  auto out =
      debug(r, {"goto " + from, fmt_watch(w["addr"].get<uint64_t>(), w["len"].get<uint64_t>()),
                "reverse-continue", "x/1i $pc"});
  const json* stop = first_with(out, "stopped");
  const json* insn = first_with(out, "instructions");
  ASSERT_TRUE(stop && insn) << json(out).dump();
  const json& hit = *stop;
  EXPECT_EQ(hit["stopped"], "watchpoint") << hit.dump();
  EXPECT_EQ(hit["position"], w["position"]) << hit.dump() << "\n" << w.dump();
  EXPECT_EQ(hit["thread"], w["thread"]);
  EXPECT_EQ(hit["new_value"], w["value"]);
  EXPECT_EQ((*insn)["instructions"][0]["instruction"], w["instruction"]) << insn->dump();
}

}  // namespace

// A pointer nulled by one thread, copied into a cursor and dereferenced by
// another: the fault's pointer goes back through the cursor's copy to the
// janitor's store.
class NulledPointer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    recording_ = new Recording(e2e::record_failing(NULLED_POINTER_BIN, "", kMaxSeeds));
    if (!recording_->trace.empty()) report_ = new json(report_json(*recording_));
  }
  static void TearDownTestSuite() {
    delete report_;
    delete recording_;
    report_ = nullptr;
    recording_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(report_, nullptr) << "no failing recording"; }
  static Recording* recording_;
  static json* report_;
};
Recording* NulledPointer::recording_ = nullptr;
json* NulledPointer::report_ = nullptr;

TEST_F(NulledPointer, ReportNamesTheStoreThatNulledThePointer) {
  const json& j = *report_;
  EXPECT_EQ(j["failure"]["what"], "SIGSEGV");
  ASSERT_EQ(j["dataflow"].size(), 1u) << j["dataflow"].dump(1);
  const json& o = j["dataflow"][0];
  const json& steps = o["steps"];
  const int failing = j["failure"]["thread"];
  // The walk begins at the faulting read, through a null pointer.
  EXPECT_EQ(steps[0]["kind"], "use");
  EXPECT_EQ(steps[0]["position"], j["failure"]["position"]);
  EXPECT_EQ(steps[0]["value"], 0);
  EXPECT_TRUE(
      at_line(steps[0]["location"], "nulled_pointer.cc", line_of(NULLED_POINTER_SRC, "// FAULTS")))
      << steps[0].dump();
  // The reader's own copy into the cursor, in the failing thread.
  bool copy = false;
  for (const json& s : steps) {
    if (s["kind"] == "store" &&
        at_line(s["location"], "nulled_pointer.cc", line_of(NULLED_POINTER_SRC, "// COPIES"))) {
      copy = true;
      EXPECT_EQ(s["thread"], failing);
      EXPECT_EQ(s["value"], 0);
    }
  }
  EXPECT_TRUE(copy) << steps.dump(1);
  // The writer: the janitor's store of the constant 0, in another thread.
  ASSERT_TRUE(o["writer"].is_number()) << o.dump(1);
  const json& w = steps[o["writer"].get<size_t>()];
  EXPECT_EQ(w["kind"], "store");
  EXPECT_TRUE(at_line(w["location"], "nulled_pointer.cc", line_of(NULLED_POINTER_SRC, "// NULLS")))
      << w.dump();
  EXPECT_NE(w["thread"], failing);
  EXPECT_EQ(w["value"], 0);
  EXPECT_TRUE(std::regex_search(w["instruction"].get<std::string>(),
                                std::regex(R"(^mov qword ptr \[rip \+ 0x[0-9a-f]+\], 0$)")))
      << w["instruction"];
  EXPECT_TRUE(o["complete"].get<bool>());
  EXPECT_NE(o["origin"].get<std::string>().find("constant 0x0"), std::string::npos) << o["origin"];
}

TEST_F(NulledPointer, AReverseWatchpointFindsTheSameWriter) {
  expect_watchpoint_agrees(*recording_, (*report_)["dataflow"][0]);
}

TEST_F(NulledPointer, DebuggerOriginStandsOnTheSameWrite) {
  const json& o = (*report_)["dataflow"][0];
  const json& w = o["steps"][o["writer"].get<size_t>()];
  auto out = debug(*recording_, {"goto panic", "origin", "when"});
  const json* origin = first_with(out, "origin");
  ASSERT_TRUE(origin) << json(out).dump();
  EXPECT_EQ((*origin)["position"], w["position"]) << origin->dump(1);
  ASSERT_EQ((*origin)["steps"].size(), o["steps"].size());
  for (size_t i = 0; i < o["steps"].size(); ++i) {
    EXPECT_EQ((*origin)["steps"][i]["position"], o["steps"][i]["position"]);
    EXPECT_EQ((*origin)["steps"][i]["kind"], o["steps"][i]["kind"]);
  }
  // `origin ADDR` from the load of the janitor's value: the same store.
  auto again =
      debug(*recording_, {"goto panic", "origin " + std::to_string(w["addr"].get<uint64_t>())});
  const json* direct = first_with(again, "origin");
  ASSERT_TRUE(direct) << json(again).dump();
  ASSERT_FALSE((*direct)["steps"].empty());
  EXPECT_EQ((*direct)["steps"][0]["kind"], "store");
}

TEST_F(NulledPointer, TextReportSaysWhoWroteTheBadValue) {
  std::string text = report_text(*recording_);
  const json& o = (*report_)["dataflow"][0];
  const json& w = o["steps"][o["writer"].get<size_t>()];
  EXPECT_NE(text.find("Where the bad value came from"), std::string::npos) << text;
  EXPECT_NE(text.find("Thread " + std::to_string(w["thread"].get<int>()) + " wrote 0x0 to "),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find("nulled_pointer.cc:" + std::to_string(line_of(NULLED_POINTER_SRC, "// NULLS"))),
      std::string::npos)
      << text;
}

// A pair torn by a second writer, then asserted: each value the assert
// compared goes back to its own writer.
TEST(TornValue, EachComparedValueGoesBackToItsWriter) {
  Recording r = e2e::record_failing(TORN_VALUE_BIN, "", kMaxSeeds);
  ASSERT_FALSE(r.trace.empty());
  json j = report_json(r);
  EXPECT_EQ(j["failure"]["what"], "SIGABRT");
  const json& flows = j["dataflow"];
  ASSERT_EQ(flows.size(), 2u) << flows.dump(1);
  const int checker = j["failure"]["thread"];
  const int checks = line_of(TORN_VALUE_SRC, "// CHECKS");
  int tears = 0, sets_high = 0;
  for (const json& o : flows) {
    EXPECT_TRUE(at_line(o["steps"][0]["location"], "torn_value.cc", checks)) << o.dump(1);
    EXPECT_NE(o["subject"].get<std::string>().find("compared by `cmp"), std::string::npos)
        << o["subject"];
    ASSERT_TRUE(o["writer"].is_number()) << o.dump(1);
    const json& w = o["steps"][o["writer"].get<size_t>()];
    EXPECT_NE(w["thread"], checker);
    if (at_line(w["location"], "torn_value.cc", line_of(TORN_VALUE_SRC, "// TEARS"))) {
      ++tears;
      EXPECT_EQ(w["value"], 42);
    } else if (at_line(w["location"], "torn_value.cc", line_of(TORN_VALUE_SRC, "// SETS_HIGH"))) {
      ++sets_high;
      EXPECT_EQ(w["value"], 41);
    } else {
      ADD_FAILURE() << "unexpected writer " << w.dump();
    }
    expect_watchpoint_agrees(r, o);
  }
  EXPECT_EQ(tears, 1);
  EXPECT_EQ(sets_high, 1);
  // The two writers are two different threads.
}

// The example: a helper nulls the map header's buckets while another
// thread ranges; the fault's pointer goes back to that store.
TEST(HeaderCorruptionDataflow, NamesTheLineThatNulledBuckets) {
  Recording r = e2e::record_failing(HEADER_CORRUPTION_BIN, "20", kMaxSeeds);
  ASSERT_FALSE(r.trace.empty());
  json j = report_json(r);
  ASSERT_EQ(j["dataflow"].size(), 1u) << j.dump(1);
  const json& o = j["dataflow"][0];
  ASSERT_TRUE(o["writer"].is_number()) << o.dump(1);
  const json& w = o["steps"][o["writer"].get<size_t>()];
  EXPECT_TRUE(at_line(w["location"], "header_corruption.cc",
                      line_of(HEADER_CORRUPTION_SRC, "h->buckets = 0;")))
      << o.dump(1);
  EXPECT_NE(w["thread"], j["failure"]["thread"]);
  EXPECT_EQ(w["value"], 0);
  EXPECT_TRUE(o["complete"].get<bool>());
  expect_watchpoint_agrees(r, o);
}

// The example's own check over a torn batch: the values it compared go
// back into the checker's snapshot.
TEST(TornBatchDataflow, FollowsTheValuesTheCheckCompared) {
  Recording r = e2e::record_failing(TORN_BATCH_BIN, "200", kMaxSeeds);
  ASSERT_FALSE(r.trace.empty());
  json j = report_json(r);
  ASSERT_FALSE(j["dataflow"].empty()) << j.dump(1);
  const int check = line_of(TORN_BATCH_SRC, "EXAMPLE_CHECK(lowest == highest,");
  for (const json& o : j["dataflow"]) {
    EXPECT_TRUE(at_line(o["steps"][0]["location"], "torn_batch.cc", check)) << o.dump(1);
    ASSERT_TRUE(o["writer"].is_number()) << o.dump(1);
    expect_watchpoint_agrees(r, o);
  }
}
