// gdb's own `record full` as the oracle for time travel on a program built
// without backstep's instrumentation: from the same breakpoint, the same
// number of instructions stepped forward and then back must visit the same
// program counters with the same values in rax, in both tools. (Stack
// addresses differ: gdb and backstep give the program different
// environments, so registers holding them are not compared.)
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "../e2e/e2e_support.h"

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr int kSteps = 250;

struct Visit {
  uint64_t pc = 0;
  uint64_t rax = 0;
  bool operator==(const Visit&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Visit& v) {
  return os << std::hex << "pc 0x" << v.pc << " rax 0x" << v.rax << std::dec;
}

// gdb runs the program natively, records from `work`, steps, reverses.
std::pair<std::vector<Visit>, std::vector<Visit>> under_gdb(const e2e::TempDir& dir) {
  std::ostringstream script;
  script << "set pagination off\nset confirm off\nbreak work\nrun > /dev/null\nrecord full\n"
         << "set $i = 0\nwhile $i < " << kSteps << "\n  stepi\n"
         << "  printf \"@F %lx %lx\\n\", $pc, $rax\n  set $i = $i + 1\nend\n"
         << "while $i > 0\n  reverse-stepi\n  printf \"@R %lx %lx\\n\", $pc, $rax\n"
         << "  set $i = $i - 1\nend\nkill\n";
  e2e::write_file(dir / "oracle.gdb", script.str());
  auto r = e2e::run({GDB_BIN, "-nx", "-batch", "-x", (dir / "oracle.gdb").string(), COLLATZ_BIN});
  std::vector<Visit> forward, back;
  for (const auto& line : e2e::lines(r.out)) {
    // gdb may print a location without a newline before our line: look
    // for the marker anywhere.
    size_t at = line.find('@');
    if (at == std::string::npos) continue;
    std::istringstream in(line.substr(at + 1));
    std::string tag;
    Visit v;
    if (!(in >> tag >> std::hex >> v.pc >> v.rax)) continue;
    if (tag == "F") forward.push_back(v);
    if (tag == "R") back.push_back(v);
  }
  EXPECT_EQ(forward.size(), static_cast<size_t>(kSteps)) << r.describe();
  return {forward, back};
}

// backstep records the program, then replays the same moves.
std::pair<std::vector<Visit>, std::vector<Visit>> under_backstep(const e2e::TempDir& dir) {
  auto rec =
      e2e::backstep({"record", "-o", (dir / "trace").string(), "--", COLLATZ_BIN}, dir.path());
  EXPECT_EQ(rec.shell_status(), 0) << rec.describe();
  std::string commands = "break work\ncontinue\n";
  for (int i = 0; i < kSteps; ++i) commands += "stepi\ninfo registers\n";
  for (int i = 0; i < kSteps; ++i) commands += "reverse-stepi\ninfo registers\n";
  e2e::write_file(dir / "moves", commands);
  auto r = e2e::backstep(
      {"replay", (dir / "trace").string(), "--json", "-q", "-x", (dir / "moves").string()},
      dir.path());
  EXPECT_EQ(r.shell_status(), 0) << r.describe();
  std::vector<Visit> all;
  for (const auto& line : e2e::lines(r.out)) {
    if (line.empty() || line[0] != '{') continue;
    json j = json::parse(line);
    if (j.contains("rip")) all.push_back({j["rip"].get<uint64_t>(), j["rax"].get<uint64_t>()});
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(2 * kSteps)) << r.describe();
  std::vector<Visit> forward(all.begin(), all.begin() + std::min<size_t>(all.size(), kSteps));
  std::vector<Visit> back(all.begin() + static_cast<std::ptrdiff_t>(forward.size()), all.end());
  return {forward, back};
}

TEST(GdbRecordFullOracle, StepsAndReverseStepsVisitTheSameInstructions) {
  e2e::TempDir dir;
  auto [gdb_forward, gdb_back] = under_gdb(dir);
  auto [forward, back] = under_backstep(dir);
  ASSERT_EQ(forward.size(), gdb_forward.size());
  ASSERT_EQ(back.size(), gdb_back.size());
  for (size_t i = 0; i < forward.size(); ++i) {
    ASSERT_EQ(forward[i], gdb_forward[i]) << "stepi #" << i + 1;
  }
  for (size_t i = 0; i < back.size(); ++i) {
    ASSERT_EQ(back[i], gdb_back[i]) << "reverse-stepi #" << i + 1;
  }
  // And back where it began: the instruction after the breakpoint's.
  EXPECT_EQ(back.back().pc, gdb_back.back().pc);
}

}  // namespace
