// The program's variables in backstep's debugger (`print` of locals,
// arguments, globals, members, array elements, `*p`, `&x`, `info locals`,
// `info args`) against gdb's output at the same position of the same
// recording (`replay --gdb`, moved there with `monitor` commands), on a
// program built at -O0 and at -O2; and exact expected texts, so that a
// change in both tools' output cannot pass unnoticed.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "../e2e/e2e_support.h"

namespace {

namespace fs = std::filesystem;

constexpr std::chrono::seconds kGdbTimeout{300};

struct Program {
  const char* name;
  const char* path;
};

void PrintTo(const Program& p, std::ostream* os) { *os << p.name; }

// One recording per program, made once for all its tests.
class Variables : public ::testing::TestWithParam<Program> {
 protected:
  static void SetUpTestSuite() { dirs_ = new std::map<std::string, std::unique_ptr<e2e::TempDir>>; }
  static void TearDownTestSuite() {
    delete dirs_;
    dirs_ = nullptr;
  }

  const fs::path& dir() {
    auto& d = (*dirs_)[GetParam().name];
    if (!d) {
      d = std::make_unique<e2e::TempDir>();
      auto rec = e2e::backstep({"record", "-o", (*d / "trace").string(), "--", GetParam().path},
                               d->path());
      EXPECT_EQ(rec.shell_status(), 0) << rec.describe();
    }
    return d->path();
  }
  fs::path trace() { return dir() / "trace"; }

  // backstep's own debugger, text output.
  std::string mine(const std::vector<std::string>& commands) {
    std::vector<std::string> args = {"replay", trace().string()};
    for (const auto& c : commands) {
      args.push_back("-ex");
      args.push_back(c);
    }
    auto r = e2e::backstep(args, dir());
    EXPECT_EQ(r.shell_status(), 0) << r.describe();
    return r.out + r.err;
  }

  // gdb on the same replay, moved by backstep's commands (`monitor`).
  std::string theirs(const std::vector<std::string>& commands) {
    std::vector<std::string> args = {"replay", "--gdb", trace().string()};
    for (const auto& c : commands) {
      args.push_back("-ex");
      args.push_back(c);
    }
    e2e::RunOptions options;
    options.timeout = kGdbTimeout;
    auto r = e2e::backstep(args, dir(), options);
    EXPECT_FALSE(r.timed_out) << r.describe();
    return r.out + r.err;
  }

  static std::map<std::string, std::unique_ptr<e2e::TempDir>>* dirs_;
};

std::map<std::string, std::unique_ptr<e2e::TempDir>>* Variables::dirs_ = nullptr;

// The lines both tools print for values: `$N = ...` and `name = ...`
// (info locals/args) when `values`, else gdb's messages for what has no
// value (which gdb writes to stderr, so their order among the values is
// not comparable).
std::vector<std::string> printed(const std::string& out, bool values) {
  std::vector<std::string> v;
  static const std::regex value_re(R"(^(\$\d+ = .*|[A-Za-z_]\w* = .*)$)");
  static const std::regex message_re(
      R"(^(No symbol .*|No locals\.|No arguments\.|Attempt to .*|There is no member .*|Address requested .*)$)");
  for (const auto& line : e2e::lines(out)) {
    std::string l = line;
    if (l.rfind("error: ", 0) == 0) l = l.substr(7);
    if (std::regex_match(l, values ? value_re : message_re)) v.push_back(l);
  }
  return v;
}

std::vector<std::string> value_lines(const std::string& out) { return printed(out, true); }
std::vector<std::string> message_lines(const std::string& out) { return printed(out, false); }

const std::string kVisit = "variables.cc:36";   // in visit(), locals set
const std::string kScaled = "variables.cc:42";  // in scaled(), inlined at -O2

// Forms that print the same in both tools at the breakpoint in visit():
// locals, arguments, globals, members, elements, * and &, formats.
const std::vector<std::string> kVisitForms = {"print sum",
                                              "print corner",
                                              "print flags",
                                              "print local_arr",
                                              "print node",
                                              "print *node",
                                              "print node->next",
                                              "print node->where.y",
                                              "print node->name",
                                              "print g_values",
                                              "print g_values[2]",
                                              "print &g_values[1]",
                                              "print &corner",
                                              "print g_greeting",
                                              "print g_zeros",
                                              "print g_nodes",
                                              "print *node->next",
                                              "print node->color",
                                              "print node->weight",
                                              "print g_nodes[1].weight",
                                              "print g_counter",
                                              "p/x g_counter",
                                              "p/x local_arr",
                                              "p/x node->where",
                                              "print (*node).where.x",
                                              "print node[1].name",
                                              "print &g_nodes[1].where",
                                              "print local_arr[3]",
                                              "print no_such_name",
                                              "print node->nothing",
                                              "info locals",
                                              "info args"};

TEST_P(Variables, FormsInAFunctionPrintAsGdbPrintsThem) {
  std::vector<std::string> commands = {"break " + kVisit, "continue"};
  commands.insert(commands.end(), kVisitForms.begin(), kVisitForms.end());
  commands.insert(commands.end(), {"up", "print head", "print total", "info locals"});
  std::string out = mine(commands);

  std::vector<std::string> gdb_commands = {"monitor break " + kVisit, "monitor continue"};
  gdb_commands.insert(gdb_commands.end(), kVisitForms.begin(), kVisitForms.end());
  gdb_commands.insert(gdb_commands.end(), {"up", "print head", "print total", "info locals"});
  std::string gdb_out = theirs(gdb_commands);

  std::vector<std::string> want = value_lines(gdb_out);
  ASSERT_GE(want.size(), kVisitForms.size()) << gdb_out;
  EXPECT_EQ(value_lines(out), want) << out << "\n---- gdb:\n" << gdb_out;
  std::vector<std::string> messages = message_lines(gdb_out);
  EXPECT_EQ(messages.size(), 2u) << gdb_out;
  EXPECT_EQ(message_lines(out), messages) << out << "\n---- gdb:\n" << gdb_out;
}

// Exact texts, whatever gdb says (the addresses depend on the build, so
// only their form is checked).
TEST_P(Variables, ValuesAreTheProgramsOwn) {
  std::string out =
      mine({"break " + kVisit, "continue", "print sum", "print corner", "print flags",
            "print node->name", "print *node->next", "print node", "print &g_values[1]",
            "print g_zeros", "print g_greeting", "p/x local_arr", "info args"});
  auto v = value_lines(out);
  ASSERT_EQ(v.size(), 12u) << out;
  EXPECT_EQ(v[0], "$1 = 2");
  EXPECT_EQ(v[1], "$2 = {x = 6, y = 8}");
  EXPECT_EQ(v[2], "$3 = 65 'A'");
  EXPECT_EQ(v[3], "$4 = \"first\\000\\000\"");
  EXPECT_EQ(v[4],
            "$5 = {value = 2, next = 0x0, where = {x = 5, y = 6}, name = \"second\\000\", "
            "color = kBlue, weight = 0.10000000000000001, visited = false}");
  EXPECT_TRUE(std::regex_match(v[5], std::regex(R"(\$6 = \(Node \*\) 0x[0-9a-f]+ <g_nodes>)")))
      << v[5];
  EXPECT_TRUE(std::regex_match(v[6], std::regex(R"(\$7 = \(int \*\) 0x[0-9a-f]+ <g_values\+4>)")))
      << v[6];
  EXPECT_EQ(v[7], "$8 = {0 <repeats 16 times>}");
  EXPECT_TRUE(std::regex_match(v[8], std::regex(R"(\$9 = 0x[0-9a-f]+ "hello")"))) << v[8];
  EXPECT_EQ(v[9], "$10 = {0x1, 0x2, 0x3, 0x4}");
  EXPECT_TRUE(std::regex_match(v[10], std::regex(R"(node = 0x[0-9a-f]+ <g_nodes>)"))) << v[10];
  EXPECT_EQ(v[11], "depth = 1");
}

// In scaled(), a function of its own at -O0 and inlined into main at -O2:
// its arguments and locals in frame 0 either way, as gdb shows them.
TEST_P(Variables, InlinedFunctionsShowTheirOwnVariables) {
  const std::vector<std::string> forms = {"print product", "print amount", "print factor",
                                          "info locals", "info args"};
  std::vector<std::string> commands = {"break " + kScaled, "continue"};
  commands.insert(commands.end(), forms.begin(), forms.end());
  std::string out = mine(commands);
  std::vector<std::string> gdb_commands = {"monitor break " + kScaled, "monitor continue"};
  gdb_commands.insert(gdb_commands.end(), forms.begin(), forms.end());
  std::string gdb_out = theirs(gdb_commands);
  std::vector<std::string> want = value_lines(gdb_out);
  ASSERT_GE(want.size(), 5u) << gdb_out;
  EXPECT_EQ(value_lines(out), want) << out << "\n---- gdb:\n" << gdb_out;
  EXPECT_EQ(message_lines(out), message_lines(gdb_out)) << out << "\n---- gdb:\n" << gdb_out;
  auto v = value_lines(out);
  ASSERT_GE(v.size(), 3u);
  EXPECT_EQ(v[0], "$1 = 252");
  EXPECT_EQ(v[1], "$2 = 84");
  EXPECT_EQ(v[2], "$3 = 3");
}

// With one frame per physical frame, a name not in the inlined function
// is found in the function it is inlined into: at -O2, main's `total` from
// inside scaled(), as gdb shows it one frame up (at -O0 scaled() has a
// frame of its own: `up` in both). Arrays decay to pointers in arithmetic.
TEST_P(Variables, CallersOfInlinedBodiesAndPointerArithmetic) {
  // At -O2 scaled() is inlined into main(): `up` goes to main's frame of
  // the same physical frame, as in gdb.
  std::string out =
      mine({"break " + kScaled, "continue", "up", "print total", "down", "print g_values + 1",
            "print *(g_values + 2)", "print &g_nodes[1].name[2]"});
  std::string gdb_out =
      theirs({"monitor break " + kScaled, "monitor continue", "up", "print total", "down",
              "print g_values + 1", "print *(g_values + 2)", "print &g_nodes[1].name[2]"});
  std::vector<std::string> want = value_lines(gdb_out);
  ASSERT_EQ(want.size(), 4u) << gdb_out;
  std::vector<std::string> got = value_lines(out);
  EXPECT_EQ(got, want) << out << "\n---- gdb:\n" << gdb_out;
  EXPECT_EQ(want[0], "$1 = 84");
  EXPECT_EQ(want[2], "$3 = 30");
}

INSTANTIATE_TEST_SUITE_P(Builds, Variables,
                         ::testing::Values(Program{"O0", VARIABLES_O0_BIN},
                                           Program{"O2", VARIABLES_O2_BIN}),
                         [](const auto& p) { return std::string(p.param.name); });

}  // namespace
