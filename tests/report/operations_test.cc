// Programs shaped like the cases of issue 15 (a range loop against erase on
// a map<string, vector<int>>, clone against put, lookups against
// insert/delete churn that grows the map to the same size, a thread pool of
// PutAlls): the setter's position is the store that flipped hashWriting and
// every command names the same one; the advice names only the operations
// that met.
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

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

// One recording of a program that failed, its JSON report, and the
// debugger's view of the same moments.
struct Investigated {
  Recording recording;
  json report;
  json panic;          // `goto panic` --json
  json goto_position;  // `goto <setter position>` --json
  json backtrace;      // `backtrace` --json, there
  json goto_setter;    // `goto setter` --json
  std::string text;    // the text report
};

// `backstep replay --json TRACE -ex ...`: one object per command.
std::vector<json> debugger(const Recording& r, const std::vector<std::string>& commands) {
  std::vector<std::string> argv = {"replay", "--json"};
  for (const auto& c : commands) {
    argv.push_back("-ex");
    argv.push_back(c);
  }
  argv.push_back(r.trace.string());
  auto res = e2e::backstep(argv, r.dir->path());
  EXPECT_EQ(res.shell_status(), 0) << res.describe();
  std::vector<json> out;
  for (const auto& l : e2e::lines(res.out)) {
    if (!l.empty() && l[0] == '{') out.push_back(json::parse(l));
  }
  return out;
}

Investigated* investigate(const char* program, const char* arg) {
  auto* inv =
      new Investigated{e2e::record_failing(program, arg, kMaxSeeds), {}, {}, {}, {}, {}, {}};
  const Recording& r = inv->recording;
  if (r.trace.empty()) return inv;
  auto rep = e2e::backstep({"report", r.trace.string(), "--format", "json"}, r.dir->path());
  EXPECT_EQ(rep.shell_status(), 0) << rep.describe();
  inv->report = json::parse(rep.out);
  auto text = e2e::backstep({"report", r.trace.string()}, r.dir->path());
  inv->text = text.out;
  const json& setter = inv->report["setter"];
  if (!setter.is_object() || !setter["position"].is_string()) return inv;
  std::vector<json> got = debugger(
      r,
      {"goto panic", "goto " + setter["position"].get<std::string>(), "backtrace", "goto setter"});
  if (got.size() == 4) {
    inv->panic = got[0];
    inv->goto_position = got[1];
    inv->backtrace = got[2];
    inv->goto_setter = got[3];
  } else {
    ADD_FAILURE() << "expected 4 answers from the debugger, got " << got.size();
  }
  return inv;
}

// The line of go_map.h after the store that flips hashWriting on, for the
// operation the setter names: the store is in that operation's code.
void expect_store_of_operation(const json& setter) {
  const json& site = setter["site"];
  ASSERT_TRUE(site["file"].is_string()) << setter.dump();
  EXPECT_TRUE(site["file"].get<std::string>().ends_with("go_map.h")) << site.dump();
  std::ifstream in(site["file"].get<std::string>());
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  int line = site["line"];
  ASSERT_GT(line, 0);
  ASSERT_LT(static_cast<size_t>(line), lines.size());
  EXPECT_TRUE(has(lines[line - 1], "header_.flags ^= abi::kFlagHashWriting"))
      << "go_map.h:" << line << " is not the store: " << lines[line - 1];
  // The operation chain's map operation ("PutAll -> assign -> ..." -> assign).
  std::string chain = setter["operation"];
  std::smatch m;
  std::string op = chain;
  if (std::regex_search(chain, m, std::regex(R"((assign|delete|clear))"))) op = m[1];
  const std::map<std::string, std::string> names = {
      {"assign", "kAssign"}, {"delete", "kDelete"}, {"clear", "kClear"}};
  ASSERT_TRUE(names.count(op)) << chain;
  EXPECT_TRUE(has(lines[line], "kWriteBegin, abi::MapOp::" + names.at(op)))
      << "the store at go_map.h:" << line << " is not " << op << "'s: " << lines[line];
  // The instruction writes the flags byte: offset 8 of the map header.
  EXPECT_TRUE(std::regex_search(setter["instruction"].get<std::string>(),
                                std::regex(R"(byte ptr \[[^\]]*\+ 8\])")))
      << setter["instruction"];
}

// The setter's position, instruction and line in the report's JSON, its
// text, `goto panic`, `goto POSITION` + `backtrace` and `goto setter`.
void expect_setter_agrees_everywhere(const Investigated& inv) {
  const json& s = inv.report["setter"];
  ASSERT_TRUE(s.is_object()) << inv.report.dump();
  ASSERT_TRUE(s["position"].is_string()) << s.dump();
  const std::string position = s["position"];
  const uint64_t pc = s["pc"];
  const std::string insn = s["instruction"];
  expect_store_of_operation(s);
  const std::string file_line =
      e2e::fs::path(s["site"]["file"].get<std::string>()).filename().string() + ":" +
      std::to_string(s["site"]["line"].get<int>());

  const json& p = inv.panic["setter"];
  ASSERT_TRUE(p.is_object()) << inv.panic.dump();
  EXPECT_EQ(p["position"], position);
  EXPECT_EQ(p["pc"], pc);
  EXPECT_EQ(p["instruction"], insn);
  EXPECT_EQ(p["thread"], s["thread"]);
  EXPECT_EQ(p["operation"], s["operation"]);
  EXPECT_TRUE(has(p["location"], file_line)) << p["location"] << " vs " << file_line;

  EXPECT_EQ(inv.goto_position["position"], position);
  EXPECT_EQ(inv.goto_position["pc"], pc);
  EXPECT_EQ(inv.goto_position["instruction"], insn);
  EXPECT_EQ(inv.goto_setter["position"], position);
  EXPECT_EQ(inv.goto_setter["pc"], pc);

  const json& frames = inv.backtrace["frames"];
  ASSERT_FALSE(frames.empty()) << inv.backtrace.dump();
  EXPECT_EQ(inv.backtrace["thread"], s["thread"]);
  EXPECT_EQ(frames[0]["pc"], pc);
  EXPECT_EQ(frames[0]["file"], s["site"]["file"]);
  EXPECT_EQ(frames[0]["line"], s["site"]["line"]);
  ASSERT_FALSE(s["backtrace"].empty());
  EXPECT_EQ(s["backtrace"][0]["pc"], pc);
  EXPECT_EQ(s["backtrace"].size(), frames.size());

  EXPECT_TRUE(has(inv.text, position)) << inv.text;
  EXPECT_TRUE(has(inv.text, insn)) << inv.text;
  EXPECT_TRUE(has(inv.text, file_line)) << inv.text;
}

// Every fix's words: only the operations that met may be named.
void expect_advice_names_only(const json& report, const std::vector<std::string>& present) {
  const std::vector<std::string> vocabulary = {"PutAll", "range", "clone()", "lookup", "erase"};
  ASSERT_FALSE(report["fixes"].empty());
  for (const json& fix : report["fixes"]) {
    std::string words =
        fix["title"].get<std::string>() + "\n" + fix["seed_section"].get<std::string>();
    for (const auto& step : fix["steps"]) words += "\n" + step.get<std::string>();
    for (const auto& w : vocabulary) {
      if (std::find(present.begin(), present.end(), w) != present.end()) continue;
      EXPECT_FALSE(has(words, w)) << fix["id"] << " names \"" << w
                                  << "\", which the recording does not show:\n"
                                  << words;
    }
  }
}

std::vector<std::string> fix_ids(const json& report) {
  std::vector<std::string> ids;
  for (const auto& f : report["fixes"]) ids.push_back(f["id"]);
  return ids;
}

std::string all_steps(const json& report) {
  std::string words;
  for (const json& fix : report["fixes"]) {
    for (const auto& step : fix["steps"]) words += step.get<std::string>() + "\n";
  }
  return words;
}

class Cases : public ::testing::Test {
 protected:
  static void TearDownTestSuite() {
    for (Investigated** c : {&range_erase_, &clone_put_, &churn_, &pool_}) {
      delete *c;
      *c = nullptr;
    }
  }
  // Recorded on first use: a filter that runs one test records one program.
  static const Investigated& get(Investigated*& slot, const char* program, const char* arg) {
    if (!slot) slot = investigate(program, arg);
    return *slot;
  }
  static const Investigated& range_erase() { return get(range_erase_, RANGE_ERASE_BIN, "300"); }
  static const Investigated& clone_put() { return get(clone_put_, CLONE_PUT_BIN, "20000"); }
  static const Investigated& churn() { return get(churn_, SAME_SIZE_CHURN_BIN, "20000"); }
  static const Investigated& pool() { return get(pool_, POOL_PUTALL_BIN, "300"); }

  static Investigated* range_erase_;
  static Investigated* clone_put_;
  static Investigated* churn_;
  static Investigated* pool_;
};
Investigated* Cases::range_erase_ = nullptr;
Investigated* Cases::clone_put_ = nullptr;
Investigated* Cases::churn_ = nullptr;
Investigated* Cases::pool_ = nullptr;

TEST_F(Cases, SameSizeChurnSetterIsTheStoreEverywhere) {
  const Investigated& inv = churn();
  ASSERT_FALSE(inv.recording.trace.empty());
  EXPECT_EQ(inv.report["failure"]["what"], "concurrent map read and map write");
  EXPECT_GT(inv.report["run"]["growths"].get<int>(), 0)
      << "the churn grows the map to the same size";
  expect_setter_agrees_everywhere(inv);
}

TEST_F(Cases, RangeEraseSetterIsTheStoreEverywhere) {
  const Investigated& inv = range_erase();
  ASSERT_FALSE(inv.recording.trace.empty());
  EXPECT_EQ(inv.report["setter"]["operation"], "delete");
  expect_setter_agrees_everywhere(inv);
}

TEST_F(Cases, ClonePutSetterIsTheStoreEverywhere) {
  const Investigated& inv = clone_put();
  ASSERT_FALSE(inv.recording.trace.empty());
  expect_setter_agrees_everywhere(inv);
}

TEST_F(Cases, ThreadPoolSetterIsTheStoreEverywhere) {
  const Investigated& inv = pool();
  ASSERT_FALSE(inv.recording.trace.empty());
  EXPECT_TRUE(inv.report["setter"]["in_put_all"].get<bool>());
  expect_setter_agrees_everywhere(inv);
}

TEST_F(Cases, RangeAgainstEraseAdviceNamesNoPutAll) {
  const json& j = range_erase().report;
  ASSERT_TRUE(j["failure"].is_object());
  EXPECT_EQ(j["failure"]["what"], "concurrent map iteration and map write");
  EXPECT_EQ(j["failure"]["operation"], "iterate");
  EXPECT_EQ(j["run"]["put_all_assigns"], 0);
  EXPECT_EQ(fix_ids(j), (std::vector<std::string>{"rwlock", "copy_on_write", "snapshot"}));
  expect_advice_names_only(j, {"range", "erase"});
  EXPECT_TRUE(has(j["fixes"][1]["title"], "Make the erase copy-on-write")) << j["fixes"][1];
  EXPECT_TRUE(has(all_steps(j), "around every range loop")) << all_steps(j);
}

TEST_F(Cases, CloneAgainstPutAdviceSpeaksOfClonesNotRanges) {
  const json& j = clone_put().report;
  ASSERT_TRUE(j["failure"].is_object());
  EXPECT_EQ(j["failure"]["what"], "concurrent map clone and map write");
  EXPECT_EQ(j["failure"]["operation"], "clone");
  EXPECT_EQ(j["setter"]["operation"], "assign");
  EXPECT_EQ(fix_ids(j), (std::vector<std::string>{"rwlock", "snapshot", "copy_on_write"}));
  expect_advice_names_only(j, {"clone()"});
  EXPECT_TRUE(has(all_steps(j), "around every clone()")) << all_steps(j);
}

TEST_F(Cases, LookupAgainstChurnAdviceSpeaksOfLookups) {
  const json& j = churn().report;
  ASSERT_TRUE(j["failure"].is_object());
  EXPECT_EQ(j["failure"]["operation"], "lookup");
  EXPECT_EQ(fix_ids(j), (std::vector<std::string>{"rwlock", "snapshot", "copy_on_write"}));
  std::string op = j["setter"]["operation"];
  std::vector<std::string> present = {"lookup"};
  if (op.rfind("delete", 0) == 0) present.push_back("erase");
  expect_advice_names_only(j, present);
  EXPECT_TRUE(has(all_steps(j), "around every lookup")) << all_steps(j);
}

TEST_F(Cases, TwoPutAllsAdviceIsForTwoWriters) {
  const json& j = pool().report;
  ASSERT_TRUE(j["failure"].is_object());
  EXPECT_EQ(j["failure"]["what"], "concurrent map writes");
  EXPECT_GT(j["run"]["put_all_assigns"].get<int>(), 0);
  EXPECT_EQ(fix_ids(j), (std::vector<std::string>{"rwlock", "copy_on_write"}));
  expect_advice_names_only(j, {"PutAll"});
  EXPECT_TRUE(has(j["fixes"][1]["title"], "Make PutAll copy-on-write")) << j["fixes"][1];
  EXPECT_TRUE(has(all_steps(j), "exclusively around its own")) << all_steps(j);
}

}  // namespace
