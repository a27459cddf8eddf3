// Time travel on real recordings: goto panic, reverse-stepi/stepi, stable
// positions. Each suite records its example once, with the first chaos seed
// (from 1) that makes it fail; everything else is replay, which is exact.
#include <gtest/gtest.h>

#include <fstream>
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
std::vector<json> debug(const Recording& r, const std::vector<std::string>& commands,
                        const std::vector<std::string>& options = {}) {
  std::vector<std::string> args = {"replay", r.trace.string(), "--json"};
  args.insert(args.end(), options.begin(), options.end());
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

// The first line of `file` containing `text` (1-based), for breakpoints and
// expectations that follow the sources.
std::string fmt_break(int line) { return "break go_map.h:" + std::to_string(line); }
std::string fmt_line(const std::string& file, int line) {
  return file + ":" + std::to_string(line);
}

int line_of(const std::string& file, const std::string& text) {
  std::ifstream in(file);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find(text) != std::string::npos) return n;
  }
  ADD_FAILURE() << "no \"" << text << "\" in " << file;
  return 0;
}

// A suite that records its example once (the first failing chaos seed)
// and shares the recording among its tests.
template <class Example>
class RecordedOnce : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    recording_ = new Recording(record_failing(Example::kProgram, "200", 40));
  }
  static void TearDownTestSuite() {
    delete recording_;
    recording_ = nullptr;
  }
  static inline Recording* recording_ = nullptr;
};

struct GrowthPanicExample {
  static constexpr const char* kProgram = GROWTH_PANIC_BIN;
};
struct HeaderCorruptionExample {
  static constexpr const char* kProgram = HEADER_CORRUPTION_BIN;
};
using GrowthPanic = RecordedOnce<GrowthPanicExample>;
using HeaderCorruption = RecordedOnce<HeaderCorruptionExample>;

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
  auto out = debug(*recording_, {"goto panic", "info registers", "reverse-stepi", "info registers",
                                 "stepi", "info registers"});
  ASSERT_EQ(out.size(), 6u);
  const json& at_panic = out[1];
  const json& back = out[3];
  const json& again = out[5];
  EXPECT_EQ(at_panic, again);
  EXPECT_NE(at_panic["rip"], back["rip"]);
  EXPECT_EQ(out[4]["position"], out[0]["position"]);
  EXPECT_NE(out[2]["position"], out[0]["position"]);
}

// Going back from a checkpoint (a forked copy of the replay, its threads
// recreated) or from the start must be indistinguishable: the same session,
// with a checkpoint at nearly every record and with none, prints the same
// things. At positions all over the recording (thread switches, syscalls,
// threads blocked in futex waits), reverse-stepi then stepi gives back the
// registers it started from.
TEST_F(GrowthPanic, CheckpointsChangeNothingAndStepsComeBackExactly) {
  ASSERT_FALSE(recording_->trace.empty());
  const size_t records =
      e2e::dump_json(recording_->trace, recording_->dir->path()).back()["event"].get<size_t>();
  ASSERT_GT(records, 100u);
  std::vector<std::string> commands;
  for (size_t e = 20; e + 2 < records; e += records / 17) {
    for (const char* c : {"info registers", "reverse-stepi", "stepi", "info registers",
                          "info threads", "x/4gx $sp"}) {
      if (std::string(c) == "info registers" && commands.size() % 6 == 0) {
        commands.push_back("goto event " + std::to_string(e));
      }
      commands.push_back(c);
    }
  }
  commands.insert(commands.end(),
                  {"goto panic", "info registers", "reverse-stepi", "reverse-stepi", "stepi",
                   "stepi", "info registers", "goto end", "reverse-continue", "info registers"});
  auto every = debug(*recording_, commands, {"--checkpoint-interval", "1"});
  auto none = debug(*recording_, commands, {"--checkpoint-interval", "0"});
  ASSERT_EQ(every.size(), none.size());
  for (size_t i = 0; i < every.size(); ++i) EXPECT_EQ(every[i], none[i]) << "result " << i;
  // Each group: goto, registers, reverse-stepi, stepi, registers, threads, x.
  size_t compared = 0;
  for (size_t i = 0; i + 4 < every.size(); ++i) {
    if (every[i].contains("eflags") && every[i + 3].contains("eflags") &&
        every[i + 1].contains("position") && every[i + 2].contains("position")) {
      EXPECT_EQ(every[i], every[i + 3]) << "registers after reverse-stepi, stepi at result " << i;
      ++compared;
    }
  }
  EXPECT_GE(compared, 12u);
  auto info = debug(*recording_, {"goto end", "info checkpoints"}, {"--checkpoint-interval", "1"});
  ASSERT_EQ(info.size(), 2u);
  EXPECT_GT(info[1]["checkpoints"].size(), 10u) << info[1].dump();
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

TEST_F(GrowthPanic, ContinueStopsAtTheFatalSignalThenAtTheEnd) {
  ASSERT_FALSE(recording_->trace.empty());
  auto out = debug(*recording_, {"continue", "continue"});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0]["stopped"], "signal");
  EXPECT_EQ(out[0]["signal"], 6);
  EXPECT_EQ(out[2]["stopped"], "end of recording");
  EXPECT_EQ(out[3]["position"], out[1]["position"]);
}

TEST_F(GrowthPanic, ReverseContinueFromThePanicStopsAtTheLastPutAllBreakpointHit) {
  ASSERT_FALSE(recording_->trace.empty());
  // PutAll is inlined into the writer: break on its loop's line.
  int line = line_of(GO_MAP_H, "for (const auto& [k, v] : entries)");
  auto out = debug(*recording_, {fmt_break(line), "goto panic", "reverse-continue", "continue"});
  ASSERT_GE(out.size(), 6u);
  const json& panic = out[out.size() - 5];
  const json& back = out[out.size() - 4];
  const json& forward = out[out.size() - 2];
  ASSERT_EQ(back["stopped"], "breakpoint") << back.dump();
  EXPECT_EQ(back["thread"], panic["setter"]["thread"]);
  EXPECT_NE(out[out.size() - 3]["location"].get<std::string>().find(fmt_line("go_map.h", line)),
            std::string::npos)
      << out[out.size() - 3].dump();
  // The last hit before the panic: going forward from it, the next stop
  // (the writer runs on while the failing thread prints its message, or
  // the signal) comes after the panic.
  auto record = [](const json& j) { return std::stoull(j["position"].get<std::string>()); };
  EXPECT_LT(record(back), record(panic));
  EXPECT_GT(record(forward), record(panic)) << forward.dump();
}

TEST_F(GrowthPanic, BreakOnAnInlinedFunctionStopsInItsInlinedCopy) {
  ASSERT_FALSE(recording_->trace.empty());
  // PutAll exists only inlined into the writer: `break PutAll` must find
  // that copy through DWARF, as gdb does.
  auto out = debug(*recording_, {"break PutAll", "goto panic", "reverse-continue"});
  ASSERT_EQ(out.size(), 4u);
  ASSERT_TRUE(out[0].contains("breakpoint")) << out[0].dump();
  EXPECT_NE(out[0]["location"].get<std::string>().find("writer"), std::string::npos);
  EXPECT_EQ(out[2]["stopped"], "breakpoint");
  EXPECT_EQ(out[2]["thread"], out[1]["setter"]["thread"]);
  std::string where = out[3]["location"];
  int first = line_of(GO_MAP_H, "void PutAll(const Range& entries)");
  int last = line_of(GO_MAP_H, "for (const auto& [k, v] : entries)");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(where, m, std::regex(R"(go_map\.h:(\d+))"))) << where;
  EXPECT_GE(std::stoi(m[1]), first);
  EXPECT_LE(std::stoi(m[1]), last);
}

TEST_F(GrowthPanic, ReverseContinueAtTheStartReportsNoMoreHistory) {
  ASSERT_FALSE(recording_->trace.empty());
  auto out = debug(*recording_, {"break main", "reverse-continue"});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1]["stopped"], "start of recording");
  // The start is the first instruction, once the exec has returned: just
  // after the first Stop record, the exec's syscall exit.
  json first_stop;
  for (const json& e : e2e::dump_json(recording_->trace, recording_->dir->path())) {
    if (e["type"] == "stop") {
      first_stop = e;
      break;
    }
  }
  ASSERT_EQ(first_stop["syscall"], "execve") << first_stop.dump();
  EXPECT_EQ(first_stop["kind"], "syscall-exit");
  EXPECT_EQ(out[2]["position"], std::to_string(first_stop["event"].get<int>() + 1) + ":2:0:0");
}

TEST_F(GrowthPanic, ReverseFinishFromThePanicLandsOnTheCallInTheRanger) {
  ASSERT_FALSE(recording_->trace.empty());
  auto out = debug(*recording_, {"goto panic", "reverse-finish", "stepi"});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_NE(out[2]["location"].get<std::string>().find("ranger"), std::string::npos)
      << out[2].dump();
  EXPECT_EQ(out[2]["instruction"].get<std::string>().rfind("call", 0), 0u) << out[2].dump();
  EXPECT_NE(out[3]["location"].get<std::string>().find("iter_next"), std::string::npos)
      << out[3].dump();
}

TEST_F(GrowthPanic, ReverseNextGoesToTheStartOfThePreviousLine) {
  ASSERT_FALSE(recording_->trace.empty());
  auto out = debug(*recording_, {"goto panic", "reverse-next", "reverse-stepi"});
  ASSERT_EQ(out.size(), 3u);
  std::string at_panic = out[0]["location"];
  std::string back = out[1]["location"];
  EXPECT_NE(back.find("iter_next"), std::string::npos) << back;
  EXPECT_NE(back.substr(back.find(" at ")), at_panic.substr(at_panic.find(" at "))) << back;
  // The start of that line: one instruction earlier is another line.
  EXPECT_NE(out[2]["location"].get<std::string>().substr(
                out[2]["location"].get<std::string>().find(" at ")),
            back.substr(back.find(" at ")));
}

TEST_F(GrowthPanic, CatchMapStopsOnTheInstructionAfterTheFirstMapEvent) {
  ASSERT_FALSE(recording_->trace.empty());
  uint64_t site = 0, tid = 0;
  for (const json& j : e2e::dump_json(recording_->trace, recording_->dir->path())) {
    if (j["type"] == "map") {
      site = j["site"];
      tid = j["tid"];
      break;
    }
  }
  ASSERT_NE(site, 0u);
  auto out = debug(*recording_, {"catch map", "continue"});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1]["stopped"], "event");
  EXPECT_EQ(out[1]["thread"], tid);
  EXPECT_EQ(out[2]["pc"], site);
}

TEST_F(HeaderCorruption, GotoPanicLandsOnTheFaultingInstruction) {
  ASSERT_FALSE(recording_->trace.empty());
  auto out = debug(*recording_, {"goto panic", "x/1i $pc"});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]["panic"], "SIGSEGV");
  EXPECT_EQ(out[1]["instructions"][0]["address"], out[0]["pc"]);
  // A memory access through a near-null pointer.
  EXPECT_NE(out[0]["instruction"].get<std::string>().find("ptr ["), std::string::npos)
      << out[0].dump();
}

TEST_F(HeaderCorruption, ReverseContinueWithAWatchOnBucketsFindsTheCorruptingStore) {
  ASSERT_FALSE(recording_->trace.empty());
  uint64_t map = 0;
  for (const json& j : e2e::dump_json(recording_->trace, recording_->dir->path())) {
    if (j["type"] == "map") {
      map = j["map"];
      break;
    }
  }
  ASSERT_NE(map, 0u);
  const uint64_t buckets = map + 16;  // abi::MapHeader::buckets
  auto out = debug(*recording_, {"goto panic", "watch " + std::to_string(buckets),
                                 "reverse-continue", "continue"});
  ASSERT_EQ(out.size(), 6u);
  const json& hit = out[2];
  ASSERT_EQ(hit["stopped"], "watchpoint") << hit.dump();
  EXPECT_EQ(hit["addr"], buckets);
  EXPECT_EQ(hit["new_value"], 0);
  EXPECT_NE(hit["old_value"], 0);
  const json& where = out[3];
  int line = line_of(HEADER_CORRUPTION_SRC, "h->buckets = 0;");
  EXPECT_NE(where["location"].get<std::string>().find(fmt_line("header_corruption.cc", line)),
            std::string::npos)
      << where.dump();
  // Going backward it stands on the store, not yet executed.
  EXPECT_TRUE(std::regex_search(where["instruction"].get<std::string>(),
                                std::regex(R"(^mov qword ptr \[\w+ \+ 0x10\], 0$)")))
      << where.dump();
  // Forward from there, the store itself triggers it, one instruction on.
  EXPECT_EQ(out[4]["stopped"], "watchpoint");
  EXPECT_EQ(out[4]["new_value"], 0);
}

}  // namespace

// Around a stop where the recorder interrupted a spinning thread (an
// uninstrumented loop whose registers repeat; only its counter in memory
// differs): right after the stop the thread has exactly the recorded
// registers; stepi then reverse-stepi comes back to them; the position
// after the step names the same state in another session, where a
// reverse-stepi lands on the interrupt's instant again. (Going back across
// the stop into the interrupted run single-steps that run from its start:
// see "Preemption without a counter" in docs/ARCHITECTURE.md.)
TEST(InterruptStop, StepsAndGotoAroundItAreExact) {
  Recording r;
  r.dir = std::make_unique<e2e::TempDir>();
  r.trace = r.dir->path() / "t";
  auto rec =
      e2e::backstep({"record", "-o", r.trace.string(), "--", SPIN_COUNTER_BIN, "2"}, r.dir->path());
  ASSERT_EQ(rec.shell_status(), 0) << rec.describe();
  json stop;
  for (const json& e : e2e::dump_json(r.trace, r.dir->path())) {
    if (e["type"] == "stop" && e["kind"] == "interrupt") {
      stop = e;
      break;
    }
  }
  ASSERT_FALSE(stop.is_null()) << "no interrupt in the recording";
  const std::string after = "goto event " + std::to_string(stop["event"].get<int>() + 1);
  const std::string thread = "thread " + std::to_string(stop["tid"].get<int>());
  auto out = debug(r, {after, thread, "info registers", "stepi", "info registers", "reverse-stepi",
                       "info registers"});
  ASSERT_EQ(out.size(), 7u);
  const json& at = out[2];
  EXPECT_EQ(at["rip"], stop["rip"]) << at.dump();
  EXPECT_NE(out[4]["rip"], at["rip"]);
  EXPECT_EQ(out[6], at);
  std::string stepped = out[3]["position"];
  auto again = debug(r, {"goto " + stepped, "info registers", "reverse-stepi", "info registers"});
  ASSERT_EQ(again.size(), 4u);
  EXPECT_EQ(again[1], out[4]);
  EXPECT_EQ(again[3], at);
}
