// Stacks as the user reads them, on frames_shop (programs/): the map's
// methods inlined into restock() and audit(), a pool worker running a
// lambda, a thread named with pthread_setname_np. Every stack shows one
// frame per inlined call with the user's own file:line, numbered as gdb
// numbers them (checked against gdb's `bt` at the same positions), with
// short names unless full ones are asked for.
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
constexpr std::chrono::seconds kGdbTimeout{300};

// The line of `file` (under programs/) holding `marker`; 0 if none.
int marker_line(const std::string& file, const std::string& marker) {
  std::ifstream in(std::string(FRAMES_SHOP_SRC) + "/" + file);
  std::string text;
  for (int n = 1; std::getline(in, text); ++n) {
    if (text.find(marker) != std::string::npos) return n;
  }
  ADD_FAILURE() << marker << " is not in " << file;
  return 0;
}

std::string base_name(const std::string& path) { return path.substr(path.rfind('/') + 1); }

// "stock.cc:12" for a frame with a line, "" without.
std::string frame_line(const json& f) {
  if (!f.contains("file") || f["file"].is_null()) return "";
  return base_name(f["file"].get<std::string>()) + ":" + std::to_string(f["line"].get<int>());
}

std::string at(const std::string& file, const std::string& marker) {
  return file + ":" + std::to_string(marker_line(file, marker));
}

// The index of the first frame at `where` ("stock.cc:12"), or -1.
int find_frame(const json& frames, const std::string& where) {
  for (size_t i = 0; i < frames.size(); ++i) {
    if (frame_line(frames[i]) == where) return static_cast<int>(i);
  }
  return -1;
}

// One frame of gdb's `bt`: its number, its function (what precedes the
// argument list) and "file:line" (empty for a frame without source).
struct GdbFrame {
  int number = 0;
  std::string function;
  std::string where;
};

std::vector<GdbFrame> gdb_frames(const std::string& out) {
  std::vector<GdbFrame> frames;
  std::regex re(R"(^#(\d+)\s+(?:0x[0-9a-f]+ in )?(.*?) \(.*?\)(?: at (\S+):(\d+))?)");
  for (const std::string& line : e2e::lines(out)) {
    std::smatch m;
    if (!std::regex_search(line, m, re)) continue;
    GdbFrame f{std::stoi(m[1]), m[2], ""};
    if (f.number == 0) frames.clear();  // the stop's own frame line, then bt's
    if (m[3].matched) f.where = base_name(m[3]) + ":" + m[4].str();
    frames.push_back(f);
  }
  return frames;
}

// The identifier a short name ends with, without template arguments:
// "iter_next" for "GoMap<int, int>::iter_next", "operator()" for a lambda
// ("Pool::Pool::{lambda#1}").
std::string last_identifier(std::string name) {
  if (name.find("{lambda") != std::string::npos) return "operator()";  // gdb's name for it
  std::string plain;
  int depth = 0;
  for (char c : name) {
    if (c == '<') ++depth;
    if (depth == 0) plain += c;
    if (c == '>') --depth;
  }
  size_t colon = plain.rfind("::");
  return colon == std::string::npos ? plain : plain.substr(colon + 2);
}

class ShopFrames : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    recording_ = new Recording(e2e::record_failing(FRAMES_SHOP_BIN, "3000", kMaxSeeds));
    if (recording_->trace.empty()) return;
    report_ = new json(json::parse(report({"--format", "json"})));
    text_ = new std::string(report({}));
    full_text_ = new std::string(report({"--full-names"}));
  }
  static void TearDownTestSuite() {
    delete report_;
    delete text_;
    delete full_text_;
    delete recording_;
    report_ = nullptr;
    text_ = full_text_ = nullptr;
    recording_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(report_, nullptr) << "no failing recording"; }

  static std::string report(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"report", recording_->trace.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto res = e2e::backstep(argv, recording_->dir->path());
    EXPECT_EQ(res.shell_status(), 0) << res.describe();
    return res.out;
  }

  // backstep's debugger, JSON, one object per command.
  static std::vector<json> debugger(const std::vector<std::string>& commands) {
    std::vector<std::string> args = {"replay", recording_->trace.string(), "--json"};
    for (const auto& c : commands) {
      args.push_back("-ex");
      args.push_back(c);
    }
    auto res = e2e::backstep(args, recording_->dir->path());
    EXPECT_EQ(res.shell_status(), 0) << res.describe();
    std::vector<json> out;
    for (const auto& line : e2e::lines(res.out)) {
      if (!line.empty() && line[0] == '{') out.push_back(json::parse(line));
    }
    return out;
  }

  // gdb on the same recording (`replay --gdb`), its output.
  static std::string gdb(const std::vector<std::string>& commands) {
    std::vector<std::string> args = {"replay", "--gdb", recording_->trace.string()};
    for (const auto& c : commands) {
      args.push_back("-ex");
      args.push_back(c);
    }
    e2e::RunOptions options;
    options.timeout = kGdbTimeout;
    auto res = e2e::backstep(args, recording_->dir->path(), options);
    EXPECT_FALSE(res.timed_out) << res.describe();
    return res.out + res.err;
  }

  // backstep's `bt` and gdb's at the position `go_to` (a goto argument):
  // the same frames, numbered alike, at the same lines, with the same
  // functions, down to the first frame without source (the C library's).
  static void expect_backtrace_matches_gdb(const std::string& go_to) {
    auto mine = debugger({"goto " + go_to, "backtrace"});
    ASSERT_EQ(mine.size(), 2u);
    const json& frames = mine[1]["frames"];
    std::string out = gdb({"monitor goto " + go_to, "bt"});
    std::vector<GdbFrame> theirs = gdb_frames(out);
    size_t with_source = 0;
    while (with_source < theirs.size() && !theirs[with_source].where.empty()) ++with_source;
    ASSERT_GE(with_source, 4u) << out;
    ASSERT_GE(frames.size(), with_source) << frames.dump(1) << "\n---- gdb:\n" << out;
    for (size_t i = 0; i < with_source; ++i) {
      EXPECT_EQ(theirs[i].number, static_cast<int>(i)) << out;
      EXPECT_EQ(frame_line(frames[i]), theirs[i].where) << "frame " << i << "\n"
                                                        << frames.dump(1) << "\n---- gdb:\n"
                                                        << out;
      std::string name = last_identifier(frames[i]["name"].get<std::string>());
      EXPECT_NE(theirs[i].function.find(name), std::string::npos)
          << "frame " << i << ": " << name << " vs " << theirs[i].function;
    }
  }

  static Recording* recording_;
  static json* report_;
  static std::string* text_;
  static std::string* full_text_;
};
Recording* ShopFrames::recording_ = nullptr;
json* ShopFrames::report_ = nullptr;
std::string* ShopFrames::text_ = nullptr;
std::string* ShopFrames::full_text_ = nullptr;

TEST_F(ShopFrames, ReportShowsTheUsersLinesOfBothThreads) {
  const json& failure = (*report_)["failure"];
  ASSERT_EQ(failure["what"], "concurrent map iteration and map write") << failure.dump();
  const json& ft = failure["backtrace"];
  // The auditor: the check inlined into audit()'s range loop, audit()
  // called from the thread's lambda in main.cc.
  int range = find_frame(ft, at("stock.cc", "@audit-range"));
  ASSERT_GT(range, 0) << ft.dump(1);
  EXPECT_TRUE(ft[range - 1]["inlined"].get<bool>()) << ft.dump(1);
  EXPECT_FALSE(ft[range]["inlined"].get<bool>()) << ft.dump(1);
  EXPECT_NE(ft[range]["text"].get<std::string>().find("audit"), std::string::npos);
  EXPECT_GT(find_frame(ft, at("main.cc", "@auditor-audit")), range) << ft.dump(1);
  // Frame 0 is the map's check, at go_map.h.
  EXPECT_EQ(base_name(ft[0]["file"].get<std::string>()), "go_map.h");

  // The pool's worker, when it set hashWriting: put() inlined into
  // restock(), restock() called from worker_loop().
  const json& st = (*report_)["setter"]["backtrace"];
  int put = find_frame(st, at("stock.cc", "@restock-put"));
  ASSERT_GT(put, 0) << st.dump(1);
  EXPECT_TRUE(st[put - 1]["inlined"].get<bool>()) << st.dump(1);
  EXPECT_GT(find_frame(st, at("pool.cc", "@worker-restock")), put) << st.dump(1);

  // The text report shows the same lines, inlined frames without an
  // address of their own (as gdb prints them).
  EXPECT_TRUE(e2e::contains(*text_, "audit+0x")) << *text_;
  EXPECT_TRUE(std::regex_search(
      *text_, std::regex(R"(#\d+ +audit\+0x[0-9a-f]+ at stock\.cc:)" +
                         std::to_string(marker_line("stock.cc", "@audit-range")))))
      << *text_;
  EXPECT_TRUE(std::regex_search(
      *text_, std::regex(R"(#\d+ +restock\+0x[0-9a-f]+ at stock\.cc:)" +
                         std::to_string(marker_line("stock.cc", "@restock-put")))))
      << *text_;
}

TEST_F(ShopFrames, ThreadsAreNamedByTheirNameOrTheirFunction) {
  EXPECT_EQ((*report_)["failure"]["thread_name"], "auditor");  // pthread_setname_np
  EXPECT_EQ((*report_)["setter"]["thread_name"],
            "Pool::worker_loop");  // the pool's lambda calls it
  EXPECT_TRUE(e2e::contains(*text_, "(auditor)")) << *text_;
  EXPECT_TRUE(e2e::contains(*text_, "(Pool::worker_loop)")) << *text_;
  EXPECT_FALSE(e2e::contains(*text_, "_State_impl<std::thread")) << *text_;

  auto out = debugger({"goto panic", "info threads"});
  ASSERT_EQ(out.size(), 2u);
  std::vector<std::string> names;
  for (const auto& t : out[1]["threads"]) names.push_back(t["name"]);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"Pool::worker_loop", "auditor", "main"}))
      << out[1].dump();
}

TEST_F(ShopFrames, NamesAreShortUnlessFullOnesAreAskedFor) {
  EXPECT_TRUE(e2e::contains(*text_, "GoMap<int, int>::iter_next")) << *text_;
  EXPECT_TRUE(e2e::contains(*text_, "GoMap<int, int>::put at go_map.h:")) << *text_;
  EXPECT_FALSE(e2e::contains(*text_, "std::equal_to")) << *text_;
  EXPECT_FALSE(e2e::contains(*text_, "audit(")) << *text_;
  EXPECT_TRUE(e2e::contains(*full_text_, "GoMap<int, int, std::hash<int>, std::equal_to<int> >"))
      << *full_text_;
  EXPECT_TRUE(e2e::contains(*full_text_, "audit(backstep::GoMap<")) << *full_text_;

  auto out = debugger({"goto panic", "backtrace", "set print full-names on", "backtrace"});
  ASSERT_EQ(out.size(), 4u);
  const json& shortly = out[1]["frames"];
  const json& fully = out[3]["frames"];
  ASSERT_EQ(shortly.size(), fully.size());
  int range = find_frame(shortly, at("stock.cc", "@audit-range"));
  ASSERT_GE(range, 0) << shortly.dump(1);
  EXPECT_EQ(shortly[range]["name"], "audit");
  EXPECT_EQ(fully[range]["name"], fully[range]["function"]);
  EXPECT_TRUE(fully[range]["name"].get<std::string>().starts_with("audit(")) << fully.dump(1);
}

TEST_F(ShopFrames, FrameUpAndDownWalkTheInlinedFrames) {
  auto out = debugger({"goto panic", "backtrace", "frame 1", "up", "down", "down"});
  ASSERT_EQ(out.size(), 6u);
  const json& frames = out[1]["frames"];
  ASSERT_GE(frames.size(), 3u);
  for (int i : {1, 2}) {
    EXPECT_EQ(out[2 + (i - 1)]["frame"], i);
    EXPECT_EQ(frame_line(out[2 + (i - 1)]), frame_line(frames[i])) << out[2 + (i - 1)].dump();
    EXPECT_EQ(out[2 + (i - 1)]["inlined"], frames[i]["inlined"]);
  }
  EXPECT_EQ(out[4]["frame"], 1);
  EXPECT_EQ(out[5]["frame"], 0);
  EXPECT_EQ(frame_line(out[5]), frame_line(frames[0]));
}

TEST_F(ShopFrames, GotoPanicSaysWhichUserLineCalledTheCheck) {
  auto out = debugger({"goto panic", "backtrace"});
  ASSERT_EQ(out.size(), 2u);
  const json& called_from = out[0]["called_from"];
  // The map's inlined calls, out to the user's function that made them.
  ASSERT_FALSE(called_from.empty()) << out[0].dump(1);
  EXPECT_EQ(frame_line(called_from.back()), at("stock.cc", "@audit-range")) << out[0].dump(1);
  for (size_t i = 0; i < called_from.size(); ++i) {
    EXPECT_EQ(called_from[i], out[1]["frames"][i + 1]);
    EXPECT_EQ(called_from[i]["inlined"], i + 1 < called_from.size());
  }
}

TEST_F(ShopFrames, BacktraceAtThePanicIsGdbs) { expect_backtrace_matches_gdb("panic"); }

TEST_F(ShopFrames, BacktraceOfTheSetterIsGdbs) {
  std::string position = (*report_)["setter"]["position"];
  ASSERT_FALSE(position.empty());
  expect_backtrace_matches_gdb(position);
}

}  // namespace
