// Time travel on real recordings: goto panic, reverse-stepi/stepi, stable
// positions. Each suite records its example once, with the first chaos seed
// (from 1) that makes it fail; everything else is replay, which is exact.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "../e2e/e2e_support.h"

namespace {

using nlohmann::json;

using e2e::record_failing;
using e2e::Recording;

// Runs the batch debugger with JSON output: one object per printed result.
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

class GrowthPanic : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    recording_ = new Recording(record_failing(GROWTH_PANIC_BIN, "200", 40));
  }
  static void TearDownTestSuite() {
    delete recording_;
    recording_ = nullptr;
  }
  static Recording* recording_;
};
Recording* GrowthPanic::recording_ = nullptr;

TEST_F(GrowthPanic, GotoPanicLandsOnTheInstructionThatReadTheFlags) {
  ASSERT_FALSE(recording_->trace.empty());
  auto out = debug(*recording_, {"goto panic", "map"});
  ASSERT_EQ(out.size(), 2u);
  const json& panic = out[0];
  EXPECT_EQ(panic["panic"], "concurrent map iteration and map write");
  // The flags byte is at offset 8 of the map header.
  EXPECT_TRUE(std::regex_search(panic["instruction"].get<std::string>(),
                                std::regex(R"(byte ptr \[\w+ \+ 8\])")))
      << panic.dump();
  EXPECT_NE(panic["location"].get<std::string>().find("iter_next"), std::string::npos);
  EXPECT_NE(panic["location"].get<std::string>().find("go_map.h:"), std::string::npos);
  ASSERT_TRUE(panic.contains("setter")) << panic.dump();
  EXPECT_EQ(panic["setter"]["operation"].get<std::string>().rfind("PutAll -> assign", 0), 0u)
      << panic.dump();
  EXPECT_NE(panic["setter"]["thread"], panic["thread"]);
  const json& map = out[1];
  EXPECT_EQ(map["map"], panic["map"]);
  EXPECT_TRUE(map["growing"].get<bool>());
  EXPECT_NE(map["flags"].get<int>() & 4, 0) << "hashWriting must be set at the check";
  EXPECT_EQ(map["B"].get<int>(), 9);
  EXPECT_EQ(map["old_bucket_count"].get<int>(), 256);
}

TEST_F(GrowthPanic, ReverseStepiThenStepiComesBackExactly) {
  ASSERT_FALSE(recording_->trace.empty());
  auto out = debug(*recording_, {"goto panic", "info registers", "reverse-stepi",
                                 "info registers", "stepi", "info registers"});
  ASSERT_EQ(out.size(), 6u);
  const json& at_panic = out[1];
  const json& back = out[3];
  const json& again = out[5];
  EXPECT_EQ(at_panic, again);
  EXPECT_NE(at_panic["rip"], back["rip"]);
  EXPECT_EQ(out[4]["position"], out[0]["position"]);
  EXPECT_NE(out[2]["position"], out[0]["position"]);
}

TEST_F(GrowthPanic, StepiExecutesOneInstruction) {
  ASSERT_FALSE(recording_->trace.empty());
  auto out = debug(*recording_, {"goto panic", "x/2i $pc", "stepi"});
  ASSERT_EQ(out.size(), 3u);
  const json& insns = out[1]["instructions"];
  ASSERT_EQ(insns.size(), 2u);
  EXPECT_EQ(insns[0]["address"], out[0]["pc"]);
  EXPECT_EQ(out[2]["pc"], insns[1]["address"]);
}

TEST_F(GrowthPanic, PositionsAreStableAcrossSessions) {
  ASSERT_FALSE(recording_->trace.empty());
  auto first = debug(*recording_, {"goto panic", "reverse-stepi 3", "info registers"});
  ASSERT_EQ(first.size(), 3u);
  std::string position = first[1]["position"];
  auto second = debug(*recording_, {"goto " + position, "info registers", "when"});
  ASSERT_EQ(second.size(), 3u);
  EXPECT_EQ(second[1], first[2]);
  EXPECT_EQ(second[2]["position"], position);
}

TEST_F(GrowthPanic, BacktraceAtThePanicShowsTheRangingThread) {
  ASSERT_FALSE(recording_->trace.empty());
  auto out = debug(*recording_, {"goto panic", "backtrace"});
  ASSERT_EQ(out.size(), 2u);
  const json& frames = out[1]["frames"];
  ASSERT_GE(frames.size(), 2u);
  EXPECT_NE(frames[0]["function"].get<std::string>().find("iter_next"), std::string::npos);
  bool ranger = false;
  for (const auto& f : frames) {
    ranger |= f["function"].get<std::string>().find("ranger") != std::string::npos;
  }
  EXPECT_TRUE(ranger) << frames.dump();
}

TEST_F(GrowthPanic, EndsOfTheRecordingAreReportedNotErrors) {
  ASSERT_FALSE(recording_->trace.empty());
  auto out = debug(*recording_, {"goto start", "reverse-stepi"});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1]["stopped"], "start of recording");
  EXPECT_EQ(out[2]["position"], out[0]["position"]);
}

TEST_F(GrowthPanic, UnknownCommandsAreErrorsThatKeepTheSessionAlive) {
  ASSERT_FALSE(recording_->trace.empty());
  auto out = debug(*recording_, {"frobnicate", "when"});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]["error"], "undefined command: \"frobnicate\". Try \"help\".");
  EXPECT_TRUE(out[1].contains("position"));
}

TEST(HeaderCorruption, GotoPanicLandsOnTheFaultingInstruction) {
  Recording r = record_failing(HEADER_CORRUPTION_BIN, "200", 40);
  ASSERT_FALSE(r.trace.empty());
  auto out = debug(r, {"goto panic", "x/1i $pc"});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]["panic"], "SIGSEGV");
  EXPECT_EQ(out[1]["instructions"][0]["address"], out[0]["pc"]);
  // A memory access through a near-null pointer.
  EXPECT_NE(out[0]["instruction"].get<std::string>().find("ptr ["), std::string::npos)
      << out[0].dump();
}

}  // namespace
